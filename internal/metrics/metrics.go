// Package metrics exposes hookbook's Prometheus metrics at /metrics.
package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/hookbook/hookbook/internal/delivery"
	"github.com/hookbook/hookbook/internal/outbound"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds the instance's collectors.
type Metrics struct {
	Registry *prometheus.Registry
	attempts *prometheus.CounterVec
	duration prometheus.Histogram
}

// New registers hookbook's metrics for a store and a dispatcher.
func New(st *outbound.Service, breaker *delivery.Breaker, log *slog.Logger) *Metrics {
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
	for _, o := range []string{"succeeded", "retry", "failed"} {
		m.attempts.WithLabelValues(o)
	}
	reg.MustRegister(m.attempts, m.duration)
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "hookbook_events_published_total", Help: "Events stored by this instance.",
	}, func() float64 { return float64(st.Published()) }))
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "hookbook_endpoints_circuit_open", Help: "Endpoints whose circuit breaker is open on this instance.",
	}, func() float64 { return float64(len(breaker.Open(time.Now()))) }))
	reg.MustRegister(&queueCollector{st: st, log: log})
	return m
}

// Observe records one attempt.
func (m *Metrics) Observe(r *outbound.Result) {
	outcome := "retry"
	switch {
	case r.Success:
		outcome = "succeeded"
	case r.NextAttemptAt.IsZero():
		outcome = "failed"
	}
	m.attempts.WithLabelValues(outcome).Inc()
	m.duration.Observe(r.Duration.Seconds())
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{})
}

var (
	pendingDesc = prometheus.NewDesc("hookbook_queue_pending", "Pending deliveries (due now or later).", nil, nil)
	dueDesc     = prometheus.NewDesc("hookbook_queue_due", "Pending deliveries due now.", nil, nil)
	oldestDesc  = prometheus.NewDesc("hookbook_queue_oldest_due_age_seconds", "How long the oldest due delivery has waited.", nil, nil)
)

// queueCollector reads the queue's depth from the database at scrape time.
type queueCollector struct {
	st  *outbound.Service
	log *slog.Logger
}

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- pendingDesc
	ch <- dueDesc
	ch <- oldestDesc
}

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	q, err := c.st.Queue(ctx)
	if err != nil {
		c.log.Error("queue metrics", "err", err)
		return
	}
	ch <- prometheus.MustNewConstMetric(pendingDesc, prometheus.GaugeValue, float64(q.Pending))
	ch <- prometheus.MustNewConstMetric(dueDesc, prometheus.GaugeValue, float64(q.Due))
	ch <- prometheus.MustNewConstMetric(oldestDesc, prometheus.GaugeValue, q.OldestDueAge.Seconds())
}
