package queue_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hookbook/hookbook/internal/dbtest"
	"github.com/hookbook/hookbook/internal/outbound"
	"github.com/hookbook/hookbook/internal/outboundtest"
	"github.com/hookbook/hookbook/internal/queue"
)

// BenchmarkDeliveryStore measures the storage work of the delivery path on
// its own, without HTTP: 16 goroutines publish events to 10 endpoints
// (group commit), then the deliveries are claimed in batches of 256, each
// batch's outcomes recorded in batches of 64 successes with attempt rows
// as the engine writes them before the next claim. It reports the wall
// time per delivery of each stage (one stage at a time, so it is the
// stage's cost on the writer). Run:
//
//	go test ./internal/queue -run '^$' -bench DeliveryStore -benchtime 2000x
//
// (b.N is the number of events; HOOKBOOK_TEST_BACKEND=postgres runs it on
// PostgreSQL.)
func BenchmarkDeliveryStore(b *testing.B) {
	ctx := context.Background()
	d := dbtest.Open(b, dbtest.URL(b))
	f := outboundtest.New(b, d)
	svc, q, orgID := f.Svc, f.Q, f.Org
	const endpoints = 10
	for i := range endpoints {
		url := fmt.Sprintf("http://127.0.0.1:9/hook/%d", i)
		if _, err := svc.CreateEndpoint(ctx, orgID, outbound.EndpointInput{URL: &url, Events: &[]string{"booking.*"}}); err != nil {
			b.Fatal(err)
		}
	}
	data, err := json.Marshal(outboundtest.Data("booking.created", nil))
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()

	start := time.Now()
	var next sync.WaitGroup
	work := make(chan struct{})
	go func() {
		for range b.N {
			work <- struct{}{}
		}
		close(work)
	}()
	for range 16 {
		next.Add(1)
		go func() {
			defer next.Done()
			for range work {
				if _, err := svc.Publish(ctx, orgID, outbound.PublishInput{Event: "booking.created", Data: data}); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	next.Wait()
	publish := time.Since(start)

	requestHeaders := map[string]string{
		"Content-Type": "application/json", "User-Agent": "hookbook/bench",
		"Webhook-Id": "evt_01JQ2Z8Y5V4N6T7R8S9A0B1C2D", "Webhook-Timestamp": "1774362600",
		"Webhook-Signature": "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=",
		"X-Hookbook-Event":  "booking.created", "X-Hookbook-Delivery-Id": "dlv_01JQ2Z8Y5V4N6T7R8S9A0B1C2D",
		"X-Hookbook-Request-Id": "8f14e45f-ceea-467f-a0b6-2f1c3f2d2a11",
		"X-Hookbook-Signature":  "t=1774362600,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd",
	}
	responseHeaders := map[string]string{"Content-Length": "0", "Date": "Tue, 24 Mar 2026 14:30:00 GMT"}
	// As the engine does: a batch is claimed, its outcomes recorded, then
	// the next batch claimed (the engine's claims hold at most its workers'
	// worth of deliveries at a time).
	var claim, complete time.Duration
	claimed := 0
	for {
		start = time.Now()
		jobs, err := q.Claim(ctx, queue.ClaimRequest{Owner: "bench", Limit: 256, Lease: time.Hour})
		if err != nil {
			b.Fatal(err)
		}
		claim += time.Since(start)
		if len(jobs) == 0 {
			break
		}
		claimed += len(jobs)
		start = time.Now()
		for len(jobs) > 0 {
			n := min(64, len(jobs))
			results := make([]*queue.Result, n)
			now := time.Now()
			for i, j := range jobs[:n] {
				results[i] = &queue.Result{Job: j, StartedAt: now, Duration: time.Millisecond, StatusCode: 200, Success: true,
					RequestURL: j.Endpoint.URL, RequestHeaders: requestHeaders, ResponseHeaders: responseHeaders}
			}
			if err := q.Complete(ctx, results); err != nil {
				b.Fatal(err)
			}
			jobs = jobs[n:]
		}
		complete += time.Since(start)
	}
	if claimed != b.N*endpoints {
		b.Fatalf("claimed %d deliveries, want %d", claimed, b.N*endpoints)
	}
	b.StopTimer()

	per := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1000 / float64(b.N*endpoints) }
	b.ReportMetric(per(publish), "publish_µs/delivery")
	b.ReportMetric(per(claim), "claim_µs/delivery")
	b.ReportMetric(per(complete), "complete_µs/delivery")
	b.ReportMetric(0, "ns/op")
}
