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
}
