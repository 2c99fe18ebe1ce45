package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hookbook/hookbook/internal/hookbooktest"
	"github.com/hookbook/hookbook/internal/queue"
	"github.com/hookbook/hookbook/internal/server"
)

// orderedReceiver fails at random (500s, answers after the endpoint's
// timeout, reset connections) and records, per ordering key, the sequence
// of each event the first time it was received successfully. It also
// counts attempts of one key running at the same time.
type orderedReceiver struct {
	*httptest.Server
	mu        sync.Mutex
	firsts    map[string][]int64 // key → sequences, in order of first success
	seen      map[string]bool    // event ids received successfully
	inFlight  map[string]int
	overlaps  int
	attempts  map[string]int // event id → attempts
	alwaysBad map[string]bool
}

func newOrderedReceiver(t *testing.T, failRate float64, alwaysBad ...string) *orderedReceiver {
	rc := &orderedReceiver{firsts: map[string][]int64{}, seen: map[string]bool{}, inFlight: map[string]int{},
		attempts: map[string]int{}, alwaysBad: map[string]bool{}}
	for _, k := range alwaysBad {
		rc.alwaysBad[k] = true
	}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var env struct {
			ID          string `json:"id"`
			OrderingKey string `json:"ordering_key"`
			Sequence    int64  `json:"sequence"`
		}
		json.Unmarshal(body, &env)
		rc.mu.Lock()
		rc.inFlight[env.OrderingKey]++
		if rc.inFlight[env.OrderingKey] > 1 {
			rc.overlaps++
		}
		rc.attempts[env.ID]++
		rc.mu.Unlock()
		done := sync.OnceFunc(func() {
			rc.mu.Lock()
			rc.inFlight[env.OrderingKey]--
			rc.mu.Unlock()
		})
		defer done()
		roll := rand.Float64()
		switch {
		case rc.alwaysBad[env.OrderingKey] || roll < failRate*0.7:
			w.WriteHeader(500)
			return
		case roll < failRate*0.8:
			// No answer: hookbook gives up after its 1 s timeout and
			// closes the connection. When it gave up only hookbook knows
			// (this handler sees the close later, by as much as a loaded
			// machine delays it): the attempt stops counting here, and
			// attemptSpans checks from hookbook's side that no attempt
			// of a key began before the one before it had ended.
			done()
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
			return
		case roll < failRate:
			if hj, ok := w.(http.Hijacker); ok {
				conn, _, _ := hj.Hijack()
				conn.Close() // a reset
				return
			}
		}
		rc.mu.Lock()
		if !rc.seen[env.ID] {
			rc.seen[env.ID] = true
			rc.firsts[env.OrderingKey] = append(rc.firsts[env.OrderingKey], env.Sequence)
		}
		rc.mu.Unlock()
		w.WriteHeader(200)
	}))
	t.Cleanup(rc.Server.Close)
	return rc
}

// checkOrder fails t for every key whose first successful receipts are not
// in sequence order, and for attempts of one key that overlapped; called
// with rc.mu held.
func (rc *orderedReceiver) checkOrder(t *testing.T) {
	t.Helper()
	for key, seqs := range rc.firsts {
		for i := 1; i < len(seqs); i++ {
			if seqs[i] <= seqs[i-1] {
				t.Errorf("key %s: sequence %d received after %d", key, seqs[i], seqs[i-1])
				break
			}
		}
	}
	if rc.overlaps != 0 {
		t.Errorf("%d attempts overlapped another attempt of the same key", rc.overlaps)
	}
}

// attemptSpans records, per ordering key, when each of hookbook's attempts
// began and ended, as its engine saw them.
type attemptSpans struct {
	mu    sync.Mutex
	byKey map[string][]span
}

type span struct{ start, end time.Time }

// record is a setup of start: it wraps the engine's Attempted hook.
func (a *attemptSpans) record(app *server.App) {
	next := app.Dispatcher.Hooks.Attempted
	app.Dispatcher.Hooks.Attempted = func(r *queue.Result) {
		a.mu.Lock()
		k := r.Job.OrderingKey
		a.byKey[k] = append(a.byKey[k], span{r.StartedAt, r.StartedAt.Add(r.Duration)})
		a.mu.Unlock()
		if next != nil {
			next(r)
		}
	}
}

// check fails t for every attempt that began before the attempt of its
// key before it had ended.
func (a *attemptSpans) check(t *testing.T) {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	overlaps := 0
	for key, list := range a.byKey {
		sort.Slice(list, func(i, j int) bool { return list[i].start.Before(list[j].start) })
		for i := 1; i < len(list); i++ {
			if list[i].start.Before(list[i-1].end) {
				if overlaps++; overlaps <= 3 {
					t.Errorf("key %s: an attempt began at %s, before the one before it ended (%s)", key,
						list[i].start.Format(time.StampMicro), list[i-1].end.Format(time.StampMicro))
				}
			}
		}
	}
	if overlaps > 3 {
		t.Errorf("%d attempts in all began before the attempt before them had ended", overlaps)
	}
}

// TestOrderedDeliveryUnderFailures: a receiver failing at random gets, per
// key, its first successful receipt of each event in sequence order, and
// never two attempts of one key at once.
func TestOrderedDeliveryUnderFailures(t *testing.T) {
	t.Parallel()
	spans := &attemptSpans{byKey: map[string][]span{}}
	in := start(t, map[string]string{"HOOKBOOK_RETRY_SCHEDULE": "20ms,50ms,100ms", "HOOKBOOK_API_RATE_LIMIT": "off"}, spans.record)
	rc := newOrderedReceiver(t, 0.3)
	in.createEndpoint(rc.URL, []string{"*"}, map[string]any{"ordered": true, "max_attempts": 20, "timeout_seconds": 1})
	in.must(201, "POST", "/api/v1/event-types", map[string]any{"name": "order.updated", "description": "An order changed"})
	const events, keys, publishers = 2000, 100, 16
	var wg sync.WaitGroup
	for p := range publishers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := p; i < events; i += publishers {
				r := in.do("POST", "/api/v1/events", map[string]any{"event": "order.updated",
					"ordering_key": fmt.Sprintf("order_%d", i%keys), "data": map[string]any{"i": i}})
				if r.Status != 202 {
					t.Errorf("publish %d = %d %s", i, r.Status, r.Body)
					return
				}
			}
		}()
	}
	wg.Wait()
	waitFor(t, 3*time.Minute, "every event received", func() bool {
		rc.mu.Lock()
		defer rc.mu.Unlock()
		return len(rc.seen) == events
	})
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.firsts) != keys {
		t.Errorf("%d keys received, want %d", len(rc.firsts), keys)
	}
	rc.checkOrder(t)
	spans.check(t)
	total := 0
	for _, n := range rc.attempts {
		total += n
	}
	t.Logf("%d events over %d keys: %d attempts (%.2f per event)", events, keys, total, float64(total)/events)
}

// TestOrderedDeliveryHoldsOnlyItsKey: a key whose first delivery keeps
// failing holds back its own later events, and nothing else.
func TestOrderedDeliveryHoldsOnlyItsKey(t *testing.T) {
	t.Parallel()
	in := start(t, map[string]string{"HOOKBOOK_RETRY_SCHEDULE": "50ms"})
	rc := newOrderedReceiver(t, 0, "bkg_STUCK")
	ep := in.createEndpoint(rc.URL, []string{"booking.*"}, map[string]any{"ordered": true, "max_attempts": 20})["id"].(string)
	for i := range 5 {
		for _, key := range []string{"bkg_STUCK", "bkg_FREE", "bkg_ALSO"} {
			in.must(202, "POST", "/api/v1/events", map[string]any{"event": "booking.updated", "ordering_key": key,
				"data": hookbooktest.Data("booking.updated", map[string]any{"id": key, "participants": i + 1})})
		}
	}
	waitFor(t, 20*time.Second, "the free keys", func() bool {
		rc.mu.Lock()
		defer rc.mu.Unlock()
		return len(rc.firsts["bkg_FREE"]) == 5 && len(rc.firsts["bkg_ALSO"]) == 5
	})
	// The stuck key's head has been tried again and again; the four
	// behind it never.
	waitFor(t, 10*time.Second, "retries of the stuck head", func() bool {
		rc.mu.Lock()
		defer rc.mu.Unlock()
		for _, n := range rc.attempts {
			if n >= 3 {
				return true
			}
		}
		return false
	})
	rc.mu.Lock()
	tried := 0
	for _, n := range rc.attempts {
		if n > 0 {
			tried++
		}
	}
	rc.mu.Unlock()
	if tried != 11 { // 5 + 5 + the stuck head
		t.Errorf("%d events attempted, want 11 (the stuck key's later events wait)", tried)
	}
	// The free keys' outcomes are recorded just after their receipt.
	var list []any
	waitFor(t, 10*time.Second, "only the stuck key pending", func() bool {
		list = in.must(200, "GET", "/api/v1/webhooks/"+ep+"/deliveries?status=pending", nil)["data"].([]any)
		return len(list) == 5
	})
	waiting := 0
	for _, d := range list {
		if d.(map[string]any)["attempts"].(float64) == 0 {
			waiting++
		}
	}
	if len(list) != 5 || waiting != 4 {
		t.Errorf("pending: %d deliveries, %d never attempted; want 5 and 4", len(list), waiting)
	}
}

// TestClusterOrderedKill9: three processes share one PostgreSQL database
// and an ordered endpoint whose receiver fails at random; one process is
// killed with SIGKILL half-way. Every acknowledged event arrives, each
// key's first successful receipts are in sequence order, and no two
// attempts of one key overlap.
func TestClusterOrderedKill9(t *testing.T) {
	needPostgresPass(t)
	const total, keys = 3000, 50
	env := map[string]string{"HOOKBOOK_DATABASE_URL": databaseURL(t), "HOOKBOOK_RETRY_SCHEDULE": "100ms", "HOOKBOOK_LEASE": "3s",
		"HOOKBOOK_POLL_INTERVAL": "200ms", "HOOKBOOK_API_RATE_LIMIT": "off"}
	procs := []*proc{startProc(t, freePort(t), env), startProc(t, freePort(t), env), startProc(t, freePort(t), env)}
	rc := newOrderedReceiver(t, 0.1)
	if code, body, err := procs[0].post("/api/v1/webhooks", map[string]any{"url": rc.URL, "events": []string{"booking.*"},
		"ordered": true, "max_attempts": 20, "timeout_seconds": 1}); err != nil || code != 201 {
		t.Fatalf("create endpoint: %d %s %v", code, body, err)
	}
	var (
		mu     sync.Mutex
		acked  = map[string]bool{}
		next   atomic.Int64
		killed atomic.Bool
		wg     sync.WaitGroup
	)
	for w := 0; w < 12; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				n := next.Add(1)
				if n > total {
					return
				}
				p := procs[n%3]
				if killed.Load() && p == procs[2] {
					p = procs[n%2]
				}
				key := fmt.Sprintf("bkg_%026d", n%keys)
				data := hookbooktest.Data("booking.updated", map[string]any{"id": key})
				code, body, err := p.post("/api/v1/events", map[string]any{"event": "booking.updated", "ordering_key": key, "data": data})
				if err != nil || code != 202 {
					continue // the killed process: never acknowledged
				}
				var out struct{ ID string }
				json.Unmarshal(body, &out)
				mu.Lock()
				acked[out.ID] = true
				mu.Unlock()
			}
		}()
	}
	waitFor(t, time.Minute, "half the events", func() bool { mu.Lock(); defer mu.Unlock(); return len(acked) >= total/2 })
	procs[2].cmd.Process.Signal(syscall.SIGKILL)
	<-procs[2].done
	killed.Store(true)
	wg.Wait()
	waitFor(t, 5*time.Minute, "every acknowledged event", func() bool {
		mu.Lock()
		defer mu.Unlock()
		rc.mu.Lock()
		defer rc.mu.Unlock()
		for id := range acked {
			if !rc.seen[id] {
				return false
			}
		}
		return true
	})
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.checkOrder(t)
	t.Logf("%d events acknowledged over %d keys, all received in order through a kill -9", len(acked), keys)
}

// TestOrderingKeysOfOwnEvents: hookbook's own events carry the key of what
// they are about and growing sequences; a published event carries only the
// key it was given.
func TestOrderingKeysOfOwnEvents(t *testing.T) {
	t.Parallel()
	in := start(t, nil)
	rc := newReceiver(t, nil)
	in.createEndpoint(rc.URL, []string{"*"}, nil)
	svc := in.must(201, "POST", "/api/v1/services", map[string]any{"name": "Tour", "duration_minutes": 60, "capacity": 5, "requires_approval": true})
	slot := in.must(201, "POST", "/api/v1/slots", map[string]any{"service_id": svc["id"], "starts_at": "2030-03-25T14:00:00Z", "ends_at": "2030-03-25T15:00:00Z"})
	bkg := in.must(201, "POST", "/api/v1/bookings", map[string]any{"slot_id": slot["id"], "participants": 1, "customer": map[string]any{"name": "Jane", "email": "jane@example.com"}})
	in.must(200, "POST", "/api/v1/bookings/"+bkg["id"].(string)+"/confirm", nil)
	in.must(202, "POST", "/api/v1/events", map[string]any{"event": "booking.updated", "data": hookbooktest.Data("booking.updated", nil)})
	in.must(202, "POST", "/api/v1/events", map[string]any{"event": "booking.updated", "ordering_key": "order-7", "data": hookbooktest.Data("booking.updated", nil)})
	waitFor(t, 10*time.Second, "the events", func() bool { return rc.Count() == 6 })
	type env struct {
		Event       string         `json:"event"`
		OrderingKey *string        `json:"ordering_key"`
		Sequence    *int64         `json:"sequence"`
		Data        map[string]any `json:"data"`
	}
	var got []env
	for _, r := range rc.All() {
		var e env
		json.Unmarshal(r.Body, &e)
		got = append(got, e)
	}
	sort.Slice(got, func(i, j int) bool { return got[i].Event < got[j].Event })
	want := map[string]string{"slot.created": slot["id"].(string), "customer.created": bkg["customer_id"].(string),
		"booking.created": bkg["id"].(string), "booking.confirmed": bkg["id"].(string)}
	var seqs []int64
	published := 0
	for _, e := range got {
		switch {
		case e.Event == "booking.updated" && e.OrderingKey == nil:
			published++
			if e.Sequence != nil {
				t.Errorf("a published event without a key has a sequence")
			}
		case e.Event == "booking.updated":
			published++
			if *e.OrderingKey != "order-7" || e.Sequence == nil {
				t.Errorf("published with a key: %v %v", *e.OrderingKey, e.Sequence)
			}
		case e.OrderingKey == nil || *e.OrderingKey != want[e.Event] || e.Sequence == nil:
			t.Errorf("%s: ordering key %v, want %s", e.Event, e.OrderingKey, want[e.Event])
		case *e.OrderingKey == bkg["id"]:
			seqs = append(seqs, *e.Sequence)
		}
	}
	if published != 2 || len(seqs) != 2 {
		t.Fatalf("published %d, booking events %d", published, len(seqs))
	}
	// booking.confirmed sorts before booking.created: its sequence is the higher.
	if seqs[0] <= seqs[1] {
		t.Errorf("booking.confirmed has sequence %d, booking.created %d", seqs[0], seqs[1])
	}
}
