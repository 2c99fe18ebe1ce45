package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestUIDashboard: search by id, one event's deliveries across endpoints,
// wildcard filters, "in flight", retry from the list, and flash messages
// that only the server sets.
func TestUIDashboard(t *testing.T) {
	t.Parallel()
	ctx := browser(t)
	in := start(t, nil)
	ok := newReceiver(t, nil)
	release := make(chan struct{})
	// Every attempt hangs until released: on a loaded machine the first may
	// reach its 30 s timeout before the page is checked, and the next one
	// is then in flight in its place.
	hang := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		<-release
		w.WriteHeader(200)
	})
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	ep1 := in.createEndpoint(ok.URL+"/one", []string{"*"}, nil)["id"].(string)
	ep2 := in.createEndpoint(hang.URL+"/two", []string{"booking.*"}, map[string]any{"timeout_seconds": 30})["id"].(string)
	evt := in.publish("booking.created", nil)
	in.publish("payment.succeeded", nil)
	waitFor(t, 10*time.Second, "the prompt endpoint's deliveries", func() bool { return ok.Count() == 2 })
	waitFor(t, 10*time.Second, "the hanging attempt", func() bool { return hang.Count() == 1 })

	run(t, ctx, chromedp.Navigate(in.url+"/login"), chromedp.WaitVisible("#api_key", chromedp.ByID),
		chromedp.SendKeys("#api_key", in.key, chromedp.ByID), chromedp.Submit("#api_key", chromedp.ByID),
		chromedp.WaitVisible("#q", chromedp.ByID))

	// A flash message in the URL is not shown.
	run(t, ctx, chromedp.Navigate(in.url+"/settings/webhooks?flash=Your+key+leaked.+Sign+in+at+evil.example"), chromedp.WaitVisible("#q", chromedp.ByID))
	if strings.Contains(text(t, ctx, "body"), "evil.example") {
		t.Error("the UI shows a flash message from the URL")
	}

	// Search by event id: every delivery of the event, across endpoints.
	run(t, ctx, chromedp.SendKeys("#q", evt, chromedp.ByID), chromedp.Submit("#q", chromedp.ByID), chromedp.WaitVisible("#dlv-h", chromedp.ByID))
	page := inFlight(t, ctx, "main", "#dlv-h")
	if !strings.Contains(page, ok.URL+"/one") || !strings.Contains(page, hang.URL+"/two") || !strings.Contains(page, `"event"`) && !strings.Contains(page, "bkg_") {
		t.Errorf("event page: %s", page)
	}
	if !strings.Contains(page, "in flight") {
		t.Errorf("the hanging delivery is not shown in flight: %s", page)
	}
	shot(t, ctx, "event-page")
	axeCheck(t, ctx, "event page")
	run(t, ctx, chromedp.EmulateViewport(390, 844), chromedp.Reload(), chromedp.WaitVisible("#dlv-h", chromedp.ByID))
	noSideScroll(t, ctx, "event page on a phone")
	run(t, ctx, chromedp.EmulateViewport(1280, 900))

	// The delivery log of the hanging endpoint: in flight, not "next attempt in 90 s".
	run(t, ctx, chromedp.Navigate(in.url+"/settings/webhooks/"+ep2), chromedp.WaitVisible("table", chromedp.ByQuery))
	if row := inFlight(t, ctx, "tbody tr", "table"); !strings.Contains(row, "in flight") || !strings.Contains(row, "sending now") {
		t.Errorf("in-flight row: %s", row)
	}
	close(release)

	// Search by delivery id opens the delivery; an unknown id says so.
	dlvs := in.must(200, "GET", "/api/v1/webhooks/"+ep1+"/deliveries", nil)["data"].([]any)
	dlv := dlvs[0].(map[string]any)["id"].(string)
	run(t, ctx, chromedp.Navigate(in.url+"/settings/search?q="+dlv), chromedp.WaitVisible(".attempt", chromedp.ByQuery))
	var loc string
	run(t, ctx, chromedp.Location(&loc))
	if !strings.HasSuffix(loc, "/settings/webhooks/"+ep1+"/deliveries/"+dlv) {
		t.Errorf("delivery search led to %s", loc)
	}
	run(t, ctx, chromedp.Navigate(in.url+"/settings/search?q=evt_nothing"), chromedp.WaitVisible(".alert", chromedp.ByQuery))
	if !strings.Contains(text(t, ctx, ".alert"), "No event or delivery has this id") {
		t.Errorf("unknown id: %s", text(t, ctx, "main"))
	}
	axeCheck(t, ctx, "search page")

	// Wildcard filters.
	for filter, want := range map[string][]string{"booking.*": {"booking.created"}, "payment.*": {"payment.succeeded"}, "*": {"booking.created", "payment.succeeded"}} {
		run(t, ctx, chromedp.Navigate(in.url+"/settings/webhooks/"+ep1+"?event="+filter), chromedp.WaitVisible("table", chromedp.ByQuery))
		var events []string
		run(t, ctx, chromedp.Evaluate(`Array.from(document.querySelectorAll("tbody td[data-label=Event] code")).map(c => c.textContent)`, &events))
		if strings.Join(events, ",") != strings.Join(want, ",") && !(len(want) == 2 && len(events) == 2) {
			t.Errorf("filter %s shows %v, want %v", filter, events, want)
		}
	}
	run(t, ctx, chromedp.Navigate(in.url+"/settings/webhooks/"+ep1+"?event=Booking!"), chromedp.WaitVisible("#event-error", chromedp.ByID))

	// Retry from the list.
	run(t, ctx, chromedp.Navigate(in.url+"/settings/webhooks/"+ep1), chromedp.WaitVisible("table", chromedp.ByQuery),
		chromedp.Click("form[action$='/deliveries/"+dlv+"/redeliver'] button", chromedp.ByQuery))
	waitFlash(t, ctx, "queued for one more attempt")
	run(t, ctx, chromedp.Location(&loc))
	if !strings.HasSuffix(loc, "/settings/webhooks/"+ep1) {
		t.Errorf("retry from the list led to %s", loc)
	}
	waitFor(t, 10*time.Second, "the retried attempt", func() bool { return len(attemptsOf(in, dlv)) == 2 })
}

// inFlight returns the text of sel once it shows an attempt in flight,
// reloading the page (until visible) for at most uiStep: between one
// attempt's timeout and the next attempt the delivery briefly waits.
func inFlight(t *testing.T, ctx context.Context, sel, visible string) string {
	t.Helper()
	deadline := time.Now().Add(uiStep)
	for {
		s := text(t, ctx, sel)
		if strings.Contains(s, "in flight") || time.Now().After(deadline) {
			return s
		}
		time.Sleep(200 * time.Millisecond)
		run(t, ctx, chromedp.Reload(), chromedp.WaitVisible(visible, chromedp.ByQuery))
	}
}
