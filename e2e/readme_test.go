package e2e

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hookbook/hookbook/internal/dbtest"
	"github.com/hookbook/hookbook/internal/hookbooktest"
	"github.com/hookbook/hookbook/webhook"
)

// snippet is a fenced code block of the README with its test name: the
// line before each block with a language says `<!-- test: NAME -->`.
type snippet struct{ name, lang, code string }

func readmeSnippets(t *testing.T) map[string]snippet {
	t.Helper()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]snippet{}
	block := regexp.MustCompile("(?ms)^```(\\w*)\\n(.*?)^```$")
	for _, m := range block.FindAllSubmatchIndex(b, -1) {
		lang, code := string(b[m[2]:m[3]]), string(b[m[4]:m[5]])
		if lang == "" || lang == "text" {
			continue // a diagram, not something to run
		}
		before := strings.TrimSpace(string(b[:m[0]]))
		name := ""
		if i := strings.LastIndex(before, "\n"); i >= 0 {
			if mm := regexp.MustCompile(`^<!-- test: (\S+) -->$`).FindStringSubmatch(before[i+1:]); mm != nil {
				name = mm[1]
			}
		}
		if name == "" {
			t.Errorf("README block without a <!-- test: NAME --> line before it:\n%s", code)
			continue
		}
		out[name] = snippet{name, lang, code}
	}
	return out
}

// TestReadmeSnippets runs every command and code block of the README the
// way a reader would, so that none can drift: each block is named, and a
// block this test does not know fails it. Substitutions are limited to
// ports, file locations and ids that only exist at run time.
func TestReadmeSnippets(t *testing.T) {
	t.Parallel()
	snips := readmeSnippets(t)
	known := map[string]func(*testing.T, snippet){
		"run-command": readmeRunCommand, "test-command": readmeTestCommand, "install": readmeInstall,
		"quickstart": nil, "walkthrough": nil, // run together below
		"go-replace":  nil,                   // run by TestReceiverModule
		"image-build": nil, "image-run": nil, // run by TestContainerImage
		"caddyfile": nil, // run by TestReverseProxyCaddy
		"go-verify": readmeGoVerify, "js-verify": readmeJSVerify, "python-verify": readmePythonVerify,
		"js-inbound": readmeInbound, "python-inbound": readmeInbound, "postgres-serve": readmePostgresServe,
		"portal-embed": nil, "portal-run": nil, // run together below
		"js-ordering": readmeOrdering, "first-key": readmeFirstKey, "replay": readmeReplay,
		"throttle":          readmeThrottle,
		"filters":           readmeFilters,
		"transform-example": readmeTransform, "connector-slack": readmeConnector,
		"endpoint-auth": readmeEndpointAuth, "proxy-env": readmeProxyEnv,
		"js-verify-ed25519": readmeJSVerifyEd25519,
		"listen-session":    readmeListen,
	}
	for name := range snips {
		if _, ok := known[name]; !ok {
			t.Errorf("README block %q has no test", name)
		}
	}
	for name, run := range known {
		s, ok := snips[name]
		if !ok {
			t.Errorf("the README lost its %q block", name)
			continue
		}
		if run == nil {
			continue
		}
		t.Run(name, func(t *testing.T) { t.Parallel(); run(t, s) })
	}
	t.Run("portal-embed+portal-run", func(t *testing.T) {
		t.Parallel()
		readmePortalEmbed(t, snips["portal-embed"], snips["portal-run"])
	})
	t.Run("quickstart+walkthrough", func(t *testing.T) {
		t.Parallel()
		readmeQuickstart(t, snips["quickstart"], snips["walkthrough"])
	})
}

func repoRoot(t *testing.T) string {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// runBash runs script with bash -euo pipefail in dir, in a process group
// that dies with the test (with the servers the script leaves in the
// background), and returns its output.
func runBash(t *testing.T, dir, script string, env ...string) (string, error) {
	t.Helper()
	c := hookbooktest.Command(t, "bash", "-euo", "pipefail", "-c", script)
	c.Dir = dir
	c.Env = append(os.Environ(), env...)
	logs := startLogged(t, c)
	var err error
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	select {
	case err = <-done:
	case <-time.After(10 * time.Minute): // compiling on a loaded machine is slow
		err = fmt.Errorf("timed out")
	}
	hookbooktest.KillGroup(c) // background servers the script started
	return logs(), err
}

// startLogged starts c with its output in a file, not a pipe (servers it
// leaves in the background would keep a pipe open, and output is read
// while they still write), and returns a reader of the output so far.
func startLogged(t *testing.T, c *exec.Cmd) (logs func() string) {
	t.Helper()
	out, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { out.Close() })
	c.Stdout, c.Stderr = out, out
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	return func() string { b, _ := os.ReadFile(out.Name()); return string(b) }
}

// waitReady waits up to d (what names the wait) until hookbook at addr
// answers 200 on /readyz.
func waitReady(t *testing.T, d time.Duration, what, addr string) {
	t.Helper()
	waitFor(t, d, what, func() bool {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
}

func readmeRunCommand(t *testing.T, s snippet) {
	if strings.TrimSpace(s.code) != "go run ./cmd/hookbook serve" {
		t.Fatalf("the run command changed: %q; update this test", s.code)
	}
	addr := freePort(t)
	// go run's compiled program is a child of go: the group takes both.
	c := hookbooktest.Command(t, "bash", "-c", "exec "+s.code)
	c.Dir = repoRoot(t)
	c.Env = append(os.Environ(), "HOOKBOOK_ADDR="+addr, "HOOKBOOK_DATABASE_URL=sqlite:"+filepath.Join(t.TempDir(), "hookbook.db"))
	logs := startLogged(t, c) // read while the server still writes
	defer func() { hookbooktest.KillGroup(c); c.Wait() }()
	waitReady(t, 10*time.Minute, "the run command to serve", addr)
	waitFor(t, time.Minute, "the generated key on stderr", func() bool {
		return strings.Contains(logs(), "its API key, shown only now: hk_")
	})
}

func readmeTestCommand(t *testing.T, s snippet) {
	// The test command runs this very suite; CI runs it, with every core
	// kept busy, through scripts/test-loaded as .ci/run's last line.
	ci, err := os.ReadFile("../.ci/run")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(ci)), "\n")
	if last := lines[len(lines)-1]; last != "bash scripts/test-loaded" {
		t.Errorf(".ci/run ends with %q, want bash scripts/test-loaded", last)
	}
	loaded, err := os.ReadFile("../scripts/test-loaded")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(strings.TrimSpace(s.code)) + `$`).Match(loaded) {
		t.Errorf("scripts/test-loaded does not run the README's test command %q on a line of its own", s.code)
	}
	readme, _ := os.ReadFile("../README.md")
	if !strings.Contains(string(readme), "bash scripts/test-loaded") {
		t.Error("the README does not mention bash scripts/test-loaded")
	}
}

func readmeInstall(t *testing.T, s snippet) {
	dir := t.TempDir()
	script := strings.ReplaceAll(s.code, "-o hookbook ", "-o "+filepath.Join(dir, "hookbook")+" ")
	if out, err := runBash(t, repoRoot(t), script, "GOBIN="+filepath.Join(dir, "bin")); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, bin := range []string{filepath.Join(dir, "hookbook"), filepath.Join(dir, "bin", "hookbook")} {
		if out, err := hookbooktest.Command(t, bin, "version").Output(); err != nil || !strings.HasPrefix(string(out), "hookbook ") {
			t.Errorf("%s version: %v %s", bin, err, out)
		}
	}
}

func readmeQuickstart(t *testing.T, quick, walk snippet) {
	for _, tool := range []string{"curl", "jq", "python3"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the quickstart needs %s", tool)
		}
	}
	dir := t.TempDir()
	api, recv := freePort(t), freePort(t)
	_, apiPort, _ := strings.Cut(api, ":")
	_, recvPort, _ := strings.Cut(recv, ":")
	script := quick.code + "\n" + walk.code + "\n" +
		`curl -s "localhost:8080/api/v1/events?limit=100" -H "$K" > events.json` + "\n" +
		// The first delivery's attempts, once its first attempt is recorded.
		`for i in $(seq 600); do curl -s localhost:8080/api/v1/deliveries/$DLV -H "$K" > delivery.json; ` +
		`jq -e '.attempts[] | select(.attempt == 1)' delivery.json > /dev/null && break; sleep 0.1; done` + "\n"
	script = strings.NewReplacer(
		"localhost:8080", "localhost:"+apiPort,
		"9000", recvPort,
		"sqlite:quickstart.db", "sqlite:"+filepath.Join(dir, "quickstart.db"),
		"go run ./cmd/hookbook", "go run -C "+repoRoot(t)+" ./cmd/hookbook",
	).Replace(script)
	out, err := runBash(t, dir, script, "HOOKBOOK_ADDR=127.0.0.1:"+apiPort, "HOOKBOOK_RETRY_SCHEDULE=1s")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{`"id":"ep_`, `"secret":"whsec_`, `{"id":"evt_`, `"attempts":[`, `"data":[{"id":"dlv_`, `"requeued"`, `"status":"confirmed"`} {
		if !strings.Contains(out, want) {
			t.Errorf("the quickstart's output lacks %s:\n%s", want, out)
		}
	}
	// The receiver listens before the first event goes out: attempt 1 gets
	// its answer (501 to a POST), not a refused connection.
	b, _ := os.ReadFile(filepath.Join(dir, "delivery.json"))
	var delivery struct {
		Attempts []struct {
			Attempt    int
			StatusCode *int `json:"status_code"`
			Error      *string
		}
	}
	json.Unmarshal(b, &delivery)
	first := false
	for _, a := range delivery.Attempts {
		if a.Attempt != 1 {
			continue
		}
		first = true
		if a.StatusCode == nil || *a.StatusCode != 501 {
			t.Errorf("the quickstart's attempt 1 got status %v, error %v; want the receiver's 501", orNil(a.StatusCode), orNil(a.Error))
		}
	}
	if !first {
		t.Errorf("the quickstart's delivery has no attempt 1: %s", b)
	}
	b, _ = os.ReadFile(filepath.Join(dir, "events.json"))
	var events struct{ Data []struct{ Event string } }
	json.Unmarshal(b, &events)
	seen := map[string]bool{}
	for _, e := range events.Data {
		seen[e.Event] = true
	}
	for _, want := range []string{"lead.qualified", "booking.created", "slot.created", "customer.created", "booking.confirmed", "booking.updated",
		"booking.rescheduled", "payment.succeeded", "payment.failed", "payment.refunded", "booking.completed",
		"review.created", "community_event.approved", "community_event.activated", "webhook.test"} {
		if !seen[want] {
			t.Errorf("the walkthrough did not publish %s (got %v)", want, seen)
		}
	}
}

// orNil is *p, or nil when p is nil.
func orNil[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

// signed returns a delivery body and its headers as hookbook sends them.
func signed(t *testing.T, secret string) ([]byte, http.Header) {
	body := []byte(`{"id":"evt_1","event":"booking.created","timestamp":"2026-03-24T14:30:00Z","organization_id":"org_1","data":{"id":"bkg_1"}}`)
	h := http.Header{}
	if err := webhook.SignHeaders(h, "X-Hookbook", webhook.SchemeTimestamped, "evt_1", time.Now(), body, []string{secret}); err != nil {
		t.Fatal(err)
	}
	return body, h
}

const readmeSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

func readmeGoVerify(t *testing.T, s snippet) {
	dir := t.TempDir()
	lib := filepath.Join(repoRoot(t), "webhook")
	files := map[string]string{
		"go.mod": "module example.com/receiver\n\ngo 1.21\n\nrequire github.com/hookbook/hookbook/webhook v0.0.0\n\nreplace github.com/hookbook/hookbook/webhook => " + lib + "\n",
		// The snippet as printed, with the imports its body uses.
		"handler.go": "package main\n\nimport (\n\t\"io\"\n\t\"net/http\"\n\t\"os\"\n)\n\n" + s.code,
		"main.go": `package main

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"time"

	"github.com/hookbook/hookbook/webhook"
)

func main() {
	srv := httptest.NewServer(http.HandlerFunc(handle))
	defer srv.Close()
	body := []byte(` + "`" + `{"id":"evt_1"}` + "`" + `)
	for _, secret := range []string{os.Getenv("HOOKBOOK_SECRET"), "whsec_` + "b3RoZXItc2VjcmV0LW90aGVyLXNlY3JldA==" + `"} {
		h := http.Header{}
		webhook.SignHeaders(h, "X-Hookbook", "timestamped", "evt_1", time.Now(), body, []string{secret})
		req, _ := http.NewRequest("POST", srv.URL, bytes.NewReader(body))
		req.Header = h
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		fmt.Println(resp.StatusCode)
	}
}
`,
	}
	for name, text := range files {
		os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644)
	}
	out, err := runBash(t, dir, "go run .", "HOOKBOOK_SECRET="+readmeSecret, "GOFLAGS=-mod=mod", "GOTOOLCHAIN=local", "GOWORK=off")
	if err != nil || strings.Fields(out)[0] != "200" || !strings.HasSuffix(strings.TrimSpace(out), "401") {
		t.Errorf("the Go verifier: %v\n%s", err, out)
	}
}

// runVerifier runs a verifier snippet (JavaScript or Python) on a signed
// delivery, a tampered one and one signed with another secret.
func runVerifier(t *testing.T, s snippet, tool, file, harness string) {
	hookbooktest.RequireTool(t, tool)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, file), []byte(s.code+"\n"+harness), 0o644)
	body, h := signed(t, readmeSecret)
	headers := map[string]string{}
	for k, v := range h {
		headers[strings.ToLower(k)] = v[0] // as Node and most frameworks present them
	}
	var results []string
	for _, c := range []struct {
		body   []byte
		secret string
	}{{body, readmeSecret}, {append([]byte(nil), append(body, ' ')...), readmeSecret}, {body, "whsec_b3RoZXItc2VjcmV0LW90aGVyLXNlY3JldA=="}} {
		in, _ := json.Marshal(map[string]any{"body": string(c.body), "headers": headers, "secret": c.secret})
		cmd := hookbooktest.Command(t, tool, file)
		cmd.Dir = dir
		cmd.Stdin = bytes.NewReader(in)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", tool, file, err, out)
		}
		results = append(results, strings.TrimSpace(string(out)))
	}
	if strings.Join(results, " ") != "true false false" {
		t.Errorf("%s verifier on (good, tampered, other secret) = %v", s.lang, results)
	}
}

func readmeJSVerify(t *testing.T, s snippet) {
	runVerifier(t, s, "node", "verify.cjs", `
const input = JSON.parse(require("fs").readFileSync(0, "utf8"));
console.log(verify(input.body, input.headers, input.secret));
`)
}

func readmePythonVerify(t *testing.T, s snippet) {
	runVerifier(t, s, "python3", "verify.py", `
import json, sys
inp = json.load(sys.stdin)
print("true" if verify(inp["body"].encode(), inp["headers"], inp["secret"]) else "false")
`)
}

// readmeInbound sends the README's inbound command snippet (Node or Python)
// to a live instance whose inbound commands are on with the scopes and
// targets the snippets use.
func readmeInbound(t *testing.T, s snippet) {
	tool, file := "node", "send.mjs"
	if s.lang == "python" {
		tool, file = "python3", "send.py"
	}
	hookbooktest.RequireTool(t, tool)
	in := start(t, nil)
	in.must(200, "PUT", "/api/v1/settings/inbound", map[string]any{"enabled": true, "secret": inboundSecret,
		"scopes": []string{"admin.appointments", "public.community"}})
	svc := in.must(201, "POST", "/api/v1/services", map[string]any{"name": "Tour", "duration_minutes": 60, "capacity": 5, "requires_approval": true})
	slot := in.must(201, "POST", "/api/v1/slots", map[string]any{"service_id": svc["id"], "starts_at": "2030-03-25T14:00:00Z", "ends_at": "2030-03-25T15:00:00Z"})
	bkg := in.must(201, "POST", "/api/v1/bookings", map[string]any{"slot_id": slot["id"], "participants": 1, "customer": map[string]any{"name": "Jane", "email": "jane@example.com"}})
	in.must(201, "POST", "/api/v1/community-events", map[string]any{"slug": "summer-meetup", "title": "Summer meetup", "starts_at": "2030-07-01T18:00:00Z", "approvals_required": 1})
	code := strings.NewReplacer("http://localhost:8080", in.url, "bkg_…", bkg["id"].(string)).Replace(s.code)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, file), []byte(code), 0o644)
	cmd := hookbooktest.Command(t, tool, file)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "INBOUND_SECRET="+inboundSecret)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), `"ok":true`) {
		t.Errorf("%s inbound snippet: %v\n%s", s.lang, err, out)
	}
}

// readmeOrdering feeds the ordering snippet real events of one booking out
// of order, repeated, and one without a key: it applies the newest and the
// keyless one, and drops the stale and the repeated.
func readmeOrdering(t *testing.T, s snippet) {
	hookbooktest.RequireTool(t, "node")
	in := start(t, nil)
	var evs []map[string]any
	for i := range 3 {
		id := in.must(202, "POST", "/api/v1/events", map[string]any{"event": "booking.updated", "ordering_key": "bkg_01JQ2Z8Y5V4N6T7R8S9A0B1C2D",
			"data": hookbooktest.Data("booking.updated", map[string]any{"participants": i + 1})})["id"].(string)
		evs = append(evs, in.must(200, "GET", "/api/v1/events/"+id, nil))
	}
	in.must(201, "POST", "/api/v1/event-types", map[string]any{"name": "lead.qualified", "description": "x"})
	free := in.must(200, "GET", "/api/v1/events/"+in.publish("lead.qualified", map[string]any{"lead": 1}), nil)
	if evs[0]["ordering_key"] != "bkg_01JQ2Z8Y5V4N6T7R8S9A0B1C2D" || free["ordering_key"] != nil {
		t.Fatalf("events: %v / %v", evs[0], free)
	}
	feed := []map[string]any{evs[1], evs[0], evs[2], evs[2], free}
	input, _ := json.Marshal(feed)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "order.cjs"), []byte(s.code+`
const applied = [];
for (const e of JSON.parse(require("fs").readFileSync(0, "utf8"))) applyInOrder(e, (x) => applied.push(x.id));
console.log(JSON.stringify(applied));
`), 0o644)
	cmd := hookbooktest.Command(t, "node", "order.cjs")
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(input)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	want, _ := json.Marshal([]any{evs[1]["id"], evs[2]["id"], free["id"]})
	if strings.TrimSpace(string(out)) != string(want) {
		t.Errorf("applied %s, want %s", out, want)
	}
}

func readmePostgresServe(t *testing.T, s snippet) {
	pg := hookbooktest.PostgresURL(t)
	bin := buildBinary(t)
	addr := freePort(t)
	// The test URL has "&" and "?": quoted, as a reader would quote theirs.
	script := strings.NewReplacer("postgres://user:pass@db:5432/hookbook", "'"+pg+"'", "hookbook serve", bin+" serve").Replace(strings.TrimSpace(s.code))
	if !strings.Contains(script, bin) || !strings.Contains(script, pg) {
		t.Fatalf("the PostgreSQL example changed: %q; update this test", s.code)
	}
	dir := t.TempDir()
	c := hookbooktest.Command(t, "bash", "-c", script)
	c.Dir = dir
	c.Env = append(os.Environ(), "HOOKBOOK_ADDR="+addr, "HOOKBOOK_BOOTSTRAP_API_KEY="+testKey)
	logs := startLogged(t, c)
	defer func() { hookbooktest.KillGroup(c); c.Wait() }()
	waitReady(t, 2*time.Minute, "hookbook on PostgreSQL", addr)
	// The instance that answers is the one on PostgreSQL: its tables are in
	// the test's schema, and no SQLite file appeared where it runs.
	db, err := sql.Open("pgx", strings.Replace(pg, "&"+dbtest.PoolOption, "", 1))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var tables int
	if err := db.QueryRow(`SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()`).Scan(&tables); err != nil || tables == 0 {
		t.Errorf("no hookbook table in the test's PostgreSQL schema (%d, %v); the command's output:\n%s", tables, err, logs())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("the PostgreSQL example wrote into its working directory: %v", entries)
	}
}

// TestReadmeDocumentsEverySetting: every HOOKBOOK_* variable the
// configuration reads appears in the README.
func TestReadmeDocumentsEverySetting(t *testing.T) {
	hookbooktest.OncePerSuite(t)
	t.Parallel()
	src, err := os.ReadFile("../internal/config/config.go")
	if err != nil {
		t.Fatal(err)
	}
	readme, _ := os.ReadFile("../README.md")
	vars := regexp.MustCompile(`"(HOOKBOOK_[A-Z_]+)"`).FindAllStringSubmatch(string(src), -1)
	if len(vars) < 20 {
		t.Fatalf("only %d settings found", len(vars))
	}
	for _, v := range vars {
		if !strings.Contains(string(readme), "`"+v[1]+"`") {
			t.Errorf("%s is not documented in the README", v[1])
		}
	}
}

// TestReadmeListsDoNotRepeat: no two bullets of one README list say the
// same thing. Two bullets repeat each other when most words (of three
// letters or more) of the shorter one are in the other.
func TestReadmeListsDoNotRepeat(t *testing.T) {
	hookbooktest.OncePerSuite(t)
	t.Parallel()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := regexp.MustCompile("(?ms)^```.*?^```$").ReplaceAllString(string(b), "")
	var lists [][]string
	var cur []string
	for _, line := range strings.Split(text, "\n") {
		switch {
		case strings.HasPrefix(line, "- "):
			cur = append(cur, line[2:])
		case strings.HasPrefix(line, "  ") && strings.TrimSpace(line) != "" && len(cur) > 0:
			cur[len(cur)-1] += " " + strings.TrimSpace(line)
		default:
			if len(cur) > 0 {
				lists = append(lists, cur)
			}
			cur = nil
		}
	}
	if len(cur) > 0 {
		lists = append(lists, cur)
	}
	if len(lists) < 5 {
		t.Fatalf("only %d lists found in the README", len(lists))
	}
	word := regexp.MustCompile(`[a-z0-9_-]{3,}`)
	words := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, w := range word.FindAllString(strings.ToLower(s), -1) {
			m[w] = true
		}
		return m
	}
	for _, list := range lists {
		for i := range list {
			for j := i + 1; j < len(list); j++ {
				a, b := words(list[i]), words(list[j])
				if len(b) < len(a) {
					a, b = b, a
				}
				shared := 0
				for w := range a {
					if b[w] {
						shared++
					}
				}
				if len(a) > 0 && float64(shared)/float64(len(a)) >= 0.7 {
					t.Errorf("two README bullets say the same:\n- %s\n- %s", list[i], list[j])
				}
			}
		}
	}
}
