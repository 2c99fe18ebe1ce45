package e2e

import (
	"context"
	"net/http"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/hookbook/hookbook/internal/hookbooktest"
	"github.com/hookbook/hookbook/internal/outbound"
	"github.com/hookbook/hookbook/internal/server"
)

// claimRecorder is the real queue, noting which events' deliveries claims
// returned.
type claimRecorder struct {
	*outbound.Service
	mu     sync.Mutex
	events map[string]bool
}

func (q *claimRecorder) Claim(ctx context.Context, r outbound.ClaimRequest) ([]*outbound.Job, error) {
	jobs, err := q.Service.Claim(ctx, r)
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
	queue := &claimRecorder{events: map[string]bool{}}
	// One attempt at a time to the endpoint, and 4 more waiting in memory:
	// room for 5 deliveries. The held attempt must not count as slow
	// however long a busy machine takes to publish the rest (a slow
	// endpoint's deliveries go back to the queue).
	in := start(t, map[string]string{"HOOKBOOK_ENDPOINT_CONCURRENCY": "1"}, func(a *server.App) {
		queue.Service = a.Outbound
		a.Dispatcher.Queue = queue
		a.Dispatcher.SlowAfter = time.Minute
	})
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
	if got := queue.claimed(); len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
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
