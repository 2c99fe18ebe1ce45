package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/hookbook/hookbook/internal/cli"
)

// The developer's loop: listen, trigger, deliveries resend, events list|get
// (internal/cli does the work).

// apiFlags adds --url and --api-key, defaulting to HOOKBOOK_URL and
// HOOKBOOK_API_KEY.
// HOOKBOOK_API_KEY is read when the command runs (API.Check), never shown
// as a default in --help.
func apiFlags(fs *flag.FlagSet) *cli.API {
	a := &cli.API{}
	fs.StringVar(&a.URL, "url", envOr("HOOKBOOK_URL", "http://localhost:8080"), "hookbook's address (or HOOKBOOK_URL)")
	fs.StringVar(&a.Key, "api-key", "", "an API key of your organization, hk_… (or HOOKBOOK_API_KEY)")
	return a
}

// list is a flag that may be given several times.
type list []string

func (l *list) String() string     { return strings.Join(*l, " ") }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

func listen(ctx context.Context, fs *flag.FlagSet, args []string, out io.Writer) error {
	api := apiFlags(fs)
	host, _ := os.Hostname()
	events := fs.String("events", "*", "comma-separated event types or wildcards to receive, e.g. booking.*,payment.succeeded")
	var forward list
	fs.Var(&forward, "forward-to", "local URL deliveries go to; EVENT_TYPE=URL (or booking.*=URL) sends those events elsewhere;\nrepeat it for several (required)")
	name := fs.String("name", host, "this listener's name: the same name and --events find the same listening endpoint\n(its secret and its waiting deliveries) again")
	skipVerify := fs.Bool("skip-verify", false, "do not verify the TLS certificate of an https --forward-to URL")
	exitAfter := fs.Int("exit-after", 0, "exit after this many deliveries: 0 if all succeeded, 1 if any failed (for scripts and CI)")
	printJSON := fs.Bool("print-json", false, "print one JSON object per delivery instead of a line of text")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	routes, err := cli.ParseForward(forward)
	if err != nil {
		return err
	}
	if *exitAfter < 0 {
		return errors.New("--exit-after must be 0 (never) or more")
	}
	var patterns []string
	for _, p := range strings.Split(*events, ",") {
		if p = strings.TrimSpace(p); p != "" {
			patterns = append(patterns, p)
		}
	}
	l := &cli.Listen{API: *api, Name: *name, Events: patterns, Routes: routes, SkipVerify: *skipVerify,
		ExitAfter: *exitAfter, PrintJSON: *printJSON, Out: out, Log: os.Stderr}
	return l.Run(ctx)
}

func trigger(ctx context.Context, fs *flag.FlagSet, args []string, out io.Writer) error {
	api := apiFlags(fs)
	data := fs.String("data", "", "a JSON object merged over the catalog's example data (objects key by key)")
	if err := parse(fs, interspersed(fs, args), 1); err != nil {
		return err
	}
	if err := api.Check(); err != nil {
		return err
	}
	id, err := api.Trigger(ctx, fs.Arg(0), *data)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, id)
	return nil
}

func deliveriesResend(ctx context.Context, fs *flag.FlagSet, args []string, out io.Writer) error {
	api := apiFlags(fs)
	if err := parse(fs, interspersed(fs, args), 1); err != nil {
		return err
	}
	if err := api.Check(); err != nil {
		return err
	}
	b, err := api.Resend(ctx, fs.Arg(0))
	if err != nil {
		return err
	}
	fmt.Fprintln(out, strings.TrimSpace(string(b)))
	return nil
}

func eventsList(ctx context.Context, fs *flag.FlagSet, args []string, out io.Writer) error {
	api := apiFlags(fs)
	event := fs.String("event", "", "only events of this type or wildcard, e.g. booking.*")
	limit := fs.Int("limit", 20, "how many events, newest first (at most 500)")
	cursor := fs.String("cursor", "", "the next_cursor of a previous page")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	if err := api.Check(); err != nil {
		return err
	}
	b, err := api.Events(ctx, *event, *limit, *cursor)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, strings.TrimSpace(string(b)))
	return nil
}

func eventsGet(ctx context.Context, fs *flag.FlagSet, args []string, out io.Writer) error {
	api := apiFlags(fs)
	if err := parse(fs, interspersed(fs, args), 1); err != nil {
		return err
	}
	if err := api.Check(); err != nil {
		return err
	}
	b, err := api.Event(ctx, fs.Arg(0))
	if err != nil {
		return err
	}
	fmt.Fprintln(out, strings.TrimSpace(string(b)))
	return nil
}

// interspersed moves the positional arguments of args after its flags, so
// that `trigger booking.created --data '{…}'` parses as the flags first.
func interspersed(fs *flag.FlagSet, args []string) []string {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			pos = append(pos, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") {
			continue
		}
		f := fs.Lookup(name)
		if f == nil {
			continue
		}
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
			continue
		}
		if i+1 < len(args) {
			flags = append(flags, args[i+1])
			i++
		}
	}
	return append(flags, pos...)
}
