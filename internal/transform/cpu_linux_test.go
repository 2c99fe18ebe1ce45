//go:build linux

package transform

import (
	"runtime"
	"testing"
	"time"
)

// The thread's own clock and its /proc figure agree, and both grow with work.
func TestThreadCPU(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	tid := threadID()
	a, ok1 := ownCPU()
	for start := time.Now(); time.Since(start) < 20*time.Millisecond; {
	}
	b, ok2 := threadCPU(tid)
	c, ok3 := ownCPU()
	if !ok1 || !ok2 || !ok3 || b < a || c < b || c-a < time.Millisecond {
		t.Fatalf("own %s, /proc %s, own %s", a, b, c)
	}
}
