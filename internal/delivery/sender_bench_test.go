package delivery_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/delivery"
	"github.com/hookbook/hookbook/internal/netguard"
	"github.com/hookbook/hookbook/internal/queue"
	"github.com/hookbook/hookbook/webhook"
)

// BenchmarkSend compares one attempt (WebhookSender.Send: headers, signatures,
// the request, the answer read and kept) with the raw baseline's request
// to the same local receiver: a plain keep-alive client signing the same
// body. Both run in the same benchmark, 16 at a time. Run:
//
//	go test ./internal/delivery -run '^$' -bench Send
func BenchmarkSend(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	payload := []byte(`{"id":"evt_01JQ2Z8Y5V4N6T7R8S9A0B1C2D","event":"booking.created","timestamp":"2026-03-24T14:30:00Z","organization_id":"org_x","data":{"id":"bkg_01JQ2Z8Y5V4N6T7R8S9A0B1C2D","status":"confirmed","participants":2,"total_amount":9000,"currency":"USD"}}`)
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	job := &queue.Job{DeliveryID: "dlv_01JQ2Z8Y5V4N6T7R8S9A0B1C2D", OrganizationID: "org_x", EventID: "evt_01JQ2Z8Y5V4N6T7R8S9A0B1C2D",
		EventType: "booking.created", Attempt: 1, MaxAttempts: 5, Payload: payload,
		Endpoint: &hookbook.Endpoint{ID: "ep_x", URL: srv.URL, TimeoutSeconds: 15, Secret: secret}}

	b.Run("hookbook", func(b *testing.B) {
		s := delivery.NewWebhookSender(&netguard.Guard{}, "X-Hookbook", 16)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		b.SetParallelism(8) // 16 on two cores
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if o := s.Send(ctx, job); !o.Success {
					b.Error(o.Err)
					return
				}
			}
		})
	})
	b.Run("raw", func(b *testing.B) {
		client := &http.Client{Transport: &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 16}}
		b.SetParallelism(8)
		var n atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				id := fmt.Sprintf("raw_%d", n.Add(1))
				req, _ := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(payload))
				req.Header.Set("Content-Type", "application/json")
				if err := webhook.SignHeaders(req.Header, webhook.DefaultPrefix, "", id, time.Now(), payload, []string{secret}); err != nil {
					b.Error(err)
					return
				}
				resp, err := client.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	})
}
