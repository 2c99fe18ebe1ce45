package delivery

import (
	"context"
	"log/slog"
	"time"

	"github.com/hookbook/hookbook/internal/queue"
)

// One attempt: the Sender's outcome, the circuit's record of it, the retry
// schedule, the log line, and the result handed to the completer.

func (d *Dispatcher) attempt(ctx context.Context, j *queue.Job) {
	ep := j.Endpoint.ID
	l := d.begin(ep)
	timer := time.AfterFunc(d.SlowAfter, func() { d.slowDown(ep, l) })
	o := d.Senders.send(ctx, j, d.Now)
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
	d.logAttempt(r)
	if d.Hooks.Attempted != nil {
		d.Hooks.Attempted(r)
	}
	d.results <- r
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
	outcome := "succeeded"
	switch {
	case r.Success:
	case r.Gone:
		outcome = "gone"
	case !r.NextAttemptAt.IsZero():
		outcome = "retrying"
		attrs = append(attrs, slog.Time("next_attempt_at", r.NextAttemptAt))
	default:
		outcome = "failed"
	}
	attrs = append(attrs, slog.String("outcome", outcome))
	if r.Error != "" {
		attrs = append(attrs, slog.String("error", r.Error), slog.String("error_kind", r.ErrorKind))
	}
	d.Log.LogAttrs(context.Background(), level, "delivery attempt", attrs...)
}
