package server

import (
	"context"
	"fmt"
	"time"

	outbound "github.com/hookbook/hookbook/internal/outbound"
)

// job is a periodic task of the instance.
type job struct {
	name     string
	interval time.Duration
	run      func(ctx context.Context) error
	wake     <-chan struct{} // runs the next pass at once (nil: none)
}

// jobs returns the instance's periodic tasks: auto-disable of endpoints
// failing too long, the retention purge, reminders, the sweep that
// releases parked deliveries of ordered endpoints nothing holds back, and
// bulk replays (woken at once when one starts).
func (a *App) jobs() []job {
	return []job{
		{"auto-disable", clamp(a.Config.DisableAfter/10, 100*time.Millisecond, time.Minute), a.autoDisable, nil},
		{"retention", clamp(a.Config.Retention/10, 100*time.Millisecond, time.Hour), a.purge, nil},
		{"reminders", a.Config.ReminderInterval, a.reminders, nil},
		{"ordering", a.Config.PollInterval, a.unpark, nil},
		{"replays", a.Config.PollInterval, a.replays, a.replayWake},
		{"listeners", clamp(a.Config.ListenGrace/4, 10*time.Millisecond, time.Minute), a.reapListeners, nil},
		{"alerts", a.Config.PollInterval, a.alerts, nil},
		{"broker-idle", time.Minute, func(context.Context) error { a.Brokers.Sweep(); return nil }, nil},
	}
}

// alerts sends the alert mails due (the outbox), when a mail server is
// configured; a slow or unreachable one holds up only this job.
func (a *App) alerts(ctx context.Context) error {
	if a.Mailer == nil {
		return nil
	}
	_, err := a.Outbound.SendAlertMails(ctx, func(ctx context.Context, m outbound.AlertMail) error {
		return a.Mailer.Send(ctx, m.To, m.Subject, m.Text)
	})
	return err
}

func clamp(d, lo, hi time.Duration) time.Duration {
	return max(lo, min(d, hi))
}

// JobPasses returns how many times this instance has run (or, on a
// cluster, tried to run) the periodic job called name: "auto-disable",
// "retention", "reminders", "ordering", "replays", "listeners" or "alerts". Tests wait on it instead of sleeping.
func (a *App) JobPasses(name string) int64 {
	a.jobMu.Lock()
	defer a.jobMu.Unlock()
	return a.jobPasses[name]
}

func (a *App) passed(name string) {
	a.jobMu.Lock()
	defer a.jobMu.Unlock()
	if a.jobPasses == nil {
		a.jobPasses = map[string]int64{}
	}
	a.jobPasses[name]++
}

// runJobs runs every periodic task until ctx is done.
func (a *App) runJobs(ctx context.Context) {
	for _, j := range a.jobs() {
		go func() {
			t := time.NewTicker(j.interval)
			defer t.Stop()
			for {
				if _, err := a.DB.Exclusive(ctx, j.name, j.run); err != nil && ctx.Err() == nil {
					a.Log.Error("periodic job failed", "job", j.name, "err", err)
				}
				a.passed(j.name)
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				case <-j.wake:
				}
			}
		}()
	}
}

// autoDisable disables endpoints that have failed without a success for
// HOOKBOOK_DISABLE_AFTER.
func (a *App) autoDisable(ctx context.Context) error {
	cutoff := a.DB.Now().Add(-a.Config.DisableAfter)
	ids, err := a.Outbound.FailingSince(ctx, cutoff)
	if err != nil {
		return err
	}
	if n, err := a.Outbound.WarnDisabling(ctx, a.Config.DisableAfter); err != nil {
		return err
	} else if n > 0 {
		a.Log.Info("owners warned of endpoints to be disabled", "count", n)
	}
	reason := fmt.Sprintf("no successful delivery for %s", a.Config.DisableAfter)
	for _, id := range ids {
		done, err := a.Outbound.DisableFailing(ctx, id, cutoff, reason)
		if err != nil {
			return err
		}
		if done {
			a.Dispatcher.Breaker.Reset(id)
			a.Log.Warn("endpoint disabled", "endpoint_id", id, "reason", reason)
		}
	}
	return nil
}

// reminders fires due booking reminders and follow-ups.
func (a *App) reminders(ctx context.Context) error {
	n, err := a.Booking.FireReminders(ctx)
	if n > 0 {
		a.Log.Info("reminders fired", "count", n)
	}
	return err
}

// unpark releases parked deliveries of ordered endpoints that nothing
// holds back any more.
func (a *App) unpark(ctx context.Context) error {
	n, err := a.Queue.Unpark(ctx)
	if n > 0 {
		a.Log.Debug("ordered deliveries released by the sweep", "count", n)
	}
	return err
}

// replays carries running bulk replays on (their start and end are
// logged by the outbound service).
func (a *App) replays(ctx context.Context) error {
	_, err := a.Outbound.RunReplays(ctx)
	return err
}

// purge deletes what is older than HOOKBOOK_RETENTION: finished deliveries,
// events, idempotency keys and the inbound command log; then, for each
// organization with a shorter retention of its own, its older deliveries
// and events.
func (a *App) purge(ctx context.Context) error {
	cutoff := a.DB.Now().Add(-a.Config.Retention)
	d, e, err := a.Outbound.Purge(ctx, cutoff)
	if err != nil {
		return err
	}
	od, oe, err := a.Outbound.PurgeOrganizations(ctx, a.DB.Now(), a.Config.Retention)
	d, e = d+od, e+oe
	if err != nil {
		return err
	}
	c, err := a.Inbound.Purge(ctx, cutoff)
	if err != nil {
		return err
	}
	k, err := a.API.Idempotency.Purge(ctx)
	if d > 0 || e > 0 || c > 0 || k > 0 {
		a.Log.Info("retention purge", "deliveries", d, "events", e, "commands", c, "idempotency_keys", k)
	}
	return err
}

// reapListeners deletes the listening endpoints whose connection has been
// gone for HOOKBOOK_LISTEN_GRACE.
func (a *App) reapListeners(ctx context.Context) error {
	reaped, err := a.Outbound.ReapListeners(ctx, a.DB.Now().Add(-a.Config.ListenGrace), a.Relay.Connected)
	for _, id := range reaped {
		a.Dispatcher.Breaker.Reset(id)
		a.Log.Info("listener gone: its endpoint is deleted", "endpoint_id", id, "grace", a.Config.ListenGrace.String())
	}
	return err
}
