// Package delivery is the engine that sends deliveries: the Dispatcher
// takes deliveries from their publication or claims them from the queue
// (internal/queue), runs each endpoint's attempts in its lane within the
// instance's budgets, hands each attempt to the Sender of its endpoint's
// kind, schedules retries and records outcomes in group commits, keeping
// each endpoint's trouble to itself.
package delivery

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/hookbook/hookbook/internal/queue"
	"go.opentelemetry.io/otel/trace"
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
//
// Throttling: a throttled endpoint (rate_limit, max_in_flight) gets its
// deliveries only from the claim, which takes at most its allowance
// (queue: throttle.go); its lane has max_in_flight slots, keeps nothing
// waiting, and the claim loop wakes when its rate next allows an attempt
// (NextAllowed). Its backlog waits in the queue, holding no worker.
type Dispatcher struct {
	Queue        Queue
	Senders      Senders // the Sender of each kind of endpoint
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
	// Tracer traces attempts (nil: tracing is off), each a child of its
	// event's publication span (queue.Job.TraceParent).
	Tracer trace.Tracer
	// Now is the clock of the engine's rules (stalls, circuits, slow
	// marks, due deliveries); nil means time.Now. Tests move it.
	Now func() time.Time

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
	// throttled and lanes hold, per throttled endpoint with attempts
	// running, that it is throttled and its max_in_flight.
	throttled map[string]bool
	lanes     map[string]int
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
	// due (a retry was scheduled, a throttled endpoint's delivery queued);
	// timerAt is when its timer fires.
	rearm   bool
	timerAt time.Time
	// claimedAt is when the last claim ran: a throttled endpoint's rate
	// that refused it allows the next claim after it (sleep).
	claimedAt time.Time
	running   sync.WaitGroup
	once      sync.Once
}

// Hooks let the rest of hookbook watch the engine (metrics).
type Hooks struct {
	// Attempted is called after each attempt with what will be recorded.
	Attempted func(r *queue.Result)
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
		d.throttled = map[string]bool{}
		d.lanes = map[string]int{}
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
		if d.Now == nil {
			d.Now = time.Now
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

// WakeAt tells the dispatcher that deliveries may be claimable at t (a
// throttled endpoint's rate allows its next attempt then). Unless its
// timer already fires by then, the claim loop looks again at when to wake,
// without claiming. It never blocks.
func (d *Dispatcher) WakeAt(t time.Time) {
	d.init()
	d.mu.Lock()
	if !d.timerAt.After(t) && d.timerAt.After(time.Now()) {
		d.mu.Unlock()
		return
	}
	d.rearm = true
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
			wait := d.sleep(ctx)
			timer.Reset(wait)
			d.mu.Lock()
			d.timerAt = time.Now().Add(wait)
			d.mu.Unlock()
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

// signalFreed wakes the claim loop: budget or a slot became free.
func (d *Dispatcher) signalFreed() {
	select {
	case d.freed <- struct{}{}:
	default:
	}
}
