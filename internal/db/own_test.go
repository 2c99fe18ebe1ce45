package db_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/hookbook/hookbook/internal/db"
	"github.com/hookbook/hookbook/internal/dbtest"
)

// TestSQLiteServerOwnsItsFile: a second server cannot take a SQLite file
// one already owns; other commands still open it, and the file is free
// again once its owner closes it.
func TestSQLiteServerOwnsItsFile(t *testing.T) {
	t.Parallel()
	url := dbtest.SQLiteURL(t)
	first := dbtest.Open(t, url)
	if err := first.Own(); err != nil {
		t.Fatal(err)
	}
	second := dbtest.Open(t, url)
	if err := second.Own(); !errors.Is(err, db.ErrInUse) {
		t.Fatalf("second Own = %v, want ErrInUse", err)
	}
	if err := second.Ping(context.Background()); err != nil {
		t.Errorf("a database another process owns cannot be read: %v", err)
	}
	first.Close()
	if err := second.Own(); err != nil {
		t.Errorf("Own after the owner closed: %v", err)
	}
}

// TestOwnIsANoOpOnPostgres: instances share a PostgreSQL database.
func TestOwnIsANoOpOnPostgres(t *testing.T) {
	t.Parallel()
	url := dbtest.PostgresURL(t)
	a, b := dbtest.Open(t, url), dbtest.Open(t, url)
	if err := a.Own(); err != nil {
		t.Fatal(err)
	}
	if err := b.Own(); err != nil {
		t.Errorf("a second instance on PostgreSQL: %v", err)
	}
}

// TestOnCommitLockedRunsBeforeTheWriterIsFree: on SQLite, what a
// transaction runs with OnCommitLocked happens before any other
// transaction of the process begins (the engine drops its in-memory
// leases there, so that no claim sees a finished delivery still held).
func TestOnCommitLockedRunsBeforeTheWriterIsFree(t *testing.T) {
	t.Parallel()
	d := dbtest.Open(t, dbtest.SQLiteURL(t))
	ctx := context.Background()
	started, ran := make(chan struct{}), make(chan struct{}, 1)
	done := make(chan error, 1)
	go func() {
		<-started
		done <- d.Tx(ctx, func(*db.Tx) error { ran <- struct{}{}; return nil })
	}()
	err := d.BackgroundTx(ctx, func(tx *db.Tx) error {
		tx.OnCommitLocked(func() {
			close(started)
			select {
			case <-ran:
				t.Error("another transaction ran before OnCommitLocked finished")
			case <-time.After(200 * time.Millisecond):
				// Nothing ran meanwhile: the writer is still held.
			}
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestSQLiteFile: the file a database URL names, as SQLite opens it; none
// for PostgreSQL or a database in memory. Open reports a file it made.
func TestSQLiteFile(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"sqlite:hookbook.db":                             "hookbook.db",
		"sqlite:///var/lib/h.db":                         "/var/lib/h.db",
		"file:data/h%20b.db?_pragma=synchronous(NORMAL)": "data/h b.db",
		"sqlite:c.db#frag":                               "c.db",
		"sqlite::memory:":                                "",
		"file:x.db?mode=memory&cache=shared":             "",
		"postgres://u@h/db":                              "",
	} {
		if got := db.SQLiteFile(in); got != want {
			t.Errorf("SQLiteFile(%q) = %q, want %q", in, got, want)
		}
	}
	file := filepath.Join(t.TempDir(), "new.db")
	for i, want := range []string{file, ""} {
		d, err := db.Open(context.Background(), "sqlite:"+file)
		if err != nil {
			t.Fatal(err)
		}
		if d.Created != want {
			t.Errorf("open %d: Created = %q, want %q", i+1, d.Created, want)
		}
		d.Close()
	}
}
