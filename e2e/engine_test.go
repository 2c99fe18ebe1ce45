package e2e

import (
	"context"
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

// TestPublishedDeliveriesSkipTheClaim checks, in a whole instance on a real
// database, that deliveries taken at their publication reach the receiver
// once each without a claim returning them, and without a claim running
// for them (a claim is a write to the queue). The engine's rules for it
// (an endpoint's room, its backlog first, when a claim runs, a retry's
// wake-up) are internal/delivery's tests; the queue's side of the
// hand-over (leased at insert, handed over at commit, given back on a
// rollback) is internal/queue's, on both databases.
func TestPublishedDeliveriesSkipTheClaim(t *testing.T) {
	t.Parallel()
	recv := hookbooktest.NewReceiver(t, nil)
	in, rec := startRecordingClaims(t, map[string]string{"HOOKBOOK_POLL_INTERVAL": "1m"})
	in.createEndpoint(recv.URL, []string{"booking.*"}, nil)
	// The start's own signs (its timer, its wake and, on PostgreSQL, the
	// listener's connection) may each still run a claim.
	hookbooktest.WaitFor(t, 10*time.Second, "the first claim", func() bool { return rec.n.Load() > 0 })
	before := rec.n.Load()
	var events []string
	for i := 1; i <= 5; i++ {
		events = append(events, in.publish("booking.created", bookingData(nil)))
		hookbooktest.WaitFor(t, 10*time.Second, "the delivery", func() bool { return recv.Count() == i })
	}
	if n := rec.n.Load() - before; n > 2 {
		t.Errorf("%d claims ran for %d deliveries taken at publication, want at most 2 (left from the start)", n, len(events))
	}
	if got := rec.claimed(); len(got) != 0 {
		t.Errorf("claims returned the deliveries of events %v, want none: each was taken at publication", got)
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
