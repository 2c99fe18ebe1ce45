package hookbooktest

import "syscall"

// dieWithParent has the kernel send SIGKILL to the child when the test
// binary dies.
func dieWithParent(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }
