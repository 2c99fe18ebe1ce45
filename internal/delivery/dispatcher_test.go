package delivery_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/delivery"
	"github.com/hookbook/hookbook/internal/queue"
	"github.com/hookbook/hookbook/internal/ratelimit"
)

// The dispatcher's own tests: a Dispatcher runs against an in-memory queue
// and an in-memory Sender, so that each rule (fairness, the slow budget,
// stall deferral, the circuit's pauses, hand-over at publication, shutdown)
// is seen on its own, without a database or a network. The queue's side is
// held to its contract by internal/queue's conformance suite, and whole
// instances by e2e.

// clock is the injectable clock of these tests (Dispatcher.Now, and the
// fake queue's idea of what is due): real time moved forward by what the
// test skipped, so that a test jumps past a stall or a circuit's cool-down
// instead of sleeping through it.
type clock struct{ skipped atomic.Int64 }

func (c *clock) Now() time.Time { return time.Now().Add(time.Duration(c.skipped.Load())) }

// skip moves the clock forward by d.
func (c *clock) skip(d time.Duration) { c.skipped.Add(int64(d)) }

// fakeQueue is a delivery.Queue in memory.
type fakeQueue struct {
	now       func() time.Time // what is due; the engine's clock once running
	mu        sync.Mutex
	pending   []*pendingJob
	claims    []queue.ClaimRequest
	results   []*queue.Result
	released  []*queue.Job
	postponed []postponed
	// throttles: the rate's TAT and the leased deliveries of each
	// throttled endpoint, as the real claim keeps them in the database.
	tat    map[string]time.Time
	leased map[string]int
}

type pendingJob struct {
	job *queue.Job
	due time.Time
}

type postponed struct {
	endpoint string
	jobs     int
	until    time.Time
}

var _ delivery.Queue = (*fakeQueue)(nil)

func (q *fakeQueue) add(jobs ...*queue.Job) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, j := range jobs {
		q.pending = append(q.pending, &pendingJob{job: j})
	}
}

func (q *fakeQueue) Claim(_ context.Context, r queue.ClaimRequest) ([]*queue.Job, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	r.Exclude = slices.Clone(r.Exclude)
	q.claims = append(q.claims, r)
	now := q.clock()
	var out []*queue.Job
	kept := q.pending[:0]
	for _, p := range q.pending {
		if len(out) < r.Limit && !p.due.After(now) && !slices.Contains(r.Exclude, p.job.Endpoint.ID) && q.allow(p.job.Endpoint, r, now) {
			p.job.Owner = r.Owner
			out = append(out, p.job)
			continue
		}
		kept = append(kept, p)
	}
	q.pending = kept
	return out, nil
}

func (q *fakeQueue) clock() time.Time {
	if q.now == nil {
		return time.Now()
	}
	return q.now()
}

// allow spends one unit of a throttled endpoint's allowance at now, if its
// in-flight bound and rate have one; called with q.mu held.
func (q *fakeQueue) allow(ep *hookbook.Endpoint, r queue.ClaimRequest, now time.Time) bool {
	if !ep.Throttled() {
		return true
	}
	if q.tat == nil {
		q.tat, q.leased = map[string]time.Time{}, map[string]int{}
	}
	bound := r.PerEndpoint
	if ep.MaxInFlight != nil {
		bound = *ep.MaxInFlight
	}
	if bound > 0 && q.leased[ep.ID] >= bound {
		return false
	}
	if rate := fakeRate(ep); !rate.Off() {
		n, tat := rate.Allow(q.tat[ep.ID], now, 1)
		if n == 0 {
			return false
		}
		q.tat[ep.ID] = tat
	}
	q.leased[ep.ID]++
	return true
}

func fakeRate(ep *hookbook.Endpoint) ratelimit.Rate {
	if ep.RateLimit == nil {
		return ratelimit.Rate{}
	}
	r, _ := ratelimit.ParseLimit(*ep.RateLimit)
	return r
}

// unlease forgets the leases of jobs; called with q.mu held.
func (q *fakeQueue) unlease(jobs ...*queue.Job) {
	for _, j := range jobs {
		if j.Endpoint.Throttled() && q.leased != nil {
			q.leased[j.Endpoint.ID]--
		}
	}
}

func (q *fakeQueue) NextAllowed(_ context.Context, since time.Time) (time.Time, bool, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var next time.Time
	now := q.clock()
	for _, p := range q.pending {
		if rate := fakeRate(p.job.Endpoint); !rate.Off() && !p.due.After(now) {
			if at := rate.Next(q.tat[p.job.Endpoint.ID]); at.After(since) && (next.IsZero() || at.Before(next)) {
				next = at
			}
		}
	}
	return next, !next.IsZero(), nil
}

func (q *fakeQueue) Complete(_ context.Context, results []*queue.Result) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.results = append(q.results, results...)
	for _, r := range results {
		q.unlease(r.Job)
		if !r.Success && !r.NextAttemptAt.IsZero() {
			j := *r.Job
			j.Attempt++
			q.pending = append(q.pending, &pendingJob{job: &j, due: r.NextAttemptAt})
		}
	}
	return nil
}

func (q *fakeQueue) Release(_ context.Context, jobs []*queue.Job) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.released = append(q.released, jobs...)
	q.unlease(jobs...)
	for _, j := range jobs {
		q.pending = append(q.pending, &pendingJob{job: j})
	}
	return nil
}

func (q *fakeQueue) Postpone(_ context.Context, endpointID string, jobs []*queue.Job, until time.Time) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.postponed = append(q.postponed, postponed{endpointID, len(jobs), until})
	q.unlease(jobs...)
	for _, j := range jobs {
		q.pending = append(q.pending, &pendingJob{job: j, due: until})
	}
	for _, p := range q.pending {
		if p.job.Endpoint.ID == endpointID && p.due.Before(until) {
			p.due = until
		}
	}
	return nil
}

func (q *fakeQueue) NextDue(context.Context) (time.Time, bool, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var next time.Time
	for _, p := range q.pending {
		if next.IsZero() || p.due.Before(next) {
			next = p.due
		}
	}
	return next, !next.IsZero(), nil
}

// recorded returns the outcomes recorded so far for an endpoint.
func (q *fakeQueue) recorded(endpointID string) []*queue.Result {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []*queue.Result
	for _, r := range q.results {
		if r.Job.Endpoint.ID == endpointID {
			out = append(out, r)
		}
	}
	return out
}

// waiting returns when each pending delivery of an endpoint is due.
func (q *fakeQueue) waiting(endpointID string) []time.Time {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []time.Time
	for _, p := range q.pending {
		if p.job.Endpoint.ID == endpointID {
			out = append(out, p.due)
		}
	}
	return out
}

func (q *fakeQueue) snapshot() (claims []queue.ClaimRequest, released []*queue.Job, post []postponed) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return slices.Clone(q.claims), slices.Clone(q.released), slices.Clone(q.postponed)
}

// fakeSender answers each endpoint as its behaviour says, and counts the
// attempts running at once per endpoint.
type fakeSender struct {
	mu       sync.Mutex
	behave   map[string]func(ctx context.Context) delivery.Outcome
	running  map[string]int
	most     map[string]int
	attempts map[string]int
	starts   map[string][]time.Time
}

func newSender() *fakeSender {
	return &fakeSender{behave: map[string]func(context.Context) delivery.Outcome{}, running: map[string]int{},
		most: map[string]int{}, attempts: map[string]int{}, starts: map[string][]time.Time{}}
}

func (s *fakeSender) Send(ctx context.Context, j *queue.Job) delivery.Outcome {
	ep := j.Endpoint.ID
	s.mu.Lock()
	s.attempts[ep]++
	s.starts[ep] = append(s.starts[ep], time.Now())
	s.running[ep]++
	s.most[ep] = max(s.most[ep], s.running[ep])
	behave := s.behave[ep]
	s.mu.Unlock()
	start := time.Now()
	o := delivery.Outcome{StatusCode: 204, Success: true}
	if behave != nil {
		o = behave(ctx)
	}
	o.StartedAt, o.Duration, o.Target = start, time.Since(start), "memory:"+ep
	s.mu.Lock()
	s.running[ep]--
	s.mu.Unlock()
	return o
}

func (s *fakeSender) stats(ep string) (attempts, running, most int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attempts[ep], s.running[ep], s.most[ep]
}

// times returns when each attempt to ep started.
func (s *fakeSender) times(ep string) []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.starts[ep])
}

// hang makes an attempt wait until release is closed (or its context ends).
func hang(release <-chan struct{}) func(ctx context.Context) delivery.Outcome {
	return func(ctx context.Context) delivery.Outcome {
		select {
		case <-release:
			return delivery.Outcome{StatusCode: 204, Success: true}
		case <-ctx.Done():
			return delivery.Outcome{Err: "timeout", ErrKind: "timeout"}
		}
	}
}

func fail(context.Context) delivery.Outcome {
	return delivery.Outcome{StatusCode: 503, Err: "HTTP 503", ErrKind: "http_status"}
}

var jobSeq atomic.Int64

func jobs(endpointID string, n int) []*queue.Job {
	ep := &hookbook.Endpoint{ID: endpointID, Enabled: true, MaxAttempts: 5, TimeoutSeconds: 30, URL: "memory:" + endpointID}
	out := make([]*queue.Job, n)
	for i := range out {
		n := jobSeq.Add(1)
		out[i] = &queue.Job{DeliveryID: fmt.Sprintf("dlv_%s_%d", endpointID, n), EventID: fmt.Sprintf("evt_%d", n),
			EventType: "booking.created", Attempt: 1, MaxAttempts: 5, Endpoint: ep, Payload: []byte(`{}`)}
	}
	return out
}

// engine is a running Dispatcher with its fake parts.
type engine struct {
	d      *delivery.Dispatcher
	q      *fakeQueue
	s      *fakeSender
	clock  *clock
	stop   context.CancelFunc
	done   chan struct{}
	closed sync.Once
}

// run starts a Dispatcher over a fake queue and sender, configured by
// tune, on a clock of its own; it is stopped when the test ends. Its first
// claim runs at once, and with nothing else to claim it is the only one
// until a delivery is queued, comes due, or the poll (PollInterval) comes.
func run(t *testing.T, q *fakeQueue, s *fakeSender, tune func(d *delivery.Dispatcher)) *engine {
	t.Helper()
	c := &clock{}
	q.now = c.Now
	d := &delivery.Dispatcher{Now: c.Now,
		Queue: q, Senders: delivery.Senders{delivery.KindWebhook: s}, Policy: delivery.Policy{Schedule: []time.Duration{time.Hour}},
		Breaker: delivery.NewBreaker(100, time.Hour), Owner: "ins_test", Workers: 4, PerEndpoint: 2,
		Lease: time.Minute, PollInterval: 20 * time.Millisecond, SlowAfter: time.Minute,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if tune != nil {
		tune(d)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e := &engine{d: d, q: q, s: s, clock: c, stop: cancel, done: make(chan struct{})}
	d.Wake() // before Run: its first claim takes what is queued
	go func() {
		d.Run(ctx)
		close(e.done)
	}()
	t.Cleanup(func() { e.shutdown(t) })
	return e
}

// shutdown stops the dispatcher and waits for Run to return.
func (e *engine) shutdown(t *testing.T) {
	t.Helper()
	e.closed.Do(func() {
		e.stop()
		select {
		case <-e.done:
		case <-time.After(time.Minute):
			t.Error("Run did not return within a minute of its stop")
		}
	})
}

// waitFor polls cond until it holds. The minute is a bound for a loaded
// machine, not a measure: every wait here ends on a condition.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestDispatcherIsolation: one endpoint's trouble never holds the workers
// another endpoint needs, and no endpoint runs more than its own slots.
func TestDispatcherIsolation(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		tune func(d *delivery.Dispatcher)
		// hanging is how many endpoints hang (each with 5 deliveries), hung
		// how many attempts each may run at once, and excluded whether
		// claims must leave a hanging endpoint out by name.
		hanging, hung int
		excluded      bool
	}{
		// Fairness: the hanging endpoint holds at most PerEndpoint slots,
		// the deliveries claimed for it go back once it is slow, claims
		// leave it out, and the prompt endpoint gets every worker.
		{name: "fairness", tune: func(d *delivery.Dispatcher) { d.Workers, d.PerEndpoint, d.SlowAfter = 4, 1, 20*time.Millisecond }, hanging: 1, hung: 1, excluded: true},
		// The slow budget: with a single worker, attempts running past
		// SlowAfter move to the slow budget (at most SlowWorkers of them),
		// and the worker stays free for the prompt endpoint.
		{name: "slow budget", tune: func(d *delivery.Dispatcher) {
			d.Workers, d.SlowWorkers, d.PerEndpoint, d.SlowAfter = 1, 2, 4, 20*time.Millisecond
		}, hanging: 1, hung: 2},
		// Several organizations' hanging endpoints, with more slots between
		// them than the instance has workers, all hanging at once: the
		// attempts move to the slow budget, each endpoint within its own
		// slots, and a prompt endpoint still gets the workers.
		{name: "hanging endpoints beyond the workers", tune: func(d *delivery.Dispatcher) {
			d.Workers, d.PerEndpoint, d.SlowAfter = 4, 2, 20*time.Millisecond
		}, hanging: 3, hung: 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			release := make(chan struct{})
			q, s := &fakeQueue{}, newSender()
			var hanging []string
			for i := range c.hanging {
				ep := fmt.Sprintf("ep_hung_%d", i)
				hanging = append(hanging, ep)
				s.behave[ep] = hang(release)
				q.add(jobs(ep, 5)...)
			}
			e := run(t, q, s, c.tune)
			t.Cleanup(func() { close(release) })
			// Every hanging endpoint's slots busy before the prompt
			// endpoint's deliveries come.
			waitFor(t, "every hanging slot busy", func() bool {
				n := 0
				for _, ep := range hanging {
					_, running, _ := s.stats(ep)
					n += running
				}
				return n == c.hanging*c.hung
			})
			q.add(jobs("ep_prompt", 10)...)
			e.d.Wake()
			waitFor(t, "the prompt endpoint's 10 deliveries", func() bool { return len(q.recorded("ep_prompt")) == 10 })
			for _, ep := range hanging {
				if _, _, most := s.stats(ep); most > c.hung {
					t.Errorf("%d attempts of %s ran at once, want at most %d", most, ep, c.hung)
				}
				if n := len(q.recorded(ep)); n != 0 {
					t.Errorf("%d outcomes of %s recorded while it hangs", n, ep)
				}
			}
			if c.excluded {
				claims, _, _ := q.snapshot()
				left := false
				for _, r := range claims {
					left = left || slices.Contains(r.Exclude, hanging[0])
				}
				if !left {
					t.Errorf("none of %d claims left the saturated endpoint out", len(claims))
				}
			}
			for _, r := range q.recorded("ep_prompt") {
				if !r.Success || r.Job.Owner != "ins_test" || r.RequestURL != "memory:ep_prompt" {
					t.Errorf("recorded %+v", r)
				}
			}
		})
	}
}

// TestDispatcherDefersBacklog: an endpoint that stalls, and one whose
// circuit opens, has its due backlog moved out of the claims' way
// (Postpone) instead of attempted.
func TestDispatcherDefersBacklog(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		behave func(release <-chan struct{}) func(context.Context) delivery.Outcome
		tune   func(d *delivery.Dispatcher)
		// stall is how long the clock skips once the first attempt runs.
		stall    time.Duration
		attempts int           // attempts the endpoint gets before its backlog is deferred
		until    time.Duration // the deferral lasts at least this long
	}{
		// Stall: every slot busy and nothing finishing for a second (past
		// stallAfter, half a second): the backlog steps aside.
		{name: "stall", behave: hang, tune: func(d *delivery.Dispatcher) { d.PerEndpoint = 1 }, stall: time.Second, attempts: 1},
		// Breaker: three failures in a row open the circuit for an hour;
		// the rest wait for it, no attempt spent.
		{name: "breaker", behave: func(<-chan struct{}) func(context.Context) delivery.Outcome { return fail },
			tune: func(d *delivery.Dispatcher) { d.Breaker, d.PerEndpoint = delivery.NewBreaker(3, time.Hour), 1 }, attempts: 3, until: 50 * time.Minute},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			release := make(chan struct{})
			q, s := &fakeQueue{}, newSender()
			s.behave["ep_bad"] = c.behave(release)
			q.add(jobs("ep_bad", 8)...)
			e := run(t, q, s, c.tune)
			t.Cleanup(func() { close(release) })
			start := e.clock.Now()
			if c.stall > 0 {
				waitFor(t, "the first attempt", func() bool { _, running, _ := s.stats("ep_bad"); return running == 1 })
				e.clock.skip(c.stall)
				e.d.Wake()
			}
			var got postponed
			waitFor(t, "the backlog deferred", func() bool {
				_, _, post := q.snapshot()
				for _, p := range post {
					if p.endpoint == "ep_bad" {
						got = p
						return true
					}
				}
				return false
			})
			if !got.until.After(start.Add(c.until)) {
				t.Errorf("deferred until %v, want after %v", got.until, start.Add(c.until))
			}
			if n, _, _ := s.stats("ep_bad"); n != c.attempts {
				t.Errorf("%d attempts made, want %d before the deferral", n, c.attempts)
			}
			if c.name == "breaker" {
				if _, open := e.d.Breaker.OpenUntil("ep_bad", e.clock.Now()); !open {
					t.Errorf("the circuit is not open")
				}
				for _, r := range q.recorded("ep_bad") {
					if r.NextAttemptAt.IsZero() || r.ErrorKind != "http_status" {
						t.Errorf("a failure recorded without its retry: %+v", r)
					}
				}
			}
		})
	}
}

// TestDispatcherCircuit: while an endpoint's circuit is open its
// deliveries, queued behind its attempts or in the queue, wait for the
// cool-down without an attempt spent; once it ends, attempts resume
// (half-open) and a success closes the circuit.
func TestDispatcherCircuit(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		coolDown bool // the clock skips past the cool-down
		attempts int
	}{
		{name: "open: deliveries wait", attempts: 3},
		{name: "half-open after the cool-down", coolDown: true, attempts: 3 + 8},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			q, s := &fakeQueue{}, newSender()
			var n atomic.Int64
			s.behave["ep_down"] = func(ctx context.Context) delivery.Outcome {
				if n.Add(1) <= 3 {
					return fail(ctx)
				}
				return delivery.Outcome{StatusCode: 204, Success: true}
			}
			q.add(jobs("ep_down", 8)...)
			// One slot and four places behind it: the first claim queues
			// deliveries behind the failing attempts.
			e := run(t, q, s, func(d *delivery.Dispatcher) { d.Breaker, d.PerEndpoint = delivery.NewBreaker(3, time.Hour), 1 })
			waitFor(t, "every delivery back in the queue", func() bool {
				return len(q.recorded("ep_down")) == 3 && len(q.waiting("ep_down")) == 8
			})
			opened := e.clock.Now()
			for _, due := range q.waiting("ep_down") {
				if due.Before(opened.Add(50 * time.Minute)) {
					t.Errorf("a delivery is due at %v, while the circuit is open until an hour after %v", due, opened)
				}
			}
			if _, _, post := q.snapshot(); len(post) == 0 {
				t.Errorf("nothing postponed")
			}
			if c.coolDown {
				e.clock.skip(time.Hour + time.Minute)
				e.d.Wake()
				waitFor(t, "every delivery sent", func() bool {
					ok := 0
					for _, r := range q.recorded("ep_down") {
						if r.Success {
							ok++
						}
					}
					return ok == 8
				})
				if _, open := e.d.Breaker.OpenUntil("ep_down", e.clock.Now()); open {
					t.Errorf("the circuit is still open after a success")
				}
			}
			if got, _, _ := s.stats("ep_down"); got != c.attempts {
				t.Errorf("%d attempts, want %d", got, c.attempts)
			}
		})
	}
}

// TestDispatcherHandOver: deliveries reserved at publication start on
// Take without a claim, within the endpoint's room; an endpoint with no
// room keeps its later deliveries in the queue until a claim drains it; a
// rolled-back publication's reservations come back; claims run only for
// what the queue may hold, a retry included.
func TestDispatcherHandOver(t *testing.T) {
	t.Parallel()
	t.Run("room, then the backlog first", func(t *testing.T) {
		t.Parallel()
		release := make(chan struct{})
		q, s := &fakeQueue{}, newSender()
		s.behave["ep_a"] = hang(release)
		d := &delivery.Dispatcher{Queue: q, Senders: delivery.Senders{delivery.KindWebhook: s}, Workers: 4, PerEndpoint: 1}
		if d.Reserve("ep_a") {
			t.Fatal("a dispatcher that is not running took a delivery")
		}
		e := run(t, q, s, func(d *delivery.Dispatcher) { d.Workers, d.PerEndpoint = 10, 1 })
		t.Cleanup(func() { close(release) })
		d = e.d
		waitFor(t, "the first claim", func() bool { c, _, _ := q.snapshot(); return len(c) > 0 })
		// Room: one slot and 4 places behind it (queueFactor).
		taken := 0
		for d.Reserve("ep_a") {
			taken++
			if taken > 10 {
				t.Fatal("Reserve never says no")
			}
		}
		if taken != 5 {
			t.Fatalf("reserved %d deliveries to one endpoint, want 5 (one slot, four waiting)", taken)
		}
		// Once refused, the endpoint has a backlog: its next deliveries
		// queue behind it even if room comes back, until a claim drains it.
		js := jobs("ep_a", taken)
		d.Cancel(js[3:])
		if d.Reserve("ep_a") {
			t.Errorf("a delivery was taken ahead of the endpoint's backlog")
		}
		if !d.Reserve("ep_b") {
			t.Errorf("another endpoint's delivery was refused")
		}
		d.Cancel(jobs("ep_b", 1))
		d.Take(js[:3])
		waitFor(t, "the first handed-over attempt", func() bool { _, running, _ := s.stats("ep_a"); return running == 1 })
		close(release)
		release = make(chan struct{}) // the cleanup closes this one
		waitFor(t, "three outcomes", func() bool { return len(q.recorded("ep_a")) == 3 })
		if _, _, most := s.stats("ep_a"); most != 1 {
			t.Errorf("%d attempts ran at once, want 1", most)
		}
		if _, released, _ := q.snapshot(); len(released) != 0 {
			t.Errorf("handed-over deliveries went back to the queue: %d", len(released))
		}
		// A claim that finds the queue drained ends the backlog: the next
		// publication hands over again.
		d.Wake()
		waitFor(t, "a delivery taken at publication again", func() bool { return d.Reserve("ep_a") })
		d.Cancel(jobs("ep_a", 1))
	})
	t.Run("claims only for queued work", func(t *testing.T) {
		t.Parallel()
		q, s := &fakeQueue{}, newSender()
		e := run(t, q, s, func(d *delivery.Dispatcher) { d.PollInterval = time.Hour })
		waitFor(t, "the first claim", func() bool { c, _, _ := q.snapshot(); return len(c) == 1 })
		for i := 1; i <= 20; i++ {
			if !e.d.Reserve("ep_a") {
				t.Fatalf("delivery %d refused at publication", i)
			}
			e.d.Take(jobs("ep_a", 1))
			waitFor(t, "the outcome", func() bool { return len(q.recorded("ep_a")) == i })
		}
		// A claim is a write to the queue: deliveries taken at
		// publication, and the attempts that finish them, run none.
		if c, _, _ := q.snapshot(); len(c) != 1 {
			t.Errorf("%d claims ran for 20 deliveries taken at publication, want only the first", len(c))
		}
	})
	t.Run("a retry is claimed when due, not at the poll", func(t *testing.T) {
		t.Parallel()
		q, s := &fakeQueue{}, newSender()
		var n atomic.Int64
		s.behave["ep_a"] = func(ctx context.Context) delivery.Outcome {
			if n.Add(1) == 1 {
				return fail(ctx)
			}
			return delivery.Outcome{StatusCode: 204, Success: true}
		}
		e := run(t, q, s, func(d *delivery.Dispatcher) {
			d.PollInterval, d.Policy = time.Hour, delivery.Policy{Schedule: []time.Duration{10 * time.Millisecond}}
		})
		waitFor(t, "the first claim", func() bool { c, _, _ := q.snapshot(); return len(c) == 1 })
		if !e.d.Reserve("ep_a") {
			t.Fatal("the delivery was refused at publication")
		}
		e.d.Take(jobs("ep_a", 1))
		// The poll is an hour away: the claim loop's timer brings the retry.
		waitFor(t, "the retry", func() bool { return len(q.recorded("ep_a")) == 2 })
		got := q.recorded("ep_a")
		if got[0].Success || !got[1].Success || got[1].Job.Attempt != 2 || got[1].Job.DeliveryID != got[0].Job.DeliveryID {
			t.Errorf("recorded %+v then %+v, want a failure and its retry", got[0], got[1])
		}
	})
}

// TestDispatcherShutdown: a stop lets the attempt in flight finish and
// records it, gives back the claimed deliveries that had not started and
// those handed over meanwhile, and takes no more deliveries at publication.
func TestDispatcherShutdown(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	started := make(chan struct{}, 10)
	q, s := &fakeQueue{}, newSender()
	s.behave["ep_a"] = func(ctx context.Context) delivery.Outcome {
		started <- struct{}{}
		<-release
		return delivery.Outcome{StatusCode: 204, Success: true}
	}
	q.add(jobs("ep_a", 3)...)
	e := run(t, q, s, func(d *delivery.Dispatcher) { d.PerEndpoint = 1 })
	<-started
	waitFor(t, "the other two claimed and waiting", func() bool {
		q.mu.Lock()
		defer q.mu.Unlock()
		return len(q.pending) == 0
	})
	// A publication reserves a delivery, and commits only after the stop.
	if !e.d.Reserve("ep_b") {
		t.Fatal("a delivery to an idle endpoint was refused at publication")
	}
	e.stop()
	waitFor(t, "the unstarted deliveries given back", func() bool { _, rel, _ := q.snapshot(); return len(rel) == 2 })
	if e.d.Reserve("ep_b") {
		t.Errorf("a stopping dispatcher took a delivery at publication")
	}
	late := jobs("ep_b", 1)
	e.d.Take(late)
	if _, rel, _ := q.snapshot(); len(rel) != 3 || rel[2] != late[0] {
		t.Errorf("a delivery handed over during the stop was not given back: %d released", len(rel))
	}
	close(release)
	e.shutdown(t)
	if got := q.recorded("ep_a"); len(got) != 1 || !got[0].Success {
		t.Errorf("recorded %d outcomes after the stop, want the one in flight", len(got))
	}
	if n, _, _ := s.stats("ep_a"); n != 1 {
		t.Errorf("%d attempts made, want 1", n)
	}
	if n, _, _ := s.stats("ep_b"); n != 0 {
		t.Errorf("%d attempts of a delivery handed over during the stop", n)
	}
}

// throttledJobs are n jobs of an endpoint with a rate limit and a bound on
// its attempts in flight (nil: none).
func throttledJobs(endpointID string, n int, rate string, maxInFlight *int) []*queue.Job {
	js := jobs(endpointID, n)
	ep := *js[0].Endpoint
	if rate != "" {
		ep.RateLimit = &rate
	}
	ep.MaxInFlight = maxInFlight
	for _, j := range js {
		j.Endpoint = &ep
	}
	return js
}

// TestDispatcherThrottledBacklogHoldsNoWorkers: a throttled endpoint whose
// attempts hang runs at most max_in_flight of them, keeps no claimed
// deliveries waiting for a slot, and its backlog waits in the queue while
// the other endpoints get every worker.
func TestDispatcherThrottledBacklogHoldsNoWorkers(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	q, s := &fakeQueue{}, newSender()
	s.behave["ep_throttled"] = hang(release)
	one := 1
	q.add(throttledJobs("ep_throttled", 40, "", &one)...)
	q.add(jobs("ep_a", 20)...)
	q.add(jobs("ep_b", 20)...)
	run(t, q, s, func(d *delivery.Dispatcher) { d.Workers, d.PerEndpoint = 2, 8 })
	waitFor(t, "the other endpoints' 40 deliveries", func() bool {
		return len(q.recorded("ep_a")) == 20 && len(q.recorded("ep_b")) == 20
	})
	if _, _, most := s.stats("ep_throttled"); most != 1 {
		t.Errorf("%d attempts of the endpoint with max_in_flight 1 ran at once", most)
	}
	q.mu.Lock()
	waiting := 0
	for _, p := range q.pending {
		if p.job.Endpoint.ID == "ep_throttled" {
			waiting++
		}
	}
	q.mu.Unlock()
	if waiting != 39 {
		t.Errorf("%d of the throttled endpoint's deliveries wait in the queue, want 39 (one in flight, none held by the engine)", waiting)
	}
	// Its small lane is on purpose: its backlog is not deferred as a
	// stalled endpoint's would be, however long its attempt hangs.
	hungAt := s.times("ep_throttled")[0]
	before, _, _ := q.snapshot()
	waitFor(t, "claims well past the stall rule's time", func() bool {
		claims, _, _ := q.snapshot()
		return time.Since(hungAt) > 3*time.Second/2 && len(claims) > len(before)+10
	})
	_, _, post := q.snapshot()
	for _, p := range post {
		if p.endpoint == "ep_throttled" {
			t.Errorf("the throttled endpoint's backlog was deferred until %v", p.until)
		}
	}
	close(release)
	waitFor(t, "the throttled endpoint's 40 deliveries", func() bool { return len(q.recorded("ep_throttled")) == 40 })
	if _, _, most := s.stats("ep_throttled"); most != 1 {
		t.Errorf("%d attempts of the endpoint with max_in_flight 1 ran at once", most)
	}
}

// TestDispatcherWakesForTheRate: with a fallback poll far away, the
// dispatcher wakes when a rate-limited endpoint's rate next allows an
// attempt, and never starts more than the rate and its burst allow.
func TestDispatcherWakesForTheRate(t *testing.T) {
	t.Parallel()
	q, s := &fakeQueue{}, newSender()
	rate := ratelimit.Rate{N: 20, Per: time.Second}
	q.add(throttledJobs("ep_rated", 50, rate.String(), nil)...)
	q.add(jobs("ep_free", 50)...)
	run(t, q, s, func(d *delivery.Dispatcher) { d.PollInterval = time.Hour })
	waitFor(t, "the free endpoint's 50 deliveries", func() bool { return len(q.recorded("ep_free")) == 50 })
	waitFor(t, "the rate-limited endpoint's 50 deliveries", func() bool { return len(q.recorded("ep_rated")) == 50 })
	starts := s.times("ep_rated")
	j := 0
	for i := range starts {
		for starts[i].Sub(starts[j]) > rate.Per {
			j++
		}
		if n := i - j + 1; n > rate.N+rate.Burst() {
			t.Fatalf("%d attempts started within %v, the rate and its burst allow %d", n, rate.Per, rate.N+rate.Burst())
		}
	}
}

// TestDispatcherWakeAt: an idle dispatcher, its fallback poll an hour
// away, told that a throttled endpoint's delivery waits for its rate
// (WakeAt, as a publication does), sends it when the rate allows.
func TestDispatcherWakeAt(t *testing.T) {
	t.Parallel()
	q, s := &fakeQueue{}, newSender()
	e := run(t, q, s, func(d *delivery.Dispatcher) { d.PollInterval = time.Hour })
	waitFor(t, "the first claim", func() bool { claims, _, _ := q.snapshot(); return len(claims) > 0 })
	rate := ratelimit.Rate{N: 10, Per: time.Second}
	allowed := time.Now().Add(300 * time.Millisecond)
	q.mu.Lock()
	q.tat, q.leased = map[string]time.Time{"ep_later": allowed.Add(time.Duration(rate.Burst()-1) * rate.Interval())}, map[string]int{}
	q.mu.Unlock()
	q.add(throttledJobs("ep_later", 1, rate.String(), nil)...)
	e.d.WakeAt(allowed)
	waitFor(t, "the delivery once its rate allows it", func() bool { return len(q.recorded("ep_later")) == 1 })
	if started := s.times("ep_later")[0]; started.Before(allowed) {
		t.Errorf("sent %v before its rate allowed it", allowed.Sub(started))
	}
}
