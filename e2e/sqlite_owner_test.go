package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hookbook/hookbook/internal/hookbooktest"
)

// TestSQLiteServedByOneServer: a second `hookbook serve` on a SQLite file
// another server uses stops at once, saying why, and the first keeps
// serving; `hookbook backup` still copies the file meanwhile. (A server
// killed with -9 leaves the file free: TestKill9LosesNothing restarts on
// its file.)
func TestSQLiteServedByOneServer(t *testing.T) {
	hookbooktest.OncePerSuite(t)
	t.Parallel()
	url := hookbooktest.SQLiteURL(t)
	env := map[string]string{"HOOKBOOK_DATABASE_URL": url}
	first := startProc(t, freePort(t), env)

	bin := buildBinary(t)
	second := startCmd(bin, freePort(t), env)
	second.Dir = t.TempDir()
	hookbooktest.Contain(t, second)
	var out bytes.Buffer
	second.Stdout, second.Stderr = &out, &out
	done := make(chan error, 1)
	if err := second.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- second.Wait() }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatalf("a second server on the same SQLite file exited 0: %s", out.String())
		}
	case <-time.After(time.Minute):
		hookbooktest.KillGroup(second)
		<-done
		t.Fatalf("a second server on the same SQLite file kept running: %s", out.String())
	}
	path := strings.TrimPrefix(url, "sqlite:")
	want := "database in use: " + path + " is used by another hookbook server"
	if !strings.Contains(out.String(), want) {
		t.Errorf("second server said %q, want %q", out.String(), want)
	}
	if code, _, err := first.get("/readyz"); err != nil || code != 200 {
		t.Errorf("the first server after the second's attempt: %d %v", code, err)
	}

	copyFile := filepath.Join(t.TempDir(), "copy.db")
	backup := exec.Command(bin, "backup", copyFile)
	backup.Env = append(os.Environ(), "HOOKBOOK_DATABASE_URL="+url)
	hookbooktest.Contain(t, backup)
	if b, err := backup.CombinedOutput(); err != nil {
		t.Fatalf("backup while the server runs: %v: %s", err, b)
	}
	if st, err := os.Stat(copyFile); err != nil || st.Size() == 0 {
		t.Errorf("backup wrote nothing: %v", err)
	}
}
