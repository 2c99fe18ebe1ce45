package e2e

import (
	"os/exec"
	"strings"
	"testing"
)

// TestSourcesAreFormatted: every Go file is as gofmt writes it.
func TestSourcesAreFormatted(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("gofmt", "-l", "..").CombinedOutput()
	if err != nil {
		t.Fatalf("gofmt: %v\n%s", err, out)
	}
	if files := strings.TrimSpace(string(out)); files != "" {
		t.Errorf("not gofmt-formatted (run gofmt -w):\n%s", files)
	}
}
