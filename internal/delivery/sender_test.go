package delivery_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/delivery"
	"github.com/hookbook/hookbook/internal/netguard"
	"github.com/hookbook/hookbook/internal/queue"
)

// TestSendersByKind: an endpoint's deliveries go to the Sender registered
// for its kind (every endpoint is a webhook today); with none registered,
// the lookup says so rather than sending.
func TestSendersByKind(t *testing.T) {
	t.Parallel()
	ep := &hookbook.Endpoint{ID: "ep_x", URL: "http://127.0.0.1:9/hook"}
	if _, err := (delivery.Senders{}).For(ep); err == nil || !strings.Contains(err.Error(), `"webhook"`) {
		t.Errorf("lookup without a webhook sender = %v, want an error naming the kind", err)
	}
	s := newSender()
	got, err := delivery.Senders{delivery.KindWebhook: s}.For(ep)
	if err != nil || got != delivery.Sender(s) {
		t.Errorf("lookup = %v, %v; want the webhook sender", got, err)
	}
}

// TestWebhookSenderOutcomes: the HTTP sender turns answers into the
// outcome every kind of destination gives: success, a refusal (a client
// error other than 408 and 429, which does not count against the circuit),
// gone (410), and the wait a 429 asks for; the request as sent is kept.
func TestWebhookSenderOutcomes(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/"))
		if code == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "7")
		}
		w.WriteHeader(code)
		w.Write([]byte("answer " + strconv.Itoa(code)))
	}))
	t.Cleanup(srv.Close)
	s := delivery.NewWebhookSender(&netguard.Guard{}, "X-Hookbook", 4)
	cases := []struct {
		code                    int
		success, rejected, gone bool
		kind                    string
		retryAfterSeconds       int
	}{
		{code: 204, success: true},
		{code: 404, rejected: true, kind: "http_status"},
		{code: 410, rejected: true, gone: true, kind: "http_status"},
		{code: 408, kind: "http_status"},
		{code: 429, kind: "http_status", retryAfterSeconds: 7},
		{code: 503, kind: "http_status"},
	}
	for _, c := range cases {
		t.Run(strconv.Itoa(c.code), func(t *testing.T) {
			url := srv.URL + "/" + strconv.Itoa(c.code)
			j := &queue.Job{DeliveryID: "dlv_1", EventID: "evt_1", EventType: "booking.created", Attempt: 1, Payload: []byte(`{}`),
				Endpoint: &hookbook.Endpoint{ID: "ep_x", URL: url, TimeoutSeconds: 10, Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}}
			o := s.Send(context.Background(), j)
			if o.StatusCode != c.code || o.Success != c.success || o.Rejected != c.rejected || o.Gone != c.gone || o.ErrKind != c.kind {
				t.Errorf("outcome = %+v", o)
			}
			if int(o.RetryAfter.Seconds()) != c.retryAfterSeconds {
				t.Errorf("retry after %s, want %ds", o.RetryAfter, c.retryAfterSeconds)
			}
			if o.Target != url || o.Request["X-Hookbook-Delivery-Id"] != "dlv_1" || o.Request["webhook-signature"] == "" {
				t.Errorf("request kept = %s %v", o.Target, o.Request)
			}
			if c.code != 204 && o.Response != "answer "+strconv.Itoa(c.code) {
				t.Errorf("response excerpt = %q", o.Response)
			}
		})
	}
}
