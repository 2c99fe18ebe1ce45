package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkWideFanout measures a wide fan-out beside a narrow one in the
// same run: 1,000 endpoints subscribed to one event type receive 100
// events (100,000 deliveries), and 10 endpoints receive 10,000 events (the
// same number of deliveries), both published by 16 clients. The wide run
// is then repeated with one client publishing the events one after
// another, which is how long a publisher waits for its 202 (each means the
// event and its 1,000 deliveries are stored) while the engine delivers
// the earlier ones; with 16 clients at once, each also waits for the
// others' publications. It reports deliveries/s of each run, the wide ÷
// narrow ratio, and publish→202 p50 and p99. The endpoints share 10 local
// receivers, each endpoint at a path of its own. Run:
//
//	go test ./e2e -run '^$' -bench WideFanout -benchtime 1x
//
// HOOKBOOK_BENCH_FANOUT_EVENTS (default 100) and
// HOOKBOOK_BENCH_FANOUT_ENDPOINTS (default 1000) scale the wide runs; the
// narrow run keeps 10 endpoints and the same number of deliveries.
func BenchmarkWideFanout(b *testing.B) {
	events := benchEnv("HOOKBOOK_BENCH_FANOUT_EVENTS", 100)
	wide := benchEnv("HOOKBOOK_BENCH_FANOUT_ENDPOINTS", 1000)
	const narrow, publishers = 10, 16
	for i := 0; i < b.N; i++ {
		n := runFanoutBench(b, narrow, events*wide/narrow, publishers)
		w := runFanoutBench(b, wide, events, publishers)
		one := runFanoutBench(b, wide, events, 1)
		b.ReportMetric(n.deliveriesPerSec, "narrow_dlv/s")
		b.ReportMetric(w.deliveriesPerSec, "wide_dlv/s")
		b.ReportMetric(w.deliveriesPerSec/n.deliveriesPerSec, "wide/narrow")
		b.ReportMetric(one.deliveriesPerSec/n.deliveriesPerSec, "wide_1/narrow")
		b.ReportMetric(float64(one.ack50.Microseconds())/1000, "wide_1_ack_p50_ms")
		b.ReportMetric(float64(w.ack50.Microseconds())/1000, "wide_16_ack_p50_ms")
		b.Logf("%d endpoints × %d events: %d clients %.0f deliveries/s, publish→202 p50 %s p99 %s; 1 client %.0f deliveries/s, publish→202 p50 %s p99 %s, publish→receipt p50 %s p99 %s; %d endpoints × %d events, %d clients: %.0f deliveries/s, publish→202 p50 %s; wide ÷ narrow %.2f with %d clients, %.2f with 1 (goal ≥ 0.5); publish→202 p50 goal ≤ 100ms",
			wide, events, publishers, w.deliveriesPerSec, w.ack50, w.ack99, one.deliveriesPerSec, one.ack50, one.ack99, one.p50, one.p99,
			narrow, events*wide/narrow, publishers, n.deliveriesPerSec, n.ack50,
			w.deliveriesPerSec/n.deliveriesPerSec, publishers, one.deliveriesPerSec/n.deliveriesPerSec)
	}
}

type fanoutResult struct {
	deliveriesPerSec float64
	ack50, ack99     time.Duration // publish→202
	p50, p99         time.Duration // publish→receipt
}

// runFanoutBench publishes events to endpoints endpoints spread over 10
// receivers, from publishers clients, and measures deliveries/s and
// publish→202.
func runFanoutBench(b *testing.B, endpoints, events, publishers int) fanoutResult {
	b.Helper()
	b.StopTimer()
	const receivers = 10
	var mu sync.Mutex
	arrived := make(map[string]time.Time, endpoints*events) // path + webhook-id → first receipt
	var count atomic.Int64
	var servers []*httptest.Server
	for i := 0; i < receivers; i++ {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			now := time.Now()
			io.Copy(io.Discard, r.Body)
			k := r.URL.Path + " " + r.Header.Get("Webhook-Id")
			mu.Lock()
			if _, ok := arrived[k]; !ok {
				arrived[k] = now
			}
			mu.Unlock()
			count.Add(1)
			w.WriteHeader(200)
		}))
		defer srv.Close()
		servers = append(servers, srv)
	}
	in := startBench(b, map[string]string{"HOOKBOOK_MAX_ENDPOINTS": strconv.Itoa(max(endpoints, 100))})
	for e := 0; e < endpoints; e++ {
		in.createEndpoint(fmt.Sprintf("%s/e/%d", servers[e%receivers].URL, e), []string{"booking.created"}, nil)
	}
	body := []byte(`{"event":"booking.created","data":` + benchBody + `}`)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: publishers}}
	published := make(map[string]time.Time, events)
	var acks []time.Duration
	var next atomic.Int64
	var wg sync.WaitGroup
	b.StartTimer()
	start := time.Now()
	for p := 0; p < publishers; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(events) {
				at := time.Now()
				id, err := publishOne(client, in.url, in.key, body)
				took := time.Since(at)
				if err != nil {
					b.Error(err)
					return
				}
				mu.Lock()
				published[id], acks = at, append(acks, took)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	want := int64(endpoints * events)
	deadline := time.Now().Add(5 * time.Minute)
	for count.Load() < want {
		if time.Now().After(deadline) {
			b.Fatalf("only %d of %d deliveries arrived", count.Load(), want)
		}
		time.Sleep(2 * time.Millisecond)
	}
	b.StopTimer()
	in.stop()
	mu.Lock()
	defer mu.Unlock()
	var last time.Time
	lat := make([]time.Duration, 0, len(arrived))
	for k, at := range arrived {
		if at.After(last) {
			last = at
		}
		_, id, _ := strings.Cut(k, " ")
		if p, ok := published[id]; ok {
			lat = append(lat, at.Sub(p))
		}
	}
	res := fanoutResult{
		deliveriesPerSec: float64(want) / last.Sub(start).Seconds(),
	}
	res.ack50, res.ack99 = percentiles(acks)
	res.p50, res.p99 = percentiles(lat)
	return res
}
