package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"mime/quotedprintable"
	"net/http"
	netmail "net/mail"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/mail/mailtest"
	"github.com/hookbook/hookbook/internal/outbound"
	server "github.com/hookbook/hookbook/internal/server"
)

// lockedBuffer is a log sink tests read while the instance writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// mailOf is a mail the test server took: its subject and decoded body.
func mailOf(t *testing.T, m mailtest.Message) (subject, body string) {
	t.Helper()
	msg, err := netmail.ReadMessage(bytes.NewReader(m.Data))
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
	if err != nil {
		t.Fatal(err)
	}
	return msg.Header.Get("Subject"), strings.ReplaceAll(string(b), "\r\n", "\n")
}

// TestAlertsToOwners: an endpoint that fails is reported to a watching
// endpoint (delivery.failing, endpoint.disabled, delivery.recovered) and
// mailed to its alert_emails through a real SMTP server: failing, to be
// disabled, disabled, recovered, each once; what is published while it is
// disabled is kept skipped and replayed in one step once it is enabled;
// the SMTP password is in no log line and no answer.
func TestAlertsToOwners(t *testing.T) {
	t.Parallel()
	smtpd := mailtest.Start(t, mailtest.Plain, "hookbook", "smtp-pa55word")
	logs := &lockedBuffer{}
	in := start(t, map[string]string{
		"HOOKBOOK_SMTP_URL": "smtp://hookbook:smtp-pa55word@" + smtpd.Addr, "HOOKBOOK_SMTP_FROM": "alerts@hooks.example.com",
		"HOOKBOOK_DISABLE_AFTER": "4s", "HOOKBOOK_RETRY_SCHEDULE": "100ms", "HOOKBOOK_FAILING_AFTER": "2",
		"HOOKBOOK_POLL_INTERVAL": "100ms", "HOOKBOOK_PUBLIC_URL": "https://hooks.example.com",
	}, func(a *server.App) {
		l := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		a.Log, a.Outbound.Log = l, l
	})
	var healthy atomic.Bool
	target := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if !healthy.Load() {
			w.WriteHeader(503)
		}
	})
	watcher := newReceiver(t, nil)
	in.createEndpoint(watcher.URL, []string{"delivery.*", "endpoint.*"}, nil)
	// alert_emails are validated.
	if r := in.do("POST", "/api/v1/webhooks", map[string]any{"url": target.URL, "events": []string{"*"}, "alert_emails": []string{"not-an-address"}}); r.Status != 422 || !strings.Contains(string(r.Body), "alert_emails") {
		t.Errorf("a bad alert address: %d %s, want 422 naming alert_emails", r.Status, r.Body)
	}
	ep := in.createEndpoint(target.URL, []string{"booking.*"}, map[string]any{"max_attempts": 20, "alert_emails": []string{"ops@example.com"}})
	id := ep["id"].(string)
	if got, _ := ep["alert_emails"].([]any); len(got) != 1 || got[0] != "ops@example.com" {
		t.Errorf("alert_emails = %v", ep["alert_emails"])
	}
	in.publish("booking.created", bookingData(nil))

	// Failing, then warned (past half of HOOKBOOK_DISABLE_AFTER), then disabled.
	mails := smtpd.Wait(3, 30*time.Second)
	if len(mails) < 3 {
		t.Fatalf("%d mails, want failing, disabling and disabled:\n%s", len(mails), logs)
	}
	want := []string{"Webhook endpoint failing: ", "Webhook endpoint to be disabled: ", "Webhook endpoint disabled: "}
	for i, m := range mails[:3] {
		subject, body := mailOf(t, m)
		if !strings.HasPrefix(subject, want[i]) || m.To[0] != "ops@example.com" || m.User != "hookbook" {
			t.Errorf("mail %d: %q to %v", i, subject, m.To)
		}
		if !strings.Contains(body, "https://hooks.example.com/settings/webhooks/"+id) || !strings.Contains(body, "HTTP 503") {
			t.Errorf("mail %d lacks the log link or the last errors:\n%s", i, body)
		}
	}
	waitFor(t, 10*time.Second, "disabled", func() bool { return in.must(200, "GET", "/api/v1/webhooks/"+id, nil)["enabled"] == false })

	// Published while disabled: skipped, then replayed in one step.
	in.publish("booking.created", bookingData(map[string]any{"notes": "while disabled"}))
	skipped := in.must(200, "GET", "/api/v1/webhooks/"+id+"/deliveries?status=skipped", nil)["data"].([]any)
	if len(skipped) != 1 || skipped[0].(map[string]any)["attempts"] != 0.0 {
		t.Fatalf("skipped deliveries = %v", skipped)
	}
	healthy.Store(true)
	before := target.Count()
	in.must(200, "PATCH", "/api/v1/webhooks/"+id, map[string]any{"enabled": true})
	in.must(202, "POST", "/api/v1/webhooks/"+id+"/replay", map[string]any{"status": "skipped"})
	waitFor(t, 10*time.Second, "the skipped delivery replayed", func() bool {
		for _, r := range target.All()[before:] {
			if strings.Contains(string(r.Body), "while disabled") { // answered 200: healthy
				return true
			}
		}
		return false
	})
	mails = smtpd.Wait(4, 10*time.Second)
	if len(mails) != 4 {
		t.Fatalf("%d mails, want the recovered one too", len(mails))
	}
	if subject, _ := mailOf(t, mails[3]); !strings.HasPrefix(subject, "Webhook endpoint recovered: ") {
		t.Errorf("4th mail: %q", subject)
	}
	// The watcher heard of it all, once each; never a secret.
	waitFor(t, 10*time.Second, "the watcher's events", func() bool {
		seen := map[string]int{}
		for _, r := range watcher.All() {
			var env struct{ Event string }
			json.Unmarshal(r.Body, &env)
			seen[env.Event]++
		}
		return seen["endpoint.created"] == 1 && seen["delivery.failing"] == 1 && seen["endpoint.disabled"] == 1 &&
			seen["delivery.recovered"] == 1 && seen["endpoint.updated"] == 1
	})
	for _, r := range watcher.All() {
		if strings.Contains(string(r.Body), "smtp-pa55word") || strings.Contains(string(r.Body), "whsec_") {
			t.Errorf("an operational event carries a secret: %s", r.Body)
		}
	}
	if strings.Contains(logs.String(), "smtp-pa55word") {
		t.Errorf("the SMTP password is in the log")
	}
	if !strings.Contains(logs.String(), "alert mail sent") {
		t.Errorf("no log line of the mails sent:\n%s", logs)
	}
}

// TestAlertMailWithoutServer: an unreachable mail server costs only the
// mail: deliveries go on, the endpoint's other alerts still queue, and the
// log says why (without the password).
func TestAlertMailWithoutServer(t *testing.T) {
	t.Parallel()
	logs := &lockedBuffer{}
	in := start(t, map[string]string{
		"HOOKBOOK_SMTP_URL": "smtp://hookbook:gone-pa55@" + freePort(t), "HOOKBOOK_SMTP_FROM": "alerts@hooks.example.com",
		"HOOKBOOK_FAILING_AFTER": "1", "HOOKBOOK_POLL_INTERVAL": "100ms",
	}, func(a *server.App) {
		l := slog.New(slog.NewTextHandler(logs, nil))
		a.Log, a.Outbound.Log = l, l
	})
	var n atomic.Int32
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		if n.Add(1) == 1 {
			w.WriteHeader(500)
		}
	})
	in.createEndpoint(rc.URL, []string{"booking.*"}, map[string]any{"alert_emails": []string{"ops@example.com"}})
	for i := 0; i < 3; i++ {
		in.publish("booking.created", bookingData(nil))
	}
	// The first attempt fails, its retry and the two others succeed.
	waitFor(t, 10*time.Second, "every delivery succeeded", func() bool { return rc.Count() == 4 })
	waitFor(t, 10*time.Second, "the failed mail logged", func() bool { return strings.Contains(logs.String(), "alert mail not sent") })
	if strings.Contains(logs.String(), "gone-pa55") {
		t.Errorf("the SMTP password is in the log:\n%s", logs)
	}
}

// TestReadmeAlertMail: the README's sample alert mail is what hookbook
// renders for its endpoint and errors.
func TestReadmeAlertMail(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?ms)^```text\\n(Subject: Webhook endpoint failing.*?)^```$").FindSubmatch(b)
	if m == nil {
		t.Fatal("the README lost its sample alert mail")
	}
	code := 503
	at := time.Date(2026, 3, 25, 10, 5, 0, 0, time.UTC)
	ep := &hookbook.Endpoint{ID: "ep_01JQ2Z8Y5V4N6T7R8S9A0B1C2M", URL: "https://crm.example.com/hooks", Description: "CRM",
		AlertEmails: []string{"ops@example.com"}}
	errs := []outbound.AlertError{
		{At: at, Event: "booking.created", StatusCode: &code, Error: "HTTP 503"},
		{At: at.Add(-5 * time.Second), Event: "booking.created", Error: "dial tcp 203.0.113.7:443: connect: connection refused"},
	}
	r := outbound.RenderAlert(ep, outbound.AlertFailing, "", errs, "https://hooks.example.com/settings/webhooks/"+ep.ID)
	rendered := "Subject: " + r.Subject + "\nTo: " + strings.Join(r.To, ", ") + "\n\n" + r.Text
	if string(m[1]) != rendered {
		t.Errorf("the README's sample mail differs from what hookbook renders; put this in the README:\n%s", rendered)
	}
}

// TestOrganizationRetentionAPI: GET|PUT /api/v1/settings/retention reads
// and sets the organization's retention within HOOKBOOK_RETENTION; the
// retention job then purges that organization's older logs.
func TestOrganizationRetentionAPI(t *testing.T) {
	t.Parallel()
	in := start(t, map[string]string{"HOOKBOOK_RETENTION": "48h"})
	if got := in.must(200, "GET", "/api/v1/settings/retention", nil); got["retention"] != nil || got["effective"] != "48h" || got["max_retention"] != "48h" {
		t.Errorf("retention = %v", got)
	}
	for _, bad := range []any{"72h", "10m", "soon", 5} {
		r := in.do("PUT", "/api/v1/settings/retention", map[string]any{"retention": bad})
		if r.Status != 422 || !strings.Contains(string(r.Body), `"retention"`) {
			t.Errorf("retention %v: %d %s, want 422 naming retention", bad, r.Status, r.Body)
		}
	}
	if r := in.do("PUT", "/api/v1/settings/retention", map[string]any{}); r.Status != 422 {
		t.Errorf("no retention: %d, want 422", r.Status)
	}
	if got := in.must(200, "PUT", "/api/v1/settings/retention", map[string]any{"retention": "24h"}); got["retention"] != "24h" || got["effective"] != "24h" {
		t.Errorf("after PUT 24h: %v", got)
	}
	if got := in.must(200, "PUT", "/api/v1/settings/retention", map[string]any{"retention": nil}); got["retention"] != nil || got["effective"] != "48h" {
		t.Errorf("after PUT null: %v", got)
	}
}

// TestUIAlertsSkippedAndRetention: the admin UI edits an endpoint's alert
// e-mails (a bad one is refused naming the field), sets the
// organization's retention, lists skipped deliveries and replays them with
// the delivery log's button once the endpoint is enabled again.
func TestUIAlertsSkippedAndRetention(t *testing.T) {
	t.Parallel()
	in := start(t, nil)
	rc := newReceiver(t, nil)
	id := in.createEndpoint(rc.URL, []string{"booking.*"}, map[string]any{"enabled": false})["id"].(string)
	in.publish("booking.created", bookingData(nil))
	c := uiSession(t, in.url, in.key)
	get := func(path string) string {
		t.Helper()
		resp, err := c.Get(in.url + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s = %d", path, resp.StatusCode)
		}
		return string(b)
	}
	csrfOf := func(page string) string {
		m := regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`).FindStringSubmatch(page)
		if m == nil {
			t.Fatal("no CSRF token")
		}
		return m[1]
	}
	post := func(path string, form url.Values) (int, string) {
		t.Helper()
		resp, err := c.PostForm(in.url+path, form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	list := get("/settings/webhooks")
	if !strings.Contains(list, `name="retention"`) || !strings.Contains(list, "at most 720h") {
		t.Error("the webhooks page has no retention field")
	}
	if code, _ := post("/settings/webhooks/retention", url.Values{"csrf": {csrfOf(list)}, "retention": {"168h"}}); code != http.StatusSeeOther {
		t.Errorf("retention 168h: %d", code)
	}
	if got := in.must(200, "GET", "/api/v1/settings/retention", nil)["retention"]; got != "168h" {
		t.Errorf("retention after the form = %v", got)
	}
	if code, body := post("/settings/webhooks/retention", url.Values{"csrf": {csrfOf(list)}, "retention": {"9999h"}}); code != 422 || !strings.Contains(body, "Retention must be") {
		t.Errorf("retention 9999h: %d", code)
	}

	edit := get("/settings/webhooks/" + id + "/edit")
	form := url.Values{"csrf": {csrfOf(edit)}, "url": {rc.URL}, "events": {"booking.*"}, "max_attempts": {"8"}, "timeout_seconds": {"10"},
		"signature_scheme": {"timestamped"}, "alert_emails": {"not an address"}}
	if code, body := post("/settings/webhooks/"+id+"/edit", form); code != 422 || !strings.Contains(body, `id="alert_emails-error"`) {
		t.Errorf("a bad alert address: %d", code)
	}
	form.Set("alert_emails", "ops@example.com, dev@example.com")
	form.Set("enabled", "on")
	if code, _ := post("/settings/webhooks/"+id+"/edit", form); code != http.StatusSeeOther {
		t.Fatalf("save: %d", code)
	}
	if got, _ := in.must(200, "GET", "/api/v1/webhooks/"+id, nil)["alert_emails"].([]any); len(got) != 2 {
		t.Errorf("alert_emails after the form = %v", got)
	}
	logPage := get("/settings/webhooks/" + id + "?status=skipped")
	if !strings.Contains(logPage, `<span class="badge skipped">skipped</span>`) || !strings.Contains(logPage, "Replay skipped deliveries") {
		t.Fatalf("the delivery log shows no skipped delivery or no replay button")
	}
	// The page counts up to the second it shows: the delivery is in it
	// once that second is over.
	var confirm string
	waitFor(t, 5*time.Second, "the confirmation page to count the skipped delivery", func() bool {
		confirm = get("/settings/webhooks/" + id + "/replay?status=skipped")
		return strings.Contains(confirm, "1 delivery would be sent again") && strings.Contains(confirm, "Skipped deliveries")
	})
	m := regexp.MustCompile(`name="until" value="([^"]+)"`).FindStringSubmatch(confirm)
	if m == nil {
		t.Fatal("no until on the confirmation page")
	}
	if code, _ := post("/settings/webhooks/"+id+"/replay", url.Values{"csrf": {csrfOf(confirm)}, "status": {"skipped"}, "until": {m[1]}}); code != http.StatusSeeOther {
		t.Fatalf("replay: %d", code)
	}
	waitFor(t, 10*time.Second, "the skipped delivery replayed", func() bool { return rc.Count() == 1 })
}
