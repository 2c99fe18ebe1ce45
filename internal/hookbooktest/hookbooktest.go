// Package hookbooktest starts real hookbook instances for tests: a fresh
// database (from internal/dbtest: a SQLite file, or a schema of the test
// PostgreSQL), a real HTTP server on 127.0.0.1, helpers for API calls, real
// receivers that record what they get, and contained processes. Every
// package's tests may use it; a package that needs only a database uses
// internal/dbtest, which does not compile the application.
package hookbooktest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookbook/hookbook/internal/config"
	"github.com/hookbook/hookbook/internal/dbtest"
	"github.com/hookbook/hookbook/internal/event"
	"github.com/hookbook/hookbook/internal/outboundtest"
	"github.com/hookbook/hookbook/internal/server"
)

// Key is the API key of the default organization of every started instance.
const Key = "hk_test_key_0123456789abcdef0123456789"

// Backend is the database tests run against: "sqlite" (default) or
// "postgres" (HOOKBOOK_TEST_BACKEND=postgres). It is dbtest.Backend.
func Backend() string { return dbtest.Backend() }

// OncePerSuite marks a test whose subject does not depend on the database
// (the repository's own files, the command line's help, the receivers'
// module, an accessibility checker, a reverse proxy's configuration) or
// that runs on both databases by itself (StartEach): it runs when the
// end-to-end suite runs on SQLite, and skips, saying so, when the suite
// runs again on PostgreSQL.
func OncePerSuite(t testing.TB) {
	t.Helper()
	if Backend() == "postgres" {
		t.Skip("runs in the SQLite run of the suite: what it checks does not depend on the database")
	}
}

// DatabaseURL returns a fresh database of Backend for one test
// (dbtest.URL).
func DatabaseURL(t testing.TB) string { t.Helper(); return dbtest.URL(t) }

// SQLiteURL returns a new SQLite file in the test's temporary directory
// (dbtest.SQLiteURL).
func SQLiteURL(t testing.TB) string { return dbtest.SQLiteURL(t) }

// PostgresURL returns a new schema of the PostgreSQL test database, dropped
// after the test, skipped loudly without PostgreSQL except under CI=true
// (dbtest.PostgresURL).
func PostgresURL(t testing.TB) string { t.Helper(); return dbtest.PostgresURL(t) }

// Instance is a running hookbook.
type Instance struct {
	T      testing.TB
	App    *server.App
	URL    string
	Key    string
	cancel context.CancelFunc
	done   chan error
}

// Start runs hookbook with env overrides on a fresh database (unless env
// names one) and stops it when the test ends. Unless overridden, the
// default organization's key is Key and retries wait 100, 200 and 300 ms.
// setup runs on the wired instance before it bootstraps and serves.
func Start(t testing.TB, env map[string]string, setup ...func(*server.App)) *Instance {
	t.Helper()
	e := map[string]string{}
	for k, v := range env {
		e[k] = v
	}
	if _, ok := e["HOOKBOOK_DATABASE_URL"]; !ok {
		e["HOOKBOOK_DATABASE_URL"] = DatabaseURL(t)
	}
	if _, ok := e["HOOKBOOK_BOOTSTRAP_API_KEY"]; !ok {
		e["HOOKBOOK_BOOTSTRAP_API_KEY"] = Key
	}
	if _, ok := e["HOOKBOOK_RETRY_SCHEDULE"]; !ok {
		e["HOOKBOOK_RETRY_SCHEDULE"] = "100ms,200ms,300ms"
	}
	cfg, err := config.Load(func(k string) string { return e[k] })
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
		cancel()
		a.Close()
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		a.Close()
		t.Fatal(err)
	}
	in := &Instance{T: t, App: a, URL: "http://" + ln.Addr().String(), Key: e["HOOKBOOK_BOOTSTRAP_API_KEY"], cancel: cancel, done: make(chan error, 1)}
	go func() { in.done <- a.Serve(ctx, ln) }()
	t.Cleanup(in.Stop)
	return in
}

// Stop shuts the instance down gracefully and closes its database. It may
// be called more than once.
func (in *Instance) Stop() {
	if in.cancel == nil {
		return
	}
	in.cancel()
	select {
	case <-in.done:
	case <-time.After(60 * time.Second):
		in.T.Error("hookbook did not stop")
	}
	in.App.Close()
	in.cancel = nil
}

// Response is an API answer.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the answer as a JSON object.
func (r Response) JSON(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("answer %d is not a JSON object: %v: %s", r.Status, err, r.Body)
	}
	return m
}

// ErrorCode returns the code of an error answer.
func (r Response) ErrorCode(t testing.TB) string {
	t.Helper()
	e, ok := r.JSON(t)["error"].(map[string]any)
	if !ok {
		t.Fatalf("answer %d has no error object: %s", r.Status, r.Body)
	}
	return fmt.Sprint(e["code"])
}

// Do sends a request with the instance's key. body may be a string, []byte
// or any JSON value.
func (in *Instance) Do(method, path string, body any) Response {
	return in.DoKey(in.Key, method, path, body)
}

// DoKey sends a request with key ("" for none).
func (in *Instance) DoKey(key, method, path string, body any) Response {
	in.T.Helper()
	return in.DoHeader(key, method, path, body, nil)
}

// DoHeader sends a request with key ("" for none) and extra headers.
func (in *Instance) DoHeader(key, method, path string, body any, header http.Header) Response {
	in.T.Helper()
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
			in.T.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, in.URL+path, rd)
	if err != nil {
		in.T.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		in.T.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	Answers.add(Answer{Method: method, Path: req.URL.Path, Status: resp.StatusCode, ContentType: resp.Header.Get("Content-Type"), Body: b})
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// Must sends a request and fails the test unless the status is want; it
// returns the decoded JSON object (nil for an empty body).
func (in *Instance) Must(want int, method, path string, body any) map[string]any {
	in.T.Helper()
	r := in.Do(method, path, body)
	if r.Status != want {
		in.T.Fatalf("%s %s = %d, want %d: %s", method, path, r.Status, want, r.Body)
	}
	if len(r.Body) == 0 {
		return nil
	}
	return r.JSON(in.T)
}

// CreateEndpoint registers url for events (with extra fields) and returns
// the endpoint object.
func (in *Instance) CreateEndpoint(url string, events []string, extra map[string]any) map[string]any {
	in.T.Helper()
	body := map[string]any{"url": url, "events": events}
	for k, v := range extra {
		body[k] = v
	}
	return in.Must(201, "POST", "/api/v1/webhooks", body)
}

// Publish publishes an event and returns its id. For a built-in type,
// data given as a map (or nil) is set on top of the catalog's example
// (Data), so that it passes the catalog schema.
func (in *Instance) Publish(typ string, data any) string {
	in.T.Helper()
	fields, isMap := data.(map[string]any)
	if _, builtin := event.LookupBuiltin(typ); builtin && (isMap || data == nil) {
		data = Data(typ, fields)
	}
	return in.Must(202, "POST", "/api/v1/events", map[string]any{"event": typ, "data": data})["id"].(string)
}

// minWait is the shortest time WaitFor waits before it gives up.
const minWait = 2 * time.Minute

// WaitFor polls cond every 10 ms until it holds, failing the test after d,
// or after two minutes when d is shorter: a wait is a bound for what must
// happen, not a measure of how fast it happens, and a loaded machine may
// take seconds for what takes milliseconds on a quiet one. A test that
// asserts speed measures it itself, with a bound that holds under load.
func WaitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	if d < minWait {
		d = minWait
	}
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Received is one request a receiver got.
type Received struct {
	Header http.Header
	Body   []byte
	At     time.Time
}

// Receiver is a real HTTP server on 127.0.0.1 that records requests and
// answers with whatever its Respond function decides (200 when nil).
type Receiver struct {
	*httptest.Server
	mu       sync.Mutex
	requests []Received
	notify   chan struct{}
	// Respond answers request number n (from 1).
	Respond func(w http.ResponseWriter, r *http.Request, n int)
}

// NewReceiver starts a receiver, closed when the test ends.
func NewReceiver(t testing.TB, respond func(w http.ResponseWriter, r *http.Request, n int)) *Receiver {
	rc := &Receiver{Respond: respond, notify: make(chan struct{}, 1)}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.requests = append(rc.requests, Received{Header: r.Header.Clone(), Body: body, At: time.Now()})
		n := len(rc.requests)
		respond := rc.Respond
		rc.mu.Unlock()
		select {
		case rc.notify <- struct{}{}:
		default:
		}
		if respond != nil {
			respond(w, r, n)
			return
		}
		w.WriteHeader(200)
	}))
	t.Cleanup(rc.Server.Close)
	return rc
}

// Count returns how many requests arrived.
func (rc *Receiver) Count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.requests)
}

// All returns the requests so far.
func (rc *Receiver) All() []Received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]Received(nil), rc.requests...)
}

// StartEach runs fn as a subtest with an instance on each backend, SQLite
// and PostgreSQL, for edge cases that must hold on both. Having run on
// both, it runs once per suite (OncePerSuite).
func StartEach(t *testing.T, fn func(t *testing.T, in *Instance)) {
	OncePerSuite(t)
	dbtest.EachURL(t, func(t *testing.T, url string) { fn(t, Start(t, map[string]string{"HOOKBOOK_DATABASE_URL": url})) })
}

// Answer is one API answer a test received, kept to be checked against the
// OpenAPI document.
type Answer struct {
	Method, Path string
	Status       int
	ContentType  string
	Body         []byte
}

// Answers holds the answers received through Do, DoKey and DoHeader: at
// most a few per method, path and status, so that memory stays bounded.
var Answers = &answerLog{seen: map[string]int{}}

type answerLog struct {
	mu   sync.Mutex
	seen map[string]int
	list []Answer
}

// maxAnswersPerKind bounds the answers kept per method, path and status.
const maxAnswersPerKind = 5

func (l *answerLog) add(a Answer) {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := fmt.Sprintf("%s %s %d", a.Method, a.Path, a.Status)
	if l.seen[k] >= maxAnswersPerKind || len(l.list) >= 20000 {
		return
	}
	l.seen[k]++
	l.list = append(l.list, a)
}

// All returns the answers kept so far.
func (l *answerLog) All() []Answer {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Answer(nil), l.list...)
}

// RequireTool skips the test loudly when the command-line tool is not
// installed, except under CI=true, where it fails: CI installs it.
func RequireTool(t testing.TB, tool string) {
	t.Helper()
	if _, err := exec.LookPath(tool); err == nil {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is required under CI=true", tool)
	}
	t.Skipf("\n\n*** SKIPPED: %s is not installed; install it to run this test.\n\n", tool)
}

// Data returns data that the catalog schema of the built-in event type typ
// accepts (the catalog's example), with fields set on top: tests publish
// built-in types only with data their receivers could rely on.
func Data(typ string, fields map[string]any) map[string]any {
	return outboundtest.Data(typ, fields)
}
