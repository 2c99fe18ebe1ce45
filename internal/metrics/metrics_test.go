package metrics_test

import (
	"io"
	"net/http"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/hookbook/hookbook/internal/hookbooktest"
)

func scrape(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func value(text, series string) float64 {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(text)
	if m == nil {
		return -1
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

// TestCountersFollowTheEngine publishes to a receiver that fails once:
// the scrape shows the event, one failed and one succeeded attempt, and an
// empty queue afterwards.
func TestCountersFollowTheEngine(t *testing.T) {
	t.Parallel()
	in := hookbooktest.Start(t, nil)
	rc := hookbooktest.NewReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 1 {
			w.WriteHeader(500)
		}
	})
	in.CreateEndpoint(rc.URL, []string{"*"}, nil)
	in.Publish("booking.created", map[string]any{"id": "bkg_1"})
	hookbooktest.WaitFor(t, 10*time.Second, "the recorded success", func() bool {
		return value(scrape(t, in.URL), `hookbook_delivery_attempts_total{outcome="succeeded"}`) == 1
	})
	text := scrape(t, in.URL)
	if v := value(text, "hookbook_events_published_total"); v != 1 {
		t.Errorf("events published = %v", v)
	}
	if v := value(text, `hookbook_delivery_attempts_total{outcome="retry"}`); v != 1 {
		t.Errorf("failed attempts = %v\n%s", v, text)
	}
	if v := value(text, "hookbook_queue_pending"); v != 0 {
		t.Errorf("pending after delivery = %v", v)
	}
}
