package admin_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hookbook/hookbook/internal/hookbooktest"
)

// TestEndpointSecurityForm: the admin UI sets an endpoint's auth and TLS
// (password fields, PEM text areas), shows the auth type, names,
// certificate subject and expiry, and never a password or key; a key of
// another certificate is refused beside its field; the portal shows the
// kind configured and nothing else.
func TestEndpointSecurityForm(t *testing.T) {
	t.Parallel()
	ca := hookbooktest.NewCA(t, "clinic CA")
	good, other := ca.Client(t, "hookbook-prod", time.Now().Add(30*24*time.Hour)), ca.Client(t, "other", time.Now().Add(time.Hour))
	hookbooktest.StartEach(t, func(t *testing.T, in *hookbooktest.Instance) {
		b := newBrowser(t, in)
		id := in.CreateEndpoint("http://127.0.0.1:9/x", []string{"*"}, nil)["id"].(string)
		path := "/settings/webhooks/" + id + "/edit"
		form := func(extra url.Values) url.Values {
			v := url.Values{"csrf": {b.page(path)}, "url": {"http://127.0.0.1:9/x"}, "events": {"*"}, "enabled": {"on"},
				"max_attempts": {"8"}, "timeout_seconds": {"10"}, "signature_scheme": {"timestamped"}}
			for k, x := range extra {
				v[k] = x
			}
			return v
		}
		page := b.get(path)
		if !strings.Contains(page, `name="auth_password" type="password"`) || !strings.Contains(page, `<textarea id="tls_client_key"`) {
			t.Fatalf("the form has no auth or TLS fields")
		}
		s, _ := b.post(path, form(url.Values{"auth_type": {"basic"}, "auth_username": {"clinic"}, "auth_password": {"pw-never-shown"},
			"tls_action": {"set"}, "tls_client_certificate": {good.CertPEM}, "tls_client_key": {good.KeyPEM}, "tls_ca_certificates": {ca.PEM}}))
		if s != 200 {
			t.Fatalf("saving auth and tls = %d", s)
		}
		ep := in.Must(200, "GET", "/api/v1/webhooks/"+id, nil)
		if a, _ := ep["auth"].(map[string]any); a["type"] != "basic" || a["username"] != "clinic" {
			t.Errorf("auth after the form: %v", ep["auth"])
		}
		page = b.get(path)
		for _, want := range []string{"Authentication now: <code>basic</code>, user <code>clinic</code>", "Client certificate now: <code>CN=hookbook-prod</code>", "Trusted CA now: <code>CN=clinic CA,O=hookbook tests</code>", `<option value="keep" selected>`} {
			if !strings.Contains(page, want) {
				t.Errorf("the edit page lacks %q", want)
			}
		}
		if strings.Contains(page, "pw-never-shown") || strings.Contains(page, "PRIVATE KEY") {
			t.Errorf("the edit page shows a credential")
		}
		// Saving the form as shown keeps them.
		if s, _ := b.post(path, form(url.Values{"auth_type": {"keep"}, "tls_action": {"keep"}})); s != 200 {
			t.Fatalf("keeping = %d", s)
		}
		if ep = in.Must(200, "GET", "/api/v1/webhooks/"+id, nil); ep["auth"] == nil || ep["tls"] == nil {
			t.Errorf("keep dropped them: %v %v", ep["auth"], ep["tls"])
		}
		s, body := b.post(path, form(url.Values{"tls_action": {"set"}, "tls_client_certificate": {good.CertPEM}, "tls_client_key": {other.KeyPEM}}))
		if s != 422 || !strings.Contains(body, "does not match the client certificate") || strings.Contains(body, "PRIVATE KEY") {
			t.Errorf("a key of another certificate = %d", s)
		}

		// The portal: the kind, never a credential, no fields to set them.
		link := in.Must(201, "POST", "/api/v1/portal/sessions", map[string]any{})["url"].(string)
		jar, _ := cookiejar.New(nil)
		c := &http.Client{Jar: jar}
		resp, err := c.Get(link)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		resp, err = c.Get(in.URL + "/portal/webhooks/" + id + "/edit")
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		portal := string(raw)
		if resp.StatusCode != 200 || !strings.Contains(portal, "authentication <code>basic</code> · mutual TLS · private CA trusted") {
			t.Errorf("the portal page (%d) does not show the kind", resp.StatusCode)
		}
		if strings.Contains(portal, "clinic") || strings.Contains(portal, "pw-never-shown") || strings.Contains(portal, "auth_password") || strings.Contains(portal, "BEGIN") {
			t.Errorf("the portal shows a credential or the fields")
		}
		// Alert e-mails are the organization's: a portal user must not
		// have hookbook mail addresses of their choosing.
		if strings.Contains(portal, `name="alert_emails"`) {
			t.Errorf("the portal offers the alert e-mails field")
		}
		// A portal user making it a broker endpoint is told, beside the
		// type, why it cannot be (nothing changes).
		m := csrfField.FindStringSubmatch(portal)
		if m == nil {
			t.Fatal("the portal page has no CSRF token")
		}
		resp, err = c.PostForm(in.URL+"/portal/webhooks/"+id+"/edit", url.Values{"csrf": {m[1]}, "type": {"rabbitmq"}, "events": {"*"}, "enabled": {"on"},
			"max_attempts": {"8"}, "timeout_seconds": {"10"}, "signature_scheme": {"timestamped"},
			"config.rabbitmq.url": {"amqp://hb:pw@mq.example.com/v"}, "config.rabbitmq.exchange": {"x"}})
		if err != nil {
			t.Fatal(err)
		}
		raw, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 422 || !strings.Contains(string(raw), `id="type-error">This endpoint has receiver security`) {
			t.Errorf("the portal's change to a broker type = %d, without the reason beside the type", resp.StatusCode)
		}
		if ep = in.Must(200, "GET", "/api/v1/webhooks/"+id, nil); ep["type"] != "webhook" || ep["auth"] == nil {
			t.Errorf("a refused change of type changed the endpoint: %v", ep)
		}
	})
}
