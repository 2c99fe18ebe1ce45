package db

import (
	"errors"
	"fmt"
	"os"
)

// ErrInUse is returned by Own when another process owns the SQLite file.
var ErrInUse = errors.New("database in use")

// ErrCannotLock is returned by Own when the file system of the SQLite
// file offers no file locks (some network and FUSE file systems): the
// server may run, but nothing keeps a second one off the file.
var ErrCannotLock = errors.New("the database file cannot be locked")

// Own takes a SQLite database file for this process alone, until Close:
// while it holds the file, another process's Own of it fails with
// ErrInUse. hookbook's server owns its SQLite database, because its
// delivery engine is that database's only claimer and keeps the leases
// of what it claims in memory (internal/queue); a second server on the
// same file would send the same deliveries again. Other commands (backup,
// migrate) open the file without owning it. On PostgreSQL, which
// instances share, Own does nothing.
func (d *DB) Own() error {
	if d.dialect != sqlite || d.owned != nil || d.file == "" {
		return nil // nothing to own: shared, owned already, or in memory
	}
	path := d.file
	// The descriptor stays open until Close even when the lock fails (a
	// later Own tries it again): closing a descriptor of the file would
	// drop the record locks that SQLite's own connections in this process
	// hold on it.
	f := d.lockFile
	if f == nil {
		var err error
		if f, err = os.OpenFile(path, os.O_RDWR, 0); err != nil {
			return fmt.Errorf("sqlite %s: %w", path, err)
		}
		d.lockFile = f
	}
	switch err := lockFile(f); {
	case err == nil:
		d.owned = f
		return nil
	case errors.Is(err, errLocked):
		return fmt.Errorf("%w: %s is used by another hookbook server; a SQLite database serves one at a time (several instances need PostgreSQL)", ErrInUse, path)
	case errors.Is(err, errNoLocks):
		return fmt.Errorf("%w: %s: %v", ErrCannotLock, path, err)
	default:
		return fmt.Errorf("sqlite %s: lock: %w", path, err)
	}
}
