// Package metrics exposes hookbook's Prometheus metrics at /metrics.
package metrics

import (
	"context"
	"database/sql"
	"log/slog"
	"net/http"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/delivery"
	"github.com/hookbook/hookbook/internal/event"
	"github.com/hookbook/hookbook/internal/ids"
	"github.com/hookbook/hookbook/internal/outbound"
	"github.com/hookbook/hookbook/internal/queue"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds the instance's collectors.
type Metrics struct {
	Registry  *prometheus.Registry
	attempts  *prometheus.CounterVec
	results   *prometheus.CounterVec
	duration  prometheus.Histogram
	latency   prometheus.Histogram
	published *prometheus.CounterVec
	requests  *prometheus.CounterVec
	reqTime   *prometheus.HistogramVec
	commands  *prometheus.CounterVec
}

// TopOrganizations bounds the per-organization queue series: only the
// organizations with the most pending deliveries get one.
const TopOrganizations = 20

// MaxOpenCircuitSeries bounds the per-endpoint circuit series.
const MaxOpenCircuitSeries = 100

// New registers hookbook's metrics for a store, its delivery queue and a
// dispatcher's circuit breaker.
func New(st *outbound.Service, q *queue.Queue, breaker *delivery.Breaker, log *slog.Logger) *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := &Metrics{
		Registry: reg,
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hookbook_delivery_attempts_total",
			Help: "Delivery attempts by outcome: succeeded, retry (failed, another attempt scheduled) or failed (no attempt left).",
		}, []string{"outcome"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "hookbook_attempt_duration_seconds",
			Help:    "Duration of delivery attempts, from sending to the end of the response or the error.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}),
	}
	m.results = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hookbook_delivery_attempt_results_total",
		Help: "Delivery attempts by the receiver's status class (2xx, 3xx, 4xx, 5xx, or none when no answer came) and error kind (none, timeout, connection_refused, dns, tls, blocked, network, http_status, redirect, transformation_error, oauth_token, proxy, other).",
	}, []string{"status_class", "error_kind"})
	m.latency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "hookbook_publish_to_delivery_seconds",
		Help:    "Time from an event's publication to its successful delivery to an endpoint, retries included.",
		Buckets: []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600, 6 * 3600, 24 * 3600},
	})
	for _, o := range []string{"succeeded", "retry", "failed"} {
		m.attempts.WithLabelValues(o)
	}
	m.results.WithLabelValues("2xx", "none")
	reg.MustRegister(m.attempts, m.results, m.duration, m.latency)
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "hookbook_build_info", Help: "Always 1; its labels name the running build.",
	}, []string{"version", "go_version"})
	build.WithLabelValues(hookbook.Version, runtime.Version()).Set(1)
	reg.MustRegister(build)
	reg.MustRegister(&circuitCollector{breaker: breaker})
	m.published = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hookbook_events_published_total",
		Help: "Events stored by this instance, by type: a built-in type by its name, every organization's own types together as custom.",
	}, []string{"type"})
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hookbook_http_requests_total",
		Help: "HTTP requests (API, UI, portal, probes) by method, route pattern ((none) when no route matched) and status code.",
	}, []string{"method", "route", "code"})
	m.reqTime = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "hookbook_http_request_duration_seconds",
		Help:    "Time to answer HTTP requests, by method and route pattern.",
		Buckets: []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10},
	}, []string{"method", "route"})
	m.commands = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hookbook_inbound_commands_total",
		Help: "Inbound commands by action (unknown for one outside the action table) and outcome: ok, refused (the client's error) or failed (hookbook's).",
	}, []string{"action", "outcome"})
	m.published.WithLabelValues("custom")
	for _, t := range event.Builtin() {
		m.published.WithLabelValues(t.Name)
	}
	reg.MustRegister(m.published, m.requests, m.reqTime, m.commands)
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "hookbook_endpoints_disabled_total", Help: "Endpoints this instance disabled: failing without a success for HOOKBOOK_DISABLE_AFTER, or answering 410 Gone.",
	}, func() float64 { return float64(st.Disabled()) }))
	reg.MustRegister(&endpointCollector{st: st, log: log})
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "hookbook_replayed_deliveries_total", Help: "Deliveries queued again by the bulk replays this instance carried on.",
	}, func() float64 { return float64(st.Replayed()) }))
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "hookbook_deliveries_filtered_total", Help: "Deliveries this instance did not create because an endpoint's payload filter did not match the event.",
	}, func() float64 { return float64(st.Filtered()) }))
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "hookbook_endpoints_circuit_open", Help: "Endpoints whose circuit breaker is open on this instance.",
	}, func() float64 { return float64(len(breaker.Open(time.Now()))) }))
	reg.MustRegister(&queueCollector{q: q, log: log})
	return m
}

// EventStored counts one stored event of type typ (outbound.Service.Stored).
// Organizations' own types share the label custom, so that the series stay
// as few as the catalog's types.
func (m *Metrics) EventStored(typ string) {
	if _, builtin := event.LookupBuiltin(typ); !builtin {
		typ = "custom"
	}
	m.published.WithLabelValues(typ).Inc()
}

// httpMethods are the methods a request series may name; any other is
// "other", so that a client cannot make series of its own.
var httpMethods = map[string]bool{"GET": true, "HEAD": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true, "OPTIONS": true}

// ObserveRequest counts one HTTP request answered with status after d.
// pattern is the route pattern that served it ("GET /api/v1/webhooks/{id}"),
// "" when none matched: the series are bounded by the route table.
func (m *Metrics) ObserveRequest(method, pattern string, status int, d time.Duration) {
	if !httpMethods[method] {
		method = "other"
	}
	route := pattern
	if i := strings.IndexByte(route, ' '); i >= 0 {
		route = route[i+1:]
	}
	if route == "" {
		route = "(none)"
	}
	m.requests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
	m.reqTime.WithLabelValues(method, route).Observe(d.Seconds())
}

// ObserveCommand counts one inbound command (inbound.Service.Executed).
func (m *Metrics) ObserveCommand(action, outcome string) {
	m.commands.WithLabelValues(action, outcome).Inc()
}

// WatchPools exports the statistics of the database's connection pools
// (the go_sql_* series of client_golang, labelled db_name by pool).
func (m *Metrics) WatchPools(pools map[string]*sql.DB) {
	for name, p := range pools {
		m.Registry.MustRegister(collectors.NewDBStatsCollector(p, name))
	}
}

// Observe records one attempt.
func (m *Metrics) Observe(r *queue.Result) {
	outcome := "retry"
	switch {
	case r.Success:
		outcome = "succeeded"
	case r.NextAttemptAt.IsZero():
		outcome = "failed"
	}
	m.attempts.WithLabelValues(outcome).Inc()
	m.duration.Observe(r.Duration.Seconds())
	class := "none"
	if r.StatusCode >= 100 && r.StatusCode < 600 {
		class = strconv.Itoa(r.StatusCode/100) + "xx"
	}
	kind := r.ErrorKind
	if kind == "" {
		kind = "none"
	}
	m.results.WithLabelValues(class, kind).Inc()
	if r.Success {
		if at, ok := ids.Time(r.Job.EventID); ok {
			m.latency.Observe(max(time.Since(at), 0).Seconds())
		}
	}
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{})
}

var (
	oldestPendingDesc = prometheus.NewDesc("hookbook_queue_oldest_pending_age_seconds", "Age of the oldest pending delivery (since it was created).", nil, nil)
	orgPendingDesc    = prometheus.NewDesc("hookbook_organization_queue_pending", "Pending deliveries of the organizations with the most of them (at most 20 series).", []string{"organization_id"}, nil)
	orgOldestDesc     = prometheus.NewDesc("hookbook_organization_queue_oldest_pending_age_seconds", "Age of the oldest pending delivery of the organizations with the most pending deliveries (at most 20 series).", []string{"organization_id"}, nil)
	circuitDesc       = prometheus.NewDesc("hookbook_endpoint_circuit_open", "1 for each endpoint whose circuit is open on this instance (closed circuits have no series; at most 100).", []string{"endpoint_id"}, nil)
	pendingDesc       = prometheus.NewDesc("hookbook_queue_pending", "Pending deliveries (due now or later).", nil, nil)
	dueDesc           = prometheus.NewDesc("hookbook_queue_due", "Pending deliveries due now.", nil, nil)
	oldestDesc        = prometheus.NewDesc("hookbook_queue_oldest_due_age_seconds", "How long the oldest due delivery has waited.", nil, nil)
)

// queueCollector reads the queue's depth from the database at scrape time.
type queueCollector struct {
	q   *queue.Queue
	log *slog.Logger
}

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- pendingDesc
	ch <- dueDesc
	ch <- oldestDesc
	ch <- oldestPendingDesc
	ch <- orgPendingDesc
	ch <- orgOldestDesc
}

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	q, err := c.q.Stats(ctx)
	if err != nil {
		c.log.Error("queue metrics", "err", err)
		return
	}
	ch <- prometheus.MustNewConstMetric(pendingDesc, prometheus.GaugeValue, float64(q.Pending))
	ch <- prometheus.MustNewConstMetric(dueDesc, prometheus.GaugeValue, float64(q.Due))
	ch <- prometheus.MustNewConstMetric(oldestDesc, prometheus.GaugeValue, q.OldestDueAge.Seconds())
	ch <- prometheus.MustNewConstMetric(oldestPendingDesc, prometheus.GaugeValue, q.OldestPendingAge.Seconds())
	orgs, err := c.q.ByOrganization(ctx, TopOrganizations)
	if err != nil {
		c.log.Error("queue metrics by organization", "err", err)
		return
	}
	for _, o := range orgs {
		ch <- prometheus.MustNewConstMetric(orgPendingDesc, prometheus.GaugeValue, float64(o.Pending), o.OrganizationID)
		ch <- prometheus.MustNewConstMetric(orgOldestDesc, prometheus.GaugeValue, o.OldestPendingAge.Seconds(), o.OrganizationID)
	}
}

var disabledDesc = prometheus.NewDesc("hookbook_endpoints_disabled", "Endpoints of every organization that are disabled now (by hookbook or by their owner), deleted ones aside.", nil, nil)

// endpointCollector counts disabled endpoints in the database at scrape time.
type endpointCollector struct {
	st  *outbound.Service
	log *slog.Logger
}

func (c *endpointCollector) Describe(ch chan<- *prometheus.Desc) { ch <- disabledDesc }

func (c *endpointCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n, err := c.st.DisabledEndpoints(ctx)
	if err != nil {
		c.log.Error("endpoint metrics", "err", err)
		return
	}
	ch <- prometheus.MustNewConstMetric(disabledDesc, prometheus.GaugeValue, float64(n))
}

// circuitCollector names the endpoints whose circuit is open.
type circuitCollector struct{ breaker *delivery.Breaker }

func (c *circuitCollector) Describe(ch chan<- *prometheus.Desc) { ch <- circuitDesc }

func (c *circuitCollector) Collect(ch chan<- prometheus.Metric) {
	open := c.breaker.Open(time.Now())
	sort.Strings(open)
	for _, ep := range open[:min(len(open), MaxOpenCircuitSeries)] {
		ch <- prometheus.MustNewConstMetric(circuitDesc, prometheus.GaugeValue, 1, ep)
	}
}
