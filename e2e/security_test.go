package e2e

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBackupIsPrivate: `hookbook backup` writes a file only its owner may
// read (it holds endpoint secrets), whatever the umask, also when a backup
// of the same name is made again after the old one was removed.
func TestBackupIsPrivate(t *testing.T) {
	t.Parallel()
	if backend() != "sqlite" {
		t.Skip("SQLite only: PostgreSQL is backed up with pg_dump")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	live := "sqlite:" + filepath.Join(dir, "live.db")
	in := start(t, map[string]string{"HOOKBOOK_DATABASE_URL": live})
	in.createEndpoint("http://127.0.0.1:9/hooks", []string{"*"}, nil)
	for _, umask := range []string{"000", "022", "077", "000"} {
		file := filepath.Join(dir, "copy.db")
		os.Remove(file)
		c := exec.Command("/bin/sh", "-c", `umask `+umask+` && exec "$0" backup "$1"`, bin, file)
		c.Env = append(os.Environ(), "HOOKBOOK_DATABASE_URL="+live)
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("umask %s: backup: %v %s", umask, err, out)
		}
		st, err := os.Stat(file)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("umask %s: the backup's mode is %v, want -rw-------", umask, st.Mode().Perm())
		}
		if st.Size() == 0 {
			t.Errorf("umask %s: the backup is empty", umask)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".copy.db.*")); len(left) != 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
}

// TestServePortInUse: `hookbook serve` on a port in use (its own or the
// metrics port) fails at once with a clear error and a non-zero exit,
// before creating anything: no organization, no one-time key printed.
func TestServePortInUse(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for name, env := range map[string][]string{
		"HOOKBOOK_ADDR":         {"HOOKBOOK_ADDR=" + busy.Addr().String()},
		"HOOKBOOK_METRICS_ADDR": {"HOOKBOOK_ADDR=" + freePort(t), "HOOKBOOK_METRICS_ADDR=" + busy.Addr().String()},
	} {
		dbURL := databaseURL(t)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		c := exec.CommandContext(ctx, bin, "serve")
		c.Env = append(append(os.Environ(), "HOOKBOOK_DATABASE_URL="+dbURL), env...)
		out, err := c.CombinedOutput()
		cancel()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
			t.Errorf("%s in use: serve ended with %v, want exit 1\n%s", name, err, out)
		}
		if want := name + ": listen tcp " + busy.Addr().String() + ": bind: address already in use"; !strings.Contains(string(out), want) {
			t.Errorf("%s in use: output lacks %q:\n%s", name, want, out)
		}
		if strings.Contains(string(out), "organization") || strings.Contains(string(out), "hk_") {
			t.Errorf("%s in use: serve bootstrapped before failing:\n%s", name, out)
		}
		c = exec.Command(bin, "org", "list")
		c.Env = append(os.Environ(), "HOOKBOOK_DATABASE_URL="+dbURL)
		if list, err := c.Output(); err != nil || strings.Contains(string(list), "org_") {
			t.Errorf("%s in use: organizations after the failed start: %v %s", name, err, list)
		}
	}
}

// TestHSTS: Strict-Transport-Security is sent on every answer when
// hookbook serves TLS or its public URL is https (TLS ends at a proxy),
// never over plain http otherwise.
func TestHSTS(t *testing.T) {
	t.Parallel()
	certFile, keyFile, pool := selfSigned(t)
	tlsClient := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	plain := &http.Client{CheckRedirect: tlsClient.CheckRedirect}
	for _, tc := range []struct {
		name   string
		env    map[string]string
		client *http.Client
		scheme string
		want   string
	}{
		{"TLS", map[string]string{"HOOKBOOK_TLS_CERT_FILE": certFile, "HOOKBOOK_TLS_KEY_FILE": keyFile}, tlsClient, "https", "max-age=31536000"},
		{"https public URL", map[string]string{"HOOKBOOK_PUBLIC_URL": "https://hooks.example.com"}, plain, "http", "max-age=31536000"},
		{"http public URL", map[string]string{"HOOKBOOK_PUBLIC_URL": "http://127.0.0.1:8080"}, plain, "http", ""},
		{"plain http", nil, plain, "http", ""},
	} {
		in := start(t, tc.env)
		base := tc.scheme + "://" + strings.TrimPrefix(in.url, "http://")
		for _, path := range []string{"/healthz", "/api/v1/webhooks", "/login", "/settings/webhooks", "/nope"} {
			resp, err := tc.client.Get(base + path)
			if err != nil {
				t.Fatalf("%s: GET %s: %v", tc.name, path, err)
			}
			resp.Body.Close()
			if got := resp.Header.Get("Strict-Transport-Security"); got != tc.want {
				t.Errorf("%s: GET %s (%d): Strict-Transport-Security = %q, want %q", tc.name, path, resp.StatusCode, got, tc.want)
			}
		}
		in.stop()
	}
}

// TestDuplicateKeyWording: data with a key twice is refused with a message
// that reads naturally and names where the key is.
func TestDuplicateKeyWording(t *testing.T) {
	t.Parallel()
	in := start(t, nil)
	in.must(201, "POST", "/api/v1/event-types", map[string]any{"name": "tour.note", "description": "A note about a tour"})
	for data, want := range map[string]string{
		`{"a":1,"a":2}`:                     `the key "a" appears twice`,
		`{"guest":{"name":"A","name":"B"}}`: `the key "name" appears twice in guest`,
	} {
		r := in.do("POST", "/api/v1/events", `{"event":"tour.note","data":`+data+`}`)
		var body struct {
			Error struct {
				Code    string
				Details map[string]string
			}
		}
		if err := json.Unmarshal(r.Body, &body); err != nil || r.Status != 422 || body.Error.Code != "validation_failed" || body.Error.Details["data"] != want {
			t.Errorf("data %s = %d %s, want 422 with data: %s", data, r.Status, r.Body, want)
		}
	}
}

// TestRecoverSaysWhy: a recover that queues nothing says why in "reason";
// one that queues something has no reason.
func TestRecoverSaysWhy(t *testing.T) {
	t.Parallel()
	in := start(t, nil)
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) { w.WriteHeader(503) })
	ep := in.createEndpoint(rc.URL, []string{"*"}, map[string]any{"max_attempts": 1})["id"].(string)
	path := "/api/v1/webhooks/" + ep + "/recover"
	since := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	r := in.must(202, "POST", path, map[string]string{"since": since})
	if r["requeued"] != 0.0 || r["reason"] != "the endpoint has no failed deliveries" {
		t.Errorf("recover with no deliveries = %v", r)
	}
	in.publish("customer.created", map[string]any{"n": 1})
	var failedAt string
	waitFor(t, 10*time.Second, "the failure", func() bool {
		l := in.must(200, "GET", "/api/v1/webhooks/"+ep+"/deliveries?status=failed", nil)["data"].([]any)
		if len(l) == 1 {
			failedAt = l[0].(map[string]any)["created_at"].(string)
		}
		return len(l) == 1
	})
	created, err := time.Parse(time.RFC3339Nano, failedAt)
	if err != nil {
		t.Fatal(err)
	}
	later := created.Add(2 * time.Second).UTC().Format(time.RFC3339)
	r = in.must(202, "POST", path, map[string]string{"since": later})
	want := "no failed deliveries since " + later + " (the newest failed one was created at " + created.UTC().Format(time.RFC3339) + ")"
	if r["requeued"] != 0.0 || r["reason"] != want {
		t.Errorf("recover since after the failure = %v, want reason %q", r, want)
	}
	r = in.must(202, "POST", path, map[string]string{"since": since})
	if _, has := r["reason"]; r["requeued"] != 1.0 || has {
		t.Errorf("recover of one failed delivery = %v, want requeued 1 and no reason", r)
	}
}
