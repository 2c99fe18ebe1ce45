package rabbitmq_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/hookbook/hookbook/internal/brokertest"
	"github.com/hookbook/hookbook/internal/destination"
	"github.com/hookbook/hookbook/internal/destination/rabbitmq"
)

// queue declares a fresh queue, deleted after the test, and returns its
// name and a channel consuming it.
func queue(t *testing.T) (string, <-chan amqp.Delivery) {
	t.Helper()
	conn, err := amqp.Dial("amqp://guest:guest@" + brokertest.RabbitMQ + "/")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	q, err := ch.QueueDeclare(fmt.Sprintf("hookbook-test-%d", time.Now().UnixNano()), false, true, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := ch.Consume(q.Name, "", true, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	return q.Name, msgs
}

func config(url, exchange, key string) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"url":%q,"exchange":%q,"routing_key":%q}`, url, exchange, key))
}

func message(id string) *destination.Message {
	return &destination.Message{EventID: id, EventType: "booking.created", Timestamp: time.Unix(1700000000, 0),
		Body:    []byte(`{"id":"` + id + `"}`),
		Headers: []destination.Header{{Name: "webhook-id", Value: id}, {Name: "X-Hookbook-Sequence", Value: "7"}}}
}

func publish(pub destination.Publisher, m *destination.Message, d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return pub.Publish(ctx, m)
}

func open(t *testing.T, cfg json.RawMessage) destination.Publisher {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pub, err := rabbitmq.New().Open(ctx, cfg, brokertest.Dial)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pub.Close() })
	return pub
}

func TestRabbitMQValidate(t *testing.T) {
	t.Parallel()
	typ := rabbitmq.New()
	got, err := typ.Validate(json.RawMessage(`{"url":"amqps://u:pw@example.com/v","exchange":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != `{"url":"amqps://u:pw@example.com/v","exchange":"x","routing_key":"","mandatory":true}` {
		t.Fatalf("normal form: %s", got)
	}
	if r := typ.Redact(got); strings.Contains(string(r), "pw") || !strings.Contains(string(r), "amqps://u:***@example.com/v") {
		t.Fatalf("redacted: %s", r)
	}
	if a, _ := typ.Addresses(got); len(a) != 1 || a[0] != "example.com:5671" {
		t.Fatalf("addresses: %v", a)
	}
	for _, c := range []struct{ config, field string }{
		{`{"url":"redis://x"}`, "url"},
		{`{"exchange":"x"}`, "url"},
		{`{"url":"amqp://x","exchange":"` + strings.Repeat("e", 256) + `"}`, "exchange"},
		{`{"url":"amqp://x","mandatory":"yes"}`, "mandatory"},
		{`{"url":"amqp://x","queue":"q"}`, "queue"},
	} {
		_, err := typ.Validate(json.RawMessage(c.config))
		var fe *destination.FieldError
		if !errors.As(err, &fe) || fe.Field != c.field {
			t.Errorf("%s: got %v, want a field error on %s", c.config, err, c.field)
		}
	}
}

func TestRabbitMQPublish(t *testing.T) {
	t.Parallel()
	brokertest.Require(t, "RabbitMQ", brokertest.RabbitMQ)
	q, msgs := queue(t)
	pub := open(t, config("amqp://guest:guest@"+brokertest.RabbitMQ+"/", "", q))
	if err := publish(pub, message("evt_1"), 10*time.Second); err != nil {
		t.Fatal(err)
	}
	select {
	case d := <-msgs:
		if d.MessageId != "evt_1" || d.Type != "booking.created" || string(d.Body) != `{"id":"evt_1"}` ||
			d.Headers["webhook-id"] != "evt_1" || d.Headers["X-Hookbook-Sequence"] != "7" || d.ContentType != "application/json" {
			t.Fatalf("delivery: %+v", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("nothing consumed")
	}
	// A second message on the same channel.
	err := publish(pub, message("evt_2"), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	pub2 := open(t, config("amqp://guest:guest@"+brokertest.RabbitMQ+"/", "", "no-such-queue-hookbook"))
	if err := publish(pub2, message("evt_3"), 10*time.Second); destination.KindOf(err) != destination.KindRejected || err == nil {
		t.Fatalf("unroutable: %v", err)
	}
	// The publisher goes on after a refusal.
	if err := publish(pub2, message("evt_4"), 10*time.Second); destination.KindOf(err) != destination.KindRejected || err == nil {
		t.Fatalf("unroutable again: %v", err)
	}
	pub3 := open(t, config("amqp://guest:guest@"+brokertest.RabbitMQ+"/", "no-such-exchange-hookbook", "k"))
	if err := publish(pub3, message("evt_5"), 10*time.Second); destination.KindOf(err) != destination.KindRejected || err == nil {
		t.Fatalf("missing exchange: %v", err)
	}
}

func TestRabbitMQWrongPassword(t *testing.T) {
	t.Parallel()
	brokertest.Require(t, "RabbitMQ", brokertest.RabbitMQ)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := rabbitmq.New().Open(ctx, config("amqp://guest:wrong@"+brokertest.RabbitMQ+"/", "", "q"), brokertest.Dial)
	if kind := destination.KindOf(err); err == nil || kind != destination.KindAuth {
		t.Fatalf("got %v (kind %s), want auth", err, kind)
	}
}

func TestRabbitMQOutage(t *testing.T) {
	t.Parallel()
	brokertest.Require(t, "RabbitMQ", brokertest.RabbitMQ)
	proxy := brokertest.NewProxy(t, brokertest.RabbitMQ)
	q, msgs := queue(t)
	cfg := config("amqp://guest:guest@"+proxy.Addr()+"/", "", q)
	pub := open(t, cfg)
	if err := publish(pub, message("evt_1"), 10*time.Second); err != nil {
		t.Fatal(err)
	}
	proxy.Cut()
	err := publish(pub, message("evt_2"), 2*time.Second)
	if kind := destination.KindOf(err); err == nil || (kind != destination.KindConnect && kind != destination.KindTimeout) {
		t.Fatalf("during the outage: %v (kind %s)", err, kind)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := rabbitmq.New().Open(ctx, cfg, brokertest.Dial); err == nil || (destination.KindOf(err) != destination.KindConnect && destination.KindOf(err) != destination.KindTimeout) {
		t.Fatalf("open during the outage: %v", err)
	}
	proxy.Restore()
	pub = open(t, cfg) // a dead connection is replaced (BrokerSender does it)
	if err := publish(pub, message("evt_3"), 10*time.Second); err != nil {
		t.Fatalf("after the outage: %v", err)
	}
	got := map[string]bool{}
	deadline := time.After(10 * time.Second)
	for !got["evt_3"] {
		select {
		case d := <-msgs:
			got[d.MessageId] = true
		case <-deadline:
			t.Fatalf("consumed %v", got)
		}
	}
	if !got["evt_1"] {
		t.Fatalf("consumed %v", got)
	}
}
