package e2e

import (
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/hookbook/hookbook/internal/hookbooktest"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// buildBinary builds cmd/hookbook once per test run and returns its path,
// in a folder under the run's temporary directory (TestMain removes it).
func buildBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "hookbook-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "hookbook")
		out, err := hookbooktest.Command(t, "go", "build", "-o", binPath, "../cmd/hookbook").CombinedOutput()
		if err != nil {
			buildErr = err
			t.Logf("%s", out)
		}
	})
	if buildErr != nil {
		t.Fatalf("build hookbook: %v", buildErr)
	}
	return binPath
}
