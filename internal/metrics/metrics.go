// Package metrics exposes hookbook's Prometheus metrics at /metrics.
package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"runtime"
	"sort"
	"strconv"
	"time"

	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/delivery"
	"github.com/hookbook/hookbook/internal/ids"
	"github.com/hookbook/hookbook/internal/outbound"
	"github.com/hookbook/hookbook/internal/queue"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds the instance's collectors.
type Metrics struct {
	Registry *prometheus.Registry
	attempts *prometheus.CounterVec
	results  *prometheus.CounterVec
	duration prometheus.Histogram
	latency  prometheus.Histogram
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
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "hookbook_events_published_total", Help: "Events stored by this instance.",
	}, func() float64 { return float64(st.Published()) }))
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
