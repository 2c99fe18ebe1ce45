package e2e

import (
	"context"
	"encoding/json"
	"github.com/hookbook/hookbook/internal/hookbooktest"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// uiFixture is an instance with something on every page: endpoints that
// succeed, one held back by its circuit breaker, one failing, an event
// of about 1 MB, inbound commands, and a portal link limited to booking.*.
type uiFixture struct {
	in                    *instance
	ok, down              string // receivers' URLs
	epOK, epDown, epFlaky string
	others                []string // three more endpoints on ok's host
	evt, big              string   // events
	heldDlv, bigDlv       string   // deliveries
	portal                string   // portal link (booking.*)
	replay                string   // a finished replay of epOK's payment deliveries
}

func newUIFixture(t *testing.T) *uiFixture {
	t.Helper()
	in := start(t, map[string]string{"HOOKBOOK_BREAKER_THRESHOLD": "3", "HOOKBOOK_BREAKER_COOLDOWN": "5m"})
	ok := newReceiver(t, nil)
	down := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) { w.WriteHeader(503) })
	flaky := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n > 1 {
			w.WriteHeader(503)
			return
		}
		w.WriteHeader(200)
	})
	f := &uiFixture{in: in, ok: ok.URL, down: down.URL}
	f.epOK = in.createEndpoint(ok.URL+"/hooks/a-rather-long-path/that-must-wrap-on-a-phone?tenant=acme-bookings-europe-west-1", []string{"*"},
		map[string]any{"description": "Acme's booking backend"})["id"].(string)
	for i, p := range []string{"/hooks/one", "/hooks/two", "/hooks/three"} {
		var extra map[string]any
		if i == 0 { // throttled: its backlog waits for the rate
			extra = map[string]any{"rate_limit": "1/h", "max_in_flight": 2}
		}
		f.others = append(f.others, in.createEndpoint(ok.URL+p, []string{"booking.*"}, extra)["id"].(string))
	}
	f.epDown = in.createEndpoint(down.URL+"/down", []string{"booking.*"}, map[string]any{"max_attempts": 3})["id"].(string)
	f.epFlaky = in.createEndpoint(flaky.URL+"/flaky", []string{"payment.*"}, map[string]any{"max_attempts": 1})["id"].(string)

	// Three failed attempts in a row open the down endpoint's circuit.
	f.evt = in.publish("booking.created", nil)
	in.publish("booking.cancelled", nil)
	in.publish("booking.created", nil)
	waitFor(t, 20*time.Second, "the down endpoint's circuit to open", func() bool {
		_, open := in.app.Dispatcher.Breaker.OpenUntil(f.epDown, time.Now())
		return open
	})
	// The flaky endpoint: one success, then one failure.
	in.publish("payment.succeeded", nil)
	waitFor(t, 10*time.Second, "the flaky endpoint's success", func() bool { return flaky.Count() == 1 })
	in.publish("payment.succeeded", nil)
	waitFor(t, 10*time.Second, "the flaky endpoint's failure", func() bool { return flaky.Count() == 2 })
	// An event of about 1 MB.
	f.big = in.publish("booking.created", bookingData(map[string]any{"notes": strings.Repeat("n", 1000000)}))
	for _, d := range in.must(200, "GET", "/api/v1/webhooks/"+f.epDown+"/deliveries", nil)["data"].([]any) {
		if d := d.(map[string]any); d["event_id"] == f.big {
			f.heldDlv = d["id"].(string)
		}
	}
	waitFor(t, 20*time.Second, "the big event's delivery", func() bool {
		for _, d := range in.must(200, "GET", "/api/v1/webhooks/"+f.epOK+"/deliveries", nil)["data"].([]any) {
			if d := d.(map[string]any); d["event_id"] == f.big && d["status"] == "succeeded" {
				f.bigDlv = d["id"].(string)
				return true
			}
		}
		return false
	})
	if f.heldDlv == "" {
		t.Fatal("no delivery of the big event to the down endpoint")
	}
	// Inbound commands: one done, one refused.
	in.must(200, "PUT", "/api/v1/settings/inbound", map[string]any{"enabled": true, "secret": inboundSecret, "scopes": []string{"admin.slots"}})
	in.command(command{body: cmdBody("admin.slots.delete", map[string]any{"slot_id": "slot_does_not_exist"}, nil)})
	in.command(command{body: cmdBody("admin.slots.block", map[string]any{}, nil)})
	f.portal = in.must(201, "POST", "/api/v1/portal/sessions", map[string]any{"event_types": []string{"booking.*"}, "expires_in": "2h"})["url"].(string)
	f.replay = in.must(202, "POST", "/api/v1/webhooks/"+f.epOK+"/replay", map[string]any{
		"since": time.Now().Add(-time.Hour).UTC().Format(time.RFC3339), "status": "succeeded", "event": "payment.*"})["id"].(string)
	waitFor(t, 10*time.Second, "the fixture's replay", func() bool {
		return in.must(200, "GET", "/api/v1/replays/"+f.replay, nil)["status"] == "done"
	})
	return f
}

// signIn signs the browser in with the instance's key.
func signIn(t *testing.T, ctx context.Context, in *instance) {
	t.Helper()
	run(t, ctx, chromedp.EmulateViewport(1280, 900), chromedp.Navigate(in.url+"/login"), chromedp.WaitVisible("#api_key", chromedp.ByID),
		chromedp.SendKeys("#api_key", in.key, chromedp.ByID), chromedp.Submit("#api_key", chromedp.ByID),
		chromedp.WaitVisible("#q", chromedp.ByID))
}

// layoutProblems are what a reader would see as broken on the page the
// browser shows: a timestamp over several lines, a box that clips its
// content (a table or body scrolled inside its card), and on a phone a
// table that does not stack.
func layoutProblems(t *testing.T, ctx context.Context, phone bool) []string {
	t.Helper()
	var found []string
	run(t, ctx, chromedp.Evaluate(`(() => {
  const out = [];
  for (const e of document.querySelectorAll("main .ts"))
    if (e.getClientRects().length > 1) out.push("timestamp over several lines: " + e.textContent);
  for (const e of document.querySelectorAll("main *")) {
    const s = getComputedStyle(e);
    if (["auto", "hidden", "scroll"].includes(s.overflowX) && e.clientWidth > 40 && e.scrollWidth > e.clientWidth + 1)
      out.push("clips its content: " + e.tagName + "." + e.className + " " + e.scrollWidth + " > " + e.clientWidth);
  }
  if (`+map[bool]string{true: "true", false: "false"}[phone]+`) {
    for (const td of document.querySelectorAll("main td"))
      if (getComputedStyle(td).display !== "block") { out.push("a table does not stack: " + td.textContent.trim().slice(0, 40)); break; }
    for (const e of document.querySelectorAll("main button, main a, main input, main select"))
      if (e.getBoundingClientRect().right > window.innerWidth + 1) out.push("off-screen: " + e.tagName + " " + e.textContent.trim().slice(0, 30));
  }
  return out;
})()`, &found))
	return found
}

// checkPage opens url at 1280 px and on a 390 px phone and runs every
// page's checks: no sideways scroll, axe-core, whole names, the layout,
// and a screenshot of each.
func checkPage(t *testing.T, ctx context.Context, url, name string) {
	t.Helper()
	for _, v := range []struct {
		w, h   int64
		suffix string
	}{{1280, 900, ""}, {390, 844, "-phone"}} {
		label := name + " at " + map[bool]string{true: "390", false: "1280"}[v.suffix != ""] + " px"
		run(t, ctx, chromedp.EmulateViewport(v.w, v.h), chromedp.Navigate(url), chromedp.WaitVisible("main", chromedp.ByQuery))
		noSideScroll(t, ctx, label)
		axeCheck(t, ctx, label)
		namesWhole(t, ctx, label)
		for _, p := range layoutProblems(t, ctx, v.suffix != "") {
			t.Errorf("%s: %s", label, p)
		}
		shot(t, ctx, "page-"+name+v.suffix)
	}
	run(t, ctx, chromedp.EmulateViewport(1280, 900))
}

// loadPage loads a page at 1280 px: it must answer below 500 and show
// its main element.
func loadPage(t *testing.T, ctx context.Context, url, name string) {
	t.Helper()
	step, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	resp, err := chromedp.RunResponse(step, chromedp.Navigate(url))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if resp.Status >= 500 {
		t.Errorf("%s: %s answered %d", name, url, resp.Status)
	}
	run(t, ctx, chromedp.WaitVisible("main", chromedp.ByQuery))
}

// TestUIEveryPage opens every admin and portal page at 1280 px and on a
// 390 px phone with the checks of checkPage, including a delivery log of
// a failing endpoint and one held back by its circuit breaker.
//
// On PostgreSQL the pages' look is not checked again (it was on SQLite):
// each page is loaded once, and must answer without a server error, so
// that every page's queries run on both databases.
func TestUIEveryPage(t *testing.T) {
	t.Parallel()
	f := newUIFixture(t)
	in := f.in
	checkPage := checkPage
	if hookbooktest.Backend() == "postgres" {
		checkPage = loadPage
	}
	admin := []struct{ name, path string }{
		{"webhooks", "/settings/webhooks"},
		{"create", "/settings/webhooks/create"},
		{"edit", "/settings/webhooks/" + f.epOK + "/edit"},
		{"log", "/settings/webhooks/" + f.epOK},
		{"log-circuit-open", "/settings/webhooks/" + f.epDown},
		{"log-failing", "/settings/webhooks/" + f.epFlaky},
		{"log-throttled", "/settings/webhooks/" + f.others[0]},
		{"edit-throttled", "/settings/webhooks/" + f.others[0] + "/edit"},
		{"delivery-held", "/settings/webhooks/" + f.epDown + "/deliveries/" + f.heldDlv},
		{"delivery-1mb", "/settings/webhooks/" + f.epOK + "/deliveries/" + f.bigDlv},
		{"event", "/settings/events/" + f.evt},
		{"event-1mb", "/settings/events/" + f.big},
		{"search", "/settings/search?q=evt_nothing"},
		{"inbound", "/settings/webhooks/inbound"},
		{"api-keys", "/settings/api-keys"},
		{"rotate", "/settings/webhooks/" + f.epOK + "/rotate"},
		{"delete", "/settings/webhooks/" + f.epOK + "/delete"},
		{"replay-confirm", "/settings/webhooks/" + f.epOK + "/replay?since=2026-01-01+00%3A00&status=any&event=booking.*"},
		{"replay-invalid", "/settings/webhooks/" + f.epOK + "/replay?since=yesterday&event=Booking%21&status=pending"},
		{"replay-progress", "/settings/webhooks/" + f.epOK + "/replays/" + f.replay},
		{"not-found", "/settings/no-such-page"},
	}
	portal := []struct{ name, path string }{
		{"portal-webhooks", "/portal/webhooks"},
		{"portal-create", "/portal/webhooks/create"},
		{"portal-edit", "/portal/webhooks/" + f.epOK + "/edit"},
		{"portal-log-circuit-open", "/portal/webhooks/" + f.epDown},
		{"portal-log-throttled", "/portal/webhooks/" + f.others[0]},
		{"portal-delivery-held", "/portal/webhooks/" + f.epDown + "/deliveries/" + f.heldDlv},
		{"portal-event", "/portal/events/" + f.evt},
		{"portal-search", "/portal/search?q=evt_nothing"},
		{"portal-rotate", "/portal/webhooks/" + f.epDown + "/rotate"},
		{"portal-replay-confirm", "/portal/webhooks/" + f.epDown + "/replay?since=2026-01-01+00%3A00&event=booking.*"},
		{"portal-replay-progress", "/portal/webhooks/" + f.epOK + "/replays/" + f.replay},
		{"portal-not-found", "/portal/no-such-page"},
	}
	// One browser for the admin pages and one for the portal's: each step
	// has its own deadline, so a long sweep needs no fresh browser.
	t.Run("admin", func(t *testing.T) {
		ctx := browser(t)
		checkPage(t, ctx, in.url+"/login", "login")
		signIn(t, ctx, in)
		for _, p := range admin {
			checkPage(t, ctx, in.url+p.path, p.name)
		}
		replayFlow(t, ctx, f)
	})
	t.Run("portal", func(t *testing.T) {
		ctx := browser(t)
		run(t, ctx, chromedp.Navigate(f.portal), chromedp.WaitVisible("main", chromedp.ByQuery))
		for _, p := range portal {
			checkPage(t, ctx, in.url+p.path, p.name)
		}
		checkPage(t, ctx, in.url+"/portal/s/"+strings.Repeat("0", 64), "portal-expired")
	})
}

// replayFlow replays the flaky endpoint's failed delivery from its log:
// the form, the confirmation with its count, then the progress page.
func replayFlow(t *testing.T, ctx context.Context, f *uiFixture) {
	t.Helper()
	in := f.in
	run(t, ctx, chromedp.Navigate(in.url+"/settings/webhooks/"+f.epFlaky), chromedp.WaitVisible("#r-since", chromedp.ByID),
		chromedp.SetValue("#r-event", "payment.*", chromedp.ByID), chromedp.Submit("#r-since", chromedp.ByID),
		chromedp.WaitVisible("#count-h", chromedp.ByID))
	if h := text(t, ctx, "#count-h"); !strings.Contains(h, "1 delivery would be sent again") {
		t.Fatalf("replay confirmation says %q, want 1 delivery", h)
	}
	if n := in.must(200, "GET", "/api/v1/webhooks/"+f.epFlaky+"/deliveries?status=failed", nil)["data"].([]any); len(n) != 1 {
		t.Fatalf("the confirmation changed something: %d failed deliveries", len(n))
	}
	run(t, ctx, chromedp.Click("form[action$='/replay'][method='post'] button", chromedp.ByQuery))
	waitFlash(t, ctx, "Replay started: 1 delivery to queue again.")
	loc := ""
	run(t, ctx, chromedp.Location(&loc))
	if !regexp.MustCompile(`/settings/webhooks/` + f.epFlaky + `/replays/rpl_[0-9A-Z]+$`).MatchString(loc) {
		t.Fatalf("after the replay the browser is at %s", loc)
	}
	waitText(t, ctx, loc, "Done")
	if got := text(t, ctx, "main"); !strings.Contains(got, "1 of 1 delivery queued again") {
		t.Errorf("progress page says:\n%s", got)
	}
}

// TestUIPageFixes: what a user found at 390 px and 1280 px, each checked
// where it was found.
func TestUIPageFixes(t *testing.T) {
	t.Parallel()
	f := newUIFixture(t)
	in := f.in
	ctx := browser(t)
	signIn(t, ctx, in)
	phone := chromedp.EmulateViewport(390, 844)
	desk := chromedp.EmulateViewport(1280, 900)
	var n int

	// The API keys table stacks on a phone: Revoke is on screen.
	run(t, ctx, phone, chromedp.Navigate(in.url+"/settings/api-keys"), chromedp.WaitVisible("table", chromedp.ByQuery))
	var revoke struct{ Right, Width float64 }
	run(t, ctx, chromedp.Evaluate(`({right: document.querySelector("td[data-label=Revoke] button").getBoundingClientRect().right, width: window.innerWidth})`, &revoke))
	if revoke.Right == 0 || revoke.Right > revoke.Width {
		t.Errorf("the Revoke button ends at %.0f px in a %.0f px window", revoke.Right, revoke.Width)
	}
	// The inbound page keeps its Status and Error columns on a phone.
	run(t, ctx, chromedp.Navigate(in.url+"/settings/webhooks/inbound"), chromedp.WaitVisible("table", chromedp.ByQuery))
	var cells []string
	run(t, ctx, chromedp.Evaluate(`Array.from(document.querySelectorAll("td[data-label=Status], td[data-label=Error]"))
		.filter(td => td.getBoundingClientRect().right <= window.innerWidth && td.getBoundingClientRect().width > 0).map(td => td.textContent.trim())`, &cells))
	if len(cells) != 4 || !strings.Contains(strings.Join(cells, " "), "_") {
		t.Errorf("the recent commands' Status and Error on a phone: %q", cells)
	}
	// The event page shows each endpoint's whole URL, inside the window.
	run(t, ctx, chromedp.Navigate(in.url+"/settings/events/"+f.evt), chromedp.WaitVisible("#dlv-h", chromedp.ByID))
	var urls []string
	run(t, ctx, chromedp.Evaluate(`Array.from(document.querySelectorAll("td[data-label=Endpoint] a"))
		.filter(a => a.getBoundingClientRect().right <= window.innerWidth).map(a => a.textContent)`, &urls))
	for _, want := range []string{"/hooks/one", "/hooks/two", "/hooks/three", "tenant=acme-bookings-europe-west-1", "/down"} {
		if !strings.Contains(strings.Join(urls, " "), want) {
			t.Errorf("the event page on a phone does not show %s whole: %q", want, urls)
		}
	}
	// Delivery ids wrap inside the card.
	run(t, ctx, chromedp.Evaluate(`Array.from(document.querySelectorAll("main code.id")).filter(c => c.getBoundingClientRect().right > c.closest("section, .table-wrap, div").getBoundingClientRect().right + 1).length`, &n))
	if n != 0 {
		t.Errorf("%d ids cross their card's edge on a phone", n)
	}

	// The chart keeps its aspect ratio; its axis says the date.
	for _, vp := range []chromedp.Action{desk, phone} {
		run(t, ctx, vp, chromedp.Navigate(in.url+"/settings/webhooks/"+f.epOK), chromedp.WaitVisible("svg.chart", chromedp.ByQuery))
		if par, _ := attr(t, ctx, "svg.chart", "preserveAspectRatio"); par == "none" {
			t.Errorf("the chart is stretched: preserveAspectRatio=%q", par)
		}
		if axis := text(t, ctx, ".axis"); !regexp.MustCompile(`(?s)\d{4}-\d{2}-\d{2} \d{2}:00 UTC.*\d{4}-\d{2}-\d{2} \d{2}:00 UTC`).MatchString(axis) {
			t.Errorf("the chart's axis gives no date: %q", axis)
		}
		var inSVG int
		run(t, ctx, chromedp.Evaluate(`document.querySelectorAll("svg.chart text").length`, &inSVG))
		if inSVG != 0 {
			t.Errorf("the chart holds %d texts that scale with it", inSVG)
		}
	}
	run(t, ctx, desk)

	// "failing" agrees with the rate beside it: the last attempt failed.
	run(t, ctx, chromedp.Navigate(in.url+"/settings/webhooks"), chromedp.WaitVisible("table", chromedp.ByQuery))
	var rows []struct{ Status, Volume string }
	run(t, ctx, chromedp.Evaluate(`Array.from(document.querySelectorAll("tbody tr")).map(r => ({status: r.querySelector("td[data-label=Status]").textContent,
		volume: r.querySelector("td[data-label='Last 24 h']").textContent}))`, &rows))
	failing := 0
	for _, r := range rows {
		if strings.Contains(r.Status, "failing") {
			failing++
			if !strings.Contains(r.Status, "The last attempt failed") || !strings.Contains(r.Volume, "50 % succeeded (of 2 finished)") {
				t.Errorf("a failing endpoint's row does not tell one story: %q / %q", r.Status, r.Volume)
			}
		}
		if strings.Contains(r.Status, "held back") && !strings.Contains(r.Status, "no attempt until") {
			t.Errorf("a held-back endpoint does not say until when: %q", r.Status)
		}
	}
	if failing != 1 {
		t.Errorf("%d endpoints show failing, want 1: %v", failing, rows)
	}
	// Held back by the circuit breaker: the log and the delivery say why and until when.
	until, _ := in.app.Dispatcher.Breaker.OpenUntil(f.epDown, time.Now())
	run(t, ctx, chromedp.Navigate(in.url+"/settings/webhooks/"+f.epDown), chromedp.WaitVisible("table", chromedp.ByQuery))
	if h := text(t, ctx, ".health"); !strings.Contains(h, "held back") || !strings.Contains(h, "Circuit breaker") || !strings.Contains(h, until.UTC().Format("2006-01-02 15:04:05 UTC")) {
		t.Errorf("the log of a held-back endpoint: %q (open until %s)", h, until)
	}
	// One answer said once: "HTTP 503", not "503 / HTTP 503".
	var answers []string
	run(t, ctx, chromedp.Evaluate(`Array.from(document.querySelectorAll("td[data-label='Last answer']")).map(td => td.textContent.trim()).filter(s => s !== "—")`, &answers))
	if len(answers) == 0 {
		t.Error("no answer in the held-back endpoint's log")
	}
	for _, a := range answers {
		if a != "HTTP 503" {
			t.Errorf("last answer = %q, want HTTP 503", a)
		}
	}
	run(t, ctx, chromedp.Navigate(in.url+"/settings/webhooks/"+f.epDown+"/deliveries/"+f.heldDlv), chromedp.WaitVisible("#circuit", chromedp.ByID))
	if c := text(t, ctx, "#circuit"); !strings.Contains(c, "circuit breaker") || !strings.Contains(c, until.UTC().Format("2006-01-02 15:04:05 UTC")) {
		t.Errorf("the held delivery says: %q", c)
	}
	// The recover box is ISO, and it recovers.
	run(t, ctx, chromedp.Navigate(in.url+"/settings/webhooks/"+f.epFlaky), chromedp.WaitVisible("#since", chromedp.ByID))
	since, _ := attr(t, ctx, "#since", "value")
	if typ, _ := attr(t, ctx, "#since", "type"); typ == "datetime-local" || !regexp.MustCompile(`^\d{4}-\d{2}-\d{2} \d{2}:\d{2}$`).MatchString(since) {
		t.Errorf("the recover box is %s %q, want ISO YYYY-MM-DD HH:MM", typ, since)
	}
	run(t, ctx, chromedp.Click("form[action$='/recover'] button", chromedp.ByQuery))
	waitFlash(t, ctx, "1 failed deliveries queued again")

	// A 1 MB body: the page shows its start and links to the whole.
	for _, p := range []string{"/settings/webhooks/" + f.epOK + "/deliveries/" + f.bigDlv, "/settings/events/" + f.big} {
		run(t, ctx, chromedp.Navigate(in.url+p), chromedp.WaitVisible("#body-cut", chromedp.ByID))
		var size int
		run(t, ctx, chromedp.Evaluate(`document.documentElement.outerHTML.length`, &size))
		if size > 64<<10 {
			t.Errorf("%s is %d characters", p, size)
		}
		href, _ := attr(t, ctx, "#body-cut a", "href")
		var got struct {
			Status       int
			Type, Disp   string
			Notes, Total int
		}
		run(t, ctx, chromedp.Evaluate(`fetch(`+jsString(href)+`).then(async r => { const t = await r.text(); const j = JSON.parse(t); const d = j.data || j;
			return {status: r.status, type: r.headers.get("Content-Type"), disp: r.headers.get("Content-Disposition"), notes: (d.notes || "").length, total: t.length}; })`,
			&got, func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }))
		if got.Status != 200 || got.Type != "application/json" || !strings.HasPrefix(got.Disp, "attachment;") || got.Notes != 1000000 {
			t.Errorf("%s's download = %+v", p, got)
		}
	}
	// The download needs a session, like its page.
	if r, _ := get(t, in.url+"/settings/webhooks/"+f.epOK+"/deliveries/"+f.bigDlv+"/body"); r.Request.URL.Path != "/login" {
		t.Errorf("the download without a session led to %s", r.Request.URL)
	}

	// The create form: events grouped by family, a filter that keeps ticks,
	// and Enter in a field creates (it does not filter).
	run(t, ctx, chromedp.Navigate(in.url+"/settings/webhooks/create"), chromedp.WaitVisible("#url", chromedp.ByID))
	var families, open int
	run(t, ctx, chromedp.Evaluate(`document.querySelectorAll("details.family").length`, &families),
		chromedp.Evaluate(`document.querySelectorAll("details.family[open]").length`, &open))
	if families < 3 || open != 0 {
		t.Errorf("the form has %d families, %d open", families, open)
	}
	run(t, ctx, chromedp.Click("#family-booking summary", chromedp.ByQuery), chromedp.Click("input[value='booking.created']", chromedp.ByQuery),
		chromedp.SendKeys("#filter", "refund", chromedp.ByID), chromedp.Click("button[value=filter]", chromedp.ByQuery),
		chromedp.WaitVisible("#filter-status", chromedp.ByID))
	var shown []string
	run(t, ctx, chromedp.Evaluate(`Array.from(document.querySelectorAll("input[type=checkbox][name=events]")).map(i => i.closest("label").textContent.toLowerCase())`, &shown))
	for _, v := range shown {
		if !strings.Contains(v, "refund") {
			t.Errorf("filtering by refund shows %s", v)
		}
	}
	if !strings.Contains(strings.Join(shown, " "), "payment.refunded") {
		t.Errorf("filtering by refund shows %q", shown)
	}
	if v, ok := attr(t, ctx, "input[type=hidden][name=events]", "value"); !ok || v != "booking.created" {
		t.Errorf("the tick hidden by the filter is not kept: %q", v)
	}
	axeCheck(t, ctx, "create form filtered")
	run(t, ctx, chromedp.Click("input[value='payment.refunded']", chromedp.ByQuery), chromedp.SendKeys("#url", f.ok+"/filtered", chromedp.ByID),
		chromedp.SendKeys("#url", "\r", chromedp.ByID))
	waitFlash(t, ctx, "Endpoint created")
	var loc string
	run(t, ctx, chromedp.Location(&loc))
	ep := in.must(200, "GET", "/api/v1/webhooks/"+regexp.MustCompile(`ep_[0-9A-Z]+`).FindString(loc), nil)
	if b, _ := json.Marshal(ep["events"]); string(b) != `["booking.created","payment.refunded"]` {
		t.Errorf("created with events %s", b)
	}

	// The endpoint form shows the settings of the chosen type only: the
	// URL for a webhook, the broker's section for a broker (on a phone a
	// long scroll past five brokers' fields before).
	run(t, ctx, phone, chromedp.Navigate(in.url+"/settings/webhooks/create"), chromedp.WaitVisible("#type", chromedp.ByID))
	sections := func() []string {
		var ids []string
		run(t, ctx, chromedp.Evaluate(`Array.from(document.querySelectorAll(".broker-config, #config-webhook"))
			.filter(e => e.getClientRects().length > 0).map(e => e.id)`, &ids))
		return ids
	}
	if got := sections(); len(got) != 1 || got[0] != "config-webhook" {
		t.Errorf("the create form for a webhook shows %v, want only config-webhook", got)
	}
	var types []string
	run(t, ctx, chromedp.Evaluate(`Array.from(document.querySelectorAll("#type option")).map(o => o.value).filter(v => v !== "webhook")`, &types))
	if len(types) == 0 {
		t.Error("the create form offers no broker type")
	}
	for _, typ := range types {
		run(t, ctx, chromedp.SetValue("#type", typ, chromedp.ByID))
		if got := sections(); len(got) != 1 || got[0] != "config-"+typ {
			t.Errorf("with type %s the create form shows %v, want only config-%s", typ, got, typ)
		}
	}
	run(t, ctx, desk)

	// Unknown settings and portal pages carry the security headers.
	for _, p := range []string{"/settings/no-such-page", "/settings/webhooks/" + f.epOK + "/nothing", "/portal/no-such-page"} {
		resp := noRedirect(t, in.url+p)
		if resp.StatusCode != 404 || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") ||
			resp.Header.Get("X-Frame-Options") != "DENY" || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s = %d, CSP %q, X-Frame-Options %q", p, resp.StatusCode, resp.Header.Get("Content-Security-Policy"), resp.Header.Get("X-Frame-Options"))
		}
	}

	// The portal: no signature-scheme jargon; a save limited to booking.*
	// keeps the endpoint's "*".
	run(t, ctx, chromedp.Navigate(f.portal), chromedp.WaitVisible("main", chromedp.ByQuery),
		chromedp.Navigate(in.url+"/portal/webhooks/"+f.epOK+"/edit"), chromedp.WaitVisible("#kept", chromedp.ByID))
	page := text(t, ctx, "main")
	if strings.Contains(page, "X-Hookbook-Signature") || strings.Contains(page, "Signature scheme") || !strings.Contains(text(t, ctx, "#kept"), "*") {
		t.Errorf("the portal's edit page: %s", page)
	}
	run(t, ctx, chromedp.Click("#family-booking summary", chromedp.ByQuery), chromedp.Click("input[value='booking.created']", chromedp.ByQuery),
		chromedp.Click("form.card button[type=submit]:not(.default-submit):not([name=action])", chromedp.ByQuery))
	waitFlash(t, ctx, "Saved.")
	if b, _ := json.Marshal(in.must(200, "GET", "/api/v1/webhooks/"+f.epOK, nil)["events"]); string(b) != `["*","booking.created"]` {
		t.Errorf("after a booking.* portal save the endpoint has %s, want * kept", b)
	}
}

// jsString quotes s for a script.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
