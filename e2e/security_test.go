package e2e

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBackupIsPrivate: `hookbook backup` writes a file only its owner may
// read (it holds endpoint secrets), whatever the umask, also when a backup
// of the same name is made again after the old one was removed.
func TestBackupIsPrivate(t *testing.T) {
	t.Parallel()
	if backend() != "sqlite" {
		t.Skip("SQLite only: PostgreSQL is backed up with pg_dump")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	live := "sqlite:" + filepath.Join(dir, "live.db")
	in := start(t, map[string]string{"HOOKBOOK_DATABASE_URL": live})
	in.createEndpoint("http://127.0.0.1:9/hooks", []string{"*"}, nil)
	for _, umask := range []string{"000", "022", "077", "000"} {
		file := filepath.Join(dir, "copy.db")
		os.Remove(file)
		c := exec.Command("/bin/sh", "-c", `umask `+umask+` && exec "$0" backup "$1"`, bin, file)
		c.Env = append(os.Environ(), "HOOKBOOK_DATABASE_URL="+live)
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("umask %s: backup: %v %s", umask, err, out)
		}
		st, err := os.Stat(file)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("umask %s: the backup's mode is %v, want -rw-------", umask, st.Mode().Perm())
		}
		if st.Size() == 0 {
			t.Errorf("umask %s: the backup is empty", umask)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".copy.db.*")); len(left) != 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
}

// TestServePortInUse: `hookbook serve` on a port in use (its own or the
// metrics port) fails at once with a clear error and a non-zero exit,
// before creating anything: no organization, no one-time key printed.
func TestServePortInUse(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for name, env := range map[string][]string{
		"HOOKBOOK_ADDR":         {"HOOKBOOK_ADDR=" + busy.Addr().String()},
		"HOOKBOOK_METRICS_ADDR": {"HOOKBOOK_ADDR=" + freePort(t), "HOOKBOOK_METRICS_ADDR=" + busy.Addr().String()},
	} {
		dbURL := databaseURL(t)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		c := exec.CommandContext(ctx, bin, "serve")
		c.Env = append(append(os.Environ(), "HOOKBOOK_DATABASE_URL="+dbURL), env...)
		out, err := c.CombinedOutput()
		cancel()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
			t.Errorf("%s in use: serve ended with %v, want exit 1\n%s", name, err, out)
		}
		if want := name + ": listen tcp " + busy.Addr().String() + ": bind: address already in use"; !strings.Contains(string(out), want) {
			t.Errorf("%s in use: output lacks %q:\n%s", name, want, out)
		}
		if strings.Contains(string(out), "organization") || strings.Contains(string(out), "hk_") {
			t.Errorf("%s in use: serve bootstrapped before failing:\n%s", name, out)
		}
		c = exec.Command(bin, "org", "list")
		c.Env = append(os.Environ(), "HOOKBOOK_DATABASE_URL="+dbURL)
		if list, err := c.Output(); err != nil || strings.Contains(string(list), "org_") {
			t.Errorf("%s in use: organizations after the failed start: %v %s", name, err, list)
		}
	}
}
