// Package e2e tests hookbook end to end: a real instance on 127.0.0.1 with a
// real database, real HTTP receivers, and the public API.
package e2e

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	server "github.com/hookbook/hookbook/internal/server"
	"github.com/hookbook/hookbook/internal/config"
	"github.com/hookbook/hookbook/internal/ids"
	_ "github.com/jackc/pgx/v5/stdlib"
)

const testKey = "hk_test_key_0123456789abcdef"

// instance is a running hookbook.
type instance struct {
	t      testing.TB
	app    *server.App
	url    string
	key    string
	cancel context.CancelFunc
	done   chan error
}

// backend is the database the suite runs against: "sqlite" (default) or
// "postgres" (HOOKBOOK_TEST_BACKEND=postgres). The whole suite runs on each.
func backend() string {
	if b := os.Getenv("HOOKBOOK_TEST_BACKEND"); b != "" {
		return b
	}
	return "sqlite"
}

// databaseURL returns a fresh database for one test: a new SQLite file, or
// a new schema of the PostgreSQL test database (HOOKBOOK_TEST_POSTGRES_URL,
// default postgres://postgres@127.0.0.1:5432/test), dropped afterwards.
func databaseURL(t testing.TB) string {
	t.Helper()
	if backend() != "postgres" {
		return "sqlite:" + filepath.Join(t.TempDir(), "hookbook.db")
	}
	base := os.Getenv("HOOKBOOK_TEST_POSTGRES_URL")
	if base == "" {
		base = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	db, err := sql.Open("pgx", base)
	if err == nil {
		err = db.Ping()
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL is required under CI=true: %v", err)
		}
		t.Skipf("\n\n*** SKIPPED: PostgreSQL is not reachable at %s (%v).\n*** Start it (see .ci/run) to run the suite on PostgreSQL.\n\n", base, err)
	}
	defer db.Close()
	schema := "hb_" + strings.ToLower(strings.ReplaceAll(ids.New("t")[2:], "-", ""))
	if _, err := db.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("pgx", base)
		if err != nil {
			return
		}
		defer db.Close()
		db.Exec("DROP SCHEMA " + schema + " CASCADE")
	})
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return base + sep + "search_path=" + schema
}

// start runs hookbook with env overrides on a fresh database.
func start(t testing.TB, env map[string]string, setup ...func(*server.App)) *instance {
	t.Helper()
	if env == nil {
		env = map[string]string{}
	}
	if _, ok := env["HOOKBOOK_DATABASE_URL"]; !ok {
		env["HOOKBOOK_DATABASE_URL"] = databaseURL(t)
	}
	if _, ok := env["HOOKBOOK_BOOTSTRAP_API_KEY"]; !ok {
		env["HOOKBOOK_BOOTSTRAP_API_KEY"] = testKey
	}
	if _, ok := env["HOOKBOOK_RETRY_SCHEDULE"]; !ok {
		env["HOOKBOOK_RETRY_SCHEDULE"] = "100ms,200ms,300ms"
	}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	level := slog.LevelWarn
	if os.Getenv("HOOKBOOK_TEST_LOG") != "" {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	ctx, cancel := context.WithCancel(context.Background())
	a, err := server.New(ctx, cfg, log)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	for _, f := range setup {
		f(a)
	}
	if err := a.Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	in := &instance{t: t, app: a, url: "http://" + ln.Addr().String(), key: env["HOOKBOOK_BOOTSTRAP_API_KEY"], cancel: cancel, done: make(chan error, 1)}
	go func() { in.done <- a.Serve(ctx, ln) }()
	t.Cleanup(in.stop)
	return in
}

func (in *instance) stop() {
	if in.cancel == nil {
		return
	}
	in.cancel()
	select {
	case <-in.done:
	case <-time.After(60 * time.Second):
		in.t.Error("hookbook did not stop")
	}
	in.app.Close()
	in.cancel = nil
}

// response is a decoded API answer.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r response) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("answer %d is not a JSON object: %v: %s", r.Status, err, r.Body)
	}
	return m
}

func (r response) errorCode(t testing.TB) string {
	t.Helper()
	e, ok := r.json(t)["error"].(map[string]any)
	if !ok {
		t.Fatalf("answer %d has no error object: %s", r.Status, r.Body)
	}
	return fmt.Sprint(e["code"])
}

// do sends a request with the instance's key. body may be a string, []byte or any JSON value.
func (in *instance) do(method, path string, body any) response {
	return in.doKey(in.key, method, path, body)
}

func (in *instance) doKey(key, method, path string, body any) response {
	in.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			in.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, in.url+path, rd)
	if err != nil {
		in.t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		in.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// must sends a request and fails the test unless the status is want.
func (in *instance) must(want int, method, path string, body any) map[string]any {
	in.t.Helper()
	r := in.do(method, path, body)
	if r.Status != want {
		in.t.Fatalf("%s %s = %d, want %d: %s", method, path, r.Status, want, r.Body)
	}
	if len(r.Body) == 0 {
		return nil
	}
	return r.json(in.t)
}

// createEndpoint registers url for events and returns the endpoint object.
func (in *instance) createEndpoint(url string, events []string, extra map[string]any) map[string]any {
	in.t.Helper()
	body := map[string]any{"url": url, "events": events}
	for k, v := range extra {
		body[k] = v
	}
	return in.must(201, "POST", "/api/v1/webhooks", body)
}

func (in *instance) publish(event string, data any) string {
	in.t.Helper()
	return in.must(202, "POST", "/api/v1/events", map[string]any{"event": event, "data": data})["id"].(string)
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// received is one request a receiver got.
type received struct {
	Header http.Header
	Body   []byte
	At     time.Time
}

// receiver is a real HTTP server on 127.0.0.1 that records requests and
// answers with whatever its handler decides.
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	requests []received
	respond  func(w http.ResponseWriter, r *http.Request, n int) // n counts requests from 1
}

func newReceiver(t testing.TB, respond func(w http.ResponseWriter, r *http.Request, n int)) *receiver {
	rc := &receiver{respond: respond}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.requests = append(rc.requests, received{Header: r.Header.Clone(), Body: body, At: time.Now()})
		n := len(rc.requests)
		rc.mu.Unlock()
		if rc.respond != nil {
			rc.respond(w, r, n)
			return
		}
		w.WriteHeader(200)
	}))
	t.Cleanup(rc.Server.Close)
	return rc
}

func (rc *receiver) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.requests)
}

func (rc *receiver) all() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.requests...)
}
