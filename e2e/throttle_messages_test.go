package e2e

import (
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hookbook/hookbook/internal/hookbooktest"
)

// TestThrottleFieldsReadAsWritten: the throttle fields' messages offer only
// what each side can send (null in the API, an empty field in the form,
// never "off"); integral numbers such as 1e3 are integers in every integer
// field; rates read back in their short form; the backlog's age is whole
// milliseconds.
func TestThrottleFieldsReadAsWritten(t *testing.T) {
	t.Parallel()
	hookbooktest.StartEach(t, func(t *testing.T, h *hookbooktest.Instance) {
		in := wrap(t, h)
		rc := newReceiver(t, nil)
		id := in.createEndpoint(rc.URL, []string{"booking.created"}, nil)["id"].(string)
		for _, bad := range []map[string]any{{"rate_limit": "fast"}, {"rate_limit": "off"}, {"max_in_flight": 0}} {
			r := in.do("PATCH", "/api/v1/webhooks/"+id, bad)
			msg := string(r.Body)
			if r.Status != 422 || strings.Contains(msg, "or off") || !strings.Contains(msg, "or null for no limit") {
				t.Errorf("PATCH %v = %d %s", bad, r.Status, msg)
			}
		}
		p := in.must(200, "PATCH", "/api/v1/webhooks/"+id, `{"max_in_flight":1e3,"max_attempts":1E1,"timeout_seconds":2.0e1}`)
		if p["max_in_flight"] != float64(1000) || p["max_attempts"] != float64(10) || p["timeout_seconds"] != float64(20) {
			t.Errorf("integral numbers read as %v %v %v", p["max_in_flight"], p["max_attempts"], p["timeout_seconds"])
		}
		for _, bad := range []string{`{"max_in_flight":1.5e0}`, `{"max_attempts":1e400}`, `{"max_in_flight":1e-3}`} {
			if r := in.do("PATCH", "/api/v1/webhooks/"+id, bad); r.Status != 422 || !strings.Contains(string(r.Body), "must be an integer") {
				t.Errorf("PATCH %s = %d %s", bad, r.Status, r.Body)
			}
		}
		for written, read := range map[string]string{"1/24h": "1/24h", "1/1h1m": "1/1h1m", "1/61m": "1/1h1m", "5/90s": "5/1m30s", "60/60s": "60/m"} {
			if p := in.must(200, "PATCH", "/api/v1/webhooks/"+id, map[string]any{"rate_limit": written}); p["rate_limit"] != read {
				t.Errorf("rate_limit %q reads back as %v, want %q", written, p["rate_limit"], read)
			}
		}
		// The form says how it clears a field: leave it empty.
		a := signedIn(t, in)
		csrf := csrfIn(t, a.get("/settings/webhooks/"+id+"/edit", 200))
		page := a.post("/settings/webhooks/"+id+"/edit", url.Values{"csrf": {csrf}, "url": {rc.URL}, "events": {"booking.created"},
			"max_attempts": {"8"}, "timeout_seconds": {"10"}, "signature_scheme": {"timestamped"}, "rate_limit": {"fast"}, "max_in_flight": {"0"}}, 422)
		if n := strings.Count(page, "or leave it empty for no limit"); n != 2 || strings.Contains(page, "or null") || strings.Contains(page, "or off") {
			t.Errorf("form messages (%d say leave it empty): %s", n, page)
		}
		// The backlog's age: at most three decimals.
		in.must(200, "PATCH", "/api/v1/webhooks/"+id, map[string]any{"rate_limit": "1/24h"})
		in.publish("booking.created", bookingData(nil))
		in.publish("booking.created", bookingData(nil))
		waitFor(t, 10*time.Second, "a pending delivery", func() bool {
			r := in.do("GET", "/api/v1/webhooks/"+id+"/stats", nil)
			m := regexp.MustCompile(`"oldest_pending_age_seconds":([0-9.e+-]+)`).FindStringSubmatch(string(r.Body))
			if m == nil {
				return false
			}
			if !regexp.MustCompile(`^[0-9]+(\.[0-9]{1,3})?$`).MatchString(m[1]) {
				t.Fatalf("oldest_pending_age_seconds = %s", m[1])
			}
			return true
		})
	})
}
