package e2e

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hookbook/hookbook/internal/hookbooktest"
)

// proc is the real hookbook binary running in its own process.
type proc struct {
	t    *testing.T
	cmd  *exec.Cmd
	url  string
	key  string
	logs *bytes.Buffer
	done chan error
}

func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startProc runs `hookbook serve` with env and waits until it is ready.
func startProc(t *testing.T, addr string, env map[string]string) *proc {
	t.Helper()
	return startProcWith(t, buildBinary(t), addr, env, "http://"+addr, nil)
}

// startCmd returns the command of `hookbook serve` on addr with env.
func startCmd(bin, addr string, env map[string]string) *exec.Cmd {
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(), "HOOKBOOK_ADDR="+addr, "HOOKBOOK_BOOTSTRAP_API_KEY="+testKey)
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	return cmd
}

// startProcWith starts bin in a directory of the test's own and waits
// until base+"/readyz" answers 200, trusting pool's certificates for an
// https base. The process dies with the test, however the test ends.
func startProcWith(t *testing.T, bin, addr string, env map[string]string, base string, pool *x509.CertPool) *proc {
	t.Helper()
	cmd := startCmd(bin, addr, env)
	cmd.Dir = t.TempDir() // whatever it writes by default stays in the test's directory
	hookbooktest.Contain(t, cmd)
	p := &proc{t: t, cmd: cmd, url: base, key: testKey, logs: &bytes.Buffer{}, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = p.logs, p.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { err := cmd.Wait(); close(exited); p.done <- err }()
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			hookbooktest.KillGroup(cmd)
			<-exited
		}
	})
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	// A loaded machine may take long to start a process: a bound on
	// readiness, not a measure of it.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		resp, err := client.Get(p.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("hookbook did not become ready: %s", p.logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *proc) get(path string) (int, []byte, error) { return p.do("GET", path, nil) }

func (p *proc) post(path string, body any) (int, []byte, error) {
	b, _ := json.Marshal(body)
	return p.do("POST", path, bytes.NewReader(b))
}

// do sends a request with the process's key.
func (p *proc) do(method, path string, body io.Reader) (int, []byte, error) {
	req, _ := http.NewRequest(method, p.url+path, body)
	req.Header.Set("Authorization", "Bearer "+p.key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out, nil
}

// idReceiver counts arrivals per event id.
type idReceiver struct {
	*http.Server
	url     string
	mu      sync.Mutex
	seen    map[string]int
	arrived int // requests that arrived, answered or not
}

// newIDReceiver starts an idReceiver. With hold, a request is answered
// once hold is closed (or its client gives up); without, at once.
func newIDReceiver(t *testing.T, hold <-chan struct{}) *idReceiver {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &idReceiver{url: "http://" + ln.Addr().String(), seen: map[string]int{}}
	r.Server = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		io.Copy(io.Discard, req.Body)
		r.mu.Lock()
		r.arrived++
		r.mu.Unlock()
		if hold != nil {
			select {
			case <-hold:
			case <-req.Context().Done():
				return
			}
		}
		r.mu.Lock()
		r.seen[req.Header.Get("Webhook-Id")]++
		r.mu.Unlock()
		w.WriteHeader(200)
	})}
	go r.Serve(ln)
	t.Cleanup(func() { r.Close() })
	return r
}

func (r *idReceiver) counts() (unique, total int, dup int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, n := range r.seen {
		unique++
		total += n
		dup += n - 1
	}
	return
}

func (r *idReceiver) has(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seen[id] > 0
}

// TestKill9LosesNothing publishes 2,000 events to a local receiver, kills
// the real binary with SIGKILL mid-stream, starts it again on the same
// database and checks that every event acknowledged with 202 arrived.
func TestKill9LosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test skipped in -short mode")
	}
	rc := newIDReceiver(t, nil)
	db := databaseURL(t)
	addr := freePort(t)
	env := map[string]string{"HOOKBOOK_DATABASE_URL": db, "HOOKBOOK_RETRY_SCHEDULE": "100ms", "HOOKBOOK_LEASE": "3s"}
	p := startProc(t, addr, env)
	if code, body, err := p.post("/api/v1/webhooks", map[string]any{"url": rc.url, "events": []string{"*"}}); err != nil || code != 201 {
		t.Fatalf("create endpoint: %d %s %v", code, body, err)
	}

	const total = 2000
	var (
		mu    sync.Mutex
		acked []string
		sent  atomic.Int64
		wg    sync.WaitGroup
	)
	killed := make(chan struct{})
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				n := sent.Add(1)
				if n > total {
					return
				}
				code, body, err := p.post("/api/v1/events", map[string]any{"event": "booking.created", "data": bookingData(map[string]any{"n": n})})
				if err != nil {
					select {
					case <-killed:
						return // the process is gone: this event was never acknowledged
					default:
						t.Errorf("publish: %v", err)
						return
					}
				}
				if code == 202 {
					var out struct{ ID string }
					json.Unmarshal(body, &out)
					mu.Lock()
					acked = append(acked, out.ID)
					mu.Unlock()
				}
			}
		}()
	}
	// Kill once about half the events were acknowledged.
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= total/2 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	close(killed)
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.done
	wg.Wait()
	mu.Lock()
	ackedAtKill := len(acked)
	mu.Unlock()
	unique, _, _ := rc.counts()
	t.Logf("killed with %d events acknowledged, %d delivered", ackedAtKill, unique)

	// Start again on the same database; publish the rest.
	p2 := startProc(t, addr, env)
	for n := sent.Load(); n <= total; n++ {
		code, body, err := p2.post("/api/v1/events", map[string]any{"event": "booking.created", "data": bookingData(map[string]any{"n": n})})
		if err != nil || code != 202 {
			t.Fatalf("publish after restart: %d %v", code, err)
		}
		var out struct{ ID string }
		json.Unmarshal(body, &out)
		acked = append(acked, out.ID)
	}
	waitFor(t, 60*time.Second, "every acknowledged event", func() bool {
		for _, id := range acked {
			if !rc.has(id) {
				return false
			}
		}
		return true
	})
	unique, all, dups := rc.counts()
	t.Logf("acknowledged %d, received %d distinct events in %d requests: %d duplicates (%.2f %%)",
		len(acked), unique, all, dups, 100*float64(dups)/float64(all))
	fmt.Fprintf(os.Stderr, "kill -9 test: %d acknowledged, %d duplicates\n", len(acked), dups)
}

// TestGracefulShutdown sends SIGTERM to the real binary while attempts are
// in flight: the process stops taking requests, lets the attempts finish,
// records them and exits 0; whatever was not attempted yet is delivered
// after a restart, and nothing twice. (What the engine does at a stop is
// internal/delivery's TestDispatcherShutdown.)
func TestGracefulShutdown(t *testing.T) {
	hold := make(chan struct{})
	rc := newIDReceiver(t, hold)
	db := databaseURL(t)
	addr := freePort(t)
	env := map[string]string{"HOOKBOOK_DATABASE_URL": db, "HOOKBOOK_ENDPOINT_CONCURRENCY": "4"}
	p := startProc(t, addr, env)
	code, body, err := p.post("/api/v1/webhooks", map[string]any{"url": rc.url, "events": []string{"*"}})
	if err != nil || code != 201 {
		t.Fatalf("create endpoint: %d %s %v", code, body, err)
	}
	var ep struct{ ID string }
	json.Unmarshal(body, &ep)
	// More than the endpoint's 4 slots and the 16 deliveries that may wait
	// for them in memory: some wait in the database whatever the timing.
	var ids []string
	for i := 0; i < 24; i++ {
		code, body, err := p.post("/api/v1/events", map[string]any{"event": "booking.created", "data": bookingData(map[string]any{"n": i})})
		if err != nil || code != 202 {
			t.Fatalf("publish: %d %v", code, err)
		}
		var out struct{ ID string }
		json.Unmarshal(body, &out)
		ids = append(ids, out.ID)
	}
	waitFor(t, 10*time.Second, "attempts in flight", func() bool {
		rc.mu.Lock()
		defer rc.mu.Unlock()
		return rc.arrived > 0
	})
	p.cmd.Process.Signal(syscall.SIGTERM)
	// The attempts in flight are answered once the process has begun its
	// stop (it no longer takes requests).
	waitFor(t, time.Minute, "the stop to begin", func() bool { _, _, err := p.get("/readyz"); return err != nil })
	close(hold)
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, p.logs)
		}
	case <-time.After(2 * time.Minute): // a bound, generous for a loaded machine
		t.Fatal("no exit after SIGTERM")
	}
	before, _, _ := rc.counts()
	if before == 0 || before == len(ids) {
		t.Fatalf("%d of %d delivered before the stop; the test wants some in flight and some waiting", before, len(ids))
	}
	// The attempts in flight at SIGTERM finished and were recorded: after
	// a restart they are not sent again.
	p2 := startProc(t, addr, env)
	deadline := time.Now().Add(2 * time.Minute)
	for u, _, _ := rc.counts(); u < len(ids); u, _, _ = rc.counts() {
		if time.Now().After(deadline) {
			_, pending, _ := p2.get("/api/v1/webhooks/" + ep.ID + "/deliveries?status=pending")
			t.Fatalf("only %d of %d events delivered 2 min after the restart; pending: %s\nfirst run:\n%s\nsecond run:\n%s", u, len(ids), pending, p.logs, p2.logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Once no delivery is pending, nothing more can be sent.
	waitFor(t, 10*time.Second, "no pending delivery", func() bool {
		code, body, err := p2.get("/api/v1/webhooks/" + ep.ID + "/deliveries?status=pending")
		return err == nil && code == 200 && strings.Contains(string(body), `"data":[]`)
	})
	_, _, dups := rc.counts()
	if dups != 0 {
		t.Errorf("%d duplicates after a graceful stop, want 0", dups)
	}
}
