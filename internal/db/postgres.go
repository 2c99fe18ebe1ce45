package db

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// Listen calls wake whenever a transaction that called Notify(channel)
// commits in an instance using the same schema, through PostgreSQL
// LISTEN/NOTIFY, until ctx is done; it also calls wake after every
// (re)connection, for what committed meanwhile. It reconnects after errors. On SQLite it returns at once: one
// process owns the database.
func (d *DB) Listen(ctx context.Context, channel string, wake func(), log *slog.Logger) {
	if d.dialect != postgres {
		return
	}
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := d.listenOnce(ctx, channel, wake)
		if ctx.Err() != nil {
			return
		}
		log.Warn("LISTEN connection lost; polling until it is back", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// channel returns the name PostgreSQL knows channel by: hubs that share a
// database in different schemas (search_path) do not wake each other. The
// public schema keeps the plain name.
func (d *DB) channel(name string) string {
	if d.schema == "" || d.schema == "public" {
		return name
	}
	sum := sha256.Sum256([]byte(d.schema))
	return name + "_" + hex.EncodeToString(sum[:8]) // within PostgreSQL's 63 bytes
}

func (d *DB) listenOnce(ctx context.Context, channel string, wake func()) error {
	conn, err := pgx.Connect(ctx, d.url)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{d.channel(channel)}.Sanitize()); err != nil {
		return err
	}
	wake() // whatever was committed while not listening
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return err
		}
		wake()
	}
}

// Exclusive runs fn unless another instance is running the job called
// name; on PostgreSQL it holds a session advisory lock meanwhile, so
// periodic jobs run once across the cluster. It reports whether fn ran.
//
// The locks live on one connection of their own, outside the pool: a job
// that held a pooled connection while its work asked the pool for more
// could, with every job running at once, wait for itself.
func (d *DB) Exclusive(ctx context.Context, name string, fn func(context.Context) error) (bool, error) {
	if d.dialect != postgres {
		return true, fn(ctx)
	}
	key := "hookbook-job:" + name
	// A session may take its own advisory lock again: this instance's
	// holds are counted here.
	if !d.locks.hold(key) {
		return false, nil
	}
	defer d.locks.release(key)
	var got bool
	err := d.locks.do(ctx, d.url, func(c *pgx.Conn) error {
		return c.QueryRow(ctx, `SELECT pg_try_advisory_lock(hashtext($1))`, key).Scan(&got)
	})
	if err != nil || !got {
		return false, err
	}
	defer d.locks.do(context.Background(), d.url, func(c *pgx.Conn) error {
		_, err := c.Exec(context.Background(), `SELECT pg_advisory_unlock(hashtext($1))`, key)
		return err
	})
	return true, fn(ctx)
}

// lockConn is the connection that holds the advisory locks of Exclusive,
// opened when first needed and again after it failed (PostgreSQL releases
// a lost session's locks).
type lockConn struct {
	mu   sync.Mutex
	conn *pgx.Conn

	heldMu sync.Mutex
	held   map[string]bool
}

// hold reports whether key was free in this instance, and takes it.
func (l *lockConn) hold(key string) bool {
	l.heldMu.Lock()
	defer l.heldMu.Unlock()
	if l.held[key] {
		return false
	}
	if l.held == nil {
		l.held = map[string]bool{}
	}
	l.held[key] = true
	return true
}

func (l *lockConn) release(key string) {
	l.heldMu.Lock()
	defer l.heldMu.Unlock()
	delete(l.held, key)
}

func (l *lockConn) do(ctx context.Context, url string, fn func(*pgx.Conn) error) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn == nil || l.conn.IsClosed() {
		c, err := pgx.Connect(ctx, url)
		if err != nil {
			return err
		}
		l.conn = c
	}
	err := fn(l.conn)
	if err != nil && (l.conn.IsClosed() || ctx.Err() == nil) {
		// A failed statement may have left the session in doubt: start
		// again with a new one (its locks go with the old).
		l.conn.Close(context.Background())
		l.conn = nil
	}
	return err
}

func (l *lockConn) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn != nil {
		l.conn.Close(context.Background())
		l.conn = nil
	}
}
