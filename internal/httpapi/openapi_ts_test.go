package httpapi_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/hookbook/hookbook/internal/hookbooktest"
)

// TestTypeScriptClientCompiles generates a TypeScript client from the
// OpenAPI document with openapi-typescript's defaults and compiles
// testdata/tsclient/check.ts, a set of valid calls through openapi-fetch,
// with tsc --strict: what a platform's developers do first. It needs npm
// (skipped loudly without it, except under CI=true).
func TestTypeScriptClientCompiles(t *testing.T) {
	t.Parallel()
	hookbooktest.RequireTool(t, "npm")
	dir := t.TempDir()
	for _, f := range []string{"package.json", "package-lock.json", "check.ts", "tsconfig.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", "tsclient", f))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, f), b, 0o644)
	}
	doc, err := filepath.Abs("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	run := func(name string, args ...string) {
		c := exec.Command(name, args...)
		c.Dir = dir
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
	}
	run("npm", "ci", "--no-audit", "--no-fund", "--loglevel=error")
	run("npx", "--no-install", "openapi-typescript", doc, "-o", "api.d.ts")
	run("npx", "--no-install", "tsc", "-p", ".")
}
