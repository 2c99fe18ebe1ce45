package delivery

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/hookbook/hookbook/internal/outbound"
)

// Dispatcher runs the delivery workers of one instance. It claims due
// deliveries in batches, runs at most Workers attempts at once and at most
// PerEndpoint per endpoint, and records outcomes in group commits.
//
// Isolation: an endpoint that has PerEndpoint attempts in flight is left out
// of further claims, so its backlog never holds workers that other endpoints
// could use; an endpoint whose circuit is open is left out too.
type Dispatcher struct {
	Queue        Queue
	Sender       *Sender
	Policy       Policy
	Breaker      *Breaker
	Hooks        Hooks
	Owner        string        // lease owner: unique per process
	Workers      int           // attempts in flight per instance
	PerEndpoint  int           // attempts in flight per endpoint
	Lease        time.Duration // how long a claim lasts
	PollInterval time.Duration // fallback wake-up when nothing signals
	Log          *slog.Logger

	wake    chan struct{}
	freed   chan struct{}
	results chan *outbound.Result

	mu       sync.Mutex
	inflight int                        // claimed and not yet recorded
	active   map[string]int             // attempts running, per endpoint
	queued   map[string][]*outbound.Job // claimed, waiting for an endpoint slot
	// progress holds, per endpoint with attempts running, when one last
	// finished (or the first started); stalled and deferred let a stalled
	// endpoint's backlog step out of the claim query's way.
	progress map[string]time.Time
	deferred map[string]time.Time
	timeouts map[string]time.Duration
	// circuitDeferred holds when an open circuit's backlog may be deferred again.
	circuitDeferred map[string]time.Time
	running         sync.WaitGroup
	once            sync.Once
}

// queueFactor sets how many claimed deliveries may wait per endpoint for a
// free slot, in multiples of PerEndpoint: enough for large claim batches,
// few enough to be sent well within the lease.
const queueFactor = 4

// stallAfter is how long an endpoint may hold all its slots without a
// single attempt finishing before its due backlog is deferred by its timeout.
const stallAfter = 500 * time.Millisecond

// Hooks let the rest of hookbook watch the engine (metrics, auto-disable).
type Hooks struct {
	// Attempted is called after each attempt with what will be recorded.
	Attempted func(r *outbound.Result)
	// Recorded is called after a batch of results was committed.
	Recorded func(results []*outbound.Result)
}

func (d *Dispatcher) init() {
	d.once.Do(func() {
		d.wake = make(chan struct{}, 1)
		d.freed = make(chan struct{}, 1)
		d.results = make(chan *outbound.Result, 4*d.Workers)
		d.active = map[string]int{}
		d.queued = map[string][]*outbound.Job{}
		d.progress = map[string]time.Time{}
		d.deferred = map[string]time.Time{}
		d.timeouts = map[string]time.Duration{}
		d.circuitDeferred = map[string]time.Time{}
		if d.Log == nil {
			d.Log = slog.Default()
		}
		if d.Breaker == nil {
			d.Breaker = NewBreaker(0, 0)
		}
	})
}

// Wake tells the dispatcher that deliveries may be due now. It never blocks.
func (d *Dispatcher) Wake() {
	d.init()
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run claims and sends deliveries until ctx is done, then stops claiming,
// gives back claimed deliveries that had not started, waits for attempts in
// flight (each bounded by its endpoint's timeout) and records their outcomes.
func (d *Dispatcher) Run(ctx context.Context) {
	d.init()
	writerDone := make(chan struct{})
	go func() {
		d.writer()
		close(writerDone)
	}()
	// Attempts run under their own context so that a shutdown lets them finish.
	attemptCtx, cancelAttempts := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelAttempts()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for ctx.Err() == nil {
		full := d.claim(ctx, attemptCtx)
		if full {
			continue
		}
		timer.Reset(d.sleep(ctx))
		select {
		case <-ctx.Done():
		case <-d.wake:
		case <-d.freed:
		case <-timer.C:
		}
	}
	d.mu.Lock()
	var unstarted []*outbound.Job
	for ep, q := range d.queued {
		unstarted = append(unstarted, q...)
		delete(d.queued, ep)
	}
	d.inflight -= len(unstarted)
	d.mu.Unlock()
	if len(unstarted) > 0 {
		if err := d.Queue.Release(context.Background(), unstarted); err != nil {
			d.Log.Error("release unstarted deliveries", "err", err)
		}
	}
	d.running.Wait()
	close(d.results)
	<-writerDone
}

// claim takes one batch of due deliveries and starts them. It reports
// whether the batch was full, meaning more may be due at once.
func (d *Dispatcher) claim(ctx, attemptCtx context.Context) bool {
	now := time.Now()
	d.mu.Lock()
	free := d.Workers - d.inflight
	var exclude []string
	stalled := map[string]time.Duration{}
	for ep, n := range d.active {
		if n+len(d.queued[ep]) >= d.PerEndpoint*(1+queueFactor) {
			exclude = append(exclude, ep)
		}
		// All slots busy and none has finished for a while: the endpoint is
		// slow or hanging. Its due backlog would only be skipped by every
		// claim until its timeouts end; move it out of the way meanwhile.
		if n >= d.PerEndpoint && now.Sub(d.progress[ep]) > stallAfter && now.After(d.deferred[ep]) {
			stalled[ep] = d.timeouts[ep]
			d.deferred[ep] = now.Add(min(d.timeouts[ep], time.Second)) // new events keep arriving: look again soon
		}
	}
	d.mu.Unlock()
	for ep, timeout := range stalled {
		if err := d.Queue.Postpone(ctx, ep, nil, now.Add(timeout)); err != nil && ctx.Err() == nil {
			d.Log.Error("defer the backlog of a stalled endpoint", "endpoint_id", ep, "err", err)
		}
	}
	d.deferOpenCircuits(ctx, now)
	exclude = append(exclude, d.Breaker.Open(now)...)
	if free <= 0 {
		return false
	}
	limit := min(free, 256)
	jobs, err := d.Queue.Claim(ctx, outbound.ClaimRequest{Owner: d.Owner, Limit: limit, Lease: d.Lease, Exclude: exclude})
	if err != nil {
		if ctx.Err() == nil {
			d.Log.Error("claim deliveries", "err", err)
		}
		return false
	}
	var excess []*outbound.Job
	d.mu.Lock()
	for _, j := range jobs {
		ep := j.Endpoint.ID
		switch {
		case d.active[ep] < d.PerEndpoint:
			if d.active[ep] == 0 {
				d.progress[ep] = now
			}
			d.timeouts[ep] = time.Duration(j.Endpoint.TimeoutSeconds) * time.Second
			d.active[ep]++
			d.inflight++
			d.start(attemptCtx, j)
		case len(d.queued[ep]) < d.PerEndpoint*queueFactor:
			d.queued[ep] = append(d.queued[ep], j)
			d.inflight++
		default:
			excess = append(excess, j)
		}
	}
	d.mu.Unlock()
	if len(excess) > 0 {
		if err := d.Queue.Release(ctx, excess); err != nil {
			d.Log.Error("release excess deliveries", "err", err)
		}
	}
	return len(jobs) == limit
}

// deferOpenCircuits moves the due deliveries of endpoints whose circuit is
// open to when it half-opens, once a second while it stays open: events
// keep arriving for them, and claims would otherwise skip past them.
func (d *Dispatcher) deferOpenCircuits(ctx context.Context, now time.Time) {
	open := d.Breaker.Open(now)
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
}

// sleep returns how long to wait when nothing signals.
func (d *Dispatcher) sleep(ctx context.Context) time.Duration {
	next, ok, err := d.Queue.NextDue(ctx)
	if err != nil || !ok {
		return d.PollInterval
	}
	wait := time.Until(next)
	if wait <= 0 {
		// Due but not claimable (saturated endpoint or open circuit):
		// a freed slot or the poll will bring it.
		return d.PollInterval
	}
	return min(wait+time.Millisecond, d.PollInterval)
}

// start runs one attempt; called with d.mu held.
func (d *Dispatcher) start(ctx context.Context, j *outbound.Job) {
	d.running.Add(1)
	go func() {
		defer d.running.Done()
		ep := j.Endpoint.ID
		for j != nil {
			if until, open := d.Breaker.OpenUntil(ep, time.Now()); open {
				d.postpone(ep, j, until)
				return
			}
			d.attempt(ctx, j)
			j = d.next(ep)
		}
	}()
}

// next returns the endpoint's next queued job, or releases its slot.
func (d *Dispatcher) next(ep string) *outbound.Job {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.progress[ep] = time.Now()
	if q := d.queued[ep]; len(q) > 0 {
		j := q[0]
		if len(q) == 1 {
			delete(d.queued, ep)
		} else {
			d.queued[ep] = q[1:]
		}
		return j
	}
	d.active[ep]--
	if d.active[ep] <= 0 {
		delete(d.active, ep)
		delete(d.progress, ep)
		delete(d.timeouts, ep)
		if time.Now().After(d.deferred[ep]) {
			delete(d.deferred, ep)
		}
	}
	select {
	case d.freed <- struct{}{}:
	default:
	}
	return nil
}

// postpone gives back j and every job queued for its endpoint, whose circuit
// is open, and moves the endpoint's due deliveries to when it half-opens.
func (d *Dispatcher) postpone(ep string, j *outbound.Job, until time.Time) {
	d.mu.Lock()
	jobs := append([]*outbound.Job{j}, d.queued[ep]...)
	delete(d.queued, ep)
	d.active[ep]--
	if d.active[ep] <= 0 {
		delete(d.active, ep)
	}
	d.mu.Unlock()
	if err := d.Queue.Postpone(context.Background(), ep, jobs, until); err != nil {
		d.Log.Error("postpone deliveries of an endpoint with an open circuit", "endpoint_id", ep, "err", err)
	}
	d.mu.Lock()
	d.inflight -= len(jobs)
	d.mu.Unlock()
	select {
	case d.freed <- struct{}{}:
	default:
	}
}

func (d *Dispatcher) attempt(ctx context.Context, j *outbound.Job) {
	o := d.Sender.Send(ctx, j)
	d.Breaker.Record(j.Endpoint.ID, o, time.Now())
	r := &outbound.Result{
		Job: j, StartedAt: o.StartedAt, Duration: o.Duration, StatusCode: o.StatusCode, Error: o.Err,
		ResponseBody: o.ResponseBody, RequestURL: j.Endpoint.URL, RequestHeaders: flatten(o.Headers),
		Success: o.Success, Gone: o.Gone,
	}
	if !o.Success && !o.Gone {
		r.NextAttemptAt = d.Policy.Next(j.Attempt, j.MaxAttempts, o.StartedAt.Add(o.Duration), o.RetryAfter)
	}
	if d.Hooks.Attempted != nil {
		d.Hooks.Attempted(r)
	}
	d.results <- r
}

func flatten(h map[string][]string) map[string]string {
	out := make(map[string]string, len(h))
	for k, v := range h {
		if len(v) > 0 {
			out[k] = v[0]
		}
	}
	return out
}

// writer records outcomes in batches: whatever has arrived while the last
// commit ran goes into the next one.
func (d *Dispatcher) writer() {
	batch := make([]*outbound.Result, 0, 256)
	for r := range d.results {
		batch = append(batch[:0], r)
	drain:
		for len(batch) < cap(batch) {
			select {
			case r, ok := <-d.results:
				if !ok {
					break drain
				}
				batch = append(batch, r)
			default:
				break drain
			}
		}
		d.record(batch)
	}
}

func (d *Dispatcher) record(batch []*outbound.Result) {
	for try := 0; ; try++ {
		err := d.Queue.Complete(context.Background(), batch)
		if err == nil {
			break
		}
		// The attempts happened; losing their outcome would only repeat
		// them after the lease, but keep trying for a while first.
		d.Log.Error("record attempts", "err", err, "count", len(batch), "try", try)
		if try >= 5 {
			break
		}
		time.Sleep(time.Duration(try+1) * 200 * time.Millisecond)
	}
	if d.Hooks.Recorded != nil {
		d.Hooks.Recorded(batch)
	}
	d.mu.Lock()
	d.inflight -= len(batch)
	d.mu.Unlock()
	select {
	case d.freed <- struct{}{}:
	default:
	}
}
