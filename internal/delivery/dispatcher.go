package delivery

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/hookbook/hookbook/internal/queue"
)

// Dispatcher runs the delivery workers of one instance. It claims due
// deliveries in batches, takes new ones straight from their publication
// when it has room for them (Reserve, Take: queue.Engine), runs at most
// PerEndpoint attempts at once per endpoint, and records outcomes in group
// commits.
//
// Isolation: attempts share two budgets. Workers bounds the attempts that
// answer promptly, plus claimed deliveries waiting for a slot; an attempt
// still running after SlowAfter moves to the slow budget (SlowWorkers, by
// default 4 × Workers) and its endpoint is marked slow, so that its next
// attempts start there too, until one of them answers promptly again. Slow,
// hanging and dead receivers thus hold only the slow budget, which they
// share, and never the workers that prompt endpoints use. An endpoint that
// has PerEndpoint attempts in flight is left out of further claims, and so
// is one whose circuit is open; a slow endpoint keeps no claimed
// deliveries waiting, and its due backlog is deferred while it stalls.
type Dispatcher struct {
	Queue        Queue
	Sender       *Sender
	Policy       Policy
	Breaker      *Breaker
	Hooks        Hooks
	Owner        string        // lease owner: unique per process
	Workers      int           // prompt attempts and waiting claims per instance
	SlowWorkers  int           // slow attempts per instance; 0 means 4 × Workers
	PerEndpoint  int           // attempts in flight per endpoint
	Lease        time.Duration // how long a claim lasts
	PollInterval time.Duration // fallback wake-up when nothing signals
	SlowAfter    time.Duration // 0 means DefaultSlowAfter
	Log          *slog.Logger

	wake    chan struct{}
	freed   chan struct{}
	results chan *queue.Result

	mu       sync.Mutex
	inflight int                     // claimed and not yet recorded
	slow     int                     // attempts running in the slow budget
	slowEP   map[string]time.Time    // endpoints whose attempts start slow, and since when
	active   map[string]int          // attempts running, per endpoint
	queued   map[string][]*queue.Job // claimed, waiting for an endpoint slot
	// progress holds, per endpoint with attempts running, when one last
	// finished (or the first started); stalled and deferred let a stalled
	// endpoint's backlog step out of the claim query's way.
	progress map[string]time.Time
	deferred map[string]time.Time
	timeouts map[string]time.Duration
	// circuitDeferred holds when an open circuit's backlog may be deferred again.
	circuitDeferred map[string]time.Time
	// accepting is true while Run runs: publications may hand over
	// deliveries (Reserve, Take), started under attemptCtx.
	accepting  bool
	attemptCtx context.Context
	reserved   map[string]int // reservations per endpoint not yet taken
	// backlog marks endpoints that may have due deliveries in the queue:
	// their new deliveries queue behind them instead of being taken
	// directly, until a claim finds the queue drained.
	backlog map[string]bool
	// marks counts signs that the queue may hold deliveries this instance
	// can claim: deliveries queued or come due (Wake, the timer), or a slot
	// freed at an endpoint the last claim had to leave behind (watch).
	// drained is marks as of the start of the last claim that took all it
	// could; while the two are equal a claim would find nothing, so none
	// runs. Most new deliveries are handed over at publication, and a
	// claim is a write: without this, every finished attempt ran one.
	marks, drained uint64
	watch          map[string]bool
	// rearm asks the claim loop to look again at when the next delivery is
	// due (a retry was scheduled).
	rearm   bool
	running sync.WaitGroup
	once    sync.Once
}

var _ queue.Engine = (*Dispatcher)(nil)

// queueFactor sets how many claimed deliveries may wait per endpoint for a
// free slot, in multiples of PerEndpoint: enough for large claim batches,
// few enough to be sent well within the lease.
const queueFactor = 4

// DefaultSlowAfter is how long an attempt may run before it leaves the
// Workers budget for the slow one: far above a prompt receiver's answer
// even on a busy machine, short enough that a wave of hanging attempts
// holds the workers only briefly.
const DefaultSlowAfter = 250 * time.Millisecond

// slowMemory is how long an endpoint stays marked slow without attempts.
const slowMemory = time.Minute

// maxExclude bounds the endpoints a claim leaves out by name; jobs claimed
// beyond it for a saturated endpoint are given back.
const maxExclude = 1000

// stallAfter is how long an endpoint may hold all its slots without a
// single attempt finishing before its due backlog is deferred by its timeout.
const stallAfter = 500 * time.Millisecond

// Hooks let the rest of hookbook watch the engine (metrics, auto-disable).
type Hooks struct {
	// Attempted is called after each attempt with what will be recorded.
	Attempted func(r *queue.Result)
	// Recorded is called after a batch of results was committed.
	Recorded func(results []*queue.Result)
}

func (d *Dispatcher) init() {
	d.once.Do(func() {
		d.wake = make(chan struct{}, 1)
		d.freed = make(chan struct{}, 1)
		d.results = make(chan *queue.Result, 4*d.Workers)
		d.active = map[string]int{}
		d.queued = map[string][]*queue.Job{}
		d.progress = map[string]time.Time{}
		d.deferred = map[string]time.Time{}
		d.timeouts = map[string]time.Duration{}
		d.circuitDeferred = map[string]time.Time{}
		d.slowEP = map[string]time.Time{}
		d.reserved = map[string]int{}
		d.backlog = map[string]bool{}
		d.watch = map[string]bool{}
		if d.SlowAfter <= 0 {
			d.SlowAfter = DefaultSlowAfter
		}
		if d.SlowWorkers <= 0 {
			d.SlowWorkers = 4 * d.Workers
		}
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
	d.mu.Lock()
	d.marks++
	d.mu.Unlock()
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
	d.mu.Lock()
	d.accepting, d.attemptCtx = true, attemptCtx
	d.mu.Unlock()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for ctx.Err() == nil {
		claimed, full := d.claim(ctx, attemptCtx)
		if full {
			continue
		}
		d.mu.Lock()
		rearm := d.rearm
		d.rearm = false
		d.mu.Unlock()
		if claimed || rearm {
			timer.Reset(d.sleep(ctx))
		}
		select {
		case <-ctx.Done():
		case <-d.wake:
		case <-d.freed:
		case <-timer.C:
			// Something may have come due: a retry, a deferral's end, a
			// lease given up by a dead instance, or the fallback poll.
			d.mu.Lock()
			d.marks++
			d.rearm = true
			d.mu.Unlock()
		}
	}
	d.mu.Lock()
	d.accepting = false
	var unstarted []*queue.Job
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

// claim takes one batch of due deliveries and starts them, when there is
// a free worker and the queue may hold something to claim (marks). It
// reports whether it ran a claim, and whether the batch was full, meaning
// more may be due at once.
func (d *Dispatcher) claim(ctx, attemptCtx context.Context) (claimed, full bool) {
	now := time.Now()
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
	d.deferOpenCircuits(ctx, now)
	exclude = append(exclude, d.Breaker.Open(now)...)
	if free <= 0 || !wanted {
		return false, false
	}
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
	jobs, err := d.Queue.Claim(context.WithoutCancel(ctx), queue.ClaimRequest{Owner: d.Owner, Limit: limit, Lease: d.Lease, Exclude: exclude})
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

// place starts j, or queues it behind its endpoint's running attempts, and
// reports false when there is no room for it (it must go back to the
// queue); called with d.mu held. The caller counts it in d.inflight.
func (d *Dispatcher) place(attemptCtx context.Context, j *queue.Job, now time.Time) bool {
	ep := j.Endpoint.ID
	_, slow := d.slowEP[ep]
	switch {
	case d.active[ep] < d.PerEndpoint && (!slow || d.slow < d.SlowWorkers):
		if d.active[ep] == 0 {
			d.progress[ep] = now
		}
		d.timeouts[ep] = time.Duration(j.Endpoint.TimeoutSeconds) * time.Second
		d.active[ep]++
		d.start(attemptCtx, j)
	case !slow && len(d.queued[ep]) < d.PerEndpoint*queueFactor:
		d.queued[ep] = append(d.queued[ep], j)
	default:
		return false
	}
	return true
}

// Reserve implements queue.Engine: it takes a delivery to endpointID
// from its publication when a worker is free, the endpoint's slots and
// queue have room, its circuit is closed, it is not slow, and it has no
// backlog waiting in the queue (whose deliveries go first).
func (d *Dispatcher) Reserve(endpointID string) bool {
	d.init()
	if _, open := d.Breaker.OpenUntil(endpointID, time.Now()); open {
		return false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.accepting || d.backlog[endpointID] {
		return false
	}
	_, slow := d.slowEP[endpointID]
	taken := d.active[endpointID] + len(d.queued[endpointID]) + d.reserved[endpointID]
	if slow || d.inflight-d.slow >= d.Workers || taken >= d.PerEndpoint*(1+queueFactor) {
		d.backlog[endpointID] = true
		return false
	}
	d.inflight++
	d.reserved[endpointID]++
	return true
}

// unreserve forgets one reservation for ep; called with d.mu held.
func (d *Dispatcher) unreserve(ep string) {
	if d.reserved[ep]--; d.reserved[ep] <= 0 {
		delete(d.reserved, ep)
	}
}

// Take implements queue.Engine: it starts jobs reserved for once their
// publication committed. Jobs arriving during a stop, or for an endpoint
// that became slow meanwhile, go back to the queue.
func (d *Dispatcher) Take(jobs []*queue.Job) {
	now := time.Now()
	var back []*queue.Job
	d.mu.Lock()
	for _, j := range jobs {
		d.unreserve(j.Endpoint.ID)
		if !d.accepting || !d.place(d.attemptCtx, j, now) {
			d.inflight--
			back = append(back, j)
		}
	}
	d.mu.Unlock()
	if len(back) > 0 {
		if err := d.Queue.Release(context.Background(), back); err != nil {
			d.Log.Error("release deliveries handed over during a stop", "err", err)
		}
		d.Wake()
	}
}

// Cancel implements queue.Engine: the publication of jobs rolled back.
func (d *Dispatcher) Cancel(jobs []*queue.Job) {
	d.mu.Lock()
	for _, j := range jobs {
		d.unreserve(j.Endpoint.ID)
		d.inflight--
	}
	d.mu.Unlock()
	d.signalFreed()
}

// LeaseTerms implements queue.Engine.
func (d *Dispatcher) LeaseTerms() (string, time.Duration) { return d.Owner, d.Lease }

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
		case slow && n >= d.PerEndpoint, !slow && n+len(d.queued[ep]) >= d.PerEndpoint*(1+queueFactor):
			exclude = append(exclude, ep)
		}
		// All slots busy and none has finished for a while: the endpoint is
		// slow or hanging. Its due backlog would only be skipped by every
		// claim until its timeouts end; move it out of the way meanwhile.
		// The longer it has been stuck, the longer the deferral, up to its
		// timeout: a slow endpoint's deliveries wait little past its slots.
		if stuck := now.Sub(d.progress[ep]); n >= d.PerEndpoint && stuck > stallAfter && now.After(d.deferred[ep]) {
			stalled[ep] = min(2*stuck, d.timeouts[ep])
			d.deferred[ep] = now.Add(min(d.timeouts[ep], time.Second)) // new events keep arriving: look again soon
		}
	}
	return exclude, stalled
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
func (d *Dispatcher) start(ctx context.Context, j *queue.Job) {
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
func (d *Dispatcher) next(ep string) *queue.Job {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.progress[ep] = time.Now()
	if d.watch[ep] {
		d.marks++ // the last claim left its deliveries behind: room now
	}
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
	d.signalFreed()
	return nil
}

// postpone gives back j and every job queued for its endpoint, whose circuit
// is open, and moves the endpoint's due deliveries to when it half-opens.
func (d *Dispatcher) postpone(ep string, j *queue.Job, until time.Time) {
	d.mu.Lock()
	jobs := append([]*queue.Job{j}, d.queued[ep]...)
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
	d.signalFreed()
}

// lane is where one running attempt is counted.
type lane struct {
	slow bool // counted in d.slow rather than against Workers
	done bool
}

func (d *Dispatcher) attempt(ctx context.Context, j *queue.Job) {
	ep := j.Endpoint.ID
	l := d.begin(ep)
	timer := time.AfterFunc(d.SlowAfter, func() { d.slowDown(ep, l) })
	o := d.Sender.Send(ctx, j)
	timer.Stop()
	d.end(ep, l, o.Duration)
	d.Breaker.Record(ep, o, time.Now())
	r := &queue.Result{
		Job: j, StartedAt: o.StartedAt, Duration: o.Duration, StatusCode: o.StatusCode, Error: o.Err,
		ResponseBody: o.ResponseBody, ResponseHeaders: o.ResponseHeaders, RequestURL: j.Endpoint.URL, RequestHeaders: flatten(o.Headers),
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

// begin counts an attempt to ep in the slow budget at once if ep is known
// to be slow and the budget has room.
func (d *Dispatcher) begin(ep string) *lane {
	d.mu.Lock()
	defer d.mu.Unlock()
	l := &lane{}
	if _, slow := d.slowEP[ep]; slow && d.slow < d.SlowWorkers {
		l.slow = true
		d.slow++
	}
	return l
}

// slowDown moves an attempt that has run for SlowAfter to the slow budget,
// marks its endpoint slow and gives back the deliveries queued for it.
func (d *Dispatcher) slowDown(ep string, l *lane) {
	d.mu.Lock()
	if l.done || l.slow || d.slow >= d.SlowWorkers {
		d.mu.Unlock()
		return
	}
	l.slow = true
	d.slow++
	d.slowEP[ep] = time.Now()
	queued := d.queued[ep]
	delete(d.queued, ep)
	d.inflight -= len(queued)
	// The attempt still runs, so Run has not finished waiting: it must
	// also wait for this release, or a stop could leave the jobs leased.
	d.running.Add(1)
	d.mu.Unlock()
	defer d.running.Done()
	d.signalFreed()
	if len(queued) > 0 {
		if err := d.Queue.Release(context.Background(), queued); err != nil {
			d.Log.Error("release the deliveries queued for a slow endpoint", "endpoint_id", ep, "err", err)
		}
		d.Wake()
	}
}

// end takes a finished attempt out of its budget; a prompt answer clears
// the endpoint's slow mark.
func (d *Dispatcher) end(ep string, l *lane, took time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	l.done = true
	if l.slow {
		d.slow--
		if len(d.watch) > 0 {
			d.marks++ // slow endpoints left behind for a full slow budget
		}
	}
	if took < d.SlowAfter {
		delete(d.slowEP, ep)
	} else if _, slow := d.slowEP[ep]; slow {
		d.slowEP[ep] = time.Now()
	}
}

// signalFreed wakes the claim loop: budget or a slot became free.
func (d *Dispatcher) signalFreed() {
	select {
	case d.freed <- struct{}{}:
	default:
	}
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
	batch := make([]*queue.Result, 0, 256)
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

func (d *Dispatcher) record(batch []*queue.Result) {
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
	for _, r := range batch {
		if !r.NextAttemptAt.IsZero() {
			d.rearm = true // a retry may be due before the claim loop's timer
			break
		}
	}
	d.mu.Unlock()
	d.signalFreed()
}
