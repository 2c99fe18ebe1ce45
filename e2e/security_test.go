package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
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
