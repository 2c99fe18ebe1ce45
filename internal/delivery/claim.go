package delivery

import (
	"context"
	"time"

	"github.com/hookbook/hookbook/internal/queue"
)

// Claiming: when a claim runs (marks, drained), which endpoints it leaves
// out (saturated, slow while the slow budget is full, open circuits), and
// the deferral of stalled endpoints' and open circuits' backlogs.

// maxExclude bounds the endpoints a claim leaves out by name; jobs claimed
// beyond it for a saturated endpoint are given back.
const maxExclude = 1000

// stallAfter is how long an endpoint may hold all its slots without a
// single attempt finishing before its due backlog is deferred by its timeout.
const stallAfter = 500 * time.Millisecond

// claim takes one batch of due deliveries and starts them, when there is
// a free worker and the queue may hold something to claim (marks). It
// reports whether it ran a claim, and whether the batch was full, meaning
// more may be due at once.
func (d *Dispatcher) claim(ctx, attemptCtx context.Context) (claimed, full bool) {
	now := d.Now()
	d.mu.Lock()
	free := d.Workers - (d.inflight - d.slow)
	exclude, stalled := d.saturated(now)
	marks := d.marks
	wanted := marks != d.drained
	d.mu.Unlock()
	for ep, wait := range stalled {
		if err := d.Queue.Postpone(ctx, ep, nil, now.Add(wait)); err != nil && ctx.Err() == nil {
			d.Log.Error("defer the backlog of a stalled endpoint", "endpoint_id", ep, "err", err)
		}
	}
	exclude = append(exclude, d.deferOpenCircuits(ctx, now)...)
	if free <= 0 || !wanted {
		return false, false
	}
	d.mu.Lock()
	d.claimedAt = now
	d.mu.Unlock()
	left := make(map[string]bool, len(exclude))
	for _, ep := range exclude {
		left[ep] = true
	}
	if len(exclude) > maxExclude {
		exclude = exclude[:maxExclude]
	}
	limit := min(free, 256)
	// A claim cancelled half-way could commit without its answer arriving,
	// leaving deliveries leased to no one until the lease ends: let it
	// finish, and give its jobs back if a stop came meanwhile.
	jobs, err := d.Queue.Claim(context.WithoutCancel(ctx), queue.ClaimRequest{Owner: d.Owner, Limit: limit, Lease: d.Lease, Exclude: exclude, PerEndpoint: d.PerEndpoint})
	if err != nil {
		d.Log.Error("claim deliveries", "err", err)
		return true, false
	}
	if ctx.Err() != nil {
		if err := d.Queue.Release(context.Background(), jobs); err != nil {
			d.Log.Error("release deliveries claimed during a stop", "err", err)
		}
		return true, false
	}
	var excess []*queue.Job
	d.mu.Lock()
	for _, j := range jobs {
		if !d.place(attemptCtx, j, now) {
			excess = append(excess, j)
		}
	}
	d.inflight += len(jobs) - len(excess)
	if len(jobs) < limit {
		// Every due delivery not left out was taken: those endpoints have
		// no backlog in the queue any more, and until a new sign (marks)
		// only the endpoints left behind may have some.
		for ep := range d.backlog {
			if !left[ep] {
				delete(d.backlog, ep)
			}
		}
		for _, j := range excess {
			left[j.Endpoint.ID] = true
		}
		d.drained, d.watch = marks, left
	}
	d.mu.Unlock()
	if len(excess) > 0 {
		if err := d.Queue.Release(ctx, excess); err != nil {
			d.Log.Error("release excess deliveries", "err", err)
		}
	}
	return true, len(jobs) == limit
}

// saturated returns the endpoints the next claim must leave out (every slot
// and queue place taken, or slow while the slow budget is full) and those
// stalled, with how long to defer their backlog; called with d.mu held.
func (d *Dispatcher) saturated(now time.Time) (exclude []string, stalled map[string]time.Duration) {
	stalled = map[string]time.Duration{}
	slowFull := d.slow >= d.SlowWorkers
	for ep, since := range d.slowEP {
		if d.active[ep] == 0 && now.Sub(since) > slowMemory {
			delete(d.slowEP, ep)
		} else if slowFull {
			exclude = append(exclude, ep)
		}
	}
	for ep, n := range d.active {
		_, slow := d.slowEP[ep]
		switch {
		case slow && slowFull:
			// already left out
		case slow && n >= d.lane(ep), !slow && n+len(d.queued[ep]) >= d.lane(ep)*(1+queueFactor),
			d.throttled[ep] && n+len(d.queued[ep]) >= d.lane(ep):
			exclude = append(exclude, ep)
		}
		// All slots busy and none has finished for a while: the endpoint is
		// slow or hanging. Its due backlog would only be skipped by every
		// claim until its timeouts end; move it out of the way meanwhile.
		// The longer it has been stuck, the longer the deferral, up to its
		// timeout: a slow endpoint's deliveries wait little past its slots.
		// A throttled endpoint's backlog is in no claim's way: its lane may
		// be small on purpose, and deferring it would slow it below its rate.
		if stuck := now.Sub(d.progress[ep]); !d.throttled[ep] && n >= d.lane(ep) && stuck > stallAfter && now.After(d.deferred[ep]) {
			stalled[ep] = min(2*stuck, d.timeouts[ep])
			d.deferred[ep] = now.Add(min(d.timeouts[ep], time.Second)) // new events keep arriving: look again soon
		}
	}
	return exclude, stalled
}

// deferOpenCircuits moves the due deliveries of endpoints whose circuit is
// open to when it half-opens, once a second while it stays open: events
// keep arriving for them, and claims would otherwise skip past them. It
// returns the endpoints whose circuit is open, which the claim leaves out.
func (d *Dispatcher) deferOpenCircuits(ctx context.Context, now time.Time) (open []string) {
	open = d.Breaker.Open(now)
	var due []string
	d.mu.Lock()
	isOpen := make(map[string]bool, len(open))
	for _, ep := range open {
		isOpen[ep] = true
		if now.After(d.circuitDeferred[ep]) {
			d.circuitDeferred[ep] = now.Add(time.Second)
			due = append(due, ep)
		}
	}
	for ep := range d.circuitDeferred {
		if !isOpen[ep] {
			delete(d.circuitDeferred, ep)
		}
	}
	d.mu.Unlock()
	for _, ep := range due {
		if until, ok := d.Breaker.OpenUntil(ep, now); ok {
			if err := d.Queue.Postpone(ctx, ep, nil, until); err != nil && ctx.Err() == nil {
				d.Log.Error("defer the backlog of an endpoint with an open circuit", "endpoint_id", ep, "err", err)
			}
		}
	}
	return open
}

// sleep returns how long to wait when nothing signals: until the next
// delivery comes due, or a throttled endpoint's rate allows its next
// attempt, at most PollInterval.
func (d *Dispatcher) sleep(ctx context.Context) time.Duration {
	wait := d.PollInterval
	// Due now but not claimed (saturated endpoint or open circuit): a
	// freed slot or the poll will bring it.
	if next, ok, err := d.Queue.NextDue(ctx); err == nil && ok && next.Sub(d.Now()) > 0 {
		wait = min(wait, next.Sub(d.Now())+time.Millisecond)
	}
	d.mu.Lock()
	since := d.claimedAt
	d.mu.Unlock()
	if since.IsZero() {
		since = d.Now()
	}
	// Asked from the last claim on: a rate that refused it allows the next
	// one after it, perhaps already (a busy machine), and then at once.
	if next, ok, err := d.Queue.NextAllowed(ctx, since); err == nil && ok {
		wait = min(wait, max(next.Sub(d.Now()), 0)+time.Millisecond)
	}
	return wait
}
