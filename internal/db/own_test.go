package db_test

import (
	"context"
	"errors"
	"testing"

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
