package store

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
)

// notifyChannel is the PostgreSQL channel on which a commit that made
// deliveries due tells every instance to claim.
const notifyChannel = "hookbook_deliveries"

// Listen wakes this instance's workers whenever another instance commits
// due deliveries, through PostgreSQL LISTEN/NOTIFY, until ctx is done. It
// reconnects after errors; the dispatcher's poll covers the gaps. On SQLite
// it returns at once: one process owns the database.
func (s *Store) Listen(ctx context.Context, databaseURL string, wake func(), log *slog.Logger) {
	if s.dialect != Postgres {
		return
	}
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := s.listenOnce(ctx, databaseURL, wake)
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

func (s *Store) listenOnce(ctx context.Context, databaseURL string, wake func()) error {
	conn, err := pgx.Connect(ctx, databaseURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN "+notifyChannel); err != nil {
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

// notifyOthers asks PostgreSQL to wake the other instances when tx commits.
func (tx *Tx) notifyOthers(ctx context.Context) error {
	if tx.s.dialect != Postgres {
		return nil
	}
	_, err := tx.ExecContext(ctx, "SELECT pg_notify($1, '')", notifyChannel)
	return err
}

// Exclusive runs fn unless another instance is running the job called
// name; on PostgreSQL it holds a session advisory lock meanwhile, so
// periodic jobs run once across the cluster. It reports whether fn ran.
func (s *Store) Exclusive(ctx context.Context, name string, fn func(context.Context) error) (bool, error) {
	if s.dialect != Postgres {
		return true, fn(ctx)
	}
	conn, err := s.db.Conn(ctx)
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
