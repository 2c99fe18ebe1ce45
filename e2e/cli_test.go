package e2e

import (
	"bytes"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hookbook/hookbook/internal/hookbooktest"
)

// TestCLIHelp: --help on every command prints its help and exits 0 without
// touching anything (no database file appears, no server starts); bad
// input gets a precise error and exit 1.
func TestCLIHelp(t *testing.T) {
	hookbooktest.OncePerSuite(t)
	t.Parallel()
	bin := buildBinary(t)
	dir := t.TempDir()
	cli := func(args ...string) (string, string, int) {
		c := hookbooktest.Command(t, bin, args...)
		c.Dir = dir
		c.Env = append(os.Environ(), "HOOKBOOK_DATABASE_URL=sqlite:"+filepath.Join(dir, "hookbook.db"), "HOOKBOOK_ADDR=127.0.0.1:1")
		var out, errb bytes.Buffer
		c.Stdout, c.Stderr = &out, &errb
		err := c.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return out.String(), errb.String(), code
	}
	for _, cmd := range []string{"serve", "migrate", "backup", "org create", "org list", "key create", "key list", "key revoke", "inbound send", "verify", "healthcheck", "version"} {
		for _, h := range []string{"--help", "-h"} {
			out, errOut, code := cli(append(strings.Fields(cmd), h)...)
			if code != 0 || !strings.HasPrefix(out, "usage: hookbook "+cmd) || errOut != "" {
				t.Errorf("%s %s: exit %d, stdout %q, stderr %q", cmd, h, code, out, errOut)
			}
		}
	}
	for _, args := range [][]string{{"--help"}, {"help"}, {"org", "--help"}, {"key", "-h"}} {
		if out, _, code := cli(args...); code != 0 || !strings.Contains(out, "commands:") {
			t.Errorf("%v: exit %d: %s", args, code, out)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("--help left files behind: %v", entries)
	}
	for args, want := range map[string]string{
		"org create":                      "--name is required",
		"key create --org org_x":          "--name is required",
		"key revoke --org o":              "--id is required",
		"serve extra":                     `unexpected argument "extra"`,
		"org create --nmae x":             "flag provided but not defined: -nmae",
		"nope":                            `unknown command "nope"`,
		"org":                             `"org" needs a command`,
		"backup":                          "usage: hookbook backup FILE",
		"inbound send --url u --secret s": "--action is required",
		"healthcheck":                     "http://127.0.0.1:1/readyz",
	} {
		_, errOut, code := cli(strings.Fields(args)...)
		if code != 1 || !strings.Contains(errOut, want) {
			t.Errorf("%s: exit %d, stderr %q, want %q", args, code, errOut, want)
		}
	}
	// Unknown values of enumerated settings stop the server at start.
	c := hookbooktest.Command(t, bin, "serve")
	c.Dir = dir
	c.Env = append(os.Environ(), "HOOKBOOK_LOG_FORMAT=xml", "HOOKBOOK_DATABASE_URL=sqlite:"+filepath.Join(dir, "x.db"))
	if out, err := c.CombinedOutput(); err == nil || !strings.Contains(string(out), `HOOKBOOK_LOG_FORMAT: "xml" is neither text nor json`) {
		t.Errorf("HOOKBOOK_LOG_FORMAT=xml: %v %s", err, out)
	}
}

// TestCLINewDatabase: a command run on a SQLite database that does not
// exist (another directory, another URL than the server's) says that it
// created a new one, and backup refuses to copy nothing.
func TestCLINewDatabase(t *testing.T) {
	t.Parallel()
	if backend() != "sqlite" {
		t.Skip("SQLite only: a PostgreSQL database is never created by hookbook")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "new.db")
	run := func(args ...string) (string, error) {
		c := hookbooktest.Command(t, bin, args...)
		c.Dir = dir
		c.Env = append(os.Environ(), "HOOKBOOK_DATABASE_URL=sqlite:new.db")
		var errb bytes.Buffer
		c.Stderr = &errb
		err := c.Run()
		return errb.String(), err
	}
	if errOut, err := run("backup", filepath.Join(dir, "copy.db")); err == nil || !strings.Contains(errOut, "no database at "+file+";") {
		t.Errorf("backup of no database: %v, stderr %q", err, errOut)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("backup of no database left files behind: %v", entries)
	}
	if errOut, err := run("org", "create", "--name", "acme"); err != nil || !strings.Contains(errOut, "no database was at "+file+": created a new, empty one") {
		t.Errorf("org create on no database: %v, stderr %q", err, errOut)
	}
	if errOut, err := run("org", "list"); err != nil || strings.Contains(errOut, "created") {
		t.Errorf("org list on the database just made: %v, stderr %q", err, errOut)
	}
}

// TestBackupAndRestore copies a live SQLite database with `hookbook backup`
// while the server runs with deliveries pending, then starts a fresh
// instance on the copy: it delivers what was pending.
func TestBackupAndRestore(t *testing.T) {
	t.Parallel()
	if backend() != "sqlite" {
		t.Skip("SQLite only: PostgreSQL is backed up with pg_dump")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	live := "sqlite:" + filepath.Join(dir, "live.db")
	// The receiver is down at first: every delivery stays pending.
	down := freePort(t)
	p := startProc(t, freePort(t), map[string]string{"HOOKBOOK_DATABASE_URL": live, "HOOKBOOK_RETRY_SCHEDULE": "2s"})
	if code, body, _ := p.post("/api/v1/webhooks", map[string]any{"url": "http://" + down + "/hooks", "events": []string{"*"}}); code != 201 {
		t.Fatalf("create endpoint = %d %s", code, body)
	}
	var ids []string
	for i := 0; i < 20; i++ {
		code, body, _ := p.post("/api/v1/events", map[string]any{"event": "booking.created", "data": bookingData(map[string]any{"n": i})})
		if code != 202 {
			t.Fatalf("publish = %d", code)
		}
		ids = append(ids, string(body))
	}
	copyFile := filepath.Join(dir, "copy.db")
	c := hookbooktest.Command(t, bin, "backup", copyFile)
	c.Env = append(os.Environ(), "HOOKBOOK_DATABASE_URL="+live)
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("backup: %v %s", err, out)
	}
	// A second backup to the same file is refused rather than overwriting it.
	c = hookbooktest.Command(t, bin, "backup", copyFile)
	c.Env = append(os.Environ(), "HOOKBOOK_DATABASE_URL="+live)
	if out, err := c.CombinedOutput(); err == nil || !strings.Contains(string(out), "exists") {
		t.Errorf("backup over an existing file: %v %s", err, out)
	}
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done

	// Restore: a fresh instance on the copy, with the receiver now up.
	var got atomic.Int64
	ln, err := net.Listen("tcp", down)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got.Add(1) }))
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	startProc(t, freePort(t), map[string]string{"HOOKBOOK_DATABASE_URL": "sqlite:" + copyFile, "HOOKBOOK_RETRY_SCHEDULE": "2s"})
	waitFor(t, 30*time.Second, "the pending deliveries from the restored copy", func() bool { return got.Load() >= int64(len(ids)) })
}

// TestVerifyCommand: `hookbook verify` says a captured delivery verifies
// with its endpoint's secret, and why it does not with another secret or
// a changed body.
func TestVerifyCommand(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t)
	in := start(t, nil)
	rc := newReceiver(t, nil)
	ep := in.createEndpoint(rc.URL, []string{"*"}, map[string]any{"signature_scheme": "body_hex"})
	secret := ep["secret"].(string)
	in.publish("booking.created", map[string]any{"name": "Zoë <b>"})
	waitFor(t, 5*time.Second, "the delivery", func() bool { return rc.Count() == 1 })
	got := rc.All()[0]
	dump := func(body []byte) string {
		var b strings.Builder
		b.WriteString("POST /hooks HTTP/1.1\r\nHost: receiver.example\r\n")
		for k, vs := range got.Header {
			if k == "Content-Length" {
				continue
			}
			b.WriteString(k + ": " + vs[0] + "\r\n")
		}
		b.WriteString("Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n")
		b.Write(body)
		return b.String()
	}
	run := func(stdin string, args ...string) (string, int) {
		c := hookbooktest.Command(t, bin, append([]string{"verify"}, args...)...)
		c.Stdin = strings.NewReader(stdin)
		out, err := c.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		return string(out), code
	}
	out, code := run(dump(got.Body), "--secret", secret, "--scheme", "body_hex")
	if code != 0 || !strings.Contains(out, "webhook-signature: verifies") || !strings.Contains(out, "X-Hookbook-Signature: verifies (scheme body_hex)") {
		t.Errorf("the real delivery: exit %d\n%s", code, out)
	}
	out, code = run(dump(got.Body), "--secret", "whsec_b3RoZXItc2VjcmV0LW90aGVyLXNlY3JldA==", "--scheme", "body_hex")
	if code != 1 || !strings.Contains(out, "no signature matches this secret") {
		t.Errorf("another secret: exit %d\n%s", code, out)
	}
	out, code = run(dump(append(got.Body, '\n')), "--secret", secret, "--scheme", "body_hex")
	if code != 1 || !strings.Contains(out, "does not verify") {
		t.Errorf("a changed body: exit %d\n%s", code, out)
	}
	if out, code = run("not http", "--secret", secret); code != 1 || !strings.Contains(out, "not an HTTP request dump") {
		t.Errorf("garbage on stdin: exit %d\n%s", code, out)
	}

	// An ed25519 endpoint's delivery verifies with its public key alone.
	rc2 := newReceiver(t, nil)
	ed := in.createEndpoint(rc2.URL, []string{"*"}, map[string]any{"signature_algorithm": "ed25519"})
	pk := ed["public_key"].(string)
	in.publish("booking.created", map[string]any{"name": "Zoë <b>"})
	waitFor(t, 5*time.Second, "the ed25519 delivery", func() bool { return rc2.Count() == 1 })
	got = rc2.All()[0]
	out, code = run(dump(got.Body), "--public-key", pk)
	if code != 0 || !strings.Contains(out, "webhook-signature: verifies") || !strings.Contains(out, "X-Hookbook-Signature: not checked") {
		t.Errorf("the ed25519 delivery with its public key: exit %d\n%s", code, out)
	}
	if out, code = run(dump(got.Body), "--secret", pk); code != 0 {
		t.Errorf("the public key given as --secret: exit %d\n%s", code, out)
	}
	out, code = run(dump(append(got.Body, '\n')), "--public-key", pk)
	if code != 1 || !strings.Contains(out, "no v1a signature verifies with this public key") {
		t.Errorf("the ed25519 delivery with a changed body: exit %d\n%s", code, out)
	}
	if out, code = run(dump(got.Body), "--public-key", "whpk_c2hvcnQ="); code != 1 || !strings.Contains(out, "invalid public key") {
		t.Errorf("a malformed public key: exit %d\n%s", code, out)
	}
}
