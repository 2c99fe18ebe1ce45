package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

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
	// The ports first: a port in use stops the start before anything is
	// created (the default organization and its one-time key included).
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("HOOKBOOK_ADDR: %w", err)
	}
	defer ln.Close()
	var mln net.Listener
	if cfg.MetricsAddr != "" {
		if mln, err = net.Listen("tcp", cfg.MetricsAddr); err != nil {
			return fmt.Errorf("HOOKBOOK_METRICS_ADDR: %w", err)
		}
		defer mln.Close()
	}
	a, err := server.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.Close()
	a.MetricsListener = mln
	if err := a.Bootstrap(ctx); err != nil {
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
	if st.Created != "" {
		fmt.Fprintf(os.Stderr, "hookbook: no database was at %s: created a new, empty one; to use a server's, set HOOKBOOK_DATABASE_URL as the server has it (default sqlite:hookbook.db, in the current directory)\n", st.Created)
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

// healthcheck exits 0 when the local instance is ready (server.CheckReady).
func healthcheck(ctx context.Context, fs *flag.FlagSet, args []string, out io.Writer) error {
	url := fs.String("url", "", "probe this URL instead (its certificate verified as any other's), e.g. https://hooks.example.com/readyz")
	timeout := fs.Duration("timeout", 5*time.Second, "how long to wait for the answer")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	cfg, err := config.Load(nil)
	if err != nil {
		return err
	}
	return server.CheckReady(ctx, cfg, *url, *timeout)
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
	// Opening a missing SQLite file would create an empty database, and
	// back that up.
	if missing := db.Missing(cfg.DatabaseURL); missing != "" {
		return fmt.Errorf("backup: no database at %s; set HOOKBOOK_DATABASE_URL as the server has it (default sqlite:hookbook.db, in the current directory)", missing)
	}
	st, err := db.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer st.Close()
	if st.Shared() {
		return st.Backup(ctx, file) // refused, with the reason
	}
	if err := writePrivate(file, func(tmp string) error { return st.Backup(ctx, tmp) }); err != nil {
		return err
	}
	fmt.Fprintf(out, "hookbook: backed up %s to %s\n", st.Name(), file)
	return nil
}

// writePrivate has write fill an empty file that only its owner may read
// or write (mode 0600, whatever the umask: a backup holds endpoint
// secrets), then gives it the name file, which must not exist.
func writePrivate(file string, write func(tmp string) error) error {
	dir, base := filepath.Split(file)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".*.tmp")
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	err = f.Chmod(0o600)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := write(tmp); err != nil {
		return err
	}
	// A link, unlike a rename, never replaces a file that appeared meanwhile.
	err = os.Link(tmp, file)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("backup: %s exists; choose a new file", file)
	}
	if err != nil {
		// A file system without hard links: rename, having checked.
		if _, serr := os.Lstat(file); serr == nil {
			return fmt.Errorf("backup: %s exists; choose a new file", file)
		}
		if err := os.Rename(tmp, file); err != nil {
			return fmt.Errorf("backup: %w", err)
		}
	}
	return nil
}
