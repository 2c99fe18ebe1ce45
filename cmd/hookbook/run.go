package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"

	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/config"
	"github.com/hookbook/hookbook/internal/db"
	"github.com/hookbook/hookbook/internal/org"
	server "github.com/hookbook/hookbook/internal/server"
)

func logger(cfg *config.Config) *slog.Logger {
	var h slog.Handler
	if cfg.LogFormat == "json" {
		h = slog.NewJSONHandler(os.Stderr, nil)
	} else {
		h = slog.NewTextHandler(os.Stderr, nil)
	}
	return slog.New(h)
}

func serve(ctx context.Context, fs *flag.FlagSet, args []string, out io.Writer) error {
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	cfg, err := config.Load(nil)
	if err != nil {
		return err
	}
	log := logger(cfg)
	slog.SetDefault(log)
	a, err := server.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.Close()
	if err := a.Bootstrap(ctx); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	log.Info("hookbook listening", "addr", ln.Addr().String(), "database", a.DB.Name(), "env", cfg.Env, "version", hookbook.Version)
	return a.Serve(ctx, ln)
}

// openMigrated opens the configured database and applies migrations.
func openMigrated(ctx context.Context) (*db.DB, error) {
	cfg, err := config.Load(nil)
	if err != nil {
		return nil, err
	}
	st, err := db.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	if err := st.Migrate(ctx); err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
}

func migrate(ctx context.Context, fs *flag.FlagSet, args []string, out io.Writer) error {
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	st, err := openMigrated(ctx)
	if err != nil {
		return err
	}
	st.Close()
	fmt.Fprintln(os.Stderr, "hookbook: migrations applied")
	return nil
}

func orgCreate(ctx context.Context, fs *flag.FlagSet, args []string, out io.Writer) error {
	name := fs.String("name", "", "the organization's name (required)")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	if err := required("org create", "name", *name); err != nil {
		return err
	}
	st, err := openMigrated(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	key := org.NewAPIKey()
	o, err := (&org.Service{DB: st}).CreateOrganization(ctx, *name, key)
	if err != nil {
		return err
	}
	return json.NewEncoder(out).Encode(map[string]string{"organization_id": o.ID, "api_key": key})
}

func version(ctx context.Context, fs *flag.FlagSet, args []string, out io.Writer) error {
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	fmt.Fprintln(out, "hookbook", hookbook.Version)
	return nil
}

// backup writes a consistent copy of a live SQLite database to a new file.
func backup(ctx context.Context, fs *flag.FlagSet, args []string, out io.Writer) error {
	if err := parse(fs, args, 1); err != nil {
		return err
	}
	file := fs.Arg(0)
	cfg, err := config.Load(nil)
	if err != nil {
		return err
	}
	if _, err := os.Stat(file); err == nil {
		return fmt.Errorf("backup: %s exists; choose a new file", file)
	}
	st, err := db.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.Backup(ctx, file); err != nil {
		return err
	}
	fmt.Fprintf(out, "hookbook: backed up %s to %s\n", st.Name(), file)
	return nil
}
