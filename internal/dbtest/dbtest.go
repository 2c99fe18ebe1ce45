// Package dbtest gives tests a fresh database: a SQLite file in the test's
// temporary directory, or a schema of the test PostgreSQL dropped after
// the test, opened and migrated through internal/db. It imports no other
// hookbook package, so a storage package's tests compile only that package
// and db; internal/hookbooktest builds its instances on it.
package dbtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // PostgreSQL driver "pgx"

	"github.com/hookbook/hookbook/internal/db"
)

// Backend is the database tests run against: "sqlite" (default) or
// "postgres" (HOOKBOOK_TEST_BACKEND=postgres).
func Backend() string {
	if b := os.Getenv("HOOKBOOK_TEST_BACKEND"); b != "" {
		return b
	}
	return "sqlite"
}

// URL returns a fresh database of Backend for one test.
func URL(t testing.TB) string {
	t.Helper()
	if Backend() != "postgres" {
		return SQLiteURL(t)
	}
	return PostgresURL(t)
}

// SQLiteURL returns a new SQLite file in the test's temporary directory.
func SQLiteURL(t testing.TB) string {
	return "sqlite:" + filepath.Join(t.TempDir(), "hookbook.db")
}

// PostgresURL returns a new schema of the PostgreSQL test database
// (HOOKBOOK_TEST_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/test),
// dropped after the test. Without a reachable PostgreSQL the test is
// skipped loudly, except under CI=true, where it fails.
func PostgresURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv("HOOKBOOK_TEST_POSTGRES_URL")
	if base == "" {
		base = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	pool, err := sql.Open("pgx", base)
	if err == nil {
		err = pool.Ping()
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL is required under CI=true: %v", err)
		}
		t.Skipf("\n\n*** SKIPPED: PostgreSQL is not reachable at %s (%v).\n*** Start it (see .ci/run) to run this test on PostgreSQL.\n\n", base, err)
	}
	defer pool.Close()
	schema := "hb_" + randomName()
	if _, err := pool.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		pool, err := sql.Open("pgx", base)
		if err != nil {
			return
		}
		defer pool.Close()
		pool.Exec("DROP SCHEMA " + schema + " CASCADE")
	})
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return base + sep + "search_path=" + schema + "&" + PoolOption
}

// PoolOption bounds the connections of each instance a test starts: the
// tests running at once share the server's max_connections (100 by
// default), and the default of 32 each came near it. hookbook takes it
// out of the URL; a client of its own must too (pgx would send it to the
// server as a setting).
const PoolOption = "pool_max_conns=10"

// randomName returns 24 lowercase hex digits, a schema name no other test
// picks.
func randomName() string {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// Open opens and migrates the database at url, closed after the test.
func Open(t testing.TB, url string) *db.DB {
	t.Helper()
	d, err := db.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	if err := d.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return d
}

// New returns a fresh, migrated database of Backend, closed after the test.
func New(t testing.TB) *db.DB {
	t.Helper()
	return Open(t, URL(t))
}

// EachURL runs fn as a subtest with a fresh database URL of each backend,
// SQLite and PostgreSQL.
func EachURL(t *testing.T, fn func(t *testing.T, url string)) {
	for _, b := range []struct {
		name   string
		newURL func(testing.TB) string
	}{{"sqlite", SQLiteURL}, {"postgres", PostgresURL}} {
		t.Run(b.name, func(t *testing.T) { fn(t, b.newURL(t)) })
	}
}

// EachBackend runs fn as a subtest on a fresh, migrated database of each
// backend, SQLite and PostgreSQL: the storage conformance suites use it so
// that the same cases hold on both.
func EachBackend(t *testing.T, fn func(t *testing.T, d *db.DB)) {
	EachURL(t, func(t *testing.T, url string) { fn(t, Open(t, url)) })
}
