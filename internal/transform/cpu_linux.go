//go:build linux

package transform

import (
	"bytes"
	"os"
	"strconv"
	"syscall"
	"time"
	"unsafe"
)

// threadID is the calling thread's id (the goroutine must be locked to it).
func threadID() int { return syscall.Gettid() }

// ownCPU is how long the calling thread has run on a CPU: the clock that
// threadCPU reads from another thread, without a file read.
func ownCPU() (time.Duration, bool) {
	var ts syscall.Timespec
	const clockThreadCPUTime = 3 // CLOCK_THREAD_CPUTIME_ID
	if _, _, errno := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTime, uintptr(unsafe.Pointer(&ts)), 0); errno != 0 {
		return 0, false
	}
	return time.Duration(ts.Nano()), true
}

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
