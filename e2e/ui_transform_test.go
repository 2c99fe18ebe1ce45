package e2e

import (
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestUITransformations: the admin picks a chat connector with its example
// shown, dry-runs it, creates the endpoint, edits the code (a syntax error
// is shown beside the field); the portal neither shows nor changes the
// transformation, and a portal save keeps it.
func TestUITransformations(t *testing.T) {
	t.Parallel()
	ctx := browser(t)
	in := start(t, nil)
	rc := newReceiver(t, nil)
	signIn(t, ctx, in)
	checkPage(t, ctx, in.url+"/settings/webhooks/create", "create-connectors")
	var body string
	run(t, ctx, chromedp.Evaluate(`document.querySelector("#transformation").textContent`, &body))
	if !strings.Contains(body, "Slack") || !strings.Contains(body, "Microsoft Teams") ||
		!strings.Contains(body, "New booking: City Walking Tour, Wed 25 Mar 2026 14:00, 2 participants") {
		t.Fatalf("the connector picker shows: %s", body)
	}

	// Pick Slack and test it on booking.created's example: nothing is saved.
	run(t, ctx, chromedp.SendKeys("#url", rc.URL+"/services/T0/B0/x", chromedp.ByID),
		chromedp.Click("#family-booking summary", chromedp.ByQuery), chromedp.Click("input[value='booking.*']", chromedp.ByQuery),
		chromedp.Click("input[name='connector'][value='slack']", chromedp.ByQuery),
		chromedp.Click("button[value='test_transformation']", chromedp.ByQuery), chromedp.WaitVisible("#transformation-result", chromedp.ByID))
	if got := text(t, ctx, "#transformation-result"); !strings.Contains(got, `"text": "New booking: City Walking Tour`) {
		t.Fatalf("dry run shows: %s", got)
	}
	axeCheck(t, ctx, "create form after a dry run")
	if n := len(in.must(200, "GET", "/api/v1/webhooks", nil)["data"].([]any)); n != 0 {
		t.Fatalf("a dry run saved %d endpoints", n)
	}
	run(t, ctx, chromedp.Submit("#url", chromedp.ByID))
	waitFlash(t, ctx, "Endpoint created")
	var loc string
	run(t, ctx, chromedp.Location(&loc))
	id := regexp.MustCompile(`ep_[0-9A-Z]+`).FindString(loc)
	ep := in.must(200, "GET", "/api/v1/webhooks/"+id, nil)
	tr, _ := ep["transformation"].(map[string]any)
	if tr == nil || tr["connector"] != "slack" || tr["enabled"] != true {
		t.Fatalf("created endpoint's transformation: %v", ep["transformation"])
	}

	// The edit page: the connector named, its code in the editor.
	checkPage(t, ctx, in.url+"/settings/webhooks/"+id+"/edit", "edit-transformation")
	if note := text(t, ctx, "#connector-note"); !strings.Contains(note, "slack") {
		t.Fatalf("connector note: %s", note)
	}
	var code string
	run(t, ctx, chromedp.Value("#transformation_code", &code, chromedp.ByID))
	if code != tr["code"] {
		t.Fatalf("the editor holds %d bytes, not the stored code", len(code))
	}
	// Saved unchanged (the browser sends CRLF line ends), it stays the connector's.
	run(t, ctx, chromedp.Submit("#url", chromedp.ByID))
	waitFlash(t, ctx, "Saved")
	if tr := in.must(200, "GET", "/api/v1/webhooks/"+id, nil)["transformation"].(map[string]any); tr["connector"] != "slack" {
		t.Fatalf("after an unchanged save: %v", tr)
	}
	// A syntax error is shown beside the editor.
	run(t, ctx, chromedp.SetValue("#transformation_code", "function handler(w) { return w", chromedp.ByID),
		chromedp.Submit("#url", chromedp.ByID), chromedp.WaitVisible("#transformation-error", chromedp.ByID))
	if msg := text(t, ctx, "#transformation-error"); !strings.Contains(msg, "syntax error") {
		t.Fatalf("field error: %s", msg)
	}
	axeCheck(t, ctx, "edit form with a transformation error")

	// The portal: no transformation shown; its save keeps it.
	portal := in.must(201, "POST", "/api/v1/portal/sessions", map[string]any{"event_types": []string{"booking.*"}, "expires_in": "1h"})["url"].(string)
	pctx := browser(t)
	run(t, pctx, chromedp.Navigate(portal), chromedp.WaitVisible("main", chromedp.ByQuery),
		chromedp.Navigate(in.url+"/portal/webhooks/"+id+"/edit"), chromedp.WaitVisible("#url", chromedp.ByID))
	var html string
	run(t, pctx, chromedp.OuterHTML("main", &html, chromedp.ByQuery))
	if strings.Contains(html, "transformation") || strings.Contains(html, "function handler") || strings.Contains(html, "connector") {
		t.Fatal("the portal shows the transformation")
	}
	run(t, pctx, chromedp.SetValue("#description", "from the portal", chromedp.ByID), chromedp.Submit("#url", chromedp.ByID))
	waitFlash(t, pctx, "Saved")
	ep = in.must(200, "GET", "/api/v1/webhooks/"+id, nil)
	if ep["description"] != "from the portal" || ep["transformation"] == nil || ep["transformation"].(map[string]any)["connector"] != "slack" {
		t.Fatalf("after a portal save: %v", ep)
	}
}
