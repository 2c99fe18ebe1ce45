//go:build linux

package transform

import (
	"bytes"
	"os"
	"strconv"
	"syscall"
	"time"
)

// threadID is the calling thread's id (the goroutine must be locked to it).
func threadID() int { return syscall.Gettid() }

// threadCPU is how long thread tid of this process has run on a CPU
// (/proc's schedstat), false when it cannot be read.
func threadCPU(tid int) (time.Duration, bool) {
	b, err := os.ReadFile("/proc/self/task/" + strconv.Itoa(tid) + "/schedstat")
	if err != nil {
		return 0, false
	}
	field, _, _ := bytes.Cut(b, []byte(" "))
	ns, err := strconv.ParseInt(string(field), 10, 64)
	if err != nil {
		return 0, false
	}
	return time.Duration(ns), true
}
