package mqtt

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/hookbook/hookbook/internal/brokertest"
	"github.com/hookbook/hookbook/internal/destination"
)

func TestMQTTValidate(t *testing.T) {
	t.Parallel()
	long := "tcp://h:" + strings.Repeat("1", MaxURLLength)
	for _, c := range []struct {
		config, field, normal string
	}{
		{`{"url":"tcp://127.0.0.1:1883"}`, "", `{"url":"tcp://127.0.0.1:1883","topic":"hookbook/{event}","qos":1}`},
		{`{"url":"mqtts://u:p@b.example.com","topic":"shop/{event}/in","qos":0}`, "", `{"url":"mqtts://u:p@b.example.com","topic":"shop/{event}/in","qos":0}`},
		{`{"url":"mqtt://h","topic":"a","qos":2}`, "", `{"url":"mqtt://h","topic":"a","qos":2}`},
		{`{}`, "url", ""},
		{``, "url", ""},
		{`"x"`, "url", ""},
		{`{"url":"tcp://h"} 1`, "url", ""},
		{`{"url":"http://h"}`, "url", ""},
		{`{"url":"tcp://"}`, "url", ""},
		{`{"url":"tcp://h:0"}`, "url", ""},
		{`{"url":"tcp://h/x"}`, "url", ""},
		{`{"url":"` + long + `"}`, "url", ""},
		{`{"url":"tcp://h","topic":"a/+/b"}`, "topic", ""},
		{`{"url":"tcp://h","topic":"a/#"}`, "topic", ""},
		{`{"url":"tcp://h","topic":"$SYS/x"}`, "topic", ""},
		{`{"url":"tcp://h","topic":"a\u0000b"}`, "topic", ""},
		{`{"url":"tcp://h","topic":"` + strings.Repeat("a", MaxTopicLength+1) + `"}`, "topic", ""},
		{`{"url":"tcp://h","qos":3}`, "qos", ""},
		{`{"url":"tcp://h","qos":-1}`, "qos", ""},
		{`{"url":"tcp://h","qos":1.5}`, "qos", ""},
		{`{"url":"tcp://h","qos":"1"}`, "qos", ""},
		{`{"url":"tcp://h","retain":true}`, "retain", ""},
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

func TestMQTTRedact(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ config, want, secret string }{
		{`{"url":"tcp://user:s3cret@h:1883","topic":"a","qos":1}`, `{"url":"tcp://user:***@h:1883","topic":"a","qos":1}`, "s3cret"},
		{`{"url":"tcp://h:1883"}`, `{"url":"tcp://h:1883"}`, ""},
		{`{"url":"tcp://u:p%zz@h"}`, `{"url":"***"}`, "p%zz"},
		{`s3cret`, `{}`, "s3cret"},
	} {
		got := string(New().Redact(json.RawMessage(c.config)))
		if got != c.want {
			t.Errorf("Redact(%s) = %s, want %s", c.config, got, c.want)
		}
		if c.secret != "" && strings.Contains(got, c.secret) {
			t.Errorf("Redact(%s) keeps the credential", c.config)
		}
	}
}

func TestMQTTAddressesAndFields(t *testing.T) {
	t.Parallel()
	for cfg, want := range map[string]string{
		`{"url":"tcp://u:p@10.0.0.1"}`: "10.0.0.1:1883",
		`{"url":"mqtts://b.example"}`:  "b.example:8883",
		`{"url":"mqtt://[::1]:1884"}`:  "[::1]:1884",
	} {
		got, err := New().Addresses(json.RawMessage(cfg))
		if err != nil || !slices.Equal(got, []string{want}) {
			t.Errorf("Addresses(%s) = %v, %v", cfg, got, err)
		}
	}
	if New().Name() != "mqtt" || len(New().Fields()) != 3 {
		t.Fatalf("Fields = %+v", New().Fields())
	}
}

// FuzzMQTTValidate: Validate never panics, refuses with a FieldError, and
// what it accepts is a fixed point whose redaction is valid too.
func FuzzMQTTValidate(f *testing.F) {
	for _, s := range []string{`{"url":"tcp://h:1883"}`, `{"url":"ssl://u:p@h","topic":"a/{event}","qos":2}`, `{"topic":"#"}`, `{"url":"tcp://h","qos":9}`, `{`, `null`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, config string) {
		brokertest.CheckConfig(t, New(), json.RawMessage(config), new(*destination.FieldError))
	})
}
