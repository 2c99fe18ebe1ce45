package db

import (
	"errors"
	"fmt"
	"os"
)

// ErrInUse is returned by Own when another process owns the SQLite file.
var ErrInUse = errors.New("database in use")

// Own takes a SQLite database file for this process alone, until Close:
// while it holds the file, another process's Own of it fails with
// ErrInUse. hookbook's server owns its SQLite database, because its
// delivery engine is that database's only claimer and keeps the leases
// of what it claims in memory (internal/queue); a second server on the
// same file would deliver the same deliveries again. Other commands
// (backup, migrate) open the file without owning it. On PostgreSQL,
// which instances share, Own does nothing.
func (d *DB) Own() error {
	if d.dialect != sqlite || d.path == "" {
		return nil
	}
	f, err := os.OpenFile(d.path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("sqlite %s: %w", d.path, err)
	}
	if err := lockFile(f); err != nil {
		f.Close()
		if errors.Is(err, errLocked) {
			return fmt.Errorf("%w: %s is used by another hookbook server; a SQLite database serves one at a time (several instances need PostgreSQL)", ErrInUse, d.path)
		}
		return fmt.Errorf("sqlite %s: lock: %w", d.path, err)
	}
	d.owned = f
	return nil
}
