package db

import (
	"context"
	"database/sql"
	"strings"
	"sync"
)

// On SQLite every statement text is prepared once and kept: the SQLite
// library spends more time parsing a small statement than running it
// (about 25 µs against 7 µs for the one-row join that authenticates an API
// key). PostgreSQL's driver keeps a statement cache of its own.
//
// At most maxStatements texts are kept per pool; beyond that, statements run
// unprepared. Texts vary only with the length of IN lists and multi-row
// VALUES, so the bound is reached only by unusual workloads.
const maxStatements = 1000

type stmtCache struct {
	mu     sync.Mutex
	w, r   map[string]*sql.Stmt
	wanted map[string]bool // run in a transaction before they were prepared
}

// cacheable reports whether query is a statement worth keeping prepared.
func (d *DB) cacheable(query string) bool {
	if d.dialect == postgres {
		return false
	}
	q := strings.TrimSpace(query)
	for _, verb := range []string{"SELECT", "INSERT", "UPDATE", "DELETE", "WITH"} {
		if len(q) >= len(verb) && strings.EqualFold(q[:len(verb)], verb) {
			return true
		}
	}
	return false
}

// stmt returns the statement prepared for query on pool (d.w or d.r),
// preparing it now if needed, or nil to run query unprepared. It must not
// be called for d.w while the caller holds the writer (in a transaction):
// use txStmt there.
func (d *DB) stmt(ctx context.Context, pool *sql.DB, query string) *sql.Stmt {
	if !d.cacheable(query) {
		return nil
	}
	c := &d.stmts
	c.mu.Lock()
	m := c.pool(d, pool)
	st, ok := m[query]
	full := len(m) >= maxStatements
	c.mu.Unlock()
	if ok || full {
		return st
	}
	st, err := pool.PrepareContext(ctx, query)
	if err != nil {
		return nil // running it unprepared reports the error
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if prev, ok := m[query]; ok {
		st.Close()
		return prev
	}
	m[query] = st
	return st
}

// pool returns the map of pool's statements; called with c.mu held.
func (c *stmtCache) pool(d *DB, pool *sql.DB) map[string]*sql.Stmt {
	if pool == d.w {
		if c.w == nil {
			c.w = map[string]*sql.Stmt{}
		}
		return c.w
	}
	if c.r == nil {
		c.r = map[string]*sql.Stmt{}
	}
	return c.r
}

// txStmt returns the writer's statement for query if it is prepared;
// otherwise it notes query, for prepareWanted once the transaction ends.
func (d *DB) txStmt(query string) *sql.Stmt {
	if !d.cacheable(query) {
		return nil
	}
	c := &d.stmts
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.w[query]; ok {
		return st
	}
	if len(c.w)+len(c.wanted) < maxStatements {
		if c.wanted == nil {
			c.wanted = map[string]bool{}
		}
		c.wanted[query] = true
	}
	return nil
}

// prepareWanted prepares the statements transactions ran unprepared.
func (d *DB) prepareWanted(ctx context.Context) {
	c := &d.stmts
	c.mu.Lock()
	wanted := c.wanted
	c.wanted = nil
	c.mu.Unlock()
	for q := range wanted {
		d.stmt(ctx, d.w, q)
	}
}

// closeStmts closes every kept statement.
func (d *DB) closeStmts() {
	c := &d.stmts
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range []map[string]*sql.Stmt{c.w, c.r} {
		for _, st := range m {
			st.Close()
		}
	}
	c.w, c.r, c.wanted = nil, nil, nil
}

// ExecContext runs query in the transaction, through its prepared
// statement when there is one.
func (tx *Tx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := tx.d.txStmt(query); st != nil {
		return tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	}
	return tx.Tx.ExecContext(ctx, query, args...)
}

// QueryContext runs query in the transaction, through its prepared
// statement when there is one.
func (tx *Tx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := tx.d.txStmt(query); st != nil {
		return tx.StmtContext(ctx, st).QueryContext(ctx, args...)
	}
	return tx.Tx.QueryContext(ctx, query, args...)
}

// QueryRowContext runs a one-row query in the transaction, through its
// prepared statement when there is one.
func (tx *Tx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := tx.d.txStmt(query); st != nil {
		return tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
	}
	return tx.Tx.QueryRowContext(ctx, query, args...)
}
