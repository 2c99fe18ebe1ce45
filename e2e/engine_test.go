package e2e

import (
	"context"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookbook/hookbook/internal/hookbooktest"
	"github.com/hookbook/hookbook/internal/queue"
	"github.com/hookbook/hookbook/internal/server"
)

// claimRecorder is the real queue, counting the claims that ran and noting
// which events' deliveries they returned.
type claimRecorder struct {
	*queue.Queue
	n      atomic.Int64
	mu     sync.Mutex
	events map[string]bool
}

func (q *claimRecorder) Claim(ctx context.Context, r queue.ClaimRequest) ([]*queue.Job, error) {
	q.n.Add(1)
	jobs, err := q.Queue.Claim(ctx, r)
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, j := range jobs {
		q.events[j.EventID] = true
	}
	return jobs, err
}

func (q *claimRecorder) claimed() []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []string
	for id := range q.events {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// startRecordingClaims starts an instance whose engine claims through a
// claimRecorder. No attempt counts as slow however long a busy machine
// takes (a slow endpoint's deliveries go back to the queue, to be claimed).
func startRecordingClaims(t *testing.T, env map[string]string) (*instance, *claimRecorder) {
	rec := &claimRecorder{events: map[string]bool{}}
	in := start(t, env, func(a *server.App) {
		rec.Queue = a.Queue
		a.Dispatcher.Queue = rec
		a.Dispatcher.SlowAfter = time.Minute
	})
	return in, rec
}

// TestPublishedDeliveriesSkipTheClaim checks that the engine takes the
// deliveries it has room for straight from their publication, that those
// it has no room for wait in the queue with every later one of their
// endpoint, and that each arrives once.
func TestPublishedDeliveriesSkipTheClaim(t *testing.T) {
	t.Parallel()
	hold := make(chan struct{})
	recv := hookbooktest.NewReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		<-hold
		w.WriteHeader(204)
	})
	// One attempt at a time to the endpoint, and 4 more waiting in memory:
	// room for 5 deliveries.
	in, rec := startRecordingClaims(t, map[string]string{"HOOKBOOK_ENDPOINT_CONCURRENCY": "1"})
	in.createEndpoint(recv.URL, []string{"booking.*"}, nil)
	var events []string
	for range 7 {
		events = append(events, in.publish("booking.created", bookingData(nil)))
	}
	hookbooktest.WaitFor(t, 30*time.Second, "the first attempt", func() bool { return recv.Count() == 1 })
	close(hold)
	hookbooktest.WaitFor(t, 30*time.Second, "7 deliveries", func() bool { return recv.Count() == 7 })
	// The queue drained: the next publication goes straight to the engine.
	events = append(events, in.publish("booking.created", bookingData(nil)))
	hookbooktest.WaitFor(t, 30*time.Second, "the 8th delivery", func() bool { return recv.Count() == 8 })
	want := append([]string(nil), events[5:7]...)
	sort.Strings(want)
	if got := rec.claimed(); len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("claims returned the deliveries of events %v, want only those of the 6th and 7th (%v)", got, want)
	}
	seen := map[string]int{}
	for _, r := range recv.All() {
		seen[r.Header.Get("Webhook-Id")]++
	}
	for i, id := range events {
		if seen[id] != 1 {
			t.Errorf("event %d arrived %d times", i+1, seen[id])
		}
	}
}

// TestClaimsOnlyForQueuedWork checks that deliveries taken at publication
// and the attempts that finish them start no claim (a claim is a write to
// the queue), and that a retry is still claimed when it comes due, with
// the fallback poll a minute away.
func TestClaimsOnlyForQueuedWork(t *testing.T) {
	t.Parallel()
	const events = 20
	recv := hookbooktest.NewReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n == events+1 { // the first attempt of the last event
			w.WriteHeader(500)
			return
		}
		w.WriteHeader(204)
	})
	in, rec := startRecordingClaims(t, map[string]string{"HOOKBOOK_POLL_INTERVAL": "1m"})
	in.createEndpoint(recv.URL, []string{"booking.*"}, nil)
	// The start's own signs (its timer, its wake and, on PostgreSQL, the
	// listener's connection) may each still run a claim.
	hookbooktest.WaitFor(t, 10*time.Second, "the first claim", func() bool { return rec.n.Load() > 0 })
	before := rec.n.Load()
	for i := 1; i <= events; i++ {
		in.publish("booking.created", bookingData(nil))
		hookbooktest.WaitFor(t, 10*time.Second, "the delivery", func() bool { return recv.Count() == i })
	}
	if n := rec.n.Load() - before; n > 2 {
		t.Errorf("%d claims ran for %d deliveries taken at publication, want at most 2 (left from the start)", n, events)
	}
	// The next event's first attempt fails; its retry, 100–300 ms later,
	// is found by the claim loop's timer, not by the poll.
	in.publish("booking.created", bookingData(nil))
	hookbooktest.WaitFor(t, 10*time.Second, "the retry", func() bool { return recv.Count() == events+2 })
}
