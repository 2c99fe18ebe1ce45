package db

import "database/sql"

// ReaderStats returns the statistics of d's reader pool, for tests.
func ReaderStats(d *DB) sql.DBStats { return d.r.Stats() }
