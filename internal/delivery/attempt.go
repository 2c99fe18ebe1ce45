package delivery

import (
	"context"
	"log/slog"
	"time"

	"github.com/hookbook/hookbook/internal/queue"
	"github.com/hookbook/hookbook/internal/tracing"
	"go.opentelemetry.io/otel/trace"
)

// One attempt: the Sender's outcome, the circuit's record of it, the retry
// schedule, the log line, and the result handed to the completer.

func (d *Dispatcher) attempt(ctx context.Context, j *queue.Job) {
	ep := j.Endpoint.ID
	l := d.begin(ep)
	timer := time.AfterFunc(d.SlowAfter, func() { d.slowDown(ep, l) })
	sctx, span := d.startSpan(ctx, j)
	o := d.Senders.send(sctx, j, d.Now)
	timer.Stop()
	d.end(ep, l, o.Duration)
	d.Breaker.Record(ep, o, d.Now())
	r := &queue.Result{
		Job: j, StartedAt: o.StartedAt, Duration: o.Duration, StatusCode: o.StatusCode, Error: o.Err,
		ResponseBody: o.Response, ResponseHeaders: o.ResponseHeaders, RequestURL: o.Target, RequestHeaders: o.Request,
		Success: o.Success, Gone: o.Gone, ErrorKind: o.ErrKind,
	}
	if !o.Success && !o.Gone {
		r.NextAttemptAt = d.Policy.Next(j.Attempt, j.MaxAttempts, o.StartedAt.Add(o.Duration), o.RetryAfter)
	}
	endSpan(span, r)
	d.logAttempt(r)
	if d.Hooks.Attempted != nil {
		d.Hooks.Attempted(r)
	}
	d.results <- r
}

// startSpan starts the span of an attempt of j as a child of its event's
// publication span: the Sender passes it on (a webhook's traceparent).
func (d *Dispatcher) startSpan(ctx context.Context, j *queue.Job) (context.Context, trace.Span) {
	if d.Tracer == nil {
		return ctx, nil
	}
	return tracing.Start(tracing.WithTraceParent(ctx, j.TraceParent), d.Tracer, "deliver "+j.EventType, trace.SpanKindClient,
		tracing.AttrOrganization.String(j.OrganizationID), tracing.AttrEndpoint.String(j.Endpoint.ID),
		tracing.AttrEndpointType.String(endpointKind(j.Endpoint)), tracing.AttrEventID.String(j.EventID),
		tracing.AttrEventType.String(j.EventType), tracing.AttrDelivery.String(j.DeliveryID), tracing.AttrAttempt.Int(j.Attempt))
}

// endSpan ends an attempt's span with its status, outcome and error kind.
func endSpan(span trace.Span, r *queue.Result) {
	if span == nil {
		return
	}
	span.SetAttributes(tracing.AttrStatus.Int(r.StatusCode), tracing.AttrOutcome.String(outcomeOf(r)))
	if !r.Success {
		tracing.Fail(span, r.ErrorKind)
	}
	span.End()
}

// outcomeOf names what an attempt did to its delivery: succeeded,
// retrying, failed (no attempt left) or gone.
func outcomeOf(r *queue.Result) string {
	switch {
	case r.Success:
		return "succeeded"
	case r.Gone:
		return "gone"
	case !r.NextAttemptAt.IsZero():
		return "retrying"
	}
	return "failed"
}

// logAttempt writes one line per attempt: who, what, and how it went. The
// URL is left out (it may carry a token in its query), and so are headers.
func (d *Dispatcher) logAttempt(r *queue.Result) {
	level := slog.LevelInfo
	if !r.Success {
		level = slog.LevelWarn
	}
	if !d.Log.Enabled(context.Background(), level) {
		return
	}
	j := r.Job
	attrs := []slog.Attr{
		slog.String("organization_id", j.OrganizationID), slog.String("endpoint_id", j.Endpoint.ID),
		slog.String("event_id", j.EventID), slog.String("event_type", j.EventType),
		slog.String("delivery_id", j.DeliveryID), slog.Int("attempt", j.Attempt),
		slog.Int("status_code", r.StatusCode), slog.Float64("duration_ms", float64(r.Duration.Microseconds())/1000),
	}
	outcome := outcomeOf(r)
	if outcome == "retrying" {
		attrs = append(attrs, slog.Time("next_attempt_at", r.NextAttemptAt))
	}
	attrs = append(attrs, slog.String("outcome", outcome))
	if r.Error != "" {
		attrs = append(attrs, slog.String("error", r.Error), slog.String("error_kind", r.ErrorKind))
	}
	d.Log.LogAttrs(context.Background(), level, "delivery attempt", attrs...)
}
