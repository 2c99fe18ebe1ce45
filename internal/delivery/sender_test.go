package delivery_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/delivery"
	"github.com/hookbook/hookbook/internal/netguard"
	"github.com/hookbook/hookbook/internal/queue"
	"github.com/hookbook/hookbook/internal/transform"
	"github.com/hookbook/hookbook/webhook"
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

// TestWebhookSenderTransforms: an endpoint's enabled transformation makes
// the request (its body signed); a failing one fails the attempt with
// transformation_error and sends nothing, without counting against the
// circuit; a cancelling one succeeds with nothing sent.
func TestWebhookSenderTransforms(t *testing.T) {
	t.Parallel()
	var got []*http.Request
	var bodies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got, bodies = append(got, r), append(bodies, string(b))
	}))
	t.Cleanup(srv.Close)
	s := delivery.NewWebhookSender(&netguard.Guard{}, "X-Hookbook", 4)
	s.Transforms = transform.New(transform.Limits{Timeout: time.Second}, nil, nil)
	secret := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	job := func(code string, enabled bool) *queue.Job {
		return &queue.Job{DeliveryID: "dlv_1", EventID: "evt_1", EventType: "booking.created", Attempt: 1, Payload: []byte(`{"n":1}`),
			Endpoint: &hookbook.Endpoint{ID: "ep_x", URL: srv.URL + "/in", TimeoutSeconds: 10, Secret: secret, Scheme: hookbook.SchemeTimestamped,
				Transformation: &hookbook.Transformation{Code: code, Enabled: enabled}}}
	}
	o := s.Send(context.Background(), job(`function handler(w) { w.payload = {m: w.payload.n + 1}; w.method = "PUT"; w.url += "/x"; return w; }`, true))
	if !o.Success || o.Target != srv.URL+"/in/x" || len(got) != 1 || got[0].Method != "PUT" || bodies[0] != `{"m":2}` {
		t.Fatalf("outcome %+v, requests %v %v", o, got, bodies)
	}
	if err := webhook.Verify(secret, got[0].Header, []byte(bodies[0])); err != nil {
		t.Fatalf("signature over the transformed body: %v", err)
	}
	o = s.Send(context.Background(), job(`function handler(w) { throw new TypeError("bad"); }`, true))
	if o.Success || o.ErrKind != delivery.ErrKindTransformation || !o.Rejected || !strings.Contains(o.Err, "threw TypeError: bad") || len(got) != 1 {
		t.Fatalf("failing transformation: %+v", o)
	}
	o = s.Send(context.Background(), job(`function handler(w) { w.cancel = true; return w; }`, true))
	if !o.Success || o.Response != delivery.Cancelled || o.StatusCode != 0 || len(got) != 1 {
		t.Fatalf("cancelling transformation: %+v", o)
	}
	o = s.Send(context.Background(), job(`function handler(w) { throw new Error("off"); }`, false))
	if !o.Success || len(got) != 2 || bodies[1] != `{"n":1}` {
		t.Fatalf("disabled transformation: %+v", o)
	}
}
