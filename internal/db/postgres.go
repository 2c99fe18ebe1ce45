package db

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
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
func (d *DB) Exclusive(ctx context.Context, name string, fn func(context.Context) error) (bool, error) {
	if d.dialect != postgres {
		return true, fn(ctx)
	}
	conn, err := d.w.Conn(ctx)
	if err != nil {
		return false, err
	}
	defer conn.Close()
	var got bool
	if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock(hashtext($1))`, "hookbook-job:"+name).Scan(&got); err != nil {
		return false, err
	}
	if !got {
		return false, nil
	}
	defer conn.ExecContext(context.Background(), `SELECT pg_advisory_unlock(hashtext($1))`, "hookbook-job:"+name)
	return true, fn(ctx)
}
