//go:build !linux

package transform

import "time"

// threadID is 0: CPU time is not measured here, the limit is wall time.
func threadID() int { return 0 }

// threadCPU is not known here.
func threadCPU(int) (time.Duration, bool) { return 0, false }

// ownCPU is not known here.
func ownCPU() (time.Duration, bool) { return 0, false }
