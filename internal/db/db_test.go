package db_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookbook/hookbook/internal/db"
	"github.com/hookbook/hookbook/internal/dbtest"
)

func TestOpenRefusesUnknownURLs(t *testing.T) {
	t.Parallel()
	for _, url := range []string{"", "mysql://x", "sqlite:", "hookbook.db"} {
		if d, err := db.Open(context.Background(), url); err == nil {
			d.Close()
			t.Errorf("Open(%q) succeeded", url)
		}
	}
}

func TestMigrateTwice(t *testing.T) {
	t.Parallel()
	dbtest.EachBackend(t, func(t *testing.T, d *db.DB) {
		if err := d.Migrate(context.Background()); err != nil {
			t.Fatalf("second migration: %v", err)
		}
	})
}

func TestTxCommitsOrRollsBack(t *testing.T) {
	t.Parallel()
	dbtest.EachBackend(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		committed := 0
		insert := func(id string, fail bool) error {
			return d.Tx(ctx, func(tx *db.Tx) error {
				tx.OnCommit(func() { committed++ })
				if _, err := tx.ExecContext(ctx, `INSERT INTO organizations (id, name, api_key_hash, outbound_enabled, created_at)
					VALUES ($1, $1, $1, TRUE, $2)`, id, db.Micros(time.Now())); err != nil {
					return err
				}
				if fail {
					return errors.New("boom")
				}
				return nil
			})
		}
		if err := insert("org_a", false); err != nil {
			t.Fatal(err)
		}
		if err := insert("org_b", true); err == nil {
			t.Fatal("a failing transaction committed")
		}
		var n int
		if err := d.QueryRowContext(ctx, `SELECT COUNT(*) FROM organizations`).Scan(&n); err != nil || n != 1 {
			t.Errorf("%d organizations (%v), want only the committed one", n, err)
		}
		if committed != 1 {
			t.Errorf("OnCommit ran %d times, want once", committed)
		}
	})
}

func TestInsertRowsAndList(t *testing.T) {
	t.Parallel()
	dbtest.EachBackend(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		cols := []string{"id", "name", "api_key_hash", "outbound_enabled", "created_at"}
		var rows [][]any
		for i := range 1234 { // more than one multi-row chunk on PostgreSQL
			id := fmt.Sprintf("org_%04d", i)
			rows = append(rows, []any{id, id, id, true, int64(i)})
		}
		err := d.Tx(ctx, func(tx *db.Tx) error {
			return tx.InsertRows(ctx, "organizations", cols, "ON CONFLICT (id) DO NOTHING", rows)
		})
		if err != nil {
			t.Fatal(err)
		}
		p := db.Page{Limit: 500}
		seen := 0
		for pages := 0; ; pages++ {
			q, err := d.QueryContext(ctx, `SELECT id FROM organizations WHERE ($1 = '' OR id < $1) ORDER BY id DESC LIMIT $2`, p.Cursor, p.Limit+1)
			ids, next, err := db.List(q, err, p, func(s db.Scanner) (string, error) {
				var id string
				return id, s.Scan(&id)
			}, func(s string) string { return s })
			if err != nil {
				t.Fatal(err)
			}
			seen += len(ids)
			if next == "" {
				if pages != 2 {
					t.Errorf("%d pages, want 3", pages+1)
				}
				break
			}
			p.Cursor = next
		}
		if seen != len(rows) {
			t.Errorf("paged through %d rows, want %d", seen, len(rows))
		}
	})
}

func TestTimesAndPlaceholders(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 25, 14, 0, 0, 123456000, time.FixedZone("x", 3600))
	if got := db.Time(db.Micros(now)); !got.Equal(now) || got.Location() != time.UTC {
		t.Errorf("round trip = %v", got)
	}
	if db.NullMicros(nil) != nil || db.ZeroNullMicros(time.Time{}) != nil || db.NullText("") != nil || db.NullInt(0) != nil {
		t.Error("empty values must be NULL")
	}
	if got := db.Placeholders(3, 3); got != "$3, $4, $5" {
		t.Errorf("placeholders = %q", got)
	}
	if got := db.InsertSQL("t", []string{"a", "b"}, "ON CONFLICT DO NOTHING"); !strings.HasPrefix(got, "INSERT INTO t (a, b) VALUES ($1, $2)") {
		t.Errorf("insert = %q", got)
	}
}

func TestExclusiveRunsOnce(t *testing.T) {
	t.Parallel()
	dbtest.EachBackend(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		ran, err := d.Exclusive(ctx, "job", func(ctx context.Context) error {
			if d.Shared() {
				inner, err := d.Exclusive(ctx, "job", func(context.Context) error { return nil })
				if err != nil || inner {
					t.Errorf("the same job ran twice at once: %v %v", inner, err)
				}
			}
			return nil
		})
		if err != nil || !ran {
			t.Errorf("Exclusive = %v %v", ran, err)
		}
	})
}

// TestExclusiveJobsShareNoPooledConnection: every periodic job may run at
// once, each asking the pool for connections, on a pool smaller than the
// number of jobs; the jobs' locks must not take the pool's connections.
func TestExclusiveJobsShareNoPooledConnection(t *testing.T) {
	t.Parallel()
	url := strings.Replace(dbtest.PostgresURL(t), dbtest.PoolOption, "pool_max_conns=2", 1)
	d := dbtest.Open(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const jobs = 7
	var inside, done sync.WaitGroup
	inside.Add(jobs)
	allInside := make(chan struct{})
	go func() { inside.Wait(); close(allInside) }()
	for i := range jobs {
		done.Add(1)
		go func() {
			defer done.Done()
			ran, err := d.Exclusive(ctx, fmt.Sprintf("job-%d", i), func(ctx context.Context) error {
				inside.Done()
				select { // every job holds its lock before any asks the pool
				case <-allInside:
				case <-ctx.Done():
					return fmt.Errorf("not every job got its lock: %w", ctx.Err())
				}
				var one int
				return d.QueryRowContext(ctx, `SELECT 1`).Scan(&one)
			})
			if err != nil || !ran {
				t.Errorf("job %d: ran %v, %v", i, ran, err)
			}
		}()
	}
	done.Wait()
}

// TestPostgresURLOptions: pool_max_conns bounds the pool and is taken out
// of the URL; the rest of the URL means what it meant to pgx (percent
// escapes kept); errors never repeat a password.
func TestPostgresURLOptions(t *testing.T) {
	t.Parallel()
	base := dbtest.PostgresURL(t)
	for _, bad := range []string{"pool_max_conns=0", "pool_max_conns=x", "pool_max_conns=1001"} {
		if d, err := db.Open(context.Background(), strings.Replace(base, dbtest.PoolOption, bad, 1)); err == nil {
			d.Close()
			t.Errorf("Open with %s succeeded", bad)
		}
	}
	for _, bad := range []string{"postgres://hb:s3cr#et@127.0.0.1:notaport/x", "postgres://hb:s3cret@127.0.0.1:1/x?pool_max_conns=0"} {
		if d, err := db.Open(context.Background(), bad); err == nil {
			d.Close()
			t.Errorf("Open(%q) succeeded", bad)
		} else if strings.Contains(err.Error(), "s3cr") {
			t.Errorf("the error shows the password: %v", err)
		}
	}
	d := dbtest.Open(t, strings.Replace(base, dbtest.PoolOption, "pool_max_conns=3&application_name=my%20app", 1))
	if got := d.Pools()["postgres"].Stats().MaxOpenConnections; got != 3 {
		t.Errorf("MaxOpenConnections = %d, want 3", got)
	}
	var name string
	if err := d.QueryRowContext(context.Background(), `SHOW application_name`).Scan(&name); err != nil || name != "my app" {
		t.Errorf("application_name = %q, %v; want %q", name, err, "my app")
	}
	// LISTEN and the jobs' locks connect with the same options.
	ran, err := d.Exclusive(context.Background(), "options", func(context.Context) error { return nil })
	if err != nil || !ran {
		t.Errorf("Exclusive = %v, %v", ran, err)
	}
}

// TestBackgroundTxDurability checks each class of transaction commits with
// the durability it promises: foreground fsynced, background lazily.
func TestBackgroundTxDurability(t *testing.T) {
	t.Parallel()
	dbtest.EachBackend(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		setting := func(tx *db.Tx) string {
			q := `PRAGMA synchronous` // 1 NORMAL, 2 FULL
			if d.Shared() {
				q = `SHOW synchronous_commit`
			}
			var v string
			if err := tx.QueryRowContext(ctx, q).Scan(&v); err != nil {
				t.Fatal(err)
			}
			return v
		}
		want := map[bool]string{false: "2", true: "1"}
		if d.Shared() {
			want = map[bool]string{false: "on", true: "off"}
		}
		// Alternate, so that each switch is seen.
		for _, background := range []bool{false, true, true, false, true, false} {
			var got string
			run := d.Tx
			if background {
				run = d.BackgroundTx
			}
			if err := run(ctx, func(tx *db.Tx) error {
				got = setting(tx)
				_, err := tx.ExecContext(ctx, `INSERT INTO readiness (id, checked_at) VALUES (1, $1)
					ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at`, time.Now().UnixMicro())
				return err
			}); err != nil {
				t.Fatal(err)
			}
			if got != want[background] {
				t.Errorf("background=%v: durability setting %q, want %q", background, got, want[background])
			}
		}
	})
}

// TestStatementsPreparedOnce runs the same statements many times, inside
// and outside transactions, and checks results stay right: prepared
// statements are kept and reused, including after a rollback.
func TestStatementsPreparedOnce(t *testing.T) {
	t.Parallel()
	dbtest.EachBackend(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		for i := range 20 {
			id := fmt.Sprintf("org_%02d", i)
			err := d.Tx(ctx, func(tx *db.Tx) error {
				if _, err := tx.ExecContext(ctx, `INSERT INTO organizations (id, name, api_key_hash, outbound_enabled, created_at)
					VALUES ($1, $1, $1, TRUE, $2)`, id, i); err != nil {
					return err
				}
				var n int
				if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM organizations WHERE id <= $1`, id).Scan(&n); err != nil {
					return err
				}
				if want := (i+1)/2 + 1; n != want {
					return fmt.Errorf("%d rows up to %s in the transaction, want %d", n, id, want)
				}
				if i%2 == 1 {
					return errRollBack
				}
				return nil
			})
			if err != nil && !(i%2 == 1 && errors.Is(err, errRollBack)) {
				t.Fatal(err)
			}
			var n int
			if err := d.QueryRowContext(ctx, `SELECT COUNT(*) FROM organizations WHERE id <= $1`, id).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if want := i/2 + 1; n != want { // the even ones committed
				t.Fatalf("after %s: %d rows, want %d", id, n, want)
			}
		}
	})
}

var errRollBack = errors.New("roll back")

// TestWriteAheadLogStaysBounded commits many small transactions and checks
// that the checkpoints keep SQLite's log from growing with them.
func TestWriteAheadLogStaysBounded(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "wal.db")
	d, err := db.Open(context.Background(), "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx := context.Background()
	if err := d.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	name := strings.Repeat("n", 2000)
	const commits = 3000 // about 25 MB of log if nothing were checkpointed
	for i := range commits {
		if err := d.Tx(ctx, func(tx *db.Tx) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO organizations (id, name, api_key_hash, outbound_enabled, created_at)
				VALUES ($1, $2, $1, TRUE, 1)`, fmt.Sprintf("org_%05d", i), name)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	info, err := os.Stat(path + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	if info.Size() > 8<<20 {
		t.Errorf("the log holds %d MB after %d commits: checkpoints did not keep up", info.Size()>>20, commits)
	}
	var n int
	if err := d.QueryRowContext(ctx, `SELECT COUNT(*) FROM organizations`).Scan(&n); err != nil || n != commits {
		t.Errorf("%d organizations (%v), want %d", n, err, commits)
	}
}

// TestSynchronousFromURL keeps an operator's synchronous level for
// foreground commits, and refuses one SQLite does not know.
func TestSynchronousFromURL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	d, err := db.Open(ctx, "sqlite:"+filepath.Join(dir, "normal.db")+"?_pragma=synchronous(normal)")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for _, run := range []func(context.Context, func(*db.Tx) error) error{d.Tx, d.BackgroundTx, d.Tx} {
		var level int
		if err := run(ctx, func(tx *db.Tx) error {
			return tx.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&level)
		}); err != nil {
			t.Fatal(err)
		}
		if level != 1 {
			t.Errorf("synchronous = %d in a transaction, want 1 (NORMAL, as the URL says)", level)
		}
	}
	if d, err := db.Open(ctx, "sqlite:"+filepath.Join(dir, "bad.db")+"?_pragma=synchronous(fast)"); err == nil {
		d.Close()
		t.Error("an unknown synchronous level was accepted")
	}
}

// TestNotificationsStayInTheirSchema checks that hubs sharing a PostgreSQL
// database in different schemas do not wake each other, while instances
// of one hub do.
func TestNotificationsStayInTheirSchema(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	url := dbtest.PostgresURL(t)
	listener, same := dbtest.Open(t, url), dbtest.Open(t, url)
	other := dbtest.Open(t, dbtest.PostgresURL(t))
	woken := make(chan struct{}, 16)
	go listener.Listen(ctx, "jobs", func() { woken <- struct{}{} }, slog.Default())
	<-woken // the wake after connecting
	notify := func(d *db.DB) {
		if err := d.Tx(ctx, func(tx *db.Tx) error { return tx.Notify(ctx, "jobs") }); err != nil {
			t.Fatal(err)
		}
	}
	// Notifications arrive in the order their transactions committed: one
	// leaking from the other schema would come before the one awaited.
	notify(other)
	notify(same)
	select {
	case <-woken:
	case <-time.After(30 * time.Second):
		t.Fatal("no wake for a notification of the same schema")
	}
	select {
	case <-woken:
		t.Fatal("woken by a notification of another schema")
	case <-time.After(200 * time.Millisecond):
	}
}

// TestWriterJournalsStatementsInMemory checks where SQLite keeps temporary
// storage: in memory for the writer, whose multi-row statements journal
// the pages they change (a write call per page otherwise), and the default
// (files) for readers, whose sorts may be large.
func TestWriterJournalsStatementsInMemory(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := dbtest.Open(t, dbtest.SQLiteURL(t))
	var writer, reader int // 0 default, 1 file, 2 memory
	if err := d.Tx(ctx, func(tx *db.Tx) error {
		return tx.QueryRowContext(ctx, `PRAGMA temp_store`).Scan(&writer)
	}); err != nil {
		t.Fatal(err)
	}
	if err := d.QueryRowContext(ctx, `PRAGMA temp_store`).Scan(&reader); err != nil {
		t.Fatal(err)
	}
	if writer != 2 || reader != 0 {
		t.Errorf("temp_store = %d for the writer, %d for readers; want 2 (memory) and 0 (default)", writer, reader)
	}
}

// TestReadersStayOpen checks that concurrent reads on SQLite reuse the
// reader connections instead of closing and reopening them (each opening
// runs the pragmas and prepares every statement again).
func TestReadersStayOpen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := dbtest.Open(t, dbtest.SQLiteURL(t))
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				var n int
				if err := d.QueryRowContext(ctx, `SELECT count(*) FROM organizations`).Scan(&n); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if s := db.ReaderStats(d); s.MaxIdleClosed > 0 || s.OpenConnections > 4 {
		t.Errorf("reader pool: %d connections open, %d closed for want of room among the idle ones; want at most 4 and none", s.OpenConnections, s.MaxIdleClosed)
	}
}
