package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/hookbook/hookbook/internal/db"
)

// TestPortalSessionsAPI: what POST /api/v1/portal/sessions accepts and
// answers, and the links it makes.
func TestPortalSessionsAPI(t *testing.T) {
	t.Parallel()
	in := start(t, nil)
	for name, c := range map[string]struct {
		body  any
		field string
	}{
		"too long":           {map[string]any{"expires_in": "25h"}, "expires_in"},
		"not a duration":     {map[string]any{"expires_in": "soon"}, "expires_in"},
		"negative":           {map[string]any{"expires_in": "-1h"}, "expires_in"},
		"no event types":     {map[string]any{"event_types": []string{}}, "event_types"},
		"bad pattern":        {map[string]any{"event_types": []string{"Booking!"}}, "event_types"},
		"unknown event type": {map[string]any{"event_types": []string{"lead.never"}}, "event_types"},
		"too many types":     {map[string]any{"event_types": strings.Split(strings.Repeat("booking.created,", 101), ",")[:101]}, "event_types"},
	} {
		r := in.do("POST", "/api/v1/portal/sessions", c.body)
		if r.Status != 422 || r.ErrorCode(t) != "validation_failed" || !strings.Contains(string(r.Body), `"`+c.field+`"`) {
			t.Errorf("%s: %d %s", name, r.Status, r.Body)
		}
	}
	if r := in.do("POST", "/api/v1/portal/sessions", `{"read_only":"yes"}`); r.Status != 422 && r.Status != 400 {
		t.Errorf("read_only as a string = %d %s", r.Status, r.Body)
	}
	if r := in.doKey("hk_wrong_key_0000000000000000000000", "POST", "/api/v1/portal/sessions", map[string]any{}); r.Status != 401 {
		t.Errorf("without a valid key = %d", r.Status)
	}
	before := time.Now()
	link := in.must(201, "POST", "/api/v1/portal/sessions", map[string]any{})
	u, err := url.Parse(link["url"].(string))
	if err != nil || u.Scheme+"://"+u.Host != in.url || !regexp.MustCompile(`^/portal/s/[0-9a-f]{64}$`).MatchString(u.Path) {
		t.Fatalf("url = %v", link["url"])
	}
	exp, _ := time.Parse(time.RFC3339, link["expires_at"].(string))
	if d := exp.Sub(before); d < 59*time.Minute || d > 61*time.Minute {
		t.Errorf("default expiry in %s, want 1 h", d)
	}
	// A public URL, when configured, starts every link.
	pub := start(t, map[string]string{"HOOKBOOK_PUBLIC_URL": "https://hooks.example.com"})
	if l := pub.must(201, "POST", "/api/v1/portal/sessions", map[string]any{"expires_in": "24h"}); !strings.HasPrefix(l["url"].(string), "https://hooks.example.com/portal/s/") {
		t.Errorf("with HOOKBOOK_PUBLIC_URL: %v", l["url"])
	}
	// Over https the portal's cookie works inside another site's frame:
	// SameSite=None, Secure, Partitioned.
	l := pub.must(201, "POST", "/api/v1/portal/sessions", map[string]any{})
	path := strings.TrimPrefix(l["url"].(string), "https://hooks.example.com")
	resp := noRedirect(t, pub.url+path)
	cookie := resp.Header.Get("Set-Cookie")
	for _, want := range []string{"hookbook_portal=", "HttpOnly", "SameSite=None", "Secure", "Partitioned", "Path=/portal/"} {
		if !strings.Contains(cookie, want) {
			t.Errorf("portal cookie over https lacks %s: %s", want, cookie)
		}
	}
	// Over plain http it is SameSite=Lax (and not Secure, or it would be dropped).
	resp = noRedirect(t, link["url"].(string))
	if c := resp.Header.Get("Set-Cookie"); !strings.Contains(c, "SameSite=Lax") || strings.Contains(c, "Secure") || resp.Header.Get("Location") != "/portal/webhooks" {
		t.Errorf("portal start over http = %d %s → %s", resp.StatusCode, c, resp.Header.Get("Location"))
	}
	// Framing: 'none' and X-Frame-Options DENY by default.
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || resp.Header.Get("X-Frame-Options") != "DENY" {
		t.Errorf("default framing: CSP %q, X-Frame-Options %q", csp, resp.Header.Get("X-Frame-Options"))
	}
	// At most 1,000 unexpired links per organization.
	org, err := in.app.Orgs.OrganizationByAPIKey(context.Background(), in.key)
	if err != nil {
		t.Fatal(err)
	}
	rows := make([][]any, 0, 1000)
	for i := len(rows); i < 999; i++ {
		rows = append(rows, []any{fmt.Sprintf("bulk-%d", i), org.ID, "x", 0, time.Now().Add(time.Hour).UnixMicro(), true})
	}
	err = in.app.DB.Tx(context.Background(), func(tx *db.Tx) error {
		return tx.InsertRows(context.Background(), "ui_sessions", []string{"token_hash", "organization_id", "csrf_token", "created_at", "expires_at", "portal"}, "", rows)
	})
	if err != nil {
		t.Fatal(err)
	}
	if r := in.do("POST", "/api/v1/portal/sessions", map[string]any{}); r.Status != 403 || r.ErrorCode(t) != "portal_session_limit" {
		t.Errorf("the 1,001st live link = %d %s", r.Status, r.Body)
	}
	// A bad or unknown link: the expired page, 401.
	for _, p := range []string{"/portal/s/nope", "/portal/s/" + strings.Repeat("0", 64)} {
		r, body := get(t, in.url+p)
		if r.StatusCode != 401 || !strings.Contains(body, "This link has expired") {
			t.Errorf("%s = %d", p, r.StatusCode)
		}
	}
}

func noRedirect(t *testing.T, u string) *http.Response {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func get(t *testing.T, u string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestPortal: a platform's page frames the portal; the customer manages
// endpoints limited to the link's event types, with no other credential,
// sees only their organization, and the link expires.
func TestPortal(t *testing.T) {
	t.Parallel()
	ctx := browser(t)
	// The platform's page, on its own origin, frames the portal.
	var portalURL string
	platform := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `<!doctype html><html lang="en"><head><title>Acme</title></head><body><main><h1>Acme settings</h1>
<iframe src="%s" title="Webhooks" style="width:1000px;height:800px;border:0"></iframe></main></body></html>`, portalURL)
	}))
	t.Cleanup(platform.Close)
	in := start(t, map[string]string{
		"HOOKBOOK_PORTAL_NAME": "Acme Bookings", "HOOKBOOK_PORTAL_ACCENT": "#aa3300",
		"HOOKBOOK_PORTAL_FRAME_ANCESTORS": platform.URL, "HOOKBOOK_PORTAL_LOGO_URL": "https://cdn.example.com/acme/logo.svg",
	})
	rc := newReceiver(t, nil)
	// Another organization's endpoint: never visible in this portal.
	other := secondOrg(t, in)
	otherEP := in.doKey(other, "POST", "/api/v1/webhooks", map[string]any{"url": rc.URL + "/other", "events": []string{"*"}}).JSON(t)["id"].(string)

	portalURL = in.must(201, "POST", "/api/v1/portal/sessions", map[string]any{"event_types": []string{"booking.*"}})["url"].(string)
	run(t, ctx, chromedp.Navigate(platform.URL), chromedp.WaitVisible("iframe", chromedp.ByQuery))
	var frames []*cdp.Node
	run(t, ctx, chromedp.Nodes("iframe", &frames, chromedp.ByQuery))
	in1 := chromedp.FromNode(frames[0])
	run(t, ctx, chromedp.WaitVisible("h1", chromedp.ByQuery, in1))
	var framed string
	run(t, ctx, chromedp.Text("main", &framed, chromedp.ByQuery, in1))
	if !strings.Contains(framed, "Webhooks") || !strings.Contains(framed, "Add endpoint") {
		t.Fatalf("the framed portal shows: %s", framed)
	}
	shot(t, ctx, "portal-framed")
	resp := noRedirect(t, in.url+"/portal/webhooks")
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors "+platform.URL) || resp.Header.Get("X-Frame-Options") != "" ||
		!strings.Contains(csp, "img-src 'self' data: https://cdn.example.com;") {
		t.Errorf("portal framing headers: CSP %q, X-Frame-Options %q", csp, resp.Header.Get("X-Frame-Options"))
	}

	// The portal at top level: branded, no admin navigation, no keys.
	run(t, ctx, chromedp.Navigate(portalURL), chromedp.WaitVisible("a.button[href='/portal/webhooks/create']", chromedp.ByQuery))
	page := text(t, ctx, "body")
	if !strings.Contains(page, "Acme Bookings") || strings.Contains(page, "API keys") || strings.Contains(page, "Inbound") || strings.Contains(page, "hookbook") {
		t.Errorf("portal page: %s", page)
	}
	if src, _ := attr(t, ctx, "img.logo", "src"); src != "https://cdn.example.com/acme/logo.svg" {
		t.Errorf("logo = %q", src)
	}
	var settingsLinks int
	run(t, ctx, chromedp.Evaluate(`document.querySelectorAll("a[href^='/settings'], form[action^='/settings']").length`, &settingsLinks))
	if settingsLinks != 0 {
		t.Errorf("the portal links to the admin UI %d times", settingsLinks)
	}
	_, theme := get(t, in.url+"/portal/theme.css")
	if !strings.Contains(theme, "--accent: #aa3300") {
		t.Errorf("theme = %q", theme)
	}
	axeCheck(t, ctx, "portal endpoints")

	// Create: only the link's event types are offered.
	run(t, ctx, chromedp.Click("a.button[href='/portal/webhooks/create']", chromedp.ByQuery), chromedp.WaitVisible("#url", chromedp.ByID))
	var offered []string
	run(t, ctx, chromedp.Evaluate(`Array.from(document.querySelectorAll("input[name=events]")).map(i => i.value)`, &offered))
	for _, e := range offered {
		if e != "booking.*" && !strings.HasPrefix(e, "booking.") {
			t.Errorf("the portal offers %s", e)
		}
	}
	if len(offered) < 5 {
		t.Errorf("offered %v", offered)
	}
	axeCheck(t, ctx, "portal create form")
	run(t, ctx, chromedp.SendKeys("#url", rc.URL+"/portal", chromedp.ByID), chromedp.Click("#family-booking summary", chromedp.ByQuery),
		chromedp.Click("input[value='booking.created']", chromedp.ByQuery),
		chromedp.Submit("#url", chromedp.ByID))
	waitFlash(t, ctx, "Endpoint created")
	var loc string
	run(t, ctx, chromedp.Location(&loc))
	id := regexp.MustCompile(`ep_[0-9A-Z]+`).FindString(loc)
	if !strings.Contains(loc, "/portal/webhooks/"+id) {
		t.Fatalf("after create: %s", loc)
	}
	if ep := in.must(200, "GET", "/api/v1/webhooks/"+id, nil); ep["events"].([]any)[0] != "booking.created" {
		t.Fatalf("created %v", ep)
	}
	// Send a test, follow it into the log and the attempt.
	run(t, ctx, chromedp.Navigate(in.url+"/portal/webhooks/"+id+"/edit"), chromedp.Click("form[action$='/test'] button", chromedp.ByQuery),
		chromedp.WaitVisible(".flash", chromedp.ByQuery))
	waitText(t, ctx, in.url+"/portal/webhooks/"+id, "succeeded")
	axeCheck(t, ctx, "portal delivery log")
	run(t, ctx, chromedp.Click("tbody a[href*='/deliveries/']", chromedp.ByQuery), chromedp.WaitVisible(".attempt", chromedp.ByQuery))
	if body := text(t, ctx, "main"); !strings.Contains(body, "webhook-signature") {
		t.Errorf("attempt page: %s", body)
	}

	// The customer edits their endpoint's filter, with a dry run on the
	// example of one of their own event types.
	run(t, ctx, chromedp.Navigate(in.url+"/portal/webhooks/"+id+"/edit"), chromedp.WaitVisible("#payload_filter", chromedp.ByID))
	var examples []string
	run(t, ctx, chromedp.Evaluate(`Array.from(document.querySelectorAll("#filter_event_type option")).map(o => o.value)`, &examples))
	for _, e := range examples {
		if !strings.HasPrefix(e, "booking.") {
			t.Errorf("the portal's dry run offers %s", e)
		}
	}
	run(t, ctx, chromedp.SetValue("#payload_filter", `{"data":{"participants":{"$gte":3}}}`, chromedp.ByID),
		chromedp.SetValue("#filter_event_type", "booking.created", chromedp.ByID),
		chromedp.Click("button[value='test_filter']", chromedp.ByQuery), chromedp.WaitVisible("#filter-result", chromedp.ByID))
	if r := text(t, ctx, "#filter-result"); !strings.HasPrefix(r, "Does not match") {
		t.Errorf("portal dry run: %q", r)
	}
	axeCheck(t, ctx, "portal filter dry run")
	run(t, ctx, chromedp.Submit("#url", chromedp.ByID))
	waitFlash(t, ctx, "Saved.")
	if ep := in.must(200, "GET", "/api/v1/webhooks/"+id, nil); string(mustJSON(ep["filter"])) != `{"data":{"participants":{"$gte":3}}}` {
		t.Errorf("filter saved from the portal = %s", mustJSON(ep["filter"]))
	}

	// Crafted requests: an event type outside the link, another
	// organization's endpoint, the admin UI, and the API.
	jar := cookieFrom(t, ctx, in.url)
	csrf := regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`).FindStringSubmatch(portalGet(t, jar, in.url+"/portal/webhooks/create", 200))[1]
	r := portalPost(t, jar, in.url+"/portal/webhooks/create", url.Values{"csrf": {csrf}, "url": {rc.URL + "/x"}, "events": {"*"},
		"max_attempts": {"8"}, "timeout_seconds": {"10"}, "signature_scheme": {"timestamped"}})
	if r.StatusCode != 422 || !strings.Contains(r.body, "not available here") {
		t.Errorf("subscribing to * from the portal = %d", r.StatusCode)
	}
	// Throttling is the platform's: the portal form has no such fields, and
	// a crafted edit carrying them changes neither.
	in.must(200, "PATCH", "/api/v1/webhooks/"+id, map[string]any{"rate_limit": "5/s", "max_in_flight": 2})
	if b := portalGet(t, jar, in.url+"/portal/webhooks/"+id+"/edit", 200); strings.Contains(b, `name="rate_limit"`) || strings.Contains(b, `name="max_in_flight"`) {
		t.Error("the portal's form offers the throttle")
	}
	if r := portalPost(t, jar, in.url+"/portal/webhooks/"+id+"/edit", url.Values{"csrf": {csrf}, "url": {rc.URL + "/portal"}, "events": {"booking.created"},
		"max_attempts": {"8"}, "timeout_seconds": {"10"}, "signature_scheme": {"timestamped"}, "enabled": {"on"},
		"rate_limit": {"10000/s"}, "max_in_flight": {"1000"}}); r.StatusCode != 303 {
		t.Errorf("a portal edit = %d %s", r.StatusCode, r.body)
	}
	if ep := in.must(200, "GET", "/api/v1/webhooks/"+id, nil); ep["rate_limit"] != "5/s" || ep["max_in_flight"] != float64(2) {
		t.Errorf("after a crafted portal edit: rate_limit %v, max_in_flight %v", ep["rate_limit"], ep["max_in_flight"])
	}
	portalGet(t, jar, in.url+"/portal/webhooks/"+otherEP, 404)
	portalGet(t, jar, in.url+"/portal/webhooks/"+otherEP+"/edit", 404)
	// Replays: of the link's event types only, of its organization's endpoints only
	// (accepted: to its progress, or back to the log when nothing matches).
	if r := portalPost(t, jar, in.url+"/portal/webhooks/"+id+"/replay", url.Values{"csrf": {csrf}, "since": {"2026-01-01 00:00"}, "event": {"*"}}); r.StatusCode != 422 {
		t.Errorf("a portal replay of every event = %d", r.StatusCode)
	}
	portalGet(t, jar, in.url+"/portal/webhooks/"+otherEP+"/replay?since=2026-01-01+00%3A00&event=booking.*", 404)
	if r := portalPost(t, jar, in.url+"/portal/webhooks/"+id+"/replay", url.Values{"csrf": {csrf}, "since": {"2026-01-01 00:00"},
		"status": {"succeeded"}, "event": {"booking.*"}}); r.StatusCode != 303 || !strings.HasPrefix(r.location, "/portal/webhooks/"+id) {
		t.Errorf("a portal replay of booking.* = %d %s", r.StatusCode, r.location)
	}
	// The Event field left empty means the link's booking.*: counted, then replayed.
	if b := portalGet(t, jar, in.url+"/portal/webhooks/"+id+"/replay?since=2026-01-01+00%3A00&status=succeeded&event=", 200); !strings.Contains(b, `name="event" value="booking.*"`) {
		t.Errorf("the portal's confirmation of a replay with no event carries no booking.*:\n%s", b)
	}
	if r := portalPost(t, jar, in.url+"/portal/webhooks/"+id+"/replay", url.Values{"csrf": {csrf}, "since": {"2026-01-01 00:00"},
		"status": {"succeeded"}, "event": {""}}); r.StatusCode != 303 || !strings.HasPrefix(r.location, "/portal/webhooks/"+id) {
		t.Errorf("a portal replay with no event = %d %s, want it to replay booking.*", r.StatusCode, r.location)
	}
	if b := portalGet(t, jar, in.url+"/portal/webhooks", 200); strings.Contains(b, otherEP) {
		t.Error("the portal lists another organization's endpoint")
	}
	if r := portalReq(t, jar, "GET", in.url+"/settings/webhooks", nil); r.StatusCode != 303 || !strings.HasPrefix(r.location, "/login") {
		t.Errorf("the admin UI with a portal cookie = %d %s", r.StatusCode, r.location)
	}
	if r := portalReq(t, jar, "GET", in.url+"/api/v1/webhooks", nil); r.StatusCode != 401 {
		t.Errorf("the API with a portal cookie = %d", r.StatusCode)
	}
	// A flash message never comes from the URL.
	if b := portalGet(t, jar, in.url+"/portal/webhooks?flash=Your+account+is+locked", 200); strings.Contains(b, "account is locked") {
		t.Error("the portal shows a flash message from the URL")
	}

	// Read-only: no forms to change anything, and posts refused.
	ro := in.must(201, "POST", "/api/v1/portal/sessions", map[string]any{"read_only": true})["url"].(string)
	run(t, ctx, chromedp.Navigate(ro), chromedp.WaitVisible("table", chromedp.ByQuery))
	var writeControls int
	run(t, ctx, chromedp.Evaluate(`document.querySelectorAll("a[href$='/create'], form[method=post]").length`, &writeControls))
	if writeControls != 0 {
		t.Errorf("the read-only portal shows %d controls that change things", writeControls)
	}
	axeCheck(t, ctx, "read-only portal")
	roJar := cookieFrom(t, ctx, in.url)
	csrf = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`).FindStringSubmatch(portalGet(t, roJar, in.url+"/portal/webhooks/"+id+"/edit", 200))[1]
	if r := portalPost(t, roJar, in.url+"/portal/webhooks/"+id+"/delete", url.Values{"csrf": {csrf}}); r.StatusCode != 403 {
		t.Errorf("delete from a read-only portal = %d", r.StatusCode)
	}
	in.must(200, "GET", "/api/v1/webhooks/"+id, nil)

	// Expiry: the session ends, the pages answer 401 with the expired page.
	if _, err := in.app.DB.ExecContext(context.Background(), `UPDATE ui_sessions SET expires_at = 1 WHERE portal`); err != nil {
		t.Fatal(err)
	}
	run(t, ctx, chromedp.Navigate(in.url+"/portal/webhooks"), chromedp.WaitVisible("h1", chromedp.ByQuery))
	if h := text(t, ctx, "h1"); h != "This link has expired" {
		t.Errorf("after expiry: %s", h)
	}
	axeCheck(t, ctx, "portal expired page")
	portalGet(t, jar, in.url+"/portal/webhooks", 401)
	shot(t, ctx, "portal-expired")
}

// cookieFrom copies the browser's hookbook_portal cookie.
func cookieFrom(t *testing.T, ctx context.Context, base string) *http.Cookie {
	t.Helper()
	// The cookie is HttpOnly: read it through the DevTools protocol.
	var cookies []*network.Cookie
	run(t, ctx, chromedp.ActionFunc(func(ctx context.Context) error {
		var err error
		cookies, err = network.GetCookies().WithURLs([]string{base + "/portal/"}).Do(ctx)
		return err
	}))
	for _, c := range cookies {
		if c.Name == "hookbook_portal" {
			return &http.Cookie{Name: c.Name, Value: c.Value}
		}
	}
	t.Fatal("no portal cookie in the browser")
	return nil
}

type answer struct {
	StatusCode int
	body       string
	location   string
}

func portalReq(t *testing.T, c *http.Cookie, method, u string, form url.Values) answer {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, u, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.AddCookie(c)
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, string(b), resp.Header.Get("Location")}
}

func portalGet(t *testing.T, c *http.Cookie, u string, want int) string {
	t.Helper()
	r := portalReq(t, c, "GET", u, nil)
	if r.StatusCode != want {
		t.Errorf("GET %s = %d, want %d", u, r.StatusCode, want)
	}
	return r.body
}

func portalPost(t *testing.T, c *http.Cookie, u string, form url.Values) answer {
	t.Helper()
	return portalReq(t, c, "POST", u, form)
}
