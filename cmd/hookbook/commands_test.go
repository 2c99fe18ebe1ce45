package main

import (
	"strings"
	"testing"
)

// TestUsage pins the list of commands that `hookbook` and `hookbook --help`
// print: each summary is one whole sentence, and every line fits in 80
// columns.
func TestUsage(t *testing.T) {
	want := `usage: hookbook <command> [flags]

commands:
  serve
      Run the API, admin UI, delivery workers and scheduler until stopped.
  migrate
      Apply the database migrations and exit.
  backup FILE
      Write a consistent copy of the live SQLite database to a new FILE.
  org create --name NAME
      Create an organization; print its id and first API key as JSON.
  org list
      Print every organization's id and name as JSON: {"data":[…]}.
  key create --org ORG_ID --name NAME
      Create another API key of an organization; print it as JSON.
  key list --org ORG_ID
      Print an organization's live API keys as JSON (never the keys).
  key revoke --org ORG_ID --id KEY_ID
      Revoke an API key at once, on every instance.
  inbound send --url URL --secret S --action A [--params JSON] [--data JSON]
      Sign and send one inbound command; print the status and answer.
  verify --secret S|--public-key K [--scheme S] < request-dump
      Say whether a captured delivery verifies with an endpoint's secret or key.
  healthcheck [--url URL] [--timeout D]
      Exit 0 when the local instance answers /readyz with 200, else 1.
  listen --forward-to URL [--events P,…] [--exit-after N] […]
      Relay this organization's deliveries to a local app, over a WebSocket.
  trigger EVENT_TYPE [--data JSON]
      Publish the catalog's example of an event type; print the event id.
  deliveries resend DELIVERY_ID
      Queue one more attempt of a delivery now.
  events list [--event TYPE] [--limit N]
      Print the organization's events as JSON, newest first.
  events get EVENT_ID
      Print an event and a summary of its deliveries as JSON.
  version
      Print the version.

'hookbook <command> --help' describes a command and its flags;
configuration comes from HOOKBOOK_* environment variables (see the README).`
	if got := usage(""); got != want {
		t.Errorf("usage:\n%s\n\nwant:\n%s", got, want)
	}
	for _, line := range strings.Split(usage(""), "\n") {
		if len(line) > 80 {
			t.Errorf("longer than 80 columns: %q", line)
		}
	}
	for _, c := range commands {
		s := c.summary
		if s == "" || strings.Contains(s, "\n") || !strings.HasSuffix(s, ".") || strings.ToUpper(s[:1]) != s[:1] {
			t.Errorf("%s: the summary %q is not one whole sentence", c.path, s)
		}
	}
}
