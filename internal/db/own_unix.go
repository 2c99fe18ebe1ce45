//go:build unix

package db

import (
	"errors"
	"os"
	"syscall"
)

var (
	errLocked  = errors.New("locked")
	errNoLocks = errors.New("no file locks on this file system")
)

// lockFile takes an exclusive lock of f without waiting; it lasts until f
// is closed or the process ends, however it ends (kill -9 included).
// flock is apart from the record locks SQLite itself takes on the file.
func lockFile(f *os.File) error {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	switch {
	case errors.Is(err, syscall.EWOULDBLOCK):
		return errLocked
	case errors.Is(err, syscall.ENOLCK), errors.Is(err, syscall.EOPNOTSUPP), errors.Is(err, syscall.ENOSYS):
		return errors.Join(errNoLocks, err)
	}
	return err
}
