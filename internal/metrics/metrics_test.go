package metrics_test

import (
	"io"
	"net/http"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/hookbooktest"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
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
	if v := value(text, `hookbook_events_published_total{type="booking.created"}`); v != 1 {
		t.Errorf("events published = %v", v)
	}
	if v := value(text, `hookbook_delivery_attempts_total{outcome="retry"}`); v != 1 {
		t.Errorf("failed attempts = %v\n%s", v, text)
	}
	if v := value(text, "hookbook_queue_pending"); v != 0 {
		t.Errorf("pending after delivery = %v", v)
	}
}

// TestFilteredCounter: an endpoint whose filter does not match an event
// counts one delivery not created.
func TestFilteredCounter(t *testing.T) {
	t.Parallel()
	in := hookbooktest.Start(t, nil)
	in.CreateEndpoint("http://127.0.0.1:9/x", []string{"*"}, map[string]any{"filter": map[string]any{"event": "payment.succeeded"}})
	in.Publish("booking.created", map[string]any{"id": "bkg_1"})
	if v := value(scrape(t, in.URL), "hookbook_deliveries_filtered_total"); v != 1 {
		t.Errorf("deliveries filtered = %v", v)
	}
}

// TestOperatorMetrics: the series an operator alerts on follow real
// attempts: results by status class and error kind, publish→delivery
// latency, the queue per organization, open circuits by endpoint and the
// build; and the exposition passes the linter `promtool check metrics` runs.
func TestOperatorMetrics(t *testing.T) {
	t.Parallel()
	in := hookbooktest.Start(t, map[string]string{"HOOKBOOK_BREAKER_THRESHOLD": "1", "HOOKBOOK_RETRY_SCHEDULE": "1h"})
	ok := hookbooktest.NewReceiver(t, nil)
	failing := hookbooktest.NewReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) { w.WriteHeader(503) })
	in.CreateEndpoint(ok.URL, []string{"*"}, nil)
	bad := in.CreateEndpoint(failing.URL, []string{"*"}, nil)["id"].(string)
	in.Publish("booking.created", map[string]any{"id": "bkg_1"})
	// The attempt counters move as each attempt ends; the queue's gauges
	// follow once its outcome is recorded, a group commit later.
	hookbooktest.WaitFor(t, 10*time.Second, "both attempts, recorded", func() bool {
		text := scrape(t, in.URL)
		return value(text, `hookbook_delivery_attempt_results_total{error_kind="none",status_class="2xx"}`) == 1 &&
			value(text, `hookbook_delivery_attempt_results_total{error_kind="http_status",status_class="5xx"}`) == 1 &&
			value(text, "hookbook_queue_pending") == 1
	})
	text := scrape(t, in.URL)
	for series, want := range map[string]float64{
		"hookbook_publish_to_delivery_seconds_count":                                                     1,
		`hookbook_endpoint_circuit_open{endpoint_id="` + bad + `"}`:                                      1,
		`hookbook_build_info{go_version="` + runtime.Version() + `",version="` + hookbook.Version + `"}`: 1,
		"hookbook_queue_pending": 1,
	} {
		if v := value(text, series); v != want {
			t.Errorf("%s = %v, want %v", series, v, want)
		}
	}
	if !regexp.MustCompile(`(?m)^hookbook_organization_queue_pending\{organization_id="org_[0-9A-Z]+"\} 1$`).MatchString(text) ||
		!regexp.MustCompile(`(?m)^hookbook_organization_queue_oldest_pending_age_seconds\{organization_id="org_[0-9A-Z]+"\} `).MatchString(text) ||
		value(text, "hookbook_queue_oldest_pending_age_seconds") < 0 {
		t.Errorf("queue by organization missing:\n%s", grep(text, "queue"))
	}
	problems, err := promlint.New(strings.NewReader(text)).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, "hookbook_") {
			t.Errorf("lint: %s: %s", p.Metric, p.Text)
		}
	}
}

func grep(text, word string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, word) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestRequestCommandEndpointAndPoolMetrics: API requests by route and
// status, events by type (own types together), inbound commands by action
// and outcome, disabled endpoints and the database pools; no series for a
// method or path a client made up; and the exposition passes the linter.
func TestRequestCommandEndpointAndPoolMetrics(t *testing.T) {
	t.Parallel()
	in := hookbooktest.Start(t, nil)
	ep := in.CreateEndpoint("http://127.0.0.1:9/x", []string{"*"}, nil)["id"].(string)
	in.Must(200, "PATCH", "/api/v1/webhooks/"+ep, map[string]any{"enabled": false})
	in.Must(201, "POST", "/api/v1/event-types", map[string]any{"name": "lead.qualified", "description": "A lead"})
	in.Publish("lead.qualified", map[string]any{"lead_id": "l1"})
	in.Publish("booking.created", map[string]any{"id": "bkg_1"})
	in.Do("GET", "/api/v1/webhooks/ep_nope", nil)
	in.Do("GET", "/no/such/path/"+strings.Repeat("x", 20), nil)
	in.Do("BREW", "/api/v1/webhooks", nil)
	// An inbound command to an organization that takes none: refused.
	resp, err := http.Post(in.URL+"/api/public/webhooks/inbound", "application/json", strings.NewReader(`{"action":"made.up"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	text := scrape(t, in.URL)
	for series, want := range map[string]float64{
		`hookbook_http_requests_total{code="201",method="POST",route="/api/v1/webhooks"}`:       1,
		`hookbook_http_requests_total{code="200",method="PATCH",route="/api/v1/webhooks/{id}"}`: 1,
		`hookbook_http_requests_total{code="404",method="GET",route="/api/v1/webhooks/{id}"}`:   1,
		`hookbook_http_requests_total{code="202",method="POST",route="/api/v1/events"}`:         2,
		`hookbook_events_published_total{type="booking.created"}`:                               1,
		`hookbook_events_published_total{type="custom"}`:                                        1,
		`hookbook_inbound_commands_total{action="unknown",outcome="refused"}`:                   1,
		`hookbook_endpoints_disabled`:                                                           1,
		`hookbook_endpoints_disabled_total`:                                                     0,
	} {
		if v := value(text, series); v != want {
			t.Errorf("%s = %v, want %v\n%s", series, v, want, grep(text, strings.SplitN(series, "{", 2)[0]))
		}
	}
	if strings.Contains(text, "BREW") || strings.Contains(text, "/no/such") || strings.Contains(text, "lead.qualified") || strings.Contains(text, "made.up") {
		t.Errorf("a client-made method, path, type or action became a label:\n%s", grep(text, "hookbook_"))
	}
	if !regexp.MustCompile(`(?m)^go_sql_open_connections\{db_name="(postgres|sqlite_writer)"\} `).MatchString(text) {
		t.Errorf("no database pool statistics:\n%s", grep(text, "go_sql"))
	}
	problems, err := promlint.New(strings.NewReader(text)).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}
