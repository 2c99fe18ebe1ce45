package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/hookbook/hookbook/internal/hookbooktest"
	"github.com/hookbook/hookbook/internal/org"
	"github.com/hookbook/hookbook/internal/outbound"
	"github.com/hookbook/hookbook/webhook"
)

// listener is a running `hookbook listen` (the real binary) with its
// output in files.
type listener struct {
	cmd      *exec.Cmd
	out, err string
	done     chan error
}

// startListen runs the binary's listen command against in with args.
func startListen(t testing.TB, in *instance, args ...string) *listener {
	t.Helper()
	dir := t.TempDir()
	l := &listener{out: filepath.Join(dir, "out"), err: filepath.Join(dir, "err"), done: make(chan error, 1)}
	c := hookbooktest.Command(t, buildBinary(t), append([]string{"listen", "--url", in.url}, args...)...)
	c.Env = append(os.Environ(), "HOOKBOOK_API_KEY="+in.key)
	stdout, _ := os.Create(l.out)
	stderr, _ := os.Create(l.err)
	t.Cleanup(func() { stdout.Close(); stderr.Close() })
	c.Stdout, c.Stderr = stdout, stderr
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	l.cmd = c
	go func() { l.done <- c.Wait() }()
	return l
}

func (l *listener) stderr() string { b, _ := os.ReadFile(l.err); return string(b) }
func (l *listener) stdout() string { b, _ := os.ReadFile(l.out); return string(b) }

var (
	secretLine   = regexp.MustCompile(`signing secret of this listener is (whsec_\S+)`)
	endpointLine = regexp.MustCompile(`as endpoint (ep_\S+)`)
)

// ready waits for the listener's ready lines and returns its endpoint id
// and secret.
func (l *listener) ready(t *testing.T) (endpointID, secret string) {
	t.Helper()
	waitFor(t, time.Minute, "hookbook listen to be ready", func() bool { return secretLine.MatchString(l.stderr()) })
	all := l.stderr()
	ids := endpointLine.FindAllStringSubmatch(all, -1)
	secrets := secretLine.FindAllStringSubmatch(all, -1)
	return ids[len(ids)-1][1], secrets[len(secrets)-1][1]
}

func (l *listener) kill() {
	hookbooktest.KillGroup(l.cmd)
	<-l.done
}

// TestListenRelaysSignedDeliveries: a local receiver gets the listener's
// events with valid Standard Webhooks signatures, each type at the URL
// its --forward-to names; the attempt records the local answer; another
// organization's events never reach the listener.
func TestListenRelaysSignedDeliveries(t *testing.T) {
	t.Parallel()
	in := start(t, nil)
	main := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) { w.WriteHeader(200); w.Write([]byte("main ok")) })
	cancels := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) { w.WriteHeader(202) })
	l := startListen(t, in, "--name", "laptop", "--events", "booking.*,payment.succeeded", "--print-json",
		"--forward-to", main.URL+"/hooks", "--forward-to", "booking.cancelled="+cancels.URL+"/cancel")
	epID, secret := l.ready(t)

	// Another organization publishes first: it must never arrive.
	ctx := context.Background()
	otherKey := org.NewAPIKey()
	if _, err := in.app.Orgs.CreateOrganization(ctx, "other", otherKey); err != nil {
		t.Fatal(err)
	}
	in.DoKey(otherKey, "POST", "/api/v1/events", map[string]any{"event": "booking.created", "data": hookbooktest.Data("booking.created", nil)})
	created := in.Publish("booking.created", nil)
	cancelled := in.Publish("booking.cancelled", nil)
	paid := in.Publish("payment.succeeded", nil)
	in.Publish("customer.created", nil) // not a pattern of the listener's
	waitFor(t, time.Minute, "the routed deliveries", func() bool { return main.Count() >= 2 && cancels.Count() >= 1 })

	orgID := in.must(200, "GET", "/api/v1/webhooks/"+epID, nil)["organization_id"]
	check := func(rc *receiver, path string, want ...string) {
		t.Helper()
		var got []string
		for _, r := range rc.All() {
			if err := webhook.Verify(secret, r.Header, r.Body); err != nil {
				t.Errorf("%s: the signature does not verify with the printed secret: %v", path, err)
			}
			var env struct {
				ID             string `json:"id"`
				OrganizationID string `json:"organization_id"`
			}
			json.Unmarshal(r.Body, &env)
			if env.OrganizationID != orgID {
				t.Errorf("%s got an event of organization %s", path, env.OrganizationID)
			}
			got = append(got, env.ID)
		}
		if strings.Join(got, ",") != strings.Join(want, ",") && !(len(want) == 2 && strings.Join(got, ",") == want[1]+","+want[0]) {
			t.Errorf("%s got events %v, want %v", path, got, want)
		}
	}
	check(main, "/hooks", created, paid)
	check(cancels, "/cancel", cancelled)

	// The attempt is the local answer.
	waitFor(t, time.Minute, "the attempts recorded", func() bool {
		d := in.must(200, "GET", "/api/v1/webhooks/"+epID+"/deliveries?status=succeeded", nil)
		return len(d["data"].([]any)) == 3
	})
	dl := in.must(200, "GET", "/api/v1/webhooks/"+epID+"/deliveries", nil)["data"].([]any)
	for _, d := range dl {
		detail := in.must(200, "GET", "/api/v1/deliveries/"+d.(map[string]any)["id"].(string), nil)
		a := detail["attempts"].([]any)[0].(map[string]any)
		if d.(map[string]any)["event"] == "booking.cancelled" {
			if a["status_code"] != float64(202) {
				t.Errorf("booking.cancelled attempt: %v", a)
			}
		} else if a["status_code"] != float64(200) || a["response_body"] != "main ok" {
			t.Errorf("%v attempt: %v", d.(map[string]any)["event"], a)
		}
	}
	// One JSON line per delivery.
	waitFor(t, time.Minute, "three lines", func() bool { return strings.Count(l.stdout(), "\n") >= 3 })
	for _, line := range strings.Split(strings.TrimSpace(l.stdout()), "\n") {
		var v struct {
			EventID string `json:"event_id"`
			Status  int
			URL     string
		}
		if err := json.Unmarshal([]byte(line), &v); err != nil || v.Status/100 != 2 || v.URL == "" {
			t.Errorf("line %q: %v", line, err)
		}
	}
	// The endpoint shows where it listens from, and cannot be given a URL.
	ep := in.must(200, "GET", "/api/v1/webhooks/"+epID, nil)
	if ep["type"] != "listen" || ep["description"] != "listening from laptop" {
		t.Errorf("listening endpoint: %v", ep)
	}
	if r := in.do("PATCH", "/api/v1/webhooks/"+epID, map[string]any{"url": "http://example.com"}); r.Status != 422 {
		t.Errorf("PATCH url of a listening endpoint = %d %s", r.Status, r.Body)
	}
	if n := main.Count() + cancels.Count(); n != 3 {
		t.Errorf("%d deliveries reached the receivers, want 3", n)
	}
}

// TestListenReconnectKeepsOrder: what is published while the listener is
// away waits; the same listener started again (same endpoint, same
// secret) gets it, in order for an ordered endpoint.
func TestListenReconnectKeepsOrder(t *testing.T) {
	t.Parallel()
	in := start(t, map[string]string{"HOOKBOOK_RETRY_SCHEDULE": "1s"})
	rc := newReceiver(t, nil)
	args := []string{"--name", "ordered", "--events", "booking.created", "--forward-to", rc.URL}
	l := startListen(t, in, args...)
	epID, secret := l.ready(t)
	in.must(200, "PATCH", "/api/v1/webhooks/"+epID, map[string]any{"ordered": true})
	l.kill()
	waitFor(t, time.Minute, "the hub to forget the listener", func() bool { return !in.app.Relay.Connected(epID) })

	const n = 5
	for i := 0; i < n; i++ {
		in.must(202, "POST", "/api/v1/events", map[string]any{"event": "booking.created",
			"data": hookbooktest.Data("booking.created", nil), "ordering_key": "bkg_same"})
	}
	// The first is tried and fails while nobody listens; the others wait behind it.
	waitFor(t, time.Minute, "an attempt while away", func() bool {
		d := in.must(200, "GET", "/api/v1/webhooks/"+epID+"/deliveries", nil)["data"].([]any)
		for _, x := range d {
			if x.(map[string]any)["attempts"].(float64) > 0 {
				return true
			}
		}
		return false
	})
	if rc.Count() != 0 {
		t.Fatalf("%d deliveries arrived while nobody listened", rc.Count())
	}
	l2 := startListen(t, in, args...)
	ep2, secret2 := l2.ready(t)
	if ep2 != epID || secret2 != secret {
		t.Errorf("restarted listener: endpoint %s secret %s…, want the same endpoint %s and secret", ep2, secret2[:10], epID)
	}
	waitFor(t, time.Minute, "every waiting delivery", func() bool { return rc.Count() >= n })
	var last float64
	for i, r := range rc.All() {
		if err := webhook.Verify(secret, r.Header, r.Body); err != nil {
			t.Errorf("delivery %d: %v", i, err)
		}
		var env struct{ Sequence float64 }
		json.Unmarshal(r.Body, &env)
		if env.Sequence <= last {
			t.Errorf("delivery %d has sequence %v after %v: out of order", i, env.Sequence, last)
		}
		last = env.Sequence
	}
	if rc.Count() != n {
		t.Errorf("%d deliveries, want %d", rc.Count(), n)
	}
}

// TestListenInAScript: --exit-after ends listen with 0 once every
// delivery succeeded and 1 when one failed, in a shell script that also
// uses trigger, events list|get and deliveries resend.
func TestListenInAScript(t *testing.T) {
	t.Parallel()
	in := start(t, nil)
	rc := newReceiver(t, nil)
	script := `
"$HB" listen --name ci --events booking.created --forward-to "$RECV" --exit-after 2 > ok.out 2> ok.err &
L=$!
until grep -q 'signing secret' ok.err; do sleep 0.1; done
"$HB" trigger booking.created --data '{"participants":2,"customer":{"name":"Ada"}}' > evt1
"$HB" trigger booking.created > evt2
wait $L
echo "ok exit $?"
"$HB" events get "$(cat evt1)" > event.json
"$HB" events list --event booking.created --limit 5 > events.json
DLV=$(jq -r '.deliveries[0].id' event.json)
"$HB" deliveries resend "$DLV"
# A local app that refuses: exit status 1.
"$HB" listen --name ci-fail --events payment.succeeded --forward-to http://127.0.0.1:9/ --exit-after 1 > fail.out 2> fail.err &
L=$!
until grep -q 'signing secret' fail.err; do sleep 0.1; done
"$HB" trigger payment.succeeded > /dev/null
if wait $L; then echo "fail exit 0"; else echo "fail exit $?"; fi
`
	dir := t.TempDir()
	out, err := runBash(t, dir, script, "HB="+buildBinary(t), "RECV="+rc.URL, "HOOKBOOK_URL="+in.url, "HOOKBOOK_API_KEY="+in.key)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "ok exit 0") || !strings.Contains(out, "fail exit 1") {
		t.Errorf("exit statuses:\n%s", out)
	}
	if !strings.Contains(out, `"status":"pending"`) && !strings.Contains(out, "dlv_") {
		t.Errorf("deliveries resend printed no answer:\n%s", out)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "event.json"))
	var ev struct {
		Event string
		Data  struct {
			Participants float64
			Customer     map[string]any
		}
	}
	if err := json.Unmarshal(b, &ev); err != nil || ev.Event != "booking.created" || ev.Data.Participants != 2 || ev.Data.Customer["name"] != "Ada" || ev.Data.Customer["email"] == nil {
		t.Errorf("events get of the triggered event (data merged over the example): %v %s", err, b)
	}
	b, _ = os.ReadFile(filepath.Join(dir, "ok.out"))
	if lines := strings.Count(string(b), "\n"); lines != 2 || strings.Count(string(b), "[200]") != 2 {
		t.Errorf("listen printed:\n%s", b)
	}
}

// TestListenBounds: the listen route refuses plain requests, bad names and
// the organization's listener beyond MaxListeners; a listener gone for the
// grace period loses its endpoint.
func TestListenBounds(t *testing.T) {
	t.Parallel()
	in := start(t, nil)
	short := start(t, map[string]string{"HOOKBOOK_LISTEN_GRACE": "1s"})
	if r := in.do("GET", "/api/v1/listen", nil); r.Status != 426 || r.ErrorCode(t) != "websocket_required" {
		t.Errorf("GET /api/v1/listen without an upgrade = %d %s", r.Status, r.Body)
	}
	dial := func(in *instance, query string) (*websocket.Conn, *http.Response, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, resp, err := websocket.Dial(ctx, strings.Replace(in.url, "http", "ws", 1)+"/api/v1/listen?"+query,
			&websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + in.key}}})
		if c != nil {
			t.Cleanup(func() { c.CloseNow() })
		}
		return c, resp, err
	}
	if _, resp, err := dial(in, "events=booking.created"); err == nil || resp == nil || resp.StatusCode != 422 {
		t.Errorf("a listener without a name: %v %v", err, resp)
	}
	if _, resp, err := dial(in, "name=x&events=nope"); err == nil || resp == nil || resp.StatusCode != 422 {
		t.Errorf("a listener of an unknown event: %v %v", err, resp)
	}
	ctx := context.Background()
	o, err := in.app.Orgs.OrganizationByAPIKey(ctx, in.key)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < outbound.MaxListeners; i++ {
		if _, err := in.app.Outbound.RegisterListener(ctx, o.ID, "box"+string(rune('a'+i)), []string{"*"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, resp, err := dial(in, "name=one-too-many"); err == nil || resp == nil || resp.StatusCode != 403 {
		t.Errorf("listener %d: %v %v", outbound.MaxListeners+1, err, resp)
	}
	// A listener of the same name and patterns is the same endpoint, not one more.
	if _, resp, err := dial(in, "name=boxa&events=*"); err != nil {
		t.Errorf("a known listener reconnecting at the limit: %v %v", err, resp)
	}

	// Not connected: after the grace period its endpoint is gone.
	so, err := short.app.Orgs.OrganizationByAPIKey(ctx, short.key)
	if err != nil {
		t.Fatal(err)
	}
	gone, err := short.app.Outbound.RegisterListener(ctx, so.ID, "gone", []string{"*"})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Minute, "the reaper", func() bool { return short.do("GET", "/api/v1/webhooks/"+gone.ID, nil).Status == 404 })
	conn, _, err := dial(short, "name=live")
	if err != nil {
		t.Fatalf("a live listener: %v", err)
	}
	_, msg, err := conn.Read(ctx)
	if err != nil || !strings.Contains(string(msg), `"type":"ready"`) {
		t.Fatalf("ready: %v %s", err, msg)
	}
	var ready struct {
		EndpointID string `json:"endpoint_id"`
	}
	json.Unmarshal(msg, &ready)
	conn.CloseRead(ctx) // answers the pings from now on
	// A live connection outlives several grace periods (pings keep it seen).
	passes := short.app.JobPasses("listeners")
	waitFor(t, time.Minute, "several reaper passes", func() bool { return short.app.JobPasses("listeners") > passes+12 })
	if r := short.do("GET", "/api/v1/webhooks/"+ready.EndpointID, nil); r.Status != 200 {
		t.Fatalf("a connected listener's endpoint answered %d", r.Status)
	}
}
