package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hookbook/hookbook/internal/hookbooktest"
)

// TestReceiverModule builds a receiver's own module (go 1.21) that imports
// the webhook package, set up with the README's commands for a module that
// is not published yet (a replace directive to a clone of hookbook beside
// it): it pulls in nothing but that module, and its verification of
// hookbook's signature headers passes.
func TestReceiverModule(t *testing.T) {
	hookbooktest.OncePerSuite(t)
	t.Parallel()
	setup, ok := readmeSnippets(t)["go-replace"]
	if !ok {
		t.Fatal("the README lost its go-replace block")
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	// The receiver's module, and beside it a clone of hookbook (this one).
	dir := filepath.Join(t.TempDir(), "receiver")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(root, filepath.Join(dir, "..", "hookbook")); err != nil {
		t.Fatal(err)
	}
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module example.com/receiver\n\ngo 1.21\n")
	write("main.go", `package main

import (
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/hookbook/hookbook/webhook"
)

func main() {
	secret := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	body := []byte(`+"`"+`{"id":"evt_1","event":"booking.created"}`+"`"+`)
	h := http.Header{}
	if err := webhook.SignHeaders(h, webhook.DefaultPrefix, webhook.SchemeTimestamped, "evt_1", time.Now(), body, []string{secret}); err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	v := webhook.Verifier{Secrets: []string{secret}}
	if err := v.Verify(h, body); err != nil {
		fmt.Println("verify:", err)
		os.Exit(1)
	}
	fmt.Println("verified")
}
`)
	// Offline: the module graph needs nothing from the network.
	env := []string{"GOTOOLCHAIN=local", "GOWORK=off", "GOFLAGS=", "GOPROXY=off"}
	if out, err := runBash(t, dir, setup.code, env...); err != nil {
		t.Fatalf("the README's commands: %v\n%s", err, out)
	}
	run := func(args ...string) string {
		c := hookbooktest.Command(t, "go", args...) // with what go run starts, dies with the test
		c.Dir = dir
		c.Env = append(os.Environ(), env...)
		out, err := c.CombinedOutput()
		if err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
	if mods := run("list", "-m", "all"); mods != "example.com/receiver\ngithub.com/hookbook/hookbook/webhook v0.0.0-00010101000000-000000000000 => ../hookbook/webhook" {
		t.Errorf("the receiver's module graph:\n%s", mods)
	}
	if out := run("vet", "."); out != "" {
		t.Errorf("go vet: %s", out)
	}
	if out := run("run", "."); out != "verified" {
		t.Errorf("receiver: %s", out)
	}
}
