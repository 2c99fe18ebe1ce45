package nats

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/hookbook/hookbook/internal/brokertest"
	"github.com/hookbook/hookbook/internal/destination"
)

func TestNATSValidate(t *testing.T) {
	t.Parallel()
	long := "nats://h:" + strings.Repeat("1", MaxURLLength)
	for _, c := range []struct {
		config, field, normal string
	}{
		{`{"url":"nats://127.0.0.1:4222"}`, "", `{"url":"nats://127.0.0.1:4222","subject":"hookbook.{event}"}`},
		{`{"url":"tls://u:p@nats.example.com","subject":"orders.{event}"}`, "", `{"url":"tls://u:p@nats.example.com","subject":"orders.{event}"}`},
		{`{"url":"nats://tok@h:4222","subject":"a.b"}`, "", `{"url":"nats://tok@h:4222","subject":"a.b"}`},
		{`{}`, "url", ""},
		{``, "url", ""},
		{`[]`, "url", ""},
		{`{"url":"nats://h"} {}`, "url", ""},
		{`{"url":1}`, "url", ""},
		{`{"url":"http://h:4222"}`, "url", ""},
		{`{"url":"nats://"}`, "url", ""},
		{`{"url":"nats://h:99999"}`, "url", ""},
		{`{"url":"nats://h:4222/path"}`, "url", ""},
		{`{"url":"nats://h?x=1"}`, "url", ""},
		{`{"url":"` + long + `"}`, "url", ""},
		{`{"url":"nats://h","subject":"a..b"}`, "subject", ""},
		{`{"url":"nats://h","subject":"a.*"}`, "subject", ""},
		{`{"url":"nats://h","subject":"a.>"}`, "subject", ""},
		{`{"url":"nats://h","subject":"a b"}`, "subject", ""},
		{`{"url":"nats://h","subject":".a"}`, "subject", ""},
		{`{"url":"nats://h","subject":"` + strings.Repeat("a", MaxSubjectLength+1) + `"}`, "subject", ""},
		{`{"url":"nats://h","subject":7}`, "subject", ""},
		{`{"url":"nats://h","stream":"X"}`, "stream", ""},
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
			t.Errorf("%s: err = %v, want a FieldError on %s", c.config, err, c.field)
		}
	}
}

func TestNATSRedact(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ config, want, secret string }{
		{`{"url":"nats://user:s3cret@h:4222","subject":"a.b"}`, `{"url":"nats://user:***@h:4222","subject":"a.b"}`, "s3cret"},
		{`{"url":"nats://t0ken@h:4222"}`, `{"url":"nats://***@h:4222"}`, "t0ken"},
		{`{"url":"nats://h:4222"}`, `{"url":"nats://h:4222"}`, ""},
		{`{"url":"nats://u:p%zz@h"}`, `{"url":"***"}`, "p%zz"},
		{`not json with s3cret`, `{}`, "s3cret"},
	} {
		got := string(New().Redact(json.RawMessage(c.config)))
		if got != c.want {
			t.Errorf("Redact(%s) = %s, want %s", c.config, got, c.want)
		}
		if c.secret != "" && strings.Contains(got, c.secret) {
			t.Errorf("Redact(%s) keeps the credential", c.config)
		}
	}
	// A redacted config is still valid.
	if _, err := New().Validate(New().Redact(json.RawMessage(`{"url":"nats://u:p@h"}`))); err != nil {
		t.Fatal(err)
	}
}

func TestNATSAddressesAndFields(t *testing.T) {
	t.Parallel()
	got, err := New().Addresses(json.RawMessage(`{"url":"nats://u:p@10.0.0.1"}`))
	if err != nil || !slices.Equal(got, []string{"10.0.0.1:4222"}) {
		t.Fatalf("Addresses = %v, %v", got, err)
	}
	got, err = New().Addresses(json.RawMessage(`{"url":"tls://[::1]:7422"}`))
	if err != nil || !slices.Equal(got, []string{"[::1]:7422"}) {
		t.Fatalf("Addresses = %v, %v", got, err)
	}
	if New().Name() != "nats" || len(New().Fields()) != 2 || New().Fields()[0].Name != "url" {
		t.Fatalf("Fields = %+v", New().Fields())
	}
}

// FuzzNATSValidate: Validate never panics, refuses with a FieldError, and
// what it accepts is a fixed point whose redaction is valid too.
func FuzzNATSValidate(f *testing.F) {
	for _, s := range []string{`{"url":"nats://h:4222"}`, `{"url":"tls://u:p@h","subject":"a.{event}"}`, `{"subject":"a.>"}`, `{"url":"nats://[::1"}`, `{`, `null`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, config string) {
		brokertest.CheckConfig(t, New(), json.RawMessage(config), new(*destination.FieldError))
	})
}
