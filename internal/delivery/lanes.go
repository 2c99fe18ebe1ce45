package delivery

import (
	"context"
	"time"

	"github.com/hookbook/hookbook/internal/queue"
)

// Lanes: each endpoint's attempts in flight (at most PerEndpoint) and the
// claimed deliveries waiting for one of its slots, the two budgets an
// attempt is counted in (Workers, then SlowWorkers once it runs past
// SlowAfter), and the hand-over of deliveries at publication (Reserve,
// Take, Cancel: queue.Engine).

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

// place starts j, or queues it behind its endpoint's running attempts, and
// reports false when there is no room for it (it must go back to the
// queue); called with d.mu held. The caller counts it in d.inflight.
func (d *Dispatcher) place(attemptCtx context.Context, j *queue.Job, now time.Time) bool {
	ep := j.Endpoint.ID
	_, slow := d.slowEP[ep]
	d.learn(j)
	switch {
	case d.active[ep] < d.lane(ep) && (!slow || d.slow < d.SlowWorkers):
		if d.active[ep] == 0 {
			d.progress[ep] = now
		}
		d.timeouts[ep] = time.Duration(j.Endpoint.TimeoutSeconds) * time.Second
		d.active[ep]++
		d.start(attemptCtx, j)
	case !slow && len(d.queued[ep]) < d.lane(ep)*queueFactor:
		d.queued[ep] = append(d.queued[ep], j)
	default:
		return false
	}
	return true
}

// learn notes the throttle of j's endpoint; called with d.mu held. A
// throttled endpoint's lane has max_in_flight slots when it sets one,
// and keeps no claimed deliveries waiting (the claim takes only what
// its slots and rate allow).
func (d *Dispatcher) learn(j *queue.Job) {
	ep := j.Endpoint.ID
	if !j.Endpoint.Throttled() {
		delete(d.throttled, ep)
		delete(d.lanes, ep)
		return
	}
	d.throttled[ep] = true
	if m := j.Endpoint.MaxInFlight; m != nil && *m > 0 {
		d.lanes[ep] = *m
	} else {
		delete(d.lanes, ep)
	}
}

// lane returns how many attempts ep may have in flight on this instance;
// called with d.mu held.
func (d *Dispatcher) lane(ep string) int {
	if n, ok := d.lanes[ep]; ok {
		return n
	}
	return d.PerEndpoint
}

// Reserve implements queue.Engine: it takes a delivery to endpointID
// from its publication when a worker is free, the endpoint's slots and
// queue have room, its circuit is closed, it is not slow, and it has no
// backlog waiting in the queue (whose deliveries go first).
func (d *Dispatcher) Reserve(endpointID string) bool {
	d.init()
	if _, open := d.Breaker.OpenUntil(endpointID, d.Now()); open {
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
	d.init()
	now := d.Now()
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

// start runs one attempt; called with d.mu held.
func (d *Dispatcher) start(ctx context.Context, j *queue.Job) {
	d.running.Add(1)
	go func() {
		defer d.running.Done()
		ep := j.Endpoint.ID
		for j != nil {
			if until, open := d.Breaker.OpenUntil(ep, d.Now()); open {
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
	d.progress[ep] = d.Now()
	if d.watch[ep] || d.throttled[ep] {
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
		delete(d.throttled, ep)
		delete(d.lanes, ep)
		if d.Now().After(d.deferred[ep]) {
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
		delete(d.throttled, ep)
		delete(d.lanes, ep)
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
	d.slowEP[ep] = d.Now()
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
		d.slowEP[ep] = d.Now()
	}
}
