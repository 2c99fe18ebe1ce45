package db

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
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
	conn, err := pgx.ConnectConfig(ctx, d.pgConfig.Copy())
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
	session, err := d.locks.do(ctx, d.pgConfig, 0, func(ctx context.Context, c *pgx.Conn) error {
		return c.QueryRow(ctx, `SELECT pg_try_advisory_lock(hashtext($1))`, key).Scan(&got)
	})
	if err != nil || !got {
		return false, err
	}
	defer func() {
		// Only on the session that took it: a lock of a lost session went
		// with it.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		d.locks.do(ctx, d.pgConfig, session, func(ctx context.Context, c *pgx.Conn) error {
			_, err := c.Exec(ctx, `SELECT pg_advisory_unlock(hashtext($1))`, key)
			return err
		})
	}()
	return true, fn(ctx)
}

// lockConn is the connection that holds the advisory locks of Exclusive,
// opened when first needed and again after it failed (PostgreSQL releases
// a lost session's locks).
type lockConn struct {
	mu      sync.Mutex
	conn    *pgx.Conn
	session int  // counts the connections opened; 0 before the first
	closed  bool // after close: nothing opens again

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

// errLocksClosed: the database was closed.
var errLocksClosed = errors.New("database closed")

// do runs fn on the lock connection, connecting first if needed, and
// returns the session it ran on. With session non-zero it runs fn only on
// that session, and does nothing if the connection has changed since. A
// connection on which fn failed is closed: the session may be in doubt.
func (l *lockConn) do(ctx context.Context, cfg *pgx.ConnConfig, session int, fn func(context.Context, *pgx.Conn) error) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return 0, errLocksClosed
	}
	if l.conn != nil && l.conn.IsClosed() {
		l.conn = nil
	}
	if session != 0 && (l.conn == nil || session != l.session) {
		return 0, nil // that session is gone, and its locks with it
	}
	if l.conn == nil {
		c, err := pgx.ConnectConfig(ctx, cfg.Copy())
		if err != nil {
			return 0, err
		}
		l.conn = c
		l.session++
	}
	if err := fn(ctx, l.conn); err != nil {
		l.conn.Close(context.Background())
		l.conn = nil
		return 0, err
	}
	return l.session, nil
}

func (l *lockConn) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	if l.conn != nil {
		l.conn.Close(context.Background())
		l.conn = nil
	}
}
