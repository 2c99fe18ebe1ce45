package main

import (
	"context"
	"encoding/json"
	"errors"
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

const usage = `usage: hookbook <command>

commands:
  serve                      run the HTTP API, delivery workers and scheduler
  migrate                    apply database migrations
  org create --name NAME     create an organization and print its API key
  org list                   list the organizations
  key create --org ORG --name NAME
                             create another API key and print it (once)
  key list --org ORG         list an organization's keys (never the keys)
  key revoke --org ORG --id KEY
                             revoke a key at once
  inbound send --url URL --secret S --action A [--params JSON] [--data JSON]
                             sign and send an inbound command, print the answer
  version                    print the version

configuration comes from HOOKBOOK_* environment variables (see README).`

func run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, usage)
		return errors.New("no command given")
	}
	switch args[0] {
	case "serve":
		return serve(ctx)
	case "migrate":
		return migrate(ctx)
	case "org":
		switch {
		case len(args) >= 2 && args[1] == "create":
			return orgCreate(ctx, args[2:], os.Stdout)
		case len(args) == 2 && args[1] == "list":
			return orgList(ctx, os.Stdout)
		}
		return errors.New("usage: hookbook org create --name NAME | org list")
	case "key":
		return keyCommand(ctx, args[1:], os.Stdout)
	case "inbound":
		if len(args) < 2 || args[1] != "send" {
			return errors.New("usage: hookbook inbound send --url URL --secret S --action A --params JSON --data JSON")
		}
		return inboundSend(ctx, args[2:], os.Stdout)
	case "version", "--version", "-v":
		fmt.Println("hookbook", hookbook.Version)
		return nil
	case "help", "--help", "-h":
		fmt.Println(usage)
		return nil
	}
	fmt.Fprintln(os.Stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

func logger(cfg *config.Config) *slog.Logger {
	var h slog.Handler
	if cfg.LogFormat == "json" {
		h = slog.NewJSONHandler(os.Stderr, nil)
	} else {
		h = slog.NewTextHandler(os.Stderr, nil)
	}
	return slog.New(h)
}

func serve(ctx context.Context) error {
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

func migrate(ctx context.Context) error {
	st, err := openMigrated(ctx)
	if err != nil {
		return err
	}
	st.Close()
	fmt.Fprintln(os.Stderr, "hookbook: migrations applied")
	return nil
}

func orgCreate(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("org create", flag.ContinueOnError)
	name := fs.String("name", "", "organization name")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *name == "" {
		return errors.New("usage: hookbook org create --name NAME")
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
