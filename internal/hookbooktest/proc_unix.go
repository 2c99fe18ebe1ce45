//go:build unix

package hookbooktest

import (
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Command is exec.Command for tests: the command and everything it starts
// (a server a script leaves in the background, the program `go run`
// compiled, a browser's helpers) run in one process group that dies with
// the test, however the test ends. When the test ends the group is killed
// (t.Cleanup); if the test binary itself dies (a timeout, a crash, a
// SIGKILL) a watchdog in the group notices that its parent is gone and
// kills the group; on Linux the command also gets SIGKILL when the test
// binary dies (Pdeathsig).
//
// The group's leader is that watchdog (a `sh` reading a pipe only the test
// binary holds), so the group, and its id, live until the test ends even
// when the command has exited. Callers run, start and wait for the command
// as with exec.Command.
func Command(t testing.TB, name string, args ...string) *exec.Cmd {
	t.Helper()
	c := exec.Command(name, args...)
	Contain(t, c)
	return c
}

// Contain puts c, not yet started, into a new process group that dies with
// the test, as Command does.
func Contain(t testing.TB, c *exec.Cmd) {
	t.Helper()
	pgid := watchdog(t)
	if c.SysProcAttr == nil {
		c.SysProcAttr = &syscall.SysProcAttr{}
	}
	c.SysProcAttr.Setpgid = true
	c.SysProcAttr.Pgid = pgid
	dieWithParent(c.SysProcAttr)
}

// KillGroup kills the process group of c, a command of Command or Contain:
// c and everything it started. The test's cleanup does it too.
func KillGroup(c *exec.Cmd) {
	if c.SysProcAttr != nil && c.SysProcAttr.Pgid > 0 {
		syscall.Kill(-c.SysProcAttr.Pgid, syscall.SIGKILL)
	}
}

var (
	groupsMu sync.Mutex
	groups   = map[int]*exec.Cmd{} // watchdogs by group id, until their test ends
)

// watchdog starts a new process group's leader: a shell that waits for
// the end of a pipe whose only writer is this process, then kills its
// group. It returns the group's id.
func watchdog(t testing.TB) int {
	t.Helper()
	r, w, err := os.Pipe() // close-on-exec: no other child inherits w
	if err != nil {
		t.Fatal(err)
	}
	wd := exec.Command("sh", "-c", "read _ || true; kill -KILL 0")
	wd.Stdin = r
	wd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := wd.Start(); err != nil {
		r.Close()
		w.Close()
		t.Fatalf("start the watchdog: %v", err)
	}
	r.Close()
	pgid := wd.Process.Pid
	groupsMu.Lock()
	groups[pgid] = wd
	groupsMu.Unlock()
	t.Cleanup(func() {
		syscall.Kill(-pgid, syscall.SIGKILL)
		w.Close()
		wd.Wait()
		groupsMu.Lock()
		delete(groups, pgid)
		groupsMu.Unlock()
	})
	return pgid
}

// killGroups kills every group whose test has not cleaned up yet.
func killGroups() {
	groupsMu.Lock()
	defer groupsMu.Unlock()
	for pgid := range groups {
		syscall.Kill(-pgid, syscall.SIGKILL)
	}
}

// RunMain runs a package's tests (m.Run) with every temporary file of the
// run (t.TempDir, os.MkdirTemp, build folders, what started programs write
// to $TMPDIR) in one directory of its own, removed when the run ends,
// however it ends: at the end of RunMain, or by a watchdog when the test
// binary dies first. Process groups still alive at the end are killed.
func RunMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "hookbook-test-")
	if err != nil {
		panic(err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		panic(err)
	}
	// Removes dir once this process is gone, whichever way it goes.
	wd := exec.Command("sh", "-c", `read _ || true; rm -rf "$1"`, "sh", dir)
	wd.Stdin = r
	wd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // not killed with the test's terminal group
	if err := wd.Start(); err != nil {
		panic(err)
	}
	r.Close()
	old, had := os.LookupEnv("TMPDIR")
	os.Setenv("TMPDIR", dir)
	code := m.Run()
	killGroups()
	if had {
		os.Setenv("TMPDIR", old)
	} else {
		os.Unsetenv("TMPDIR")
	}
	removeAll(dir)
	w.Close()
	done := make(chan struct{})
	go func() { wd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
	}
	return code
}

// removeAll removes dir, retrying while processes that were just killed
// still write into it.
func removeAll(dir string) {
	deadline := time.Now().Add(10 * time.Second)
	for os.RemoveAll(dir) != nil && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
}
