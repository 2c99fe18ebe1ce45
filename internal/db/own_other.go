//go:build !unix

package db

import (
	"errors"
	"os"
)

var (
	errLocked  = errors.New("locked")
	errNoLocks = errors.New("no file locks on this system")
)

// lockFile cannot lock where flock is not available.
func lockFile(*os.File) error { return errNoLocks }
