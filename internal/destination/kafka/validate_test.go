package kafka

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/hookbook/hookbook/internal/brokertest"
	"github.com/hookbook/hookbook/internal/destination"
)

func TestKafkaValidate(t *testing.T) {
	t.Parallel()
	eleven := make([]string, MaxBrokers+1)
	for i := range eleven {
		eleven[i] = fmt.Sprintf("b%d:9092", i)
	}
	tooMany, _ := json.Marshal(eleven)
	for _, c := range []struct {
		config, field, normal string
	}{
		{`{"brokers":["127.0.0.1:9092"],"topic":"bookings"}`, "", `{"brokers":["127.0.0.1:9092"],"topic":"bookings"}`},
		{`{"brokers":["a:9092","[::1]:9093"],"topic":"x.y_z-1","tls":true,"sasl":{"mechanism":"SCRAM-SHA-512","username":"u","password":"p"}}`, "",
			`{"brokers":["a:9092","[::1]:9093"],"topic":"x.y_z-1","sasl":{"mechanism":"scram-sha-512","username":"u","password":"p"},"tls":true}`},
		{`{}`, "brokers", ""},
		{``, "brokers", ""},
		{`[1]`, "brokers", ""},
		{`{"brokers":[],"topic":"t"}`, "brokers", ""},
		{`{"brokers":"a:9092","topic":"t"}`, "brokers", ""},
		{`{"brokers":["a"],"topic":"t"}`, "brokers", ""},
		{`{"brokers":["a:0"],"topic":"t"}`, "brokers", ""},
		{`{"brokers":["a:70000"],"topic":"t"}`, "brokers", ""},
		{`{"brokers":["u:p@a:9092"],"topic":"t"}`, "brokers", ""},
		{`{"brokers":["` + strings.Repeat("a", MaxBrokerLength) + `:1"],"topic":"t"}`, "brokers", ""},
		{`{"brokers":` + string(tooMany) + `,"topic":"t"}`, "brokers", ""},
		{`{"brokers":["a:1"]}`, "topic", ""},
		{`{"brokers":["a:1"],"topic":"a b"}`, "topic", ""},
		{`{"brokers":["a:1"],"topic":".."}`, "topic", ""},
		{`{"brokers":["a:1"],"topic":"{event}"}`, "topic", ""},
		{`{"brokers":["a:1"],"topic":"` + strings.Repeat("t", MaxTopicLength+1) + `"}`, "topic", ""},
		{`{"brokers":["a:1"],"topic":"t","sasl":{"mechanism":"gssapi","username":"u","password":"p"}}`, "sasl.mechanism", ""},
		{`{"brokers":["a:1"],"topic":"t","sasl":{"mechanism":"plain","password":"p"}}`, "sasl.username", ""},
		{`{"brokers":["a:1"],"topic":"t","sasl":{"mechanism":"plain","username":"u"}}`, "sasl.password", ""},
		{`{"brokers":["a:1"],"topic":"t","sasl":{"mechanism":"plain","username":"u","password":"p","x":1}}`, "sasl.x", ""},
		{`{"brokers":["a:1"],"topic":"t","sasl":{"mechanism":"plain","username":5,"password":"p"}}`, "sasl.username", ""},
		{`{"brokers":["a:1"],"topic":"t","sasl":"plain"}`, "sasl", ""},
		{`{"brokers":["a:1"],"topic":"t","tls":"yes"}`, "tls", ""},
		{`{"brokers":["a:1"],"topic":"t","acks":0}`, "acks", ""},
	} {
		got, err := New().Validate(json.RawMessage(c.config))
		if c.field == "" {
			if err != nil || string(got) != c.normal {
				t.Errorf("%s: got %s, %v; want %s", c.config, got, err, c.normal)
			}
			continue
		}
		var fe *destination.FieldError
		if !errors.As(err, &fe) || fe.Field != c.field {
			t.Errorf("%.80s: err = %v, want a FieldError on %s", c.config, err, c.field)
		}
	}
}

func TestKafkaRedact(t *testing.T) {
	t.Parallel()
	got := string(New().Redact(json.RawMessage(`{"brokers":["a:1"],"topic":"t","sasl":{"mechanism":"plain","username":"u","password":"s3cret"}}`)))
	if want := `{"brokers":["a:1"],"topic":"t","sasl":{"mechanism":"plain","username":"u","password":"***"}}`; got != want {
		t.Fatalf("Redact = %s, want %s", got, want)
	}
	if got := string(New().Redact(json.RawMessage(`s3cret`))); got != `{}` {
		t.Fatalf("Redact of garbage = %s", got)
	}
	if _, err := New().Validate(json.RawMessage(got)); err != nil {
		t.Fatalf("the redaction is invalid: %v", err)
	}
}

func TestKafkaAddressesAndFields(t *testing.T) {
	t.Parallel()
	got, err := New().Addresses(json.RawMessage(`{"brokers":["a:9092","10.0.0.1:9093"],"topic":"t"}`))
	if err != nil || !slices.Equal(got, []string{"a:9092", "10.0.0.1:9093"}) {
		t.Fatalf("Addresses = %v, %v", got, err)
	}
	if _, err := New().Addresses(json.RawMessage(`{"brokers":[],"topic":"t"}`)); err == nil {
		t.Fatal("Addresses of an invalid config")
	}
	if New().Name() != "kafka" || New().Fields()[0].Name != "brokers" {
		t.Fatalf("Fields = %+v", New().Fields())
	}
}

// FuzzKafkaValidate: Validate never panics, refuses with a FieldError, and
// what it accepts is a fixed point whose redaction is valid too.
func FuzzKafkaValidate(f *testing.F) {
	for _, s := range []string{`{"brokers":["a:9092"],"topic":"t"}`, `{"brokers":["a:1","b:2"],"topic":"t","sasl":{"mechanism":"plain","username":"u","password":"p"},"tls":true}`, `{"brokers":["a"]}`, `{`, `null`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, config string) {
		brokertest.CheckConfig(t, New(), json.RawMessage(config), new(*destination.FieldError))
	})
}
