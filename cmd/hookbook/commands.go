package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// command is one CLI command: "serve", "org create", …
type command struct {
	path     string // words after "hookbook"
	synopsis string // its flags, for the usage line
	summary  string // one whole sentence for the list of commands
	help     string // what it does, in full
	run      func(ctx context.Context, fs *flag.FlagSet, args []string, out io.Writer) error
}

// commands is set in init: its commands refer back to it for their help.
var commands []*command

func init() {
	commands = []*command{
		{path: "serve", summary: "Run the API, admin UI, delivery workers and scheduler until stopped.",
			help: "Run the HTTP API, the admin UI, the delivery workers and the scheduler until SIGINT or SIGTERM,\nthen stop gracefully. Configuration comes from HOOKBOOK_* environment variables (README: Configuration).", run: serve},
		{path: "migrate", summary: "Apply the database migrations and exit.",
			help: "Apply the database migrations of HOOKBOOK_DATABASE_URL and exit.", run: migrate},
		{path: "backup", synopsis: "FILE", summary: "Write a consistent copy of the live SQLite database to a new FILE.",
			help: "Write a consistent copy of the live SQLite database of HOOKBOOK_DATABASE_URL to FILE\n(which must not exist), readable by its owner only: it holds endpoint secrets.\nhookbook may keep running meanwhile. Restore by starting hookbook with\nHOOKBOOK_DATABASE_URL=sqlite:FILE. PostgreSQL: use pg_dump.", run: backup},
		{path: "org create", synopsis: "--name NAME", summary: "Create an organization; print its id and first API key as JSON.",
			help: "Create an organization and print its id and first API key (shown only now) as JSON.", run: orgCreate},
		{path: "org list", summary: "Print every organization's id and name as JSON: {\"data\":[…]}.",
			help: "Print every organization's id and name as JSON.", run: orgList},
		{path: "key create", synopsis: "--org ORG_ID --name NAME", summary: "Create another API key of an organization; print it as JSON.",
			help: "Create another API key of an organization and print it as JSON (the key is shown only now).", run: keyCreate},
		{path: "key list", synopsis: "--org ORG_ID", summary: "Print an organization's live API keys as JSON (never the keys).",
			help: "Print an organization's live API keys as JSON, as the API lists them ({\"data\":[…]}):\nid, name, prefix, times; never the keys.", run: keyList},
		{path: "key revoke", synopsis: "--org ORG_ID --id KEY_ID", summary: "Revoke an API key at once, on every instance.",
			help: "Revoke an API key at once, on every instance.", run: keyRevoke},
		{path: "inbound send", synopsis: "--url URL --secret S --action A [--params JSON] [--data JSON]", summary: "Sign and send one inbound command; print the status and answer.",
			help: "Sign and send one inbound command, print the status and answer.", run: inboundSend},
		{path: "verify", synopsis: "--secret S|--public-key K [--scheme S] < request-dump", summary: "Say whether a captured delivery verifies with an endpoint's secret or key.",
			help: "Say whether a captured delivery (an HTTP request dump on stdin, or --body-file and --header)\nverifies with an endpoint's secret, and why not: the Standard Webhooks headers and the brand signature.\nFor an ed25519 endpoint give its public key instead (--public-key whpk_…, or as --secret):\nthe v1a signatures of webhook-signature are checked with it alone.\nExits 0 when a signature verifies.", run: verify},
		{path: "healthcheck", synopsis: "[--url URL] [--timeout D]", summary: "Exit 0 when the local instance answers /readyz with 200, else 1.",
			help: "GET the readiness probe (/readyz) of the instance HOOKBOOK_ADDR describes, on this host (no host or\n0.0.0.0 in HOOKBOOK_ADDR: 127.0.0.1; https when HOOKBOOK_TLS_CERT_FILE is set, which must then be\nthe certificate served), and exit 0 when it answers 200, else 1 with what it answered.\nThe container image's HEALTHCHECK: the image has no shell and no curl.", run: healthcheck},
		{path: "listen", synopsis: "--forward-to URL [--events P,…] [--exit-after N] […]", summary: "Relay this organization's deliveries to a local app, over a WebSocket.",
			help: "Register a listening endpoint of your organization for --events and forward each of its deliveries,\nbody and signed headers unchanged, to a local app; the app's answer (status, duration, body) is\nrecorded as the attempt, and a refused or failing app makes the delivery retry like any endpoint's.\nThe listener's signing secret is printed at start (stderr). Prints one line per delivery (time,\nevent, event id, delivery id, local status, duration, URL), or JSON lines with --print-json.\nReconnects with backoff; deliveries published meanwhile wait, in order for ordered endpoints.\nThe same --name and --events are the same endpoint: its secret and queue persist across restarts.", run: listen},
		{path: "trigger", synopsis: "EVENT_TYPE [--data JSON]", summary: "Publish the catalog's example of an event type; print the event id.",
			help: "Publish an event of EVENT_TYPE through the API: the catalog's example data, with --data merged\nover it (objects key by key). Prints the event's id.", run: trigger},
		{path: "deliveries resend", synopsis: "DELIVERY_ID", summary: "Queue one more attempt of a delivery now.",
			help: "Queue one more attempt of a delivery now (POST /api/v1/deliveries/{id}/redeliver); prints the answer.", run: deliveriesResend},
		{path: "events list", synopsis: "[--event TYPE] [--limit N]", summary: "Print the organization's events as JSON, newest first.",
			help: "Print the organization's events as JSON, newest first ({\"data\":[…],\"next_cursor\"}).", run: eventsList},
		{path: "events get", synopsis: "EVENT_ID", summary: "Print an event and a summary of its deliveries as JSON.",
			help: "Print an event and a summary of its deliveries as JSON.", run: eventsGet},
		{path: "version", summary: "Print the version.",
			help: "Print the version.", run: version},
	}
}

const configHint = "configuration comes from HOOKBOOK_* environment variables (see the README)."

// usage lists the commands, those of group when it is not empty.
func usage(group string) string {
	var b strings.Builder
	b.WriteString("usage: hookbook <command> [flags]\n\ncommands:\n")
	for _, c := range commands {
		if group != "" && !strings.HasPrefix(c.path, group+" ") {
			continue
		}
		line := c.path
		if c.synopsis != "" {
			line += " " + c.synopsis
		}
		fmt.Fprintf(&b, "  %s\n      %s\n", line, c.summary)
	}
	b.WriteString("\n'hookbook <command> --help' describes a command and its flags;\n" + configHint)
	return b.String()
}

func isHelp(arg string) bool {
	return arg == "-h" || arg == "-help" || arg == "--help" || arg == "help"
}

func run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, usage(""))
		return errors.New("no command given")
	}
	if isHelp(args[0]) {
		fmt.Println(usage(""))
		return nil
	}
	if args[0] == "--version" || args[0] == "-v" {
		args = []string{"version"}
	}
	for _, c := range commands {
		words := strings.Fields(c.path)
		if len(args) < len(words) || strings.Join(args[:len(words)], " ") != c.path {
			continue
		}
		fs := flag.NewFlagSet("hookbook "+c.path, flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		if err := c.run(ctx, fs, args[len(words):], os.Stdout); !errors.Is(err, errHelpShown) {
			return err
		}
		return nil
	}
	// A group without a known command: "hookbook org", "hookbook key --help".
	for _, c := range commands {
		if group, _, ok := strings.Cut(c.path, " "); ok && group == args[0] {
			if len(args) > 1 && isHelp(args[1]) {
				fmt.Println(usage(group))
				return nil
			}
			fmt.Fprintln(os.Stderr, usage(group))
			if len(args) == 1 {
				return fmt.Errorf("%q needs a command", group)
			}
			return fmt.Errorf("unknown command %q", strings.Join(args[:2], " "))
		}
	}
	fmt.Fprintln(os.Stderr, usage(""))
	return fmt.Errorf("unknown command %q", args[0])
}

// errHelpShown reports that a command printed its help: exit 0, do nothing.
var errHelpShown = errors.New("help shown")

// parse reads a command's flags. On --help it prints the command's help to
// stdout and returns errHelpShown; on a bad flag or a stray argument it
// returns an error naming it. nargs is how many positional arguments the
// command takes.
func parse(fs *flag.FlagSet, args []string, nargs int) error {
	c := commandNamed(strings.TrimPrefix(fs.Name(), "hookbook "))
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Print(helpText(c, fs))
		return errHelpShown
	}
	if err != nil {
		return fmt.Errorf("%s: %w (see 'hookbook %s --help')", c.path, err, c.path)
	}
	if fs.NArg() != nargs {
		for _, a := range fs.Args() {
			if isHelp(a) {
				fmt.Print(helpText(c, fs))
				return errHelpShown
			}
		}
		if fs.NArg() > nargs {
			return fmt.Errorf("%s: unexpected argument %q (see 'hookbook %s --help')", c.path, fs.Arg(nargs), c.path)
		}
		return fmt.Errorf("usage: hookbook %s %s", c.path, c.synopsis)
	}
	return nil
}

func commandNamed(path string) *command {
	for _, c := range commands {
		if c.path == path {
			return c
		}
	}
	panic("no command " + path)
}

func helpText(c *command, fs *flag.FlagSet) string {
	var b strings.Builder
	fmt.Fprintf(&b, "usage: hookbook %s %s\n\n%s\n", c.path, c.synopsis, c.help)
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n > 0 {
		b.WriteString("\nflags:\n")
		fs.SetOutput(&b)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	b.WriteString("\n" + configHint + "\n")
	return b.String()
}

// required fails when a required flag is empty; pairs are name, value, ….
func required(c string, pairs ...string) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		if strings.TrimSpace(pairs[i+1]) == "" {
			return fmt.Errorf("%s: --%s is required (see 'hookbook %s --help')", c, pairs[i], c)
		}
	}
	return nil
}
