package e2e

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	dbpkg "github.com/hookbook/hookbook/internal/db"
	"github.com/hookbook/hookbook/internal/org"
	"github.com/hookbook/hookbook/internal/outbound"
)

// clusterReceiver records arrivals per event id and catches two attempts of
// one delivery in flight at the same time.
type clusterReceiver struct {
	url        string
	mu         sync.Mutex
	events     map[string]int // event id → arrivals
	inflight   map[string]int // delivery id → requests being served
	concurrent atomic.Int64
}

func newClusterReceiver(t *testing.T) *clusterReceiver {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &clusterReceiver{url: "http://" + ln.Addr().String(), events: map[string]int{}, inflight: map[string]int{}}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		dlv := r.Header.Get("X-Hookbook-Delivery-Id")
		c.mu.Lock()
		c.inflight[dlv]++
		if c.inflight[dlv] > 1 {
			c.concurrent.Add(1)
		}
		c.mu.Unlock()
		time.Sleep(time.Millisecond) // widen the window in which a double attempt would show
		c.mu.Lock()
		c.inflight[dlv]--
		c.events[r.Header.Get("Webhook-Id")]++
		c.mu.Unlock()
		w.WriteHeader(200)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return c
}

func (c *clusterReceiver) has(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.events[id] > 0
}

func (c *clusterReceiver) duplicates() (dups, total int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range c.events {
		total += n
		dups += n - 1
	}
	return
}

func needPostgresPass(t *testing.T) {
	if backend() != "postgres" {
		t.Skip("several instances share one PostgreSQL database: this test runs in the PostgreSQL pass of scripts/test")
	}
}

// TestClusterKill9 runs three hookbook processes on one PostgreSQL
// database, publishes events (HOOKBOOK_TEST_CLUSTER_EVENTS, default 4,000;
// BENCHMARKS.md's figures are of 20,000)
// to 10 receivers, kills one process with SIGKILL half-way and checks that
// every acknowledged event reached every receiver, that no delivery was in
// flight twice at once, and how many duplicates the kill caused.
func TestClusterKill9(t *testing.T) {
	needPostgresPass(t)
	total := 4000
	if v, err := strconv.Atoi(os.Getenv("HOOKBOOK_TEST_CLUSTER_EVENTS")); err == nil && v > 0 {
		total = v
	}
	db := databaseURL(t)
	const workers = 64
	env := map[string]string{"HOOKBOOK_DATABASE_URL": db, "HOOKBOOK_RETRY_SCHEDULE": "200ms", "HOOKBOOK_LEASE": "5s",
		"HOOKBOOK_WORKERS": strconv.Itoa(workers), "HOOKBOOK_POLL_INTERVAL": "500ms"}
	procs := []*proc{startProc(t, freePort(t), env), startProc(t, freePort(t), env), startProc(t, freePort(t), env)}
	recv := make([]*clusterReceiver, 10)
	for i := range recv {
		recv[i] = newClusterReceiver(t)
		if code, body, err := procs[0].post("/api/v1/webhooks", map[string]any{"url": recv[i].url, "events": []string{"*"}}); err != nil || code != 201 {
			t.Fatalf("create endpoint: %d %s %v", code, body, err)
		}
	}
	var (
		mu     sync.Mutex
		acked  []string
		next   atomic.Int64
		killed atomic.Bool
		wg     sync.WaitGroup
	)
	start := time.Now()
	for w := 0; w < 24; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				n := next.Add(1)
				if n > int64(total) {
					return
				}
				p := procs[n%3]
				if killed.Load() && p == procs[2] {
					p = procs[n%2]
				}
				code, body, err := p.post("/api/v1/events", map[string]any{"event": "booking.created", "data": bookingData(map[string]any{"n": n})})
				if err != nil || code != 202 {
					continue // the killed process: never acknowledged
				}
				var out struct{ ID string }
				json.Unmarshal(body, &out)
				mu.Lock()
				acked = append(acked, out.ID)
				mu.Unlock()
			}
		}()
	}
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= total/2 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	procs[2].cmd.Process.Signal(syscall.SIGKILL)
	<-procs[2].done
	killed.Store(true)
	wg.Wait()
	published := time.Since(start)
	waitFor(t, 10*time.Minute, "every acknowledged event at every receiver", func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, r := range recv {
			for _, id := range acked {
				if !r.has(id) {
					return false
				}
			}
		}
		return true
	})
	took := time.Since(start)
	var dups, all int
	var concurrent int64
	for _, r := range recv {
		d, n := r.duplicates()
		dups, all = dups+d, all+n
		concurrent += r.concurrent.Load()
	}
	t.Logf("%d events acknowledged (published in %s) × 10 receivers delivered in %s (%.0f deliveries/s); %d duplicates in %d requests (%.3f %%); %d concurrent double attempts",
		len(acked), published.Round(time.Millisecond), took.Round(time.Millisecond), float64(len(acked)*10)/took.Seconds(), dups, all, 100*float64(dups)/float64(all), concurrent)
	if concurrent != 0 {
		t.Errorf("%d deliveries were attempted twice at the same time", concurrent)
	}
	// Only what the killed process had in flight or unrecorded may repeat.
	if dups > 5*workers {
		t.Errorf("%d duplicates: more than the killed instance could have had in flight (%d)", dups, 5*workers)
	}
}

// TestClusterRemindersOnce runs three instances on one database: every
// reminder still fires exactly once.
func TestClusterRemindersOnce(t *testing.T) {
	needPostgresPass(t)
	db := databaseURL(t)
	env := map[string]string{"HOOKBOOK_DATABASE_URL": db, "HOOKBOOK_REMINDER_INTERVAL": "50ms"}
	in := start(t, env)
	others := []*instance{start(t, env), start(t, env)}
	rc := newReceiver(t, nil)
	in.createEndpoint(rc.URL, []string{"booking.reminder"}, nil)
	in.must(200, "PUT", "/api/v1/settings/reminders", map[string]any{"reminder_offsets": []string{"1h", "2h"}, "follow_up_offset": ""})
	svc := in.must(201, "POST", "/api/v1/services", map[string]any{"name": "S", "duration_minutes": 30, "capacity": 100})["id"].(string)
	slot := in.must(201, "POST", "/api/v1/slots", map[string]any{"service_id": svc, "starts_at": future(1), "ends_at": future(2)})["id"].(string)
	const bookings = 20
	for i := 0; i < bookings; i++ {
		in.must(201, "POST", "/api/v1/bookings", map[string]any{"slot_id": slot, "customer": map[string]any{"name": "C", "email": "c" + strconv.Itoa(i) + "@example.com"}})
	}
	waitFor(t, 20*time.Second, "the reminders", func() bool { return rc.Count() >= 2*bookings })
	// Every scheduler passes twice more: none may fire a reminder again.
	for _, x := range append(others, in) {
		passes := x.app.JobPasses("reminders")
		waitFor(t, 10*time.Second, "two more scheduler passes", func() bool { return x.app.JobPasses("reminders") >= passes+2 })
	}
	seen := map[string]int{}
	for _, r := range rc.All() {
		var e envelope
		json.Unmarshal(r.Body, &e)
		seen[e.Data["id"].(string)+"/"+e.Data["offset"].(string)]++
	}
	if len(seen) != 2*bookings {
		t.Errorf("%d distinct reminders, want %d", len(seen), 2*bookings)
	}
	for k, n := range seen {
		if n != 1 {
			t.Errorf("reminder %s fired %d times", k, n)
		}
	}
}

// TestClusterNotifyWakes publishes through a store that runs no workers:
// an instance whose poll is a minute away delivers at once, so only the
// PostgreSQL notification can have woken it.
func TestClusterNotifyWakes(t *testing.T) {
	needPostgresPass(t)
	db := databaseURL(t)
	in := start(t, map[string]string{"HOOKBOOK_DATABASE_URL": db, "HOOKBOOK_POLL_INTERVAL": "1m"})
	rc := newReceiver(t, nil)
	in.createEndpoint(rc.URL, []string{"*"}, nil)
	time.Sleep(300 * time.Millisecond) // the instance has gone idle with its next poll a minute away

	other, err := dbpkg.Open(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	o, err := (&org.Service{DB: other}).OrganizationByName(t.Context(), "default")
	if err != nil {
		t.Fatal(err)
	}
	sent := time.Now()
	pub := &outbound.Service{DB: other}
	if err := other.Tx(t.Context(), func(tx *dbpkg.Tx) error {
		_, err := pub.PublishTx(t.Context(), tx, outbound.Publication{OrganizationID: o.ID, Type: "booking.created", Data: []byte(`{"n":1}`)})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the delivery", func() bool { return rc.Count() == 1 })
	// The next poll is a minute away: well before it, even on a loaded
	// machine, means the notification woke the instance.
	if took := time.Since(sent); took > 30*time.Second {
		t.Fatalf("delivered after %s: the notification did not wake the instance", took)
	} else {
		t.Logf("delivered %s after a commit made by another process's store", took.Round(time.Millisecond))
	}
}
