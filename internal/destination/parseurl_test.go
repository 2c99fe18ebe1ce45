package destination_test

import (
	"errors"
	"testing"

	"github.com/hookbook/hookbook/internal/destination"
)

// TestParseURLRefusesOptions: a broker URL carries no query or fragment.
// Clients act on a URL's options (amqp091-go reads certificate files named
// by cacertfile, certfile and keyfile from hookbook's disk; go-redis takes
// pool sizes and timeouts), which are not the endpoint's to set.
func TestParseURLRefusesOptions(t *testing.T) {
	t.Parallel()
	for _, raw := range []string{
		"amqps://guest:guest@broker.example:5671/?cacertfile=/etc/hostname",
		"amqp://guest:guest@broker.example/vhost?heartbeat=1&password=leak",
		"redis://broker.example:6379/0?pool_size=100000",
		"redis://broker.example:6379/0?",
		"redis://broker.example:6379/0#x",
	} {
		_, _, err := destination.ParseURL("url", raw, "5672", "amqp", "amqps", "redis")
		var fe *destination.FieldError
		if !errors.As(err, &fe) || fe.Field != "url" {
			t.Errorf("%s: %v, want a field error naming url", raw, err)
		}
	}
	if _, addr, err := destination.ParseURL("url", "amqp://guest:guest@broker.example/vhost", "5672", "amqp"); err != nil || addr != "broker.example:5672" {
		t.Errorf("a plain URL: %q %v", addr, err)
	}
}
