package destination_test

import (
	"strings"
	"testing"

	"github.com/hookbook/hookbook/internal/destination"
	"github.com/hookbook/hookbook/internal/destination/kafka"
	"github.com/hookbook/hookbook/internal/destination/mqtt"
	"github.com/hookbook/hookbook/internal/destination/nats"
	"github.com/hookbook/hookbook/internal/destination/rabbitmq"
	"github.com/hookbook/hookbook/internal/destination/redis"
)

// TestDescribe: every type says where an endpoint publishes (its url in
// answers and the delivery log, and what tells two endpoints apart in the
// list), never with a credential.
func TestDescribe(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		t      destination.Type
		config string
		want   string
	}{
		{rabbitmq.New(), `{"url":"amqp://u:pw-1@mq.example.com:5672/vh","exchange":"bookings"}`, "rabbitmq exchange bookings at amqp://u:***@mq.example.com:5672/vh"},
		{redis.New(), `{"url":"redis://:pw-1@r.example.com:6379/0","stream":"hooks"}`, "hooks"},
		{nats.New(), `{"url":"nats://u:pw-1@n.example.com:4222","subject":"clinic.{event}"}`, "nats subject clinic.{event} at nats://u:***@n.example.com:4222"},
		{nats.New(), `{"url":"nats://pw-1@n.example.com:4222"}`, "nats subject hookbook.{event} at nats://***@n.example.com:4222"},
		{mqtt.New(), `{"url":"tcp://u:pw-1@m.example.com:1883","topic":"clinic/{event}"}`, "mqtt topic clinic/{event} at tcp://u:***@m.example.com:1883"},
		{kafka.New(), `{"brokers":["k1.example.com:9092","k2.example.com:9092"],"topic":"bookings","sasl":{"mechanism":"plain","username":"u","password":"pw-1"}}`, "kafka topic bookings at k1.example.com:9092,k2.example.com:9092"},
	} {
		norm, err := c.t.Validate([]byte(c.config))
		if err != nil {
			t.Fatalf("%s: %v", c.config, err)
		}
		got := destination.Describe(c.t, norm)
		if !strings.Contains(got, c.want) || strings.Contains(got, "pw-1") {
			t.Errorf("%s: %q, want it to hold %q and no password", c.t.Name(), got, c.want)
		}
	}
}
