package e2e

import (
	"crypto/ed25519"
	"encoding/base64"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"time"

	"github.com/hookbook/hookbook/internal/hookbooktest"
	"github.com/hookbook/hookbook/webhook"
)

// rawPublicKey is a whpk_ key's 32 bytes, read without package webhook.
func rawPublicKey(t *testing.T, whpk string) ed25519.PublicKey {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(whpk, "whpk_"))
	if err != nil || len(b) != ed25519.PublicKeySize {
		t.Fatalf("public key %q: %v", whpk, err)
	}
	return ed25519.PublicKey(b)
}

// verifiesWith reports whether one of a delivery's v1a signatures verifies
// with pub, checked with crypto/ed25519 alone over "{id}.{timestamp}.{body}".
func verifiesWith(pub ed25519.PublicKey, h http.Header, body []byte) bool {
	content := []byte(h.Get("webhook-id") + "." + h.Get("webhook-timestamp") + "." + string(body))
	for _, f := range strings.Fields(h.Get("webhook-signature")) {
		b64, ok := strings.CutPrefix(f, "v1a,")
		if !ok {
			continue
		}
		if sig, err := base64.StdEncoding.DecodeString(b64); err == nil && ed25519.Verify(pub, content, sig) {
			return true
		}
	}
	return false
}

// TestEd25519Endpoints: an endpoint created with signature_algorithm
// ed25519 gets a whsk_ signing key (shown on creation and rotation only)
// and a whpk_ public key (shown in every answer); its deliveries carry v1a
// signatures that crypto/ed25519 verifies with the public key alone, and
// no brand signature; a rotation keeps the previous key signing beside
// the new one; the algorithm cannot change. On both databases.
func TestEd25519Endpoints(t *testing.T) {
	t.Parallel()
	hookbooktest.StartEach(t, func(t *testing.T, h *hookbooktest.Instance) {
		in := wrap(t, h)
		rc := newReceiver(t, nil)
		ep := in.createEndpoint(rc.URL, []string{"booking.*"}, map[string]any{"signature_algorithm": "ed25519"})
		id, sk, pk := ep["id"].(string), ep["secret"].(string), ep["public_key"].(string)
		if ep["signature_algorithm"] != "ed25519" || !strings.HasPrefix(sk, "whsk_") || !strings.HasPrefix(pk, "whpk_") {
			t.Fatalf("created: %v", ep)
		}
		if derived, err := webhook.PublicKeyOf(sk); err != nil || derived != pk {
			t.Fatalf("the public key %q is not the signing key's (%q, %v)", pk, derived, err)
		}
		seed := strings.TrimPrefix(sk, "whsk_")
		noSecret := func(what string, r response) {
			t.Helper()
			if r.Status != 200 || strings.Contains(string(r.Body), seed) || strings.Contains(string(r.Body), `"secret"`) {
				t.Errorf("%s = %d, shows the signing key: %v", what, r.Status, strings.Contains(string(r.Body), seed))
			}
		}
		got := in.do("GET", "/api/v1/webhooks/"+id, nil)
		noSecret("GET the endpoint", got)
		if m := got.JSON(t); m["public_key"] != pk || m["signature_algorithm"] != "ed25519" {
			t.Errorf("GET the endpoint: %v", m)
		}
		list := in.do("GET", "/api/v1/webhooks", nil)
		noSecret("the list", list)
		if !strings.Contains(string(list.Body), pk) {
			t.Error("the list lacks the public key")
		}

		in.publish("booking.created", nil)
		waitFor(t, 10*time.Second, "the first delivery", func() bool { return rc.Count() == 1 })
		d := rc.All()[0]
		if !strings.HasPrefix(d.Header.Get("webhook-signature"), "v1a,") || !verifiesWith(rawPublicKey(t, pk), d.Header, d.Body) {
			t.Fatalf("crypto/ed25519 does not verify the delivery with the public key: %q", d.Header.Get("webhook-signature"))
		}
		if d.Header.Get("X-Hookbook-Signature") != "" || d.Header.Get("X-Hookbook-Timestamp") != d.Header.Get("webhook-timestamp") {
			t.Errorf("brand headers: signature %q, timestamp %q", d.Header.Get("X-Hookbook-Signature"), d.Header.Get("X-Hookbook-Timestamp"))
		}
		if err := webhook.VerifyWithPublicKey(pk, d.Header, d.Body); err != nil {
			t.Errorf("webhook.VerifyWithPublicKey: %v", err)
		}
		// A tampered body or timestamp fails, with crypto/ed25519 and the module alike.
		tampered := append([]byte{}, d.Body...)
		tampered[len(tampered)-2] ^= 1
		later := d.Header.Clone()
		later.Set("webhook-timestamp", later.Get("webhook-timestamp")+"1")
		for name, c := range map[string]struct {
			h    http.Header
			body []byte
		}{"body": {d.Header, tampered}, "timestamp": {later, d.Body}} {
			v := webhook.PublicKeyVerifier{PublicKeys: []string{pk}, Tolerance: -1}
			if verifiesWith(rawPublicKey(t, pk), c.h, c.body) || v.Verify(c.h, c.body) == nil {
				t.Errorf("a tampered %s verifies", name)
			}
		}
		dl := in.must(200, "GET", "/api/v1/webhooks/"+id+"/deliveries", nil)["data"].([]any)
		noSecret("the delivery log", in.do("GET", "/api/v1/deliveries/"+dl[0].(map[string]any)["id"].(string), nil))

		// Rotation: a new key and public key; the previous key signs beside it.
		rot := in.must(200, "POST", "/api/v1/webhooks/"+id+"/rotate-secret", nil)
		sk2, pk2 := rot["secret"].(string), rot["public_key"].(string)
		if !strings.HasPrefix(sk2, "whsk_") || sk2 == sk || pk2 == pk || rot["signature_algorithm"] != "ed25519" {
			t.Fatalf("rotated: %v", rot)
		}
		in.publish("booking.created", nil)
		waitFor(t, 10*time.Second, "the delivery after the rotation", func() bool { return rc.Count() == 2 })
		d = rc.All()[1]
		if n := len(strings.Fields(d.Header.Get("webhook-signature"))); n != 2 {
			t.Errorf("%d signatures during the overlap, want 2: %q", n, d.Header.Get("webhook-signature"))
		}
		for _, k := range []string{pk, pk2} {
			if !verifiesWith(rawPublicKey(t, k), d.Header, d.Body) {
				t.Errorf("the delivery during the overlap does not verify with %s alone", k)
			}
		}
		noSecret("GET after the rotation", in.do("GET", "/api/v1/webhooks/"+id, nil))
		if strings.Contains(string(in.do("GET", "/api/v1/webhooks/"+id, nil).Body), strings.TrimPrefix(sk2, "whsk_")) {
			t.Error("GET shows the new signing key")
		}

		// The algorithm is chosen at creation.
		if r := in.do("PATCH", "/api/v1/webhooks/"+id, map[string]any{"signature_algorithm": "hmac-sha256"}); r.Status != 422 || !strings.Contains(string(r.Body), `"signature_algorithm"`) {
			t.Errorf("changing the algorithm = %d %s", r.Status, r.Body)
		}
		if r := in.do("PATCH", "/api/v1/webhooks/"+id, map[string]any{"signature_scheme": "body"}); r.Status != 422 || !strings.Contains(string(r.Body), `"signature_scheme"`) {
			t.Errorf("a body scheme on an ed25519 endpoint = %d %s", r.Status, r.Body)
		}
		if r := in.do("PATCH", "/api/v1/webhooks/"+id, map[string]any{"signature_algorithm": "ed25519", "description": "kept"}); r.Status != 200 || r.JSON(t)["public_key"] != pk2 {
			t.Errorf("a PATCH naming the same algorithm = %d %s", r.Status, r.Body)
		}
	})
}

// TestEd25519Validation: what creation accepts and refuses.
func TestEd25519Validation(t *testing.T) {
	t.Parallel()
	in := start(t, nil)
	url := "http://127.0.0.1:9/hook"
	// A given signing key, in the 64-byte form some libraries write, is
	// kept as its seed, and its public key is the one answered.
	priv := ed25519.NewKeyFromSeed([]byte("hookbook-e2e-ed25519-given-key-1"))
	given := "whsk_" + base64.StdEncoding.EncodeToString(priv)
	ep := in.createEndpoint(url, []string{"*"}, map[string]any{"signature_algorithm": "ed25519", "secret": given})
	if ep["secret"] != "whsk_"+base64.StdEncoding.EncodeToString(priv.Seed()) ||
		ep["public_key"] != "whpk_"+base64.StdEncoding.EncodeToString(priv.Public().(ed25519.PublicKey)) {
		t.Errorf("a given key: %v", ep)
	}
	hm := in.createEndpoint(url, []string{"*"}, nil)
	if hm["signature_algorithm"] != "hmac-sha256" || hm["public_key"] != nil || !strings.HasPrefix(hm["secret"].(string), "whsec_") {
		t.Errorf("the default: %v", hm)
	}
	for _, c := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"signature_algorithm": "rsa"}, "signature_algorithm"},
		{map[string]any{"signature_algorithm": 25519}, ""},
		{map[string]any{"signature_algorithm": "ed25519", "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}, "secret"},
		{map[string]any{"signature_algorithm": "ed25519", "secret": "whsk_c2hvcnQ="}, "secret"},
		{map[string]any{"signature_algorithm": "ed25519", "secret": "whsk_" + strings.Repeat("A", 10000)}, "secret"},
		{map[string]any{"signature_algorithm": "ed25519", "signature_scheme": "body_hex"}, "signature_scheme"},
		{map[string]any{"secret": given}, "secret"},
	} {
		c.body["url"], c.body["events"] = url, []string{"*"}
		r := in.do("POST", "/api/v1/webhooks", c.body)
		if c.field == "" {
			if r.Status != 400 && r.Status != 422 {
				t.Errorf("%v = %d %s", c.body, r.Status, r.Body)
			}
			continue
		}
		if r.Status != 422 || !strings.Contains(string(r.Body), `"`+c.field+`"`) {
			t.Errorf("%v = %d %s", c.body, r.Status, r.Body)
		}
	}
}

// TestEd25519InPortal: an organization's portal shows an ed25519
// endpoint's public key on its page, never its signing key unasked.
func TestEd25519InPortal(t *testing.T) {
	t.Parallel()
	in := start(t, nil)
	ep := in.createEndpoint("http://127.0.0.1:9/hook", []string{"booking.*"}, map[string]any{"signature_algorithm": "ed25519"})
	link := in.must(201, "POST", "/api/v1/portal/sessions", map[string]any{"event_types": []string{"booking.*"}})["url"].(string)
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	page := func(u string) string {
		t.Helper()
		resp, err := c.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s = %d", u, resp.StatusCode)
		}
		return html.UnescapeString(string(b)) // html/template writes + as &#43;
	}
	page(link)
	edit := page(in.url + "/portal/webhooks/" + ep["id"].(string) + "/edit")
	if !strings.Contains(edit, ep["public_key"].(string)) || strings.Contains(edit, strings.TrimPrefix(ep["secret"].(string), "whsk_")) {
		t.Errorf("the portal page: public key shown %v, signing key shown %v", strings.Contains(edit, ep["public_key"].(string)),
			strings.Contains(edit, strings.TrimPrefix(ep["secret"].(string), "whsk_")))
	}
}
