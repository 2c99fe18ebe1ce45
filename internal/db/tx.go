package db

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// Tx is a transaction. Packages make their change and publish its event
// through the same Tx, so both commit or neither does.
type Tx struct {
	*sql.Tx
	d        *DB
	onCommit []func()
	onLocked []func()
	onAbort  []func()
	values   map[string]any
}

// Tx runs fn in a transaction, committing when fn returns nil and rolling
// back otherwise. After a commit it runs the functions given to OnCommit.
// The commit is durable (fsynced) when Tx returns.
func (d *DB) Tx(ctx context.Context, fn func(*Tx) error) error {
	return d.tx(ctx, false, fn)
}

// BackgroundTx is Tx for the delivery queue's own bookkeeping (claims,
// outcomes, leases given back): on SQLite it yields the writer to waiting
// foreground transactions every other turn and commits without an fsync
// of its own; on PostgreSQL it commits asynchronously
// (synchronous_commit = off). A crash of hookbook's process loses nothing;
// a crash of the machine or of the database server may undo the last
// background commits, which only repeats an attempt or returns a claim to
// the queue. The next foreground commit makes them durable.
func (d *DB) BackgroundTx(ctx context.Context, fn func(*Tx) error) error {
	return d.tx(ctx, true, fn)
}

func (d *DB) tx(ctx context.Context, background bool, fn func(*Tx) error) error {
	release, err := d.write(ctx, background)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	tx, err := d.run(ctx, background, fn)
	if err == nil {
		for _, f := range tx.onLocked {
			f()
		}
	}
	d.prepareWanted(ctx)
	release()
	// The callbacks run with the writer free: they may write themselves.
	if err != nil {
		if tx != nil {
			for _, f := range tx.onAbort {
				f()
			}
		}
		return err
	}
	for _, f := range tx.onCommit {
		f()
	}
	return nil
}

// run runs fn in a transaction on the writer, which the caller holds.
func (d *DB) run(ctx context.Context, background bool, fn func(*Tx) error) (*Tx, error) {
	sqlTx, err := d.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	tx := &Tx{Tx: sqlTx, d: d}
	if background && d.dialect == postgres {
		if _, err := sqlTx.ExecContext(ctx, "SET LOCAL synchronous_commit = off"); err != nil {
			sqlTx.Rollback()
			return tx, fmt.Errorf("begin: %w", err)
		}
	}
	if err := fn(tx); err != nil {
		sqlTx.Rollback()
		return tx, err
	}
	if err := sqlTx.Commit(); err != nil {
		return tx, fmt.Errorf("commit: %w", err)
	}
	d.committed()
	return tx, nil
}

// OnAbort runs f when the transaction rolls back or its commit fails.
func (tx *Tx) OnAbort(f func()) { tx.onAbort = append(tx.onAbort, f) }

// DB returns the database of the transaction.
func (tx *Tx) DB() *DB { return tx.d }

// OnCommit runs f after the transaction commits (never after a rollback).
func (tx *Tx) OnCommit(f func()) { tx.onCommit = append(tx.onCommit, f) }

// OnCommitLocked runs f right after the transaction commits, before the
// OnCommit functions and, on SQLite, before the writer is given back: no
// other transaction of this process starts in between. f must be quick
// and must not use the database.
func (tx *Tx) OnCommitLocked(f func()) { tx.onLocked = append(tx.onLocked, f) }

// Value returns what Remember stored under key in this transaction.
func (tx *Tx) Value(key string) (any, bool) {
	v, ok := tx.values[key]
	return v, ok
}

// Remember keeps v under key for the rest of the transaction, for callers
// that read the same rows many times in one transaction (a group commit).
func (tx *Tx) Remember(key string, v any) {
	if tx.values == nil {
		tx.values = map[string]any{}
	}
	tx.values[key] = v
}

// ForUpdate is the row-lock clause to append to a SELECT in a transaction
// ("" on SQLite, whose write transactions already exclude each other).
func (tx *Tx) ForUpdate() string {
	if tx.d.dialect == postgres {
		return " FOR UPDATE"
	}
	return ""
}

// SkipLocked is the clause that lets concurrent claimers pass each other's
// locked rows ("" on SQLite).
func (tx *Tx) SkipLocked() string {
	if tx.d.dialect == postgres {
		return " FOR UPDATE SKIP LOCKED"
	}
	return ""
}

// InsertRows inserts rows of len(columns) values each into table. SQLite
// runs one prepared single-row INSERT per row (parsing a large statement
// costs it more than the rows); PostgreSQL gets multi-row INSERTs, saving a
// round trip per row. suffix follows the VALUES (e.g. an ON CONFLICT clause).
func (tx *Tx) InsertRows(ctx context.Context, table string, columns []string, suffix string, rows [][]any) error {
	head := "INSERT INTO " + table + " (" + strings.Join(columns, ", ") + ") VALUES "
	if tx.d.dialect != postgres {
		q := InsertSQL(table, columns, suffix)
		for _, r := range rows {
			if _, err := tx.ExecContext(ctx, q, r...); err != nil {
				return err
			}
		}
		return nil
	}
	perInsert := max(1, 5000/len(columns)) // far below the parameter limit
	for start := 0; start < len(rows); start += perInsert {
		chunk := rows[start:min(start+perInsert, len(rows))]
		var q strings.Builder
		q.WriteString(head)
		args := make([]any, 0, len(columns)*len(chunk))
		for i, r := range chunk {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString("(" + Placeholders(len(args)+1, len(columns)) + ")")
			args = append(args, r...)
		}
		q.WriteString(" " + suffix)
		if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
			return err
		}
	}
	return nil
}

// InsertSQL is the single-row INSERT that InsertRows runs on SQLite.
func InsertSQL(table string, columns []string, suffix string) string {
	return "INSERT INTO " + table + " (" + strings.Join(columns, ", ") + ") VALUES (" + Placeholders(1, len(columns)) + ") " + suffix
}

// Notify tells every instance listening on channel (see DB.Listen) in the
// same schema when the transaction commits. It does nothing on SQLite,
// where one process owns the database.
func (tx *Tx) Notify(ctx context.Context, channel string) error {
	if tx.d.dialect != postgres {
		return nil
	}
	_, err := tx.ExecContext(ctx, "SELECT pg_notify($1, '')", tx.d.channel(channel))
	return err
}

// Lock serialises transactions that take the same named lock until they
// end: a PostgreSQL transaction advisory lock. SQLite transactions are
// serial already.
func (tx *Tx) Lock(ctx context.Context, name string) error {
	if tx.d.dialect != postgres {
		return nil
	}
	_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext($1))`, name)
	return err
}
