//go:build unix && !linux

package hookbooktest

import "syscall"

// dieWithParent: only Linux has a parent-death signal; the group's
// watchdog covers the other systems.
func dieWithParent(*syscall.SysProcAttr) {}
