package destination_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/hookbook/hookbook/internal/destination"
)

func TestParseBrokerURL(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]string{
		"":              "is required",
		"x://h":         "usage",
		"tcp://":        "must name a host",
		"tcp://h/path":  "must be only scheme, credentials, host and port",
		"tcp://h?q=1":   "must be only scheme, credentials, host and port",
		"tcp://h:0":     "has an invalid port",
		"tcp://h:65536": "has an invalid port",
		"tcp://" + strings.Repeat("h", destination.MaxURLLength): "is longer than 2048 characters",
		"tcp://u:p@h:1883/": "",
		"mqtt://h":          "",
	} {
		u, err := destination.ParseBrokerURL("url", raw, "usage", "tcp", "mqtt")
		var fe *destination.FieldError
		switch {
		case want == "" && err != nil:
			t.Errorf("%q: %v", raw, err)
		case want == "" && destination.HostPort(u, "1883") != "h:1883":
			t.Errorf("%q: HostPort = %s", raw, destination.HostPort(u, "1883"))
		case want != "" && (!errors.As(err, &fe) || fe.Field != "url" || fe.Message != want):
			t.Errorf("%q: %v, want url %s", raw, err, want)
		}
	}
}

func TestRedactBrokerURL(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		raw   string
		token bool
		want  string
	}{
		{"nats://u:pw@h:4222", true, "nats://u:***@h:4222"},
		{"nats://tok@h:4222", true, "nats://***@h:4222"},
		{"tcp://user@h:1883", false, "tcp://user@h:1883"},
		{"tcp://h:1883", false, "tcp://h:1883"},
		{"tcp://u:p@h:bad port", false, "***"},
		{"tcp://h:bad port", false, "tcp://h:bad port"},
	} {
		if got := destination.RedactBrokerURL(c.raw, c.token); got != c.want {
			t.Errorf("RedactBrokerURL(%q, %v) = %q, want %q", c.raw, c.token, got, c.want)
		}
	}
}

func TestDecodeStrict(t *testing.T) {
	t.Parallel()
	var c struct {
		URL     string   `json:"url"`
		Port    int      `json:"port"`
		Brokers []string `json:"brokers"`
		TLS     *bool    `json:"tls"`
		Groups  [][]int  `json:"groups"`
	}
	for config, want := range map[string]string{
		``:                      "config.url: is required",
		`{"nope":1}`:            "config.nope: is not a field of a test config",
		`{"port":"x"}`:          "config.port: must be a whole number",
		`{"brokers":"x"}`:       "config.brokers: must be a list of strings",
		`{"groups":"x"}`:        "config.groups: must be a list of lists of whole numbers",
		`{"tls":"yes"}`:         "config.tls: must be a boolean",
		`{"url":"a"} {}`:        "config.url: the config must be one JSON object",
		`{"url":"a","port":80}`: "",
	} {
		err := destination.DecodeStrict(json.RawMessage(config), &c, "url", "a test config")
		if (err == nil && want != "") || (err != nil && err.Error() != want) {
			t.Errorf("%q: %v, want %q", config, err, want)
		}
	}
}

func TestRedactURLConfig(t *testing.T) {
	t.Parallel()
	type config struct {
		URL    string `json:"url"`
		Stream string `json:"stream"`
	}
	got := destination.RedactURLConfig(json.RawMessage(`{"url":"redis://u:pw@h/0","stream":"s"}`), func(c *config) *string { return &c.URL })
	if string(got) != `{"url":"redis://u:***@h/0","stream":"s"}` {
		t.Fatalf("RedactURLConfig = %s", got)
	}
	if got := destination.RedactURLConfig(json.RawMessage(`[`), func(c *config) *string { return &c.URL }); string(got) != `{}` {
		t.Fatalf("RedactURLConfig of a broken config = %s", got)
	}
}
