// Package db opens hookbook's database, SQLite or PostgreSQL, applies its
// migrations and runs transactions. It is the only package that knows how
// the two databases differ.
//
// One SQL text serves both: modernc.org/sqlite accepts the $1 placeholders
// of PostgreSQL, times are BIGINT unix microseconds (see Micros) and JSON is
// TEXT kept byte for byte. What differs — row locks, SQLite's single writer,
// LISTEN/NOTIFY, advisory locks, multi-row inserts — sits behind the methods
// of DB and Tx.
package db

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib" // database/sql over pgx; registers the driver "pgx" too
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	_ "modernc.org/sqlite" // SQLite driver "sqlite"
)

//go:embed migrations/*.sql
var migrations embed.FS

const (
	sqlite   = "sqlite"
	postgres = "postgres"
)

// DB is hookbook's database. It is safe for concurrent use.
type DB struct {
	w       *sql.DB // every transaction and write; on SQLite the single writer connection
	r       *sql.DB // reads outside transactions
	dialect string
	schema  string // PostgreSQL: the schema hookbook's tables live in
	// pgConfig is PostgreSQL's connection config, for the connections
	// outside the pool (LISTEN, the jobs' locks).
	pgConfig *pgx.ConnConfig
	// Now is the instance's clock; tests may replace it before use.
	Now func() time.Time

	stmts    stmtCache
	gate     gate // SQLite's writer
	ckpt     *checkpointer
	locks    lockConn // PostgreSQL: the advisory locks of Exclusive
	file     string   // SQLite: the database file SQLite opens ("" in memory)
	lockFile *os.File // SQLite: the file, opened by Own
	owned    *os.File // SQLite: the same, once Own locked it

	// Created names the SQLite database file Open made, as an absolute
	// path, when nothing had used its path before (a command run with
	// another database URL, or from another directory, than the server's);
	// it is empty otherwise.
	Created string
}

// Pools returns the connection pools by name, for their statistics: on
// SQLite the writer (its single connection) and the readers, on
// PostgreSQL the one pool.
func (d *DB) Pools() map[string]*sql.DB {
	if d.w == d.r {
		return map[string]*sql.DB{"postgres": d.w}
	}
	return map[string]*sql.DB{"sqlite_writer": d.w, "sqlite_reader": d.r}
}

// Open connects to a database named by a URL: "sqlite:PATH" (also
// "sqlite://PATH" or "file:PATH") or "postgres://…" / "postgresql://…".
// It does not migrate; call Migrate.
func Open(ctx context.Context, databaseURL string) (*DB, error) {
	switch {
	case strings.HasPrefix(databaseURL, "postgres://"), strings.HasPrefix(databaseURL, "postgresql://"):
		return openPostgres(ctx, databaseURL)
	case strings.HasPrefix(databaseURL, "sqlite:"), strings.HasPrefix(databaseURL, "file:"):
		return openSQLite(ctx, sqlitePath(databaseURL))
	default:
		return nil, fmt.Errorf("unsupported database URL %q: want sqlite:PATH or postgres://…", databaseURL)
	}
}

// sqlitePath is the path of a SQLite database URL, options included.
func sqlitePath(databaseURL string) string {
	path := strings.TrimPrefix(strings.TrimPrefix(databaseURL, "sqlite:"), "file:")
	return strings.TrimPrefix(path, "//")
}

// Missing returns, as an absolute path, the SQLite file a database URL
// names when there is none of that name (opening the database would create
// it), else "" (a file is there, or the database is not a SQLite file).
func Missing(databaseURL string) string { return newFile(SQLiteFile(databaseURL)) }

// newFile returns file as an absolute path when there is none of that
// name, else "".
func newFile(file string) string {
	if file == "" {
		return ""
	}
	if _, err := os.Stat(file); !errors.Is(err, fs.ErrNotExist) {
		return ""
	}
	if abs, err := filepath.Abs(file); err == nil {
		return abs
	}
	return file
}

// SQLiteFile returns the file a SQLite database URL names, as SQLite will
// open it, or "" for another database or one in memory.
func SQLiteFile(databaseURL string) string {
	if !strings.HasPrefix(databaseURL, "sqlite:") && !strings.HasPrefix(databaseURL, "file:") {
		return ""
	}
	base, query, _ := strings.Cut(sqlitePath(databaseURL), "?")
	base, _, _ = strings.Cut(base, "#") // a URI's fragment is not part of the file's name
	if q, err := url.ParseQuery(query); base == "" || base == ":memory:" || err == nil && q.Get("mode") == "memory" {
		return ""
	}
	file, err := url.PathUnescape(base) // SQLite reads the path as a file: URI
	if err != nil {
		return base
	}
	return file
}

func openSQLite(ctx context.Context, path string) (*DB, error) {
	if path == "" {
		return nil, errors.New("sqlite: empty path")
	}
	// The path may carry its own query (e.g. ?_pragma=…); ours are added to it.
	base, query, _ := strings.Cut(path, "?")
	q, err := url.ParseQuery(query)
	if err != nil {
		return nil, fmt.Errorf("sqlite: bad options %q: %w", query, err)
	}
	// A synchronous level the URL names is the operator's choice for
	// foreground commits (e.g. NORMAL: may lose the last commits on power
	// loss); FULL otherwise. Ours come after theirs, and the last one wins.
	durable := "FULL"
	for _, p := range q["_pragma"] {
		name, arg, _ := strings.Cut(p, "(")
		if strings.EqualFold(strings.TrimSpace(name), "synchronous") {
			durable = strings.ToUpper(strings.TrimSuffix(strings.TrimSpace(arg), ")"))
		}
	}
	switch durable {
	case "OFF", "NORMAL", "FULL", "EXTRA", "0", "1", "2", "3":
	default:
		return nil, fmt.Errorf("sqlite: synchronous(%s): want OFF, NORMAL, FULL or EXTRA", durable)
	}
	for _, p := range []string{"busy_timeout(10000)", "journal_mode(WAL)", "synchronous(" + durable + ")", "foreign_keys(ON)", "wal_autocheckpoint(0)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	file := SQLiteFile("sqlite:" + path)
	created := newFile(file)
	dsn := "file:" + base + "?" + q.Encode()
	// The writer keeps its statement journals in memory: a multi-row write
	// inside a transaction (a publication's deliveries, a batch of attempt
	// rows) journals the pages it changes so that the statement alone can
	// be undone, and in a temporary file that costs a write call per page
	// (a fifth of a publication's time). The writer's statements change
	// bounded batches of rows; readers, whose sorts may be large, keep the
	// default.
	q.Add("_pragma", "temp_store(MEMORY)")
	w, err := sql.Open("sqlite", "file:"+base+"?"+q.Encode())
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
	// All four kept open: beyond database/sql's default of two idle
	// connections, each busy moment closed one and the next opened it again
	// (pragmas, schema, every prepared statement once more).
	r.SetMaxOpenConns(4)
	r.SetMaxIdleConns(4)
	d := &DB{w: w, r: r, dialect: sqlite, Now: time.Now, file: file, Created: created}
	d.gate.durable = durable
	if err := d.Ping(ctx); err != nil {
		d.Close()
		return nil, fmt.Errorf("sqlite %s: %w", base, err)
	}
	d.startCheckpoints()
	return d, nil
}

// DefaultPostgresConns is how many connections one instance opens to
// PostgreSQL at most, unless its URL says otherwise (pool_max_conns).
const DefaultPostgresConns = 32

func openPostgres(ctx context.Context, databaseURL string) (*DB, error) {
	// pgx reads the URL as libpq does; pool_max_conns, which the server
	// would refuse as an unknown setting, is taken out of what it read.
	cfg, err := pgx.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err) // pgx's message hides the password
	}
	maxConns := DefaultPostgresConns
	if v, ok := cfg.RuntimeParams["pool_max_conns"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return nil, fmt.Errorf("postgres: pool_max_conns=%q: want a number from 1 to 1000", v)
		}
		maxConns = n
		delete(cfg.RuntimeParams, "pool_max_conns")
	}
	pool := stdlib.OpenDB(*cfg)
	// Bounded, and idle connections are given back: several instances
	// (and other programs) share the server's max_connections.
	pool.SetMaxOpenConns(maxConns)
	pool.SetMaxIdleConns(maxConns)
	pool.SetConnMaxIdleTime(time.Minute)
	d := &DB{w: pool, r: pool, dialect: postgres, pgConfig: cfg, Now: time.Now}
	if err := d.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	var schema sql.NullString
	if err := pool.QueryRowContext(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: current schema: %w", err)
	}
	d.schema = schema.String
	return d, nil
}

// Shared reports whether several hookbook processes may use the database
// at once (PostgreSQL). A SQLite file belongs to one process.
func (d *DB) Shared() bool { return d.dialect == postgres }

// Name is "sqlite" or "postgres", for logs and metrics.
func (d *DB) Name() string { return d.dialect }

// Ping checks that the database answers.
func (d *DB) Ping(ctx context.Context) error {
	var one int
	return d.r.QueryRowContext(ctx, "SELECT 1").Scan(&one)
}

// Ready checks that the database answers and can store a write: a
// database that still reads but cannot write (disk full, read-only) is not
// ready to take events.
func (d *DB) Ready(ctx context.Context) error {
	if err := d.Ping(ctx); err != nil {
		return fmt.Errorf("%w: %w", ErrUnreachable, err)
	}
	_, err := d.ExecContext(ctx, `INSERT INTO readiness (id, checked_at) VALUES (1, $1)
		ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at`, d.Now().UnixMicro())
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnwritable, err)
	}
	return nil
}

// Reasons Ready gives, for errors.Is.
var (
	ErrUnreachable = errors.New("database unreachable")
	ErrUnwritable  = errors.New("database unwritable")
)

// Close closes the database.
func (d *DB) Close() error {
	d.stopCheckpoints()
	d.closeStmts()
	d.locks.close()
	err := d.w.Close()
	if d.r != d.w {
		if e := d.r.Close(); err == nil {
			err = e
		}
	}
	if d.lockFile != nil {
		d.lockFile.Close() // and with it the lock
	}
	return err
}

// Migrate applies every pending schema migration. On PostgreSQL a session
// advisory lock lets several instances start at once.
//
// The lock is the schema's own (its id is derived from the schema's name),
// so instances of hookbook in other schemas of the same database never wait
// for each other, and a waiting instance looks again every second.
func (d *DB) Migrate(ctx context.Context) error {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	dialect := goose.DialectSQLite3
	var opts []goose.ProviderOption
	if d.dialect == postgres {
		dialect = goose.DialectPostgres
		locker, err := migrationLocker(ctx, d.w)
		if err != nil {
			return err
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(dialect, d.w, sub, opts...)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// migrationLocker returns the session lock that serialises migrations of
// the connection's current schema.
func migrationLocker(ctx context.Context, conn *sql.DB) (lock.SessionLocker, error) {
	var schema string
	if err := conn.QueryRowContext(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return nil, fmt.Errorf("migrations: current schema: %w", err)
	}
	h := fnv.New64a()
	h.Write([]byte("hookbook-migrations:" + schema))
	// Five minutes in all, as goose's default, looking every second.
	return lock.NewPostgresSessionLocker(lock.WithLockID(int64(h.Sum64())), lock.WithLockTimeout(1, 300))
}

// ExecContext runs a write outside a transaction.
func (d *DB) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	release, err := d.write(ctx, false)
	if err != nil {
		return nil, err
	}
	defer release()
	var res sql.Result
	if st := d.stmt(ctx, d.w, query); st != nil {
		res, err = st.ExecContext(ctx, args...)
	} else {
		res, err = d.w.ExecContext(ctx, query, args...)
	}
	if err == nil {
		d.committed()
	}
	return res, err
}

// QueryContext runs a read outside a transaction.
func (d *DB) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := d.stmt(ctx, d.r, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return d.r.QueryContext(ctx, query, args...)
}

// QueryRowContext runs a one-row read outside a transaction.
func (d *DB) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := d.stmt(ctx, d.r, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return d.r.QueryRowContext(ctx, query, args...)
}

// DeleteInBatches runs a DELETE whose last argument is a batch size (as in
// "DELETE … WHERE id IN (SELECT … LIMIT $n)") until it deletes fewer rows
// than batch, so that no single statement holds the write lock long. It
// returns how many rows it deleted.
func (d *DB) DeleteInBatches(ctx context.Context, query string, batch int, args ...any) (int, error) {
	total := 0
	for {
		res, err := d.ExecContext(ctx, query, append(args, batch)...)
		if err != nil {
			return total, err
		}
		n, _ := res.RowsAffected()
		total += int(n)
		if n < int64(batch) {
			return total, nil
		}
	}
}

// Queryer is what both DB and Tx offer, so that a read can run inside a
// transaction or outside one.
type Queryer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

var (
	_ Queryer = (*DB)(nil)
	_ Queryer = (*Tx)(nil)
)

// Backup writes a consistent copy of a SQLite database to file, a new
// file, while other connections and processes keep reading and writing
// (VACUUM INTO: one read transaction, so the copy is a single point in
// time). A PostgreSQL database is backed up with pg_dump instead.
func (d *DB) Backup(ctx context.Context, file string) error {
	if d.Shared() {
		return errors.New("backup: this is a PostgreSQL database; use pg_dump")
	}
	if _, err := d.r.ExecContext(ctx, `VACUUM INTO $1`, file); err != nil {
		return fmt.Errorf("backup to %s: %w", file, err)
	}
	return nil
}
