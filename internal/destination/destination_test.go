package destination_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/hookbook/hookbook/internal/destination"
)

func TestRedactAndKeepCredentials(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"amqp://u:pw@h:5672/v": "amqp://u:***@h:5672/v",
		"redis://h:6379/0":     "redis://h:6379/0",
		"redis://:pw@h/0":      "redis://:***@h/0",
		"nats://tok@h:4222":    "nats://tok@h:4222",
	} {
		if got := destination.RedactURL(in); got != want {
			t.Errorf("RedactURL(%s) = %s, want %s", in, got, want)
		}
	}
	prev := json.RawMessage(`{"url":"amqp://u:old@h/v","sasl":{"password":"p1"},"brokers":["a:1"]}`)
	next := json.RawMessage(`{"url":"amqp://u:***@h/v","sasl":{"password":"***"},"brokers":["b:2"]}`)
	var got map[string]any
	json.Unmarshal(destination.KeepCredentials(next, prev), &got)
	if got["url"] != "amqp://u:old@h/v" || got["sasl"].(map[string]any)["password"] != "p1" || got["brokers"].([]any)[0] != "b:2" {
		t.Fatalf("kept: %v", got)
	}
	json.Unmarshal(destination.KeepCredentials(json.RawMessage(`{"url":"amqp://u:new@h/v"}`), prev), &got)
	if got["url"] != "amqp://u:new@h/v" {
		t.Fatalf("a new password: %v", got)
	}
	// A NATS token (a user name alone) shown as *** is kept too.
	json.Unmarshal(destination.KeepCredentials(json.RawMessage(`{"url":"nats://***@h:4222"}`), json.RawMessage(`{"url":"nats://t0ken@h:4222"}`)), &got)
	if got["url"] != "nats://t0ken@h:4222" {
		t.Fatalf("a token: %v", got)
	}
	if r := string(destination.RedactAny(json.RawMessage(`{"url":"x://u:pw@h","token":"t","n":1}`))); r != `{"n":1,"token":"***","url":"x://u:***@h"}` {
		t.Fatalf("RedactAny: %s", r)
	}
}

func TestOfferAndDecode(t *testing.T) {
	t.Parallel()
	if _, _, err := destination.Offer(nil, []string{"sqs"}); err == nil {
		t.Fatal("an unknown name is offered")
	}
	r, missing, err := destination.Offer(nil, []string{"nats", "redis"})
	if err != nil || len(r) != 0 || len(missing) != 2 {
		t.Fatalf("%v %v %v", r, missing, err)
	}
	var c struct {
		URL string `json:"url"`
		N   int    `json:"n"`
	}
	for raw, field := range map[string]string{`{"url":1}`: "url", `{"x":1}`: "x", `[]`: "", `null`: "", `{"n":"1"}`: "n"} {
		var fe *destination.FieldError
		if err := destination.Decode(json.RawMessage(raw), &c); !errors.As(err, &fe) || fe.Field != field {
			t.Errorf("%s: %v, want a field error on %q", raw, err, field)
		}
	}
}
