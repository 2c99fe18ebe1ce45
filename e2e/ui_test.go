package e2e

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hookbook/hookbook/internal/hookbooktest"
)

// artifactsDir is where the UI tests leave their screenshots.
var artifactsDir = filepath.Join("..", "artifacts", "ui")

// uiStep bounds one browser step (a navigation, a click, a wait for a
// flash or a text): generous, as a loaded machine may take seconds for
// what takes milliseconds on a quiet one. A test has no budget of its own
// beyond its steps and the go test -timeout.
const uiStep = 60 * time.Second

// browser starts headless Chromium (Debian's package) for a test, trying
// a second time if the first start fails (a busy machine may be slow to
// print its address). Without Chromium the test skips loudly, except
// under CI=true, where it fails. Chromium and its helper processes die
// with the test, however it ends.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := os.Getenv("HOOKBOOK_TEST_CHROMIUM")
	if path == "" {
		for _, p := range []string{"chromium", "chromium-browser", "google-chrome"} {
			if found, err := exec.LookPath(p); err == nil {
				path = found
				break
			}
		}
	}
	if path == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("Chromium is required under CI=true (apt-get install chromium)")
		}
		t.Skip("\n\n*** SKIPPED: no Chromium found; install Debian's chromium package to run the UI tests.\n\n")
	}
	var err error
	for attempt := 1; attempt <= 2; attempt++ {
		var ctx context.Context
		if ctx, err = startBrowser(t, path); err == nil {
			os.MkdirAll(artifactsDir, 0o755)
			return ctx
		}
		t.Logf("start Chromium, attempt %d: %v", attempt, err)
	}
	t.Fatalf("start Chromium: %v", err)
	return nil
}

// startBrowser starts one Chromium and its first tab; t's cleanup stops it.
func startBrowser(t *testing.T, path string) (context.Context, error) {
	// Chromium may still be writing its profile for a moment after it is
	// told to stop, so the profile is removed after it, best effort.
	profile, err := os.MkdirTemp("", "hookbook-chromium")
	if err != nil {
		t.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(profile), chromedp.WindowSize(1280, 900),
		chromedp.WSURLReadTimeout(uiStep),
		chromedp.ModifyCmdFunc(func(c *exec.Cmd) { hookbooktest.Contain(t, c) }))
	// No budget for the whole test: each step has its own (uiStep). The
	// context ends shortly before go test's -timeout, so that a stuck call
	// fails the test with its name rather than the whole run.
	base, cancel0 := context.Background(), context.CancelFunc(func() {})
	if d, ok := t.Deadline(); ok {
		base, cancel0 = context.WithDeadline(base, d.Add(-30*time.Second))
	}
	actx, cancelA := chromedp.NewExecAllocator(base, opts...)
	ctx, cancelB := chromedp.NewContext(actx)
	stop := func() {
		cancelB()
		cancelA()
		cancel0()
		for i := 0; i < 20 && os.RemoveAll(profile) != nil; i++ {
			time.Sleep(100 * time.Millisecond)
		}
	}
	// The first Run starts Chromium, whose life is tied to the context of
	// that Run: ctx itself, bounded here by a timer rather than a context.
	started := make(chan error, 1)
	go func() { started <- chromedp.Run(ctx) }()
	select {
	case err = <-started:
	case <-time.After(uiStep):
		err = context.DeadlineExceeded
	}
	if err != nil {
		stop()
		return nil, err
	}
	t.Cleanup(stop)
	return ctx, nil
}

// shot saves a full-page screenshot under artifacts/ui.
func shot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	var png []byte
	step, cancel := context.WithTimeout(ctx, uiStep)
	defer cancel()
	if err := chromedp.Run(step, chromedp.FullScreenshot(&png, 100)); err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(artifactsDir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: artifacts/ui/%s.png", name)
}

// run runs actions as one step, within uiStep.
func run(t *testing.T, ctx context.Context, actions ...chromedp.Action) {
	t.Helper()
	step, cancel := context.WithTimeout(ctx, uiStep)
	defer cancel()
	if err := chromedp.Run(step, actions...); err != nil {
		var html string
		last, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		chromedp.Run(last, chromedp.OuterHTML("main", &html, chromedp.ByQuery))
		t.Fatalf("%v; the page's main:\n%s", err, html)
	}
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	var s string
	run(t, ctx, chromedp.Text(sel, &s, chromedp.ByQuery))
	return s
}

// waitFlash waits, within uiStep, until the page's flash message contains
// want (the page that a form post leads to has loaded).
func waitFlash(t *testing.T, ctx context.Context, want string) {
	t.Helper()
	deadline := time.Now().Add(uiStep)
	for {
		var got string
		step, cancel := context.WithTimeout(ctx, uiStep)
		chromedp.Run(step, chromedp.Evaluate(`(document.querySelector(".flash")||{}).textContent||""`, &got))
		cancel()
		if strings.Contains(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no flash %q (last: %q)", want, got)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitText reloads url until the page's main text contains want, within
// uiStep.
func waitText(t *testing.T, ctx context.Context, url, want string) {
	t.Helper()
	deadline := time.Now().Add(uiStep)
	for {
		run(t, ctx, chromedp.Navigate(url), chromedp.WaitVisible("main", chromedp.ByQuery))
		if strings.Contains(text(t, ctx, "main"), want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never showed %q; it shows:\n%s", url, want, text(t, ctx, "main"))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestUIWebhooks(t *testing.T) {
	t.Parallel()
	ctx := browser(t)
	in := start(t, nil)
	var failing atomic.Bool
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if failing.Load() {
			w.WriteHeader(500)
			io.WriteString(w, "receiver says no: <b>maintenance</b>")
			return
		}
		w.WriteHeader(200)
	})

	// No session: the settings redirect to the sign-in page; the keyboard alone signs in.
	var loc string
	run(t, ctx, chromedp.Navigate(in.url+"/settings/webhooks"), chromedp.WaitVisible("#api_key", chromedp.ByID), chromedp.Location(&loc))
	if !strings.Contains(loc, "/login") {
		t.Fatalf("without a session the page is %s", loc)
	}
	shot(t, ctx, "login")
	axeCheck(t, ctx, "sign-in")
	run(t, ctx, chromedp.SendKeys("#api_key", "hk_wrong_key_000000000", chromedp.ByID), chromedp.KeyEvent("\r"),
		chromedp.WaitVisible(".field-error", chromedp.ByQuery))
	run(t, ctx, chromedp.SendKeys("#api_key", in.key, chromedp.ByID), chromedp.KeyEvent("\r"),
		chromedp.WaitVisible("a.button[href='/settings/webhooks/create']", chromedp.ByQuery))

	// Create: a bad URL first, shown beside its field; then a good one.
	run(t, ctx, chromedp.Click("a.button[href='/settings/webhooks/create']", chromedp.ByQuery), chromedp.WaitVisible("#url", chromedp.ByID),
		chromedp.SendKeys("#url", "not a url", chromedp.ByID), chromedp.Click("#family-booking summary", chromedp.ByQuery),
		chromedp.Click("input[value='booking.*']", chromedp.ByQuery),
		chromedp.Submit("#url", chromedp.ByID), chromedp.WaitVisible(".field-error", chromedp.ByQuery))
	if msg := text(t, ctx, ".field-error"); !strings.Contains(msg, "absolute http or https URL") {
		t.Fatalf("field error = %q", msg)
	}
	shot(t, ctx, "create-errors")
	axeCheck(t, ctx, "create form with errors")
	if d, _ := attr(t, ctx, "#url", "aria-describedby"); d != "url-error" {
		t.Errorf("the URL field's error is not tied to it: aria-describedby=%q", d)
	}
	run(t, ctx, chromedp.SetValue("#url", rc.URL+"/hooks", chromedp.ByID),
		chromedp.SendKeys("#description", `<script>alert(1)</script> ops team`, chromedp.ByID),
		chromedp.Submit("#url", chromedp.ByID))
	waitFlash(t, ctx, "Endpoint created")
	run(t, ctx, chromedp.Location(&loc))
	id := regexp.MustCompile(`ep_[0-9A-Z]+`).FindString(loc)
	if id == "" {
		t.Fatalf("after create the page is %s: %s", loc, text(t, ctx, "main"))
	}
	ep := in.must(200, "GET", "/api/v1/webhooks/"+id, nil)
	if ep["url"] != rc.URL+"/hooks" || ep["events"].([]any)[0] != "booking.*" {
		t.Fatalf("created endpoint = %v", ep)
	}

	// Send a test event and see it succeed in the log.
	run(t, ctx, chromedp.Navigate(in.url+"/settings/webhooks/"+id+"/edit"), chromedp.Click("form[action$='/test'] button", chromedp.ByQuery),
		chromedp.WaitVisible(".flash", chromedp.ByQuery))
	waitText(t, ctx, in.url+"/settings/webhooks/"+id, "succeeded")
	if rc.Count() != 1 {
		t.Fatalf("receiver got %d requests", rc.Count())
	}
	shot(t, ctx, "delivery-log")
	axeCheck(t, ctx, "delivery log")
	if !strings.Contains(text(t, ctx, "main"), "1 deliveries") || !strings.Contains(text(t, ctx, "main"), "100 % succeeded") {
		t.Errorf("the log's 24 h summary: %s", text(t, ctx, "section.card"))
	}
	var bars int
	run(t, ctx, chromedp.Evaluate(`document.querySelectorAll("svg.chart rect").length`, &bars))
	if bars != 1 {
		t.Errorf("the chart has %d bars, want 1 (this hour's)", bars)
	}

	// A failing receiver: the failed attempt shows its status and response body.
	failing.Store(true)
	in.must(200, "PATCH", "/api/v1/webhooks/"+id, map[string]any{"max_attempts": 1})
	run(t, ctx, chromedp.Navigate(in.url+"/settings/webhooks/"+id+"/edit"), chromedp.Click("form[action$='/test'] button", chromedp.ByQuery),
		chromedp.WaitVisible(".flash", chromedp.ByQuery))
	waitText(t, ctx, in.url+"/settings/webhooks/"+id+"?status=failed", "failed")
	run(t, ctx, chromedp.Click("tbody a", chromedp.ByQuery), chromedp.WaitVisible(".attempt", chromedp.ByQuery))
	body := text(t, ctx, "main")
	if !strings.Contains(body, "receiver says no: <b>maintenance</b>") || !strings.Contains(body, "HTTP 500") {
		t.Fatalf("attempt details lack the response: %s", body)
	}
	// The body pretty-printed; the response's headers kept.
	if !strings.Contains(body, "X-Hookbook-Signature") || !strings.Contains(body, `"event": "webhook.test"`) {
		t.Fatalf("attempt details lack the request: %s", body)
	}
	if !strings.Contains(body, "Response headers") || !strings.Contains(body, "text/plain; charset=utf-8") {
		t.Fatalf("attempt details lack the response headers: %s", body)
	}
	shot(t, ctx, "delivery-failed")
	axeCheck(t, ctx, "delivery details")
	run(t, ctx, chromedp.EmulateViewport(390, 844), chromedp.Reload(), chromedp.WaitVisible(".attempt", chromedp.ByQuery))
	noSideScroll(t, ctx, "delivery details on a phone")
	shot(t, ctx, "delivery-failed-phone")
	run(t, ctx, chromedp.EmulateViewport(1280, 900), chromedp.Reload(), chromedp.WaitVisible(".attempt", chromedp.ByQuery))

	// Redeliver once the receiver is back.
	failing.Store(false)
	run(t, ctx, chromedp.Location(&loc), chromedp.Click("form[action$='/redeliver'] button", chromedp.ByQuery), chromedp.WaitVisible(".flash", chromedp.ByQuery))
	waitText(t, ctx, strings.Split(loc, "?")[0], "succeeded")
	if n := len(attemptsOf(in, regexp.MustCompile(`dlv_[0-9A-Z]+`).FindString(loc))); n != 2 {
		t.Fatalf("after redeliver the delivery has %d attempts", n)
	}

	// Edit the events.
	run(t, ctx, chromedp.Navigate(in.url+"/settings/webhooks/"+id+"/edit"), chromedp.WaitVisible("#url", chromedp.ByID),
		chromedp.Click("input[value='booking.*']", chromedp.ByQuery), chromedp.Click("#family-payment summary", chromedp.ByQuery),
		chromedp.Click("input[value='payment.refunded']", chromedp.ByQuery),
		chromedp.Submit("#url", chromedp.ByID))
	waitFlash(t, ctx, "Saved.")
	ep = in.must(200, "GET", "/api/v1/webhooks/"+id, nil)
	if evs := ep["events"].([]any); len(evs) != 1 || evs[0] != "payment.refunded" {
		t.Fatalf("events after edit = %v", evs)
	}

	// A payload filter: a bad one is refused beside its field, naming the
	// bad part; the dry run says whether the chosen type's example or a
	// pasted event matches, at 1280 px and on a phone; saved, the API has it.
	// The saved page has just replaced the form: wait for its field
	// before using it (a node of the page before is gone).
	run(t, ctx, chromedp.WaitVisible("#payload_filter", chromedp.ByID),
		chromedp.SetValue("#payload_filter", `{"data":{"participants":{"$gte":2,"$between":[1,3]}}}`, chromedp.ByID),
		chromedp.Click("button[value='test_filter']", chromedp.ByQuery), chromedp.WaitVisible("#payload_filter-error", chromedp.ByID))
	if msg := text(t, ctx, "#payload_filter-error"); !strings.Contains(msg, "filter.data.participants.$between") {
		t.Errorf("filter error = %q", msg)
	}
	if d, _ := attr(t, ctx, "#payload_filter", "aria-describedby"); !strings.Contains(d, "payload_filter-error") {
		t.Errorf("the filter's error is not tied to it: aria-describedby=%q", d)
	}
	axeCheck(t, ctx, "a refused filter")
	run(t, ctx, chromedp.SetValue("#payload_filter", `{"data":{"location":"Main Square","participants":{"$gte":2}}}`, chromedp.ByID),
		chromedp.SetValue("#filter_event_type", "booking.created", chromedp.ByID),
		chromedp.Click("button[value='test_filter']", chromedp.ByQuery), chromedp.WaitVisible("#filter-result", chromedp.ByID))
	if r := text(t, ctx, "#filter-result"); !strings.HasPrefix(r, "Matches") {
		t.Errorf("dry run on booking.created's example: %q", r)
	}
	axeCheck(t, ctx, "a filter's dry run")
	shot(t, ctx, "filter-dry-run")
	run(t, ctx, chromedp.EmulateViewport(390, 844))
	noSideScroll(t, ctx, "a filter's dry run on a phone")
	axeCheck(t, ctx, "a filter's dry run on a phone")
	for _, p := range layoutProblems(t, ctx, true) {
		t.Errorf("a filter's dry run on a phone: %s", p)
	}
	shot(t, ctx, "filter-dry-run-phone")
	run(t, ctx, chromedp.EmulateViewport(1280, 900))
	run(t, ctx, chromedp.SetValue("#filter_event", `{"location":"Harbour","participants":5}`, chromedp.ByID),
		chromedp.Click("button[value='test_filter']", chromedp.ByQuery), chromedp.WaitVisible("#filter-result.no", chromedp.ByQuery))
	run(t, ctx, chromedp.Evaluate(`document.querySelector("#filter_event").value = ""`, nil), chromedp.Submit("#url", chromedp.ByID))
	waitFlash(t, ctx, "Saved.")
	ep = in.must(200, "GET", "/api/v1/webhooks/"+id, nil)
	if got := string(mustJSON(ep["filter"])); got != `{"data":{"location":"Main Square","participants":{"$gte":2}}}` {
		t.Fatalf("filter after saving = %s", got)
	}
	var shown string
	run(t, ctx, chromedp.Value("#payload_filter", &shown, chromedp.ByID))
	if !strings.Contains(shown, `"location": "Main Square"`) {
		t.Errorf("the edit page shows the filter as %q", shown)
	}

	// Throttling: a bad rate is shown beside its field; a good one and a
	// bound on attempts in flight are saved, and emptied fields clear them.
	run(t, ctx, chromedp.Navigate(in.url+"/settings/webhooks/"+id+"/edit"), chromedp.WaitVisible("#rate_limit", chromedp.ByID),
		chromedp.SendKeys("#rate_limit", "fast", chromedp.ByID), chromedp.Submit("#url", chromedp.ByID),
		chromedp.WaitVisible("#rate_limit-error", chromedp.ByID))
	if msg := text(t, ctx, "#rate_limit-error"); !strings.Contains(msg, "not a rate") {
		t.Errorf("rate_limit error = %q", msg)
	}
	axeCheck(t, ctx, "edit form with a bad rate limit")
	run(t, ctx, chromedp.SetValue("#rate_limit", "600/m", chromedp.ByID), chromedp.SetValue("#max_in_flight", "3", chromedp.ByID),
		chromedp.Submit("#url", chromedp.ByID))
	waitFlash(t, ctx, "Saved.")
	ep = in.must(200, "GET", "/api/v1/webhooks/"+id, nil)
	if ep["rate_limit"] != "600/m" || ep["max_in_flight"] != float64(3) {
		t.Fatalf("throttle after edit = %v, %v", ep["rate_limit"], ep["max_in_flight"])
	}
	run(t, ctx, chromedp.Navigate(in.url+"/settings/webhooks/"+id), chromedp.WaitVisible("#backlog-h", chromedp.ByID))
	if b := text(t, ctx, "section[aria-labelledby=backlog-h]"); !strings.Contains(b, "600/m") || !strings.Contains(b, "at most 3 in flight") || !strings.Contains(b, "up to 10 at once") {
		t.Errorf("the log's backlog card: %q", b)
	}
	run(t, ctx, chromedp.Navigate(in.url+"/settings/webhooks/"+id+"/edit"), chromedp.WaitVisible("#rate_limit", chromedp.ByID),
		chromedp.Evaluate(`document.querySelector("#rate_limit").value = ""; document.querySelector("#max_in_flight").value = ""; true`, nil),
		chromedp.Submit("#url", chromedp.ByID))
	waitFlash(t, ctx, "Saved.")
	if ep = in.must(200, "GET", "/api/v1/webhooks/"+id, nil); ep["rate_limit"] != nil || ep["max_in_flight"] != nil {
		t.Fatalf("throttle after emptying the fields = %v, %v", ep["rate_limit"], ep["max_in_flight"])
	}

	// Reveal: the page opens at the secret. Then rotate, after a
	// confirmation; reloading the result does not rotate again.
	run(t, ctx, chromedp.Click("form[action$='/secret#secret-h'] button", chromedp.ByQuery), chromedp.WaitVisible("#secret-value", chromedp.ByID))
	before := text(t, ctx, "#secret-value")
	var secretTop, viewport float64
	run(t, ctx, chromedp.Evaluate(`document.querySelector("#secret-value").getBoundingClientRect().top`, &secretTop),
		chromedp.Evaluate(`window.innerHeight`, &viewport))
	if secretTop < 0 || secretTop > viewport {
		t.Errorf("the revealed secret is %.0f px down a %.0f px window", secretTop, viewport)
	}
	axeCheck(t, ctx, "edit endpoint with its secret")
	run(t, ctx, chromedp.Click("a[href$='/rotate']", chromedp.ByQuery), chromedp.WaitVisible("button.danger", chromedp.ByQuery))
	shot(t, ctx, "rotate-confirm")
	axeCheck(t, ctx, "rotation confirmation")
	if now := revealSecret(t, in, id); now != before {
		t.Fatalf("the confirmation page rotated the secret already")
	}
	run(t, ctx, chromedp.Click("button.danger", chromedp.ByQuery))
	waitFlash(t, ctx, "Secret rotated")
	after := revealSecret(t, in, id)
	if !strings.HasPrefix(after, "whsec_") || after == before {
		t.Fatalf("rotation gave %q after %q", after, before)
	}
	run(t, ctx, chromedp.Reload(), chromedp.WaitVisible("#url", chromedp.ByID))
	if again := revealSecret(t, in, id); again != after {
		t.Fatalf("reloading the rotation's result rotated again")
	}
	var flashes int
	run(t, ctx, chromedp.Evaluate(`document.querySelectorAll(".flash").length`, &flashes))
	if flashes != 0 {
		t.Errorf("the flash message shows again after a reload")
	}
	run(t, ctx, chromedp.Click("form[action$='/secret#secret-h'] button", chromedp.ByQuery), chromedp.WaitVisible("#secret-value", chromedp.ByID))
	if shown := text(t, ctx, "#secret-value"); shown != after {
		t.Fatalf("revealed %q, the endpoint's secret is %q", shown, after)
	}
	shot(t, ctx, "edit-endpoint")

	// Disable it; the list shows it disabled, its description as text.
	run(t, ctx, chromedp.Click("input[name='enabled']", chromedp.ByQuery), chromedp.Submit("#url", chromedp.ByID))
	waitFlash(t, ctx, "Saved.")
	run(t, ctx, chromedp.Navigate(in.url+"/settings/webhooks"), chromedp.WaitVisible("table", chromedp.ByQuery))
	list := text(t, ctx, "main")
	if !strings.Contains(list, "paused") || !strings.Contains(list, "<script>alert(1)</script> ops team") {
		var html string
		chromedp.Run(ctx, chromedp.OuterHTML("main", &html, chromedp.ByQuery))
		t.Fatalf("list = %s\n%s", list, html)
	}
	if in.must(200, "GET", "/api/v1/webhooks/"+id, nil)["enabled"] != false {
		t.Fatal("endpoint still enabled")
	}
	shot(t, ctx, "webhooks-list")
	axeCheck(t, ctx, "webhooks list")
	namesWhole(t, ctx, "webhooks list")

	// The same list and log on a phone: nothing scrolls sideways.
	run(t, ctx, chromedp.EmulateViewport(390, 844), chromedp.Reload(), chromedp.WaitVisible("table", chromedp.ByQuery))
	noSideScroll(t, ctx, "webhooks list on a phone")
	shot(t, ctx, "webhooks-list-phone")
	run(t, ctx, chromedp.Navigate(in.url+"/settings/webhooks/"+id), chromedp.WaitVisible("table", chromedp.ByQuery))
	noSideScroll(t, ctx, "delivery log on a phone")
	shot(t, ctx, "delivery-log-phone")
	run(t, ctx, chromedp.EmulateViewport(1280, 900))

	// Delete with confirmation.
	run(t, ctx, chromedp.Navigate(in.url+"/settings/webhooks/"+id+"/delete"), chromedp.WaitVisible("button.danger", chromedp.ByQuery))
	shot(t, ctx, "delete-confirm")
	axeCheck(t, ctx, "delete confirmation")
	run(t, ctx, chromedp.Click("button.danger", chromedp.ByQuery), chromedp.WaitVisible(".flash", chromedp.ByQuery))
	if r := in.do("GET", "/api/v1/webhooks/"+id, nil); r.Status != 404 {
		t.Fatalf("deleted endpoint = %d", r.Status)
	}
}

func TestUIInboundSettings(t *testing.T) {
	t.Parallel()
	ctx := browser(t)
	in := start(t, nil)
	run(t, ctx, chromedp.Navigate(in.url+"/login"), chromedp.WaitVisible("#api_key", chromedp.ByID),
		chromedp.SendKeys("#api_key", in.key, chromedp.ByID), chromedp.Submit("#api_key", chromedp.ByID),
		chromedp.WaitVisible("a.button[href='/settings/webhooks/create']", chromedp.ByQuery),
		chromedp.Navigate(in.url+"/settings/webhooks/inbound"), chromedp.WaitVisible("#secret", chromedp.ByID))
	// A short secret is refused beside its field.
	run(t, ctx, chromedp.SendKeys("#secret", "short", chromedp.ByID), chromedp.Submit("#secret", chromedp.ByID), chromedp.WaitVisible(".field-error", chromedp.ByQuery))
	run(t, ctx, chromedp.Click("input[name='enabled']", chromedp.ByQuery), chromedp.Click("input[value='admin.slots']", chromedp.ByQuery),
		chromedp.Click("input[value='public.community']", chromedp.ByQuery), chromedp.SetValue("#secret", "ui-inbound-secret-0123456", chromedp.ByID),
		chromedp.Submit("#secret", chromedp.ByID), chromedp.WaitVisible(".flash", chromedp.ByQuery))
	st := in.must(200, "GET", "/api/v1/settings/inbound", nil)
	if st["enabled"] != true || st["secret_set"] != true || len(st["scopes"].([]any)) != 2 {
		t.Fatalf("settings = %v", st)
	}
	if got := in.must(200, "GET", "/api/v1/settings/inbound/secret", nil)["secret"]; got != "ui-inbound-secret-0123456" {
		t.Fatalf("revealed secret = %v", got)
	}
	// A command shows in the recent list; the secret only after a reveal.
	in.command(command{body: cmdBody("admin.slots.delete", map[string]any{"slot_id": "slot_x"}, nil), secret: "ui-inbound-secret-0123456"})
	run(t, ctx, chromedp.Reload(), chromedp.WaitVisible("table", chromedp.ByQuery))
	if page := text(t, ctx, "main"); strings.Contains(page, "ui-inbound-secret-0123456") || !strings.Contains(page, "admin.slots.delete") {
		t.Fatalf("inbound page = %s", page)
	}
	run(t, ctx, chromedp.Click("form[action$='/reveal'] button", chromedp.ByQuery), chromedp.WaitVisible("#inbound-secret", chromedp.ByID))
	if s := text(t, ctx, "#inbound-secret"); s != "ui-inbound-secret-0123456" {
		t.Fatalf("revealed %q", s)
	}
	shot(t, ctx, "inbound-settings")
	axeCheck(t, ctx, "inbound settings")
	run(t, ctx, chromedp.Navigate(in.url+"/settings/api-keys"), chromedp.WaitVisible("#name", chromedp.ByID))
	axeCheck(t, ctx, "API keys")
}

// TestUISecurity checks sessions, CSRF, cookie flags and escaping over HTTP.
func TestUISecurity(t *testing.T) {
	t.Parallel()
	dns := &fakeDNS{names: map[string]string{"example.com": "93.184.216.34"}}
	in := start(t, map[string]string{"HOOKBOOK_ENV": "production"}, withDNS(dns))
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path string) (*http.Response, string) {
		resp, err := c.Get(in.url + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	for _, p := range []string{"/settings/webhooks", "/settings/webhooks/create", "/settings/webhooks/inbound", "/settings/webhooks/ep_x/edit"} {
		if resp, _ := get(p); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
			t.Errorf("%s without a session = %d %s", p, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	csrfOf := func(html string) string {
		return regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`).FindStringSubmatch(html)[1]
	}
	get("/login") // the sign-in page sets the form's CSRF cookie
	// The sign-in form itself needs its token.
	resp, err := c.PostForm(in.url+"/login", url.Values{"api_key": {in.key}})
	if err != nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("sign-in without its CSRF token = %v %v", resp.StatusCode, err)
	}
	_, html := get("/login")
	resp, err = c.PostForm(in.url+"/login", url.Values{"api_key": {in.key}, "csrf": {csrfOf(html)}})
	if err != nil || resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in = %v %v", resp.StatusCode, err)
	}
	var session *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == "hookbook_session" {
			session = ck
		}
	}
	if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteLaxMode || !session.Secure {
		t.Fatalf("session cookie = %+v", session)
	}
	// Cookies marked Secure are not sent over plain http by the jar; send it by hand.
	c.Jar = nil
	withSession := func(req *http.Request) *http.Response {
		req.AddCookie(&http.Cookie{Name: session.Name, Value: session.Value})
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	// A form post without a valid CSRF token is refused and changes nothing.
	for _, token := range []string{"", "0000"} {
		req, _ := http.NewRequest("POST", in.url+"/settings/webhooks/create", strings.NewReader(url.Values{"csrf": {token},
			"url": {"https://example.com/x"}, "events": {"*"}, "max_attempts": {"8"}, "timeout_seconds": {"10"}, "signature_scheme": {"timestamped"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if resp := withSession(req); resp.StatusCode != http.StatusForbidden {
			t.Errorf("post with csrf %q = %d", token, resp.StatusCode)
		}
	}
	if n := len(in.must(200, "GET", "/api/v1/webhooks", nil)["data"].([]any)); n != 0 {
		t.Fatalf("a refused form created %d endpoints", n)
	}
	// HTML in user-controlled fields shows as text.
	ep := in.createEndpoint("https://example.com/<x>", []string{"*"}, map[string]any{"description": `<img src=x onerror=alert(1)>`})["id"].(string)
	// The stored data holds the characters themselves.
	in.publish("booking.created", map[string]any{"notes": "<script>alert('x')</script>"})
	req, _ := http.NewRequest("GET", in.url+"/settings/webhooks", nil)
	resp = withSession(req)
	b, _ := io.ReadAll(resp.Body)
	if strings.Contains(string(b), "<img src=x") || !strings.Contains(string(b), "&lt;img src=x onerror=alert(1)&gt;") {
		t.Errorf("description not escaped in the list")
	}
	list := in.must(200, "GET", "/api/v1/webhooks/"+ep+"/deliveries", nil)["data"].([]any)
	req, _ = http.NewRequest("GET", in.url+"/settings/webhooks/"+ep+"/deliveries/"+list[0].(map[string]any)["id"].(string), nil)
	resp = withSession(req)
	b, _ = io.ReadAll(resp.Body)
	if strings.Contains(string(b), `<script>alert`) || !strings.Contains(string(b), `&lt;script&gt;alert`) {
		t.Errorf("event data not escaped in the delivery page: %d %s", resp.StatusCode, b)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
		t.Errorf("CSP = %q", csp)
	}
	// The replay form: its confirmation shows what was typed as text; its
	// post needs the CSRF token.
	req, _ = http.NewRequest("GET", in.url+"/settings/webhooks/"+ep+"/replay?"+url.Values{"since": {"2026-01-01 00:00"}, "event": {"<script>x</script>"}}.Encode(), nil)
	resp = withSession(req)
	b, _ = io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusUnprocessableEntity || strings.Contains(string(b), "<script>x") || !strings.Contains(string(b), "&lt;script&gt;x") {
		t.Errorf("replay page with markup in its event filter = %d %s", resp.StatusCode, b)
	}
	req, _ = http.NewRequest("POST", in.url+"/settings/webhooks/"+ep+"/replay", strings.NewReader(url.Values{"since": {"2026-01-01 00:00"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if resp := withSession(req); resp.StatusCode != http.StatusForbidden {
		t.Errorf("replay post without its CSRF token = %d", resp.StatusCode)
	}
	// Guessing keys through the sign-in form is throttled.
	throttled := 0
	jar2, _ := cookiejar.New(nil)
	c.Jar = jar2
	for i := 0; i < 12; i++ {
		_, html := get("/login")
		resp, err := c.PostForm(in.url+"/login", url.Values{"api_key": {"hk_guess_" + strings.Repeat("x", i)}, "csrf": {csrfOf(html)}})
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode == http.StatusTooManyRequests {
			throttled++
		}
	}
	if throttled != 2 {
		t.Errorf("%d of 12 wrong sign-ins were throttled, want the last 2", throttled)
	}
	c.Jar = nil
	// Logout ends the session.
	req, _ = http.NewRequest("GET", in.url+"/settings/webhooks", nil)
	resp = withSession(req)
	b, _ = io.ReadAll(resp.Body)
	req, _ = http.NewRequest("POST", in.url+"/logout", strings.NewReader("csrf="+csrfOf(string(b))))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if resp := withSession(req); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout = %d", resp.StatusCode)
	}
	req, _ = http.NewRequest("GET", in.url+"/settings/webhooks", nil)
	if resp := withSession(req); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("after logout the session still works: %d", resp.StatusCode)
	}
}
