package admin_test

import (
	"html"
	"net/url"
	"strings"
	"testing"

	"github.com/hookbook/hookbook/internal/hookbooktest"
	"github.com/hookbook/hookbook/webhook"
)

// TestEd25519EndpointPages: the form creates an ed25519 endpoint; its edit
// page shows the public key and the algorithm, never the signing key
// until it is revealed; saving it keeps the algorithm, and a changed one is
// refused beside its field. On both databases.
func TestEd25519EndpointPages(t *testing.T) {
	t.Parallel()
	hookbooktest.StartEach(t, func(t *testing.T, in *hookbooktest.Instance) {
		b := newBrowser(t, in)
		csrf := b.page("/settings/webhooks/create")
		form := url.Values{"csrf": {csrf}, "url": {"http://127.0.0.1:9/hook"}, "events": {"*"}, "max_attempts": {"5"},
			"timeout_seconds": {"10"}, "signature_scheme": {"timestamped"}, "signature_algorithm": {"ed25519"}}
		if s, body := b.post("/settings/webhooks/create", form); s != 200 {
			t.Fatalf("create = %d\n%s", s, body)
		}
		ep := in.Must(200, "GET", "/api/v1/webhooks", nil)["data"].([]any)[0].(map[string]any)
		id, pk := ep["id"].(string), ep["public_key"].(string)
		if ep["signature_algorithm"] != "ed25519" || !strings.HasPrefix(pk, webhook.PublicKeyPrefix) {
			t.Fatalf("endpoint = %v", ep)
		}
		page := html.UnescapeString(b.get("/settings/webhooks/" + id + "/edit")) // html/template writes + as &#43;
		if !strings.Contains(page, pk) || strings.Contains(page, webhook.SigningKeyPrefix) || strings.Contains(page, `name="signature_scheme" aria`) {
			t.Errorf("the edit page: public key shown %v, a whsk_ key shown %v, the scheme select shown %v\n%s",
				strings.Contains(page, pk), strings.Contains(page, webhook.SigningKeyPrefix), strings.Contains(page, `name="signature_scheme" aria`), page)
		}
		csrf = b.page("/settings/webhooks/" + id + "/edit")
		if s, body := b.post("/settings/webhooks/"+id+"/secret", url.Values{"csrf": {csrf}}); s != 200 || !strings.Contains(html.UnescapeString(body), webhook.SigningKeyPrefix) {
			t.Errorf("reveal = %d, whsk_ shown %v", s, strings.Contains(body, webhook.SigningKeyPrefix))
		}
		edit := url.Values{"csrf": {csrf}, "url": {"http://127.0.0.1:9/other"}, "events": {"*"}, "max_attempts": {"5"},
			"timeout_seconds": {"10"}, "signature_scheme": {"timestamped"}, "signature_algorithm": {"ed25519"}}
		if s, body := b.post("/settings/webhooks/"+id+"/edit", edit); s != 200 {
			t.Errorf("save = %d\n%s", s, body)
		}
		edit.Set("signature_algorithm", "hmac-sha256")
		if s, body := b.post("/settings/webhooks/"+id+"/edit", edit); s != 422 || !strings.Contains(body, "cannot be changed after creation") {
			t.Errorf("changing the algorithm = %d", s)
		}
		if got := in.Must(200, "GET", "/api/v1/webhooks/"+id, nil); got["public_key"] != pk || got["url"] != "http://127.0.0.1:9/other" {
			t.Errorf("after the edits: %v", got)
		}
	})
}
