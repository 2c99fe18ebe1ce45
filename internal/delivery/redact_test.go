package delivery_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/delivery"
	"github.com/hookbook/hookbook/internal/netguard"
	"github.com/hookbook/hookbook/internal/queue"
	"github.com/hookbook/hookbook/internal/transform"
)

// TestCredentialHeaderRule: which request headers the attempt log hides,
// and what it shows instead.
func TestCredentialHeaderRule(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, value, shown string
	}{
		{"Authorization", "Bearer receiver-secret-123", "Bearer …"},
		{"authorization", "Basic dXNlcjpwYXNz", "Basic …"},
		{"Authorization", "receiver-secret-123", delivery.Redacted},
		{"Proxy-Authorization", "Basic dXNlcjpwYXNz", "Basic …"},
		{"Cookie", "sid=abc; theme=dark", delivery.Redacted},
		{"X-Api-Key", "k_123", delivery.Redacted},
		{"X-APIKEY", "k_123", delivery.Redacted},
		{"X-Api_Key", "k_123", delivery.Redacted},
		{"X-Access-Token", "t_1", delivery.Redacted},
		{"X-Client-Secret", "s_1", delivery.Redacted},
		{"X-Password", "hunter2", delivery.Redacted},
		{"X-Session-Id", "sess_1", delivery.Redacted},
		{"X-Custom-Auth", "Token abc", "Token …"},
		{"webhook-signature", "v1,abc=", "v1,abc="},
		{"X-Hookbook-Signature", "sha256=ab", "sha256=ab"},
		{"webhook-id", "evt_1", "evt_1"},
		{"X-Tenant", "acme", "acme"},
		{"Content-Type", "application/json", "application/json"},
	}
	for _, c := range cases {
		got := c.value
		if delivery.IsCredentialHeader(c.name, "X-Hookbook") {
			got = delivery.RedactValue(c.value)
		}
		if got != c.shown {
			t.Errorf("%s: %q shown as %q, want %q", c.name, c.value, got, c.shown)
		}
	}
	// A brand prefix that itself contains a credential word keeps its
	// signature header visible.
	if delivery.IsCredentialHeader("X-Authco-Signature", "X-Authco") {
		t.Error("the brand signature header of prefix X-Authco is hidden")
	}
}

// TestWebhookSenderRedactsRecordedCredentials: the receiver gets the
// endpoint's and the transformation's credential headers as they are;
// the attempt records them redacted and the signatures in clear.
func TestWebhookSenderRedactsRecordedCredentials(t *testing.T) {
	t.Parallel()
	got := make(chan http.Header, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got <- r.Header.Clone() }))
	t.Cleanup(srv.Close)
	s := delivery.NewWebhookSender(&netguard.Guard{}, "X-Hookbook", 4)
	s.Transforms = transform.New(transform.Limits{Timeout: time.Second}, nil, nil)
	j := &queue.Job{DeliveryID: "dlv_1", EventID: "evt_1", EventType: "booking.created", Attempt: 1, Payload: []byte(`{}`),
		Endpoint: &hookbook.Endpoint{ID: "ep_x", URL: srv.URL, TimeoutSeconds: 10, Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
			Headers: map[string]string{"Authorization": "Bearer receiver-secret-123", "X-Tenant": "acme"},
			Transformation: &hookbook.Transformation{Enabled: true,
				Code: `function handler(w) { w.headers["X-Api-Key"] = "k_live_456"; return w; }`}}}
	o := s.Send(context.Background(), j)
	if !o.Success {
		t.Fatalf("outcome %+v", o)
	}
	sent := <-got
	if sent.Get("Authorization") != "Bearer receiver-secret-123" || sent.Get("X-Api-Key") != "k_live_456" {
		t.Errorf("receiver got Authorization %q, X-Api-Key %q", sent.Get("Authorization"), sent.Get("X-Api-Key"))
	}
	if o.Request["Authorization"] != "Bearer …" || o.Request["X-Api-Key"] != delivery.Redacted || o.Request["X-Tenant"] != "acme" {
		t.Errorf("recorded %v", o.Request)
	}
	if o.Request["webhook-signature"] != sent.Get("webhook-signature") || o.Request["X-Hookbook-Signature"] != sent.Get("X-Hookbook-Signature") {
		t.Errorf("recorded signatures %q %q, sent %q %q", o.Request["webhook-signature"], o.Request["X-Hookbook-Signature"],
			sent.Get("webhook-signature"), sent.Get("X-Hookbook-Signature"))
	}
}
