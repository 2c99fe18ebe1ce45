package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/hookbook/hookbook/internal/hookbooktest"
)

// readmePortalEmbed runs hookbook and the platform backend of the portal
// section as the README starts them, then opens the backend's page in
// Chromium: the portal loads inside its frame (hookbook's CSP lets the
// backend's origin frame it) and is signed in by the link.
func readmePortalEmbed(t *testing.T, backendJS, run snippet) {
	hookbooktest.RequireTool(t, "node")
	if !strings.Contains(backendJS.code, ".listen(3000)") || !strings.Contains(run.code, "hookbook serve") ||
		!strings.Contains(run.code, "node backend.js") || !strings.Contains(run.code, "HOOKBOOK_URL=http://localhost:8080 ") {
		t.Fatalf("the portal example changed; update this test:\n%s\n%s", backendJS.code, run.code)
	}
	bin := buildBinary(t)
	_, hbPort, _ := strings.Cut(freePort(t), ":")
	_, port, _ := strings.Cut(freePort(t), ":")
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "backend.js"), []byte(strings.Replace(backendJS.code, ".listen(3000)", ".listen("+port+")", 1)), 0o644)
	script := strings.NewReplacer("hookbook serve", bin+" serve", "localhost:8080", "localhost:"+hbPort,
		"localhost:3000", "localhost:"+port, "hk_…", testKey).Replace(run.code)
	c := hookbooktest.Command(t, "bash", "-euo", "pipefail", "-c", script)
	c.Dir = dir
	// hookbook listens on every address of its port, as `hookbook serve`
	// does on :8080, so that localhost works over IPv4 and IPv6.
	c.Env = append(os.Environ(), "HOOKBOOK_ADDR=:"+hbPort, "HOOKBOOK_DATABASE_URL="+databaseURL(t), "HOOKBOOK_BOOTSTRAP_API_KEY="+testKey)
	logs := startLogged(t, c)
	t.Cleanup(func() { hookbooktest.KillGroup(c); c.Wait() })

	// hookbook first: the backend asks it for a link on every request.
	deadline := time.Now().Add(2 * time.Minute) // a loaded machine is slow to start processes
	for {
		if resp, err := http.Get("http://127.0.0.1:" + hbPort + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("hookbook did not become ready:\n%s", logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
	backend := "http://localhost:" + port + "/"
	var html string
	deadline = time.Now().Add(2 * time.Minute)
	for {
		if resp, err := http.Get(backend); err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			html = string(b)
			if resp.StatusCode == 200 && strings.Contains(html, "<iframe") {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the platform backend did not serve its page (%q):\n%s", html, logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
	src := regexp.MustCompile(`<iframe src="([^"]+)"`).FindStringSubmatch(html)
	if src == nil || !strings.HasPrefix(src[1], "http://localhost:"+hbPort+"/portal/s/") {
		t.Fatalf("the backend's page: %s", html)
	}

	// Over HTTP: the link signs in to the portal, whose policy lets the
	// backend's origin frame it.
	jar, _ := cookiejar.New(nil)
	resp, err := (&http.Client{Jar: jar}).Get(src[1])
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Request.URL.Path != "/portal/webhooks" || !strings.Contains(string(b), "Add endpoint") {
		t.Fatalf("the portal link led to %d %s", resp.StatusCode, resp.Request.URL)
	}
	csp := resp.Header.Get("Content-Security-Policy")
	if m := regexp.MustCompile(`frame-ancestors ([^;]*)`).FindStringSubmatch(csp); m == nil || !strings.Contains(" "+m[1]+" ", " http://localhost:"+port+" ") {
		t.Errorf("the portal's CSP does not let the backend (http://localhost:%s) frame it: %q", port, csp)
	}

	// In a browser: the backend's page shows the portal in its frame.
	ctx := browser(t)
	if err := chromedp.Run(ctx, chromedp.Navigate(backend)); err != nil {
		t.Fatal(err)
	}
	var frameURL, text string
	deadline = time.Now().Add(time.Minute)
	for {
		err := chromedp.Run(ctx, chromedp.ActionFunc(func(ctx context.Context) error {
			tree, err := page.GetFrameTree().Do(ctx)
			if err != nil {
				return err
			}
			if len(tree.ChildFrames) != 1 {
				return fmt.Errorf("%d frames in the page", len(tree.ChildFrames))
			}
			f := tree.ChildFrames[0].Frame
			frameURL = f.URL
			if f.UnreachableURL != "" {
				frameURL += " (in place of " + f.UnreachableURL + ")"
			}
			world, err := page.CreateIsolatedWorld(f.ID).Do(ctx)
			if err != nil {
				return err
			}
			res, exc, err := cdpruntime.Evaluate(`document.body ? document.body.innerText : ""`).WithContextID(world).Do(ctx)
			if err != nil {
				return err
			}
			if exc != nil {
				return exc
			}
			return json.Unmarshal(res.Value, &text)
		}))
		if err == nil && strings.HasPrefix(frameURL, "http://localhost:"+hbPort+"/portal/webhooks") && strings.Contains(text, "Add endpoint") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the backend's frame did not show the portal: frame at %q (%v), its text %.300q", frameURL, err, text)
		}
		time.Sleep(100 * time.Millisecond)
	}
	shot(t, ctx, "portal-embed")
}

// readmeFirstKey starts hookbook with JSON logs on a fresh database, as
// the systemd unit does: no key is printed. The README's commands, run on
// that database while it serves, create a key that the API accepts.
func readmeFirstKey(t *testing.T, s snippet) {
	hookbooktest.RequireTool(t, "jq")
	const unitDB = "sqlite:/var/lib/hookbook/hookbook.db"
	if !strings.Contains(s.code, unitDB) || !strings.Contains(s.code, "hookbook org list") || !strings.Contains(s.code, "hookbook key create") {
		t.Fatalf("the first-key example changed; update this test:\n%s", s.code)
	}
	bin := buildBinary(t)
	dbURL := databaseURL(t)
	addr := freePort(t)
	c := startCmd(bin, addr, map[string]string{"HOOKBOOK_DATABASE_URL": dbURL, "HOOKBOOK_LOG_FORMAT": "json",
		"HOOKBOOK_BOOTSTRAP_API_KEY": ""}) // the last value of a variable wins: no bootstrap key
	c.Dir = t.TempDir()
	hookbooktest.Contain(t, c)
	logs := startLogged(t, c)
	t.Cleanup(func() { hookbooktest.KillGroup(c); c.Wait() })
	waitReady(t, 2*time.Minute, "hookbook with JSON logs", addr)
	if l := logs(); strings.Contains(l, "hk_") || !strings.Contains(l, "hookbook key create --org org_") {
		t.Fatalf("hookbook's JSON logs show a key, or do not say how to create one:\n%s", l)
	}
	script := strings.NewReplacer(unitDB, "'"+dbURL+"'", "hookbook org list", bin+" org list", "hookbook key create", bin+" key create").Replace(s.code)
	got, err := runBash(t, t.TempDir(), script)
	if err != nil {
		t.Fatalf("%v\n%s", err, got)
	}
	var key struct{ Key, Name string }
	lines := strings.Split(strings.TrimSpace(got), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &key); err != nil || !strings.HasPrefix(key.Key, "hk_") || key.Name != "admin" {
		t.Fatalf("the README's commands printed %q (%v)", got, err)
	}
	req, _ := http.NewRequest("GET", "http://"+addr+"/api/v1/webhooks", nil)
	req.Header.Set("Authorization", "Bearer "+key.Key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("the new key: GET /api/v1/webhooks = %d, want 200", resp.StatusCode)
	}
}

// readmeReplay runs the replay example against an endpoint with three
// failed booking deliveries and a failed customer one: the dry run counts
// three, the replay queues those three and the receiver gets them again.
func readmeReplay(t *testing.T, s snippet) {
	hookbooktest.RequireTool(t, "curl")
	hookbooktest.RequireTool(t, "jq")
	in := start(t, nil)
	rc, failing := failingReceiver(t)
	ep := in.createEndpoint(rc.URL, []string{"*"}, map[string]any{"max_attempts": 1})["id"].(string)
	for range 3 {
		in.publish("booking.created", nil)
	}
	in.publish("customer.created", nil)
	waitFor(t, 10*time.Second, "four failed deliveries", func() bool {
		return len(in.must(200, "GET", "/api/v1/webhooks/"+ep+"/deliveries?status=failed", nil)["data"].([]any)) == 4
	})
	failing.Store(false)
	script := strings.ReplaceAll(s.code, "localhost:8080", strings.TrimPrefix(in.url, "http://"))
	out, err := runBash(t, t.TempDir(), script, "K=Authorization: Bearer "+in.key, "EP="+ep)
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	for _, want := range []string{`{"count":3,"capped":false,"limit":10000}`, `"status":"done"`, `"queued":3`} {
		if !strings.Contains(out, want) {
			t.Errorf("the replay example printed no %s:\n%s", want, out)
		}
	}
	waitFor(t, 10*time.Second, "the replayed deliveries", func() bool { return rc.Count() == 7 })
	// On an endpoint with nothing to replay the example ends at once,
	// printing the count of none.
	quiet := in.createEndpoint(rc.URL, []string{"*"}, nil)["id"].(string)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "replay.sh"), []byte(strings.ReplaceAll(script, "replay-1", "replay-2")), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err = runBash(t, dir, "timeout 60 bash -euo pipefail replay.sh", "K=Authorization: Bearer "+in.key, "EP="+quiet)
	if err != nil || !strings.Contains(out, `{"count":0,"capped":false,"limit":10000}`) || strings.Contains(out, `"status"`) {
		t.Errorf("the replay example on an endpoint with nothing to replay: %v\n%s", err, out)
	}
}

// readmeFilters runs the Filters example against an instance, then checks
// that the endpoint it created gets a delivery for a matching booking and
// none for the others.
func readmeFilters(t *testing.T, s snippet) {
	hookbooktest.RequireTool(t, "curl")
	in := start(t, nil)
	host := strings.TrimPrefix(in.url, "http://")
	if !strings.Contains(s.code, "localhost:8080") || !strings.Contains(s.code, `"$gte": 2`) {
		t.Fatalf("the Filters example changed; update this test:\n%s", s.code)
	}
	script := strings.ReplaceAll(s.code, "localhost:8080", host)
	out, err := runBash(t, t.TempDir(), script, "K=Authorization: Bearer "+in.key)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.HasSuffix(strings.TrimSpace(out), `{"matches":true}`) {
		t.Fatalf("the dry run printed %q", out)
	}
	var ep struct {
		ID     string
		Filter json.RawMessage
	}
	if err := json.Unmarshal([]byte(out[:strings.Index(out, `{"matches"`)]), &ep); err != nil || ep.ID == "" {
		t.Fatalf("the endpoint answer: %v: %s", err, out)
	}
	if string(ep.Filter) != `{"data":{"location":"Main Square","participants":{"$gte":2}}}` {
		t.Fatalf("created filter %s", ep.Filter)
	}
	in.publish("booking.created", bookingData(map[string]any{"location": "Harbour", "participants": 4}))
	in.publish("booking.created", bookingData(map[string]any{"location": "Main Square", "participants": 1}))
	match := in.publish("booking.created", bookingData(map[string]any{"location": "Main Square", "participants": 2}))
	list := in.must(200, "GET", "/api/v1/webhooks/"+ep.ID+"/deliveries", nil)["data"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["event_id"] != match {
		t.Fatalf("deliveries of the filtered endpoint: %v (want one, of %s)", list, match)
	}
}
