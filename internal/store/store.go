// Package store keeps hookbook's state in SQLite or PostgreSQL.
//
// One SQL text serves both databases: modernc.org/sqlite accepts the $1
// placeholders of PostgreSQL, times are BIGINT unix microseconds and JSON is
// TEXT kept byte for byte. The few differences (row locks, the SQLite
// single-writer pool) live in the dialect. The deliveries table doubles as the
// work queue: see Claim and Complete.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // PostgreSQL driver "pgx"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	_ "modernc.org/sqlite" // SQLite driver "sqlite"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Dialects.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// Store is hookbook's database. It is safe for concurrent use.
type Store struct {
	db      *sql.DB // every transaction; on SQLite the single writer connection
	rdb     *sql.DB // reads outside transactions
	dialect string
	// Now returns the current time; tests may replace it before use.
	Now func() time.Time
	// Notify, when set, is called after a transaction that made deliveries
	// due now has committed, so that idle workers wake at once.
	Notify func()

	batch batcher

	published atomic.Int64

	stmtMu sync.Mutex
	stmts  map[string]*sql.Stmt
}

// Open connects to a database named by a URL: "sqlite:PATH" (also
// "sqlite://PATH" or "file:PATH") or "postgres://…" / "postgresql://…".
// It does not migrate; call Migrate.
func Open(ctx context.Context, databaseURL string) (*Store, error) {
	switch {
	case strings.HasPrefix(databaseURL, "postgres://"), strings.HasPrefix(databaseURL, "postgresql://"):
		return openPostgres(ctx, databaseURL)
	case strings.HasPrefix(databaseURL, "sqlite:"), strings.HasPrefix(databaseURL, "file:"):
		path := strings.TrimPrefix(strings.TrimPrefix(databaseURL, "sqlite:"), "file:")
		path = strings.TrimPrefix(path, "//")
		return openSQLite(ctx, path)
	default:
		return nil, fmt.Errorf("unsupported database URL %q: want sqlite:PATH or postgres://…", databaseURL)
	}
}

func openSQLite(ctx context.Context, path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("sqlite: empty path")
	}
	// The path may carry its own query (e.g. ?_pragma=…); ours are added to it.
	base, query, _ := strings.Cut(path, "?")
	q, err := url.ParseQuery(query)
	if err != nil {
		return nil, fmt.Errorf("sqlite: bad options %q: %w", query, err)
	}
	for _, p := range []string{"busy_timeout(10000)", "journal_mode(WAL)", "synchronous(FULL)", "foreign_keys(ON)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	dsn := "file:" + base + "?" + q.Encode()
	w, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	// SQLite has one writer at a time: one connection for every transaction
	// avoids SQLITE_BUSY between our own goroutines.
	w.SetMaxOpenConns(1)
	w.SetConnMaxIdleTime(0)
	r, err := sql.Open("sqlite", dsn)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	r.SetMaxOpenConns(4)
	s := &Store{db: w, rdb: r, dialect: SQLite, Now: time.Now}
	if err := s.Ping(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlite %s: %w", base, err)
	}
	return s, nil
}

func openPostgres(ctx context.Context, databaseURL string) (*Store, error) {
	db, err := sql.Open("pgx", databaseURL)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	db.SetMaxOpenConns(32)
	db.SetMaxIdleConns(32)
	s := &Store{db: db, rdb: db, dialect: Postgres, Now: time.Now}
	if err := s.Ping(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return s, nil
}

// Published returns how many events this process has stored.
func (s *Store) Published() int64 { return s.published.Load() }

// Dialect returns SQLite or Postgres.
func (s *Store) Dialect() string { return s.dialect }

// DB returns the pool used for transactions and writes.
func (s *Store) DB() *sql.DB { return s.db }

// ReadDB returns the pool for reads outside transactions.
func (s *Store) ReadDB() *sql.DB { return s.rdb }

// ForUpdate is the row-lock clause for a SELECT in a transaction ("" on
// SQLite, whose write transactions already exclude each other).
func (s *Store) ForUpdate() string { return s.forUpdate() }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	return s.rdb.QueryRowContext(ctx, "SELECT 1").Scan(&one)
}

// Close closes the database.
func (s *Store) Close() error {
	s.stmtMu.Lock()
	for _, st := range s.stmts {
		st.Close()
	}
	s.stmts = nil
	s.stmtMu.Unlock()
	err := s.db.Close()
	if s.rdb != s.db {
		if e := s.rdb.Close(); err == nil {
			err = e
		}
	}
	return err
}

// Migrate applies every pending schema migration. On PostgreSQL a session
// advisory lock lets several instances start at once.
func (s *Store) Migrate(ctx context.Context) error {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	dialect := goose.DialectSQLite3
	var opts []goose.ProviderOption
	if s.dialect == Postgres {
		dialect = goose.DialectPostgres
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return err
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(dialect, s.db, sub, opts...)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return s.prepare(ctx)
}

// forUpdate is the row-lock clause of a SELECT inside a transaction; SQLite
// needs none because its transactions hold the database's write lock.
func (s *Store) forUpdate() string {
	if s.dialect == Postgres {
		return " FOR UPDATE"
	}
	return ""
}

// skipLocked is the clause that lets concurrent claimers pass each other.
func (s *Store) skipLocked() string {
	if s.dialect == Postgres {
		return " FOR UPDATE SKIP LOCKED"
	}
	return ""
}

// Tx is a transaction of the store. Domain packages make their change and
// publish its event through the same Tx, so both commit or neither does.
type Tx struct {
	*sql.Tx
	s      *Store
	notify bool // deliveries became due: wake the workers after commit
	// endpointsOf memoizes fan-out candidates per organization. Changes to
	// endpoints go through other transactions, so within one it is stable.
	endpointsOf map[string][]candidate
	published   int64 // events stored by this transaction
	prepared    map[string]*sql.Stmt
}

// Store returns the store the transaction belongs to.
func (tx *Tx) Store() *Store { return tx.s }

// Tx runs fn in a transaction, committing when fn returns nil. After a commit
// that queued deliveries it calls Notify.
func (s *Store) Tx(ctx context.Context, fn func(*Tx) error) error {
	sqlTx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	tx := &Tx{Tx: sqlTx, s: s}
	if err := fn(tx); err != nil {
		sqlTx.Rollback()
		return err
	}
	if tx.notify {
		if err := tx.notifyOthers(ctx); err != nil {
			sqlTx.Rollback()
			return fmt.Errorf("notify: %w", err)
		}
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	s.published.Add(tx.published)
	if tx.notify && s.Notify != nil {
		s.Notify()
	}
	return nil
}

// hotStatements are prepared once, after migration, so that SQLite does not
// parse the same text again for every delivery.
var hotStatements = []string{insertAttemptSQL, updateDeliverySQL, insertEventSQL}

func (s *Store) prepare(ctx context.Context) error {
	s.stmtMu.Lock()
	defer s.stmtMu.Unlock()
	if s.stmts == nil {
		s.stmts = map[string]*sql.Stmt{}
	}
	for _, q := range hotStatements {
		if _, ok := s.stmts[q]; ok {
			continue
		}
		st, err := s.db.PrepareContext(ctx, q)
		if err != nil {
			return fmt.Errorf("prepare: %w", err)
		}
		s.stmts[q] = st
	}
	return nil
}

// exec runs query in the transaction, through its prepared statement when
// there is one.
func (tx *Tx) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	tx.s.stmtMu.Lock()
	st := tx.s.stmts[query]
	tx.s.stmtMu.Unlock()
	if st == nil {
		return tx.ExecContext(ctx, query, args...)
	}
	return tx.StmtContext(ctx, st).ExecContext(ctx, args...)
}

// execRepeated runs a statement that the transaction may run many times
// (a group commit publishes many events): it is prepared once per
// transaction, and closed with it.
func (tx *Tx) execRepeated(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, ok := tx.prepared[query]
	if !ok {
		var err error
		if st, err = tx.PrepareContext(ctx, query); err != nil {
			return nil, err
		}
		if tx.prepared == nil {
			tx.prepared = map[string]*sql.Stmt{}
		}
		tx.prepared[query] = st
	}
	return st.ExecContext(ctx, args...)
}

// queryer is what both *sql.DB and *sql.Tx offer.
type queryer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// us converts a time to unix microseconds.
func us(t time.Time) int64 { return t.UnixMicro() }

// fromUS converts unix microseconds to a UTC time.
func fromUS(v int64) time.Time { return time.UnixMicro(v).UTC() }

func nullUS(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixMicro()
}

func fromNullUS(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromUS(v.Int64)
	return &t
}

// placeholders returns "$from, $from+1, …" for n values.
func placeholders(from, n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "$%d", from+i)
	}
	return b.String()
}

// Page selects a slice of a list, newest first.
type Page struct {
	Limit  int
	Cursor string // id of the last item of the previous page; "" for the first
}

// trim cuts a fetched list of limit+1 items to limit and returns the cursor
// of the next page, or "" when this is the last one.
func trim[T any](items []T, limit int, idOf func(T) string) ([]T, string) {
	if len(items) <= limit {
		return items, ""
	}
	items = items[:limit]
	return items, idOf(items[len(items)-1])
}
