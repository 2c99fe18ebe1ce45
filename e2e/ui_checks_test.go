package e2e

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/hookbook/hookbook/internal/hookbooktest"
)

// axe holds axe-core's source, installed once per test run with npm from
// testdata/axe (a pinned version).
var axe struct {
	once   sync.Once
	source string
	err    error
}

func axeSource(t *testing.T) string {
	t.Helper()
	hookbooktest.RequireTool(t, "npm")
	axe.once.Do(func() {
		dir, err := os.MkdirTemp("", "hookbook-axe")
		if err != nil {
			axe.err = err
			return
		}
		for _, f := range []string{"package.json", "package-lock.json"} {
			b, err := os.ReadFile(filepath.Join("testdata", "axe", f))
			if err != nil {
				axe.err = err
				return
			}
			os.WriteFile(filepath.Join(dir, f), b, 0o644)
		}
		cmd := hookbooktest.Command(t, "npm", "ci", "--no-audit", "--no-fund", "--loglevel=error")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			axe.err = &exec.Error{Name: "npm ci: " + string(out), Err: err}
			return
		}
		b, err := os.ReadFile(filepath.Join(dir, "node_modules", "axe-core", "axe.min.js"))
		axe.source, axe.err = string(b), err
		os.RemoveAll(dir)
	})
	if axe.err != nil {
		t.Fatalf("axe-core: %v", axe.err)
	}
	return axe.source
}

// axeCheck runs axe-core's WCAG 2.1 A and AA rules on the page the browser
// shows and fails the test for every violation.
func axeCheck(t *testing.T, ctx context.Context, page string) {
	t.Helper()
	for _, v := range axeViolations(t, ctx) {
		t.Errorf("axe-core on %s: %s", page, v)
	}
}

// axeViolations are what axe-core's WCAG 2.1 A and AA rules find on the
// page the browser shows: "rule (help) at targets".
func axeViolations(t *testing.T, ctx context.Context) []string {
	t.Helper()
	var found []struct {
		ID, Help string
		Targets  []string
	}
	script := axeSource(t) + `
;axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}})
  .then(r => r.violations.map(v => ({id: v.id, help: v.help, targets: v.nodes.map(n => n.target.join(" "))})))`
	run(t, ctx, chromedp.Evaluate(script, &found, func(p *runtime.EvaluateParams) *runtime.EvaluateParams {
		return p.WithAwaitPromise(true)
	}))
	out := make([]string, len(found))
	for i, v := range found {
		out[i] = v.ID + " (" + v.Help + ") at " + strings.Join(v.Targets, ", ")
	}
	return out
}

// TestAxeCheckFindsViolations: the accessibility check reports what it
// should, so that its silence on hookbook's pages means something.
func TestAxeCheckFindsViolations(t *testing.T) {
	hookbooktest.OncePerSuite(t)
	t.Parallel()
	ctx := browser(t)
	page := `<!doctype html><html lang="en"><head><title>t</title></head><body><main><img src="x.png"><input id="n"></main></body></html>`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, page) }))
	t.Cleanup(srv.Close)
	run(t, ctx, chromedp.Navigate(srv.URL), chromedp.WaitVisible("main", chromedp.ByQuery))
	got := strings.Join(axeViolations(t, ctx), "\n")
	for _, rule := range []string{"image-alt", "label"} {
		if !strings.Contains(got, rule+" (") {
			t.Errorf("axe-core missed %s; it found:\n%s", rule, got)
		}
	}
}

// noSideScroll fails when the page is wider than the window.
func noSideScroll(t *testing.T, ctx context.Context, page string) {
	t.Helper()
	var widths []float64
	run(t, ctx, chromedp.Evaluate(`[document.documentElement.scrollWidth, window.innerWidth]`, &widths))
	if len(widths) == 2 && widths[0] > widths[1] {
		var wide []string
		step, cancel := context.WithTimeout(ctx, uiStep)
		defer cancel()
		chromedp.Run(step, chromedp.Evaluate(`Array.from(document.querySelectorAll("main *")).filter(e => e.getBoundingClientRect().right > window.innerWidth)
			.slice(0, 5).map(e => e.tagName + "." + e.className + " " + Math.round(e.getBoundingClientRect().right))`, &wide))
		t.Errorf("%s scrolls sideways: %v px wide in a %v px window (%v)", page, widths[0], widths[1], wide)
	}
}

// namesWhole fails when an event or action name in a table breaks across
// lines.
func namesWhole(t *testing.T, ctx context.Context, page string) {
	t.Helper()
	var broken []string
	run(t, ctx, chromedp.Evaluate(`Array.from(document.querySelectorAll("td code"))
		.filter(c => /^[a-z_*]+(\.[a-z_*]+)+$/.test(c.textContent) && c.getClientRects().length > 1).map(c => c.textContent)`, &broken))
	if len(broken) > 0 {
		t.Errorf("%s breaks names across lines: %v", page, broken)
	}
}

// attr returns an attribute of the first element sel matches.
func attr(t *testing.T, ctx context.Context, sel, name string) (string, bool) {
	t.Helper()
	var v string
	var ok bool
	run(t, ctx, chromedp.AttributeValue(sel, name, &v, &ok, chromedp.ByQuery))
	return v, ok
}

// revealSecret reads an endpoint's current secret from the database.
func revealSecret(t *testing.T, in *instance, id string) string {
	t.Helper()
	var s string
	if err := in.app.DB.QueryRowContext(context.Background(), `SELECT secret FROM endpoints WHERE id = $1`, id).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}
