package admin_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/hookbook/hookbook/internal/hookbooktest"
)

// TestBrokerForm: the endpoint form creates and edits a broker endpoint
// from its type's fields, names a bad field beside it, and never puts the
// password back in the page (sending back the *** it shows keeps it).
func TestBrokerForm(t *testing.T) {
	t.Parallel()
	in := hookbooktest.Start(t, nil)
	b := newBrowser(t, in)
	form := func(path string, extra url.Values) url.Values {
		v := url.Values{"csrf": {b.page(path)}, "type": {"rabbitmq"}, "events": {"*"}, "enabled": {"on"},
			"max_attempts": {"8"}, "timeout_seconds": {"10"}, "signature_scheme": {"timestamped"}}
		for k, x := range extra {
			v[k] = x
		}
		return v
	}
	create := "/settings/webhooks/create"
	if page := b.get(create); !strings.Contains(page, `name="config.rabbitmq.url"`) || !strings.Contains(page, `name="config.redis.stream"`) {
		t.Fatal("the form has no broker fields")
	}
	s, body := b.post(create, form(create, url.Values{"config.rabbitmq.url": {"http://nope"}}))
	if s != 422 || !strings.Contains(body, "must be a URL of scheme amqp") {
		t.Fatalf("a bad url = %d", s)
	}
	s, _ = b.post(create, form(create, url.Values{"config.rabbitmq.url": {"amqp://hb:form-pw@mq.example.com/v"}, "config.rabbitmq.exchange": {"x"}}))
	if s != 200 {
		t.Fatalf("create = %d", s)
	}
	list := in.Must(200, "GET", "/api/v1/webhooks", nil)["data"].([]any)
	if len(list) != 1 {
		t.Fatalf("%d endpoints", len(list))
	}
	ep := list[0].(map[string]any)
	id, org := ep["id"].(string), ep["organization_id"].(string)
	edit := "/settings/webhooks/" + id + "/edit"
	page := b.get(edit)
	if strings.Contains(page, "form-pw") || !strings.Contains(page, "amqp://hb:***@mq.example.com/v") {
		t.Fatal("the edit page shows the password, or not the redacted URL")
	}
	s, _ = b.post(edit, form(edit, url.Values{"config.rabbitmq.url": {"amqp://hb:***@mq.example.com/v"}, "config.rabbitmq.exchange": {"y"}}))
	if s != 200 {
		t.Fatalf("edit = %d", s)
	}
	e, err := in.App.Outbound.Endpoint(context.Background(), org, id)
	if err != nil || !strings.Contains(string(e.Config), "form-pw") || !strings.Contains(string(e.Config), `"exchange":"y"`) {
		t.Fatalf("stored %s %v", e.Config, err)
	}
	// A webhook with authentication made a broker endpoint: the form says
	// beside the authentication that it must go, and saves once it does.
	hook := in.CreateEndpoint("http://127.0.0.1:9/x", []string{"*"}, map[string]any{"auth": map[string]any{"type": "bearer", "token": "tok-never-shown"}})["id"].(string)
	edit = "/settings/webhooks/" + hook + "/edit"
	toBroker := url.Values{"config.rabbitmq.url": {"amqp://hb:pw@mq.example.com/v"}, "config.rabbitmq.exchange": {"x"}, "auth_type": {"keep"}, "tls_action": {"keep"}}
	s, body = b.post(edit, form(edit, toBroker))
	if s != 422 || !strings.Contains(body, `<p class="field-error" id="auth_type-error">is only for webhook endpoints`) {
		t.Fatalf("to a broker keeping auth = %d, without the error beside the authentication", s)
	}
	toBroker["auth_type"] = []string{"none"}
	if s, _ := b.post(edit, form(edit, toBroker)); s != 200 {
		t.Fatalf("to a broker removing auth = %d", s)
	}
	if e, err := in.App.Outbound.Endpoint(context.Background(), org, hook); err != nil || e.Type != "rabbitmq" || e.Auth != nil {
		t.Fatalf("stored after the change of type: %v %+v (%v)", e.Type, e.Auth, err)
	}
}

// TestBrokerFormKafka: the form of a kafka endpoint, whose fields have
// dotted names (sasl.mechanism, sasl.username, sasl.password: an object
// sasl in the config) and a boolean tls: a create with SASL and TLS stores
// them as the type wants them, an edit that leaves the password blank
// keeps it, and an endpoint without SASL is created and edited without a
// sasl object appearing.
func TestBrokerFormKafka(t *testing.T) {
	t.Parallel()
	in := hookbooktest.Start(t, nil)
	b := newBrowser(t, in)
	form := func(path string, extra url.Values) url.Values {
		v := url.Values{"csrf": {b.page(path)}, "type": {"kafka"}, "events": {"*"}, "enabled": {"on"},
			"max_attempts": {"8"}, "timeout_seconds": {"10"}, "signature_scheme": {"timestamped"}}
		for k, x := range extra {
			v[k] = x
		}
		return v
	}
	create := "/settings/webhooks/create"
	page := b.get(create)
	for _, f := range []string{"config.kafka.brokers", "config.kafka.topic", "config.kafka.sasl.mechanism", "config.kafka.sasl.username",
		"config.kafka.sasl.password", "config.kafka.tls", "config.nats.url", "config.nats.subject"} {
		if !strings.Contains(page, `name="`+f+`"`) {
			t.Fatalf("the form has no field %s", f)
		}
	}
	s, body := b.post(create, form(create, url.Values{"config.kafka.brokers": {"k1.example.com:9092\nk2.example.com:9092"}, "config.kafka.topic": {"bookings"},
		"config.kafka.sasl.mechanism": {"plain"}, "config.kafka.sasl.username": {"hb"}, "config.kafka.sasl.password": {"kafka-form-pw"},
		"config.kafka.tls": {"true"}}))
	if s != 200 {
		t.Fatalf("create = %d: %s", s, body)
	}
	list := in.Must(200, "GET", "/api/v1/webhooks", nil)["data"].([]any)
	if len(list) != 1 {
		t.Fatalf("%d endpoints", len(list))
	}
	ep := list[0].(map[string]any)
	id, org := ep["id"].(string), ep["organization_id"].(string)
	stored := func(id string) string {
		e, err := in.App.Outbound.Endpoint(context.Background(), org, id)
		if err != nil {
			t.Fatal(err)
		}
		return string(e.Config)
	}
	want := `{"brokers":["k1.example.com:9092","k2.example.com:9092"],"topic":"bookings","sasl":{"mechanism":"plain","username":"hb","password":"kafka-form-pw"},"tls":true}`
	if c := stored(id); c != want {
		t.Fatalf("stored %s, want %s", c, want)
	}
	edit := "/settings/webhooks/" + id + "/edit"
	page = b.get(edit)
	if strings.Contains(page, "kafka-form-pw") || !strings.Contains(page, "k1.example.com:9092\nk2.example.com:9092") || !strings.Contains(page, `value="hb"`) {
		t.Fatal("the edit page shows the password, or not the config")
	}
	s, body = b.post(edit, form(edit, url.Values{"config.kafka.brokers": {"k1.example.com:9092"}, "config.kafka.topic": {"bookings-2"},
		"config.kafka.sasl.mechanism": {"scram-sha-512"}, "config.kafka.sasl.username": {"hb"}, "config.kafka.sasl.password": {""},
		"config.kafka.tls": {"false"}}))
	if s != 200 {
		t.Fatalf("edit = %d: %s", s, body)
	}
	want = `{"brokers":["k1.example.com:9092"],"topic":"bookings-2","sasl":{"mechanism":"scram-sha-512","username":"hb","password":"kafka-form-pw"}}`
	if c := stored(id); c != want {
		t.Fatalf("stored %s, want %s", c, want)
	}

	// Without SASL: created and edited (the blank password field too).
	s, body = b.post(create, form(create, url.Values{"config.kafka.brokers": {"k3.example.com:9092"}, "config.kafka.topic": {"plain-topic"}}))
	if s != 200 {
		t.Fatalf("create without sasl = %d: %s", s, body)
	}
	list = in.Must(200, "GET", "/api/v1/webhooks", nil)["data"].([]any)
	var id2 string
	for _, e := range list {
		if e := e.(map[string]any); e["id"] != id {
			id2 = e["id"].(string)
		}
	}
	if c := stored(id2); c != `{"brokers":["k3.example.com:9092"],"topic":"plain-topic"}` {
		t.Fatalf("stored %s", c)
	}
	edit = "/settings/webhooks/" + id2 + "/edit"
	s, body = b.post(edit, form(edit, url.Values{"config.kafka.brokers": {"k3.example.com:9092"}, "config.kafka.topic": {"plain-topic-2"},
		"config.kafka.sasl.password": {""}}))
	if s != 200 {
		t.Fatalf("edit without sasl = %d: %s", s, body)
	}
	if c := stored(id2); c != `{"brokers":["k3.example.com:9092"],"topic":"plain-topic-2"}` {
		t.Fatalf("stored %s", c)
	}
}

// TestBrokerFormNATS: a nats endpoint from the form: the password in its
// URL is stored, never shown, and kept by an edit that sends back the ***.
func TestBrokerFormNATS(t *testing.T) {
	t.Parallel()
	in := hookbooktest.Start(t, nil)
	b := newBrowser(t, in)
	form := func(path string, extra url.Values) url.Values {
		v := url.Values{"csrf": {b.page(path)}, "type": {"nats"}, "events": {"*"}, "enabled": {"on"},
			"max_attempts": {"8"}, "timeout_seconds": {"10"}, "signature_scheme": {"timestamped"}}
		for k, x := range extra {
			v[k] = x
		}
		return v
	}
	create := "/settings/webhooks/create"
	s, body := b.post(create, form(create, url.Values{"config.nats.url": {"ftp://nope"}}))
	if s != 422 || !strings.Contains(body, `aria-invalid="true"`) {
		t.Fatalf("a bad url = %d", s)
	}
	s, body = b.post(create, form(create, url.Values{"config.nats.url": {"nats://hb:nats-form-pw@nats.example.com:4222"}, "config.nats.subject": {"bookings.{event}"}}))
	if s != 200 {
		t.Fatalf("create = %d: %s", s, body)
	}
	ep := in.Must(200, "GET", "/api/v1/webhooks", nil)["data"].([]any)[0].(map[string]any)
	id, org := ep["id"].(string), ep["organization_id"].(string)
	edit := "/settings/webhooks/" + id + "/edit"
	page := b.get(edit)
	if strings.Contains(page, "nats-form-pw") || !strings.Contains(page, "nats://hb:***@nats.example.com:4222") {
		i := strings.Index(page, `name="config.nats.url"`)
		t.Fatalf("the edit page shows the password, or not the redacted URL: %.200s", page[max(i, 0):])
	}
	s, body = b.post(edit, form(edit, url.Values{"config.nats.url": {"nats://hb:***@nats.example.com:4222"}, "config.nats.subject": {"all"}}))
	if s != 200 {
		t.Fatalf("edit = %d: %s", s, body)
	}
	e, err := in.App.Outbound.Endpoint(context.Background(), org, id)
	if err != nil || !strings.Contains(string(e.Config), "nats://hb:nats-form-pw@nats.example.com:4222") || !strings.Contains(string(e.Config), `"subject":"all"`) {
		t.Fatalf("stored %s %v", e.Config, err)
	}
	// A token (nats://token@host) shows as *** and is kept the same way.
	s, body = b.post(edit, form(edit, url.Values{"config.nats.url": {"nats://t0ken-form@nats.example.com:4222"}}))
	if s != 200 {
		t.Fatalf("edit = %d: %s", s, body)
	}
	page = b.get(edit)
	if strings.Contains(page, "t0ken-form") || !strings.Contains(page, `value="nats://***@nats.example.com:4222"`) {
		i := strings.Index(page, `name="config.nats.url"`)
		t.Fatalf("the edit page shows the token, or not ***: %.200s", page[max(i, 0):])
	}
	if r := in.Do("GET", "/api/v1/webhooks/"+id, nil); strings.Contains(string(r.Body), "t0ken-form") || !strings.Contains(string(r.Body), "nats://***@nats.example.com:4222") {
		t.Fatalf("answer: %s", r.Body)
	}
	s, body = b.post(edit, form(edit, url.Values{"config.nats.url": {"nats://***@nats.example.com:4222"}, "config.nats.subject": {"again"}}))
	if s != 200 {
		t.Fatalf("edit = %d: %s", s, body)
	}
	e, err = in.App.Outbound.Endpoint(context.Background(), org, id)
	if err != nil || !strings.Contains(string(e.Config), `"url":"nats://t0ken-form@nats.example.com:4222"`) {
		t.Fatalf("stored %s %v", e.Config, err)
	}
}
