package e2e

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestDeliveryLogRedactsCredentials: a receiver gets an endpoint's
// Authorization header and a transformation's API key as they are; the
// delivery log shows them redacted in the API, the admin's delivery page
// and the portal's, with the signature headers in clear.
func TestDeliveryLogRedactsCredentials(t *testing.T) {
	t.Parallel()
	in := start(t, nil)
	rc := newReceiver(t, nil)
	ep := in.createEndpoint(rc.URL, []string{"booking.created"}, map[string]any{
		"headers": map[string]string{"Authorization": "Bearer receiver-secret-123", "X-Tenant": "acme"},
		"transformation": map[string]any{"enabled": true,
			"code": `function handler(w) { w.headers["X-Api-Key"] = "k_live_456"; return w; }`},
	})["id"].(string)
	in.publish("booking.created", bookingData(nil))
	waitFor(t, 5*time.Second, "the delivery", func() bool { return rc.Count() >= 1 })
	sent := rc.All()[0].Header
	if sent.Get("Authorization") != "Bearer receiver-secret-123" || sent.Get("X-Api-Key") != "k_live_456" {
		t.Fatalf("receiver got Authorization %q, X-Api-Key %q", sent.Get("Authorization"), sent.Get("X-Api-Key"))
	}
	var dlv string
	var attempt map[string]any
	waitFor(t, 5*time.Second, "the recorded attempt", func() bool {
		list := in.must(200, "GET", "/api/v1/webhooks/"+ep+"/deliveries", nil)["data"].([]any)
		if len(list) == 0 {
			return false
		}
		dlv = list[0].(map[string]any)["id"].(string)
		atts, _ := in.must(200, "GET", "/api/v1/deliveries/"+dlv, nil)["attempts"].([]any)
		if len(atts) == 0 {
			return false
		}
		attempt = atts[0].(map[string]any)
		return true
	})
	rh := attempt["request_headers"].(map[string]any)
	if rh["Authorization"] != "Bearer …" || rh["X-Api-Key"] != "[redacted]" || rh["X-Tenant"] != "acme" {
		t.Errorf("API attempt request headers = %v", rh)
	}
	if rh["webhook-signature"] != sent.Get("webhook-signature") || rh["X-Hookbook-Signature"] != sent.Get("X-Hookbook-Signature") {
		t.Errorf("API attempt signatures = %v / %v, sent %v", rh["webhook-signature"], rh["X-Hookbook-Signature"], sent)
	}
	if r := in.do("GET", "/api/v1/deliveries/"+dlv, nil); strings.Contains(string(r.Body), "receiver-secret-123") || strings.Contains(string(r.Body), "k_live_456") {
		t.Errorf("API delivery detail shows a credential: %s", r.Body)
	}
	check := func(where, html string) {
		t.Helper()
		if strings.Contains(html, "receiver-secret-123") || strings.Contains(html, "k_live_456") {
			t.Errorf("%s shows a credential", where)
		}
		if !strings.Contains(html, "Bearer …") || !strings.Contains(html, "[redacted]") || !strings.Contains(html, sent.Get("X-Hookbook-Signature")) {
			t.Errorf("%s lacks the redacted headers or the signature: %s", where, html)
		}
	}
	check("admin delivery page", adminGet(t, in, "/settings/webhooks/"+ep+"/deliveries/"+dlv))
	link := in.must(201, "POST", "/api/v1/portal/sessions", map[string]any{})
	resp := noRedirect(t, link["url"].(string))
	var portal *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "hookbook_portal" {
			portal = c
		}
	}
	if portal == nil {
		t.Fatal("no portal cookie")
	}
	check("portal delivery page", portalGet(t, portal, in.url+"/portal/webhooks/"+ep+"/deliveries/"+dlv, 200))
}

// adminGet signs in to the admin UI with the instance's API key and
// returns the page at path (which must answer 200).
func adminGet(t *testing.T, in *instance, path string) string {
	t.Helper()
	return signedIn(t, in).get(path, 200)
}

// adminClient is an HTTP client signed in to the admin UI.
type adminClient struct {
	t  *testing.T
	in *instance
	c  *http.Client
}

// signedIn signs in to the admin UI with the instance's API key.
func signedIn(t *testing.T, in *instance) *adminClient {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	a := &adminClient{t: t, in: in, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	a.post("/login", url.Values{"api_key": {in.key}, "csrf": {csrfIn(t, a.get("/login", 200))}}, http.StatusSeeOther)
	return a
}

// csrfIn returns the CSRF token of the form in html.
func csrfIn(t *testing.T, html string) string {
	t.Helper()
	m := regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`).FindStringSubmatch(html)
	if m == nil {
		t.Fatal("no CSRF token in the page")
	}
	return m[1]
}

func (a *adminClient) read(resp *http.Response, err error, what string, want int) string {
	a.t.Helper()
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		a.t.Fatalf("%s = %d, want %d: %s", what, resp.StatusCode, want, b)
	}
	return string(b)
}

// get returns the page at path, which must answer want.
func (a *adminClient) get(path string, want int) string {
	a.t.Helper()
	resp, err := a.c.Get(a.in.url + path)
	return a.read(resp, err, "GET "+path, want)
}

// post posts form to path, which must answer want.
func (a *adminClient) post(path string, form url.Values, want int) string {
	a.t.Helper()
	resp, err := a.c.PostForm(a.in.url+path, form)
	return a.read(resp, err, "POST "+path, want)
}
