package e2e

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookbook/hookbook/internal/config"
	"github.com/hookbook/hookbook/internal/delivery"
	"github.com/hookbook/hookbook/internal/hookbooktest"
)

// TestEndpointSecurityAPI: auth and tls through the API: write-only
// answers (the views only), 422 naming the field, 413 for a 10 MB PEM
// (refused before it is parsed), replaced by PATCH and removed by null.
func TestEndpointSecurityAPI(t *testing.T) {
	t.Parallel()
	in := start(t, nil)
	ca := hookbooktest.NewCA(t, "clinic CA")
	good, other := ca.Client(t, "hookbook-prod", time.Now().Add(24*time.Hour)), ca.Client(t, "other", time.Now().Add(24*time.Hour))
	big := map[string]any{"url": "http://127.0.0.1:9/x", "events": []string{"*"}, "tls": map[string]any{"ca_certificates": strings.Repeat("A", 10<<20)}}
	if r := in.do("POST", "/api/v1/webhooks", big); r.Status != http.StatusRequestEntityTooLarge || r.ErrorCode(t) != "payload_too_large" {
		t.Errorf("a 10 MB PEM = %d %s", r.Status, r.Body)
	}
	bad := map[string]any{"url": "http://127.0.0.1:9/x", "events": []string{"*"},
		"tls": map[string]any{"client_certificate": good.CertPEM, "client_key": other.KeyPEM}, "auth": map[string]any{"type": "digest"}}
	r := in.do("POST", "/api/v1/webhooks", bad)
	if r.Status != 422 || !strings.Contains(string(r.Body), `"tls.client_key":"does not match the client certificate"`) || !strings.Contains(string(r.Body), `"auth.type"`) {
		t.Errorf("a key of another certificate = %d %s", r.Status, r.Body)
	}
	if strings.Contains(string(r.Body), "PRIVATE KEY") {
		t.Errorf("the refusal repeats the key")
	}
	ep := in.createEndpoint("http://127.0.0.1:9/x", []string{"*"}, map[string]any{
		"auth": map[string]any{"type": "basic", "username": "clinic", "password": "pw-never-shown"},
		"tls":  map[string]any{"client_certificate": good.CertPEM, "client_key": good.KeyPEM}})
	id := ep["id"].(string)
	for _, body := range []string{string(mustJSON(ep)), string(in.do("GET", "/api/v1/webhooks/"+id, nil).Body), string(in.do("GET", "/api/v1/webhooks", nil).Body)} {
		if strings.Contains(body, "pw-never-shown") || strings.Contains(body, "PRIVATE KEY") || strings.Contains(body, "BEGIN") {
			t.Errorf("an answer shows a credential: %s", body)
		}
		if !strings.Contains(body, `"auth":{"type":"basic","username":"clinic"}`) || !strings.Contains(body, `"subject":"CN=hookbook-prod"`) {
			t.Errorf("an answer lacks the views: %s", body)
		}
	}
	patched := in.must(200, "PATCH", "/api/v1/webhooks/"+id, map[string]any{"auth": map[string]any{"type": "bearer", "token": "tok-never-shown"}, "tls": nil})
	if a := patched["auth"].(map[string]any); a["type"] != "bearer" || a["username"] != nil || patched["tls"] != nil {
		t.Errorf("after PATCH: auth %v tls %v", patched["auth"], patched["tls"])
	}
	if r := in.do("PATCH", "/api/v1/webhooks/"+id, `{"auth":"basic"}`); r.Status != 400 && r.Status != 422 {
		t.Errorf("auth as a string = %d %s", r.Status, r.Body)
	}
}

// readmeEndpointAuth creates the README's endpoint, its URLs pointed at a
// token endpoint and a receiver with a certificate of a private CA on
// 127.0.0.1, in an instance whose deliveries leave through a CONNECT
// proxy: the event arrives with a token the receiver accepts, the
// delivery log keeps only "Bearer …", and both the token request and the
// delivery passed the proxy. An endpoint whose token endpoint fails shows
// oauth_token's error in its delivery log.
func readmeEndpointAuth(t *testing.T, s snippet) {
	var doc map[string]any
	if err := json.Unmarshal([]byte(s.code), &doc); err != nil {
		t.Fatalf("the README's endpoint is not JSON: %v", err)
	}
	auth, _ := doc["auth"].(map[string]any)
	tlsDoc, _ := doc["tls"].(map[string]any)
	if auth == nil || tlsDoc == nil || auth["type"] != "oauth2_client_credentials" || auth["client_secret"] != "…" || tlsDoc["ca_certificates"] == nil {
		t.Fatalf("the README's endpoint changed; update this test:\n%s", s.code)
	}
	proxy := hookbooktest.StartHTTPProxy(t, "hookbook", "proxy-password")
	in := start(t, map[string]string{"HOOKBOOK_PROXY_URL": proxy.URL})
	ca := hookbooktest.NewCA(t, "clinic private CA")

	var mu sync.Mutex
	issued := map[string]bool{}
	var got []string
	tokens := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, secret, _ := r.BasicAuth()
		if r.URL.Path == "/broken" {
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, `{"error":"temporarily_unavailable"}`)
			return
		}
		r.ParseForm()
		if r.URL.Path != "/oauth2/token" || id != auth["client_id"] || secret != "client-secret-value" || r.PostForm.Get("scope") != "webhooks.write" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		mu.Lock()
		tok := fmt.Sprintf("token-%d", len(issued)+1)
		issued[tok] = true
		mu.Unlock()
		fmt.Fprintf(w, `{"access_token":%q,"token_type":"Bearer","expires_in":3600}`, tok)
	}))
	t.Cleanup(tokens.Close)
	receiver := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		mu.Lock()
		defer mu.Unlock()
		if !issued[tok] {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		got = append(got, r.Header.Get("webhook-id"))
	}))
	receiver.TLS = &tls.Config{Certificates: []tls.Certificate{ca.Server(t).Pair}}
	receiver.Config.ErrorLog = log.New(io.Discard, "", 0)
	receiver.StartTLS()
	t.Cleanup(receiver.Close)

	doc["url"] = receiver.URL + "/hookbook"
	auth["token_url"], auth["client_secret"] = tokens.URL+"/oauth2/token", "client-secret-value"
	tlsDoc["ca_certificates"] = ca.PEM
	ep := in.must(201, "POST", "/api/v1/webhooks", doc)
	if b := mustJSON(ep); strings.Contains(string(b), "client-secret-value") || !strings.Contains(string(b), `"subject":"CN=clinic private CA,O=hookbook tests"`) {
		t.Errorf("the answer: %s", b)
	}
	broken := map[string]any{"url": receiver.URL + "/other", "events": []string{"booking.*"}, "tls": tlsDoc,
		"auth": map[string]any{"type": "oauth2_client_credentials", "token_url": tokens.URL + "/broken", "client_id": "hookbook", "client_secret": "x"}}
	brokenID := in.must(201, "POST", "/api/v1/webhooks", broken)["id"].(string)
	evt := in.publish("booking.created", bookingData(nil))
	hookbooktest.WaitFor(t, time.Minute, "the delivery", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return slices.Contains(got, evt)
	})
	// The receiver has the request before hookbook has recorded its answer.
	var attempts []any
	hookbooktest.WaitFor(t, time.Minute, "the attempt in the delivery log", func() bool {
		list := in.must(200, "GET", "/api/v1/webhooks/"+ep["id"].(string)+"/deliveries", nil)["data"].([]any)
		if len(list) == 0 {
			return false
		}
		detail := in.must(200, "GET", "/api/v1/deliveries/"+list[0].(map[string]any)["id"].(string), nil)
		attempts, _ = detail["attempts"].([]any)
		return len(attempts) > 0 && detail["status"] == "succeeded"
	})
	headers := attempts[len(attempts)-1].(map[string]any)["request_headers"].(map[string]any)
	if headers["Authorization"] != "Bearer …" {
		t.Errorf("the delivery log keeps Authorization %v", headers["Authorization"])
	}
	asked := proxy.Asked()
	if !slices.Contains(asked, tokens.Listener.Addr().String()) || !slices.Contains(asked, receiver.Listener.Addr().String()) {
		t.Errorf("the proxy was asked for %v", asked)
	}
	var attemptErr string
	hookbooktest.WaitFor(t, time.Minute, "the failed token request in the delivery log", func() bool {
		list := in.must(200, "GET", "/api/v1/webhooks/"+brokenID+"/deliveries", nil)["data"].([]any)
		if len(list) == 0 {
			return false
		}
		d := in.must(200, "GET", "/api/v1/deliveries/"+list[0].(map[string]any)["id"].(string), nil)
		if as, _ := d["attempts"].([]any); len(as) > 0 {
			attemptErr, _ = as[0].(map[string]any)["error"].(string)
		}
		return attemptErr != ""
	})
	if want := "oauth token: " + tokens.URL + "/broken answered HTTP 500"; !strings.HasPrefix(attemptErr, want) {
		t.Errorf("the token failure in the delivery log: %q, want %q…", attemptErr, want)
	}
}

// readmeProxyEnv loads the README's proxy settings as hookbook does: the
// proxy URL with its credentials, the NO_PROXY list; a refused proxy URL
// does not repeat its password.
func readmeProxyEnv(t *testing.T, s snippet) {
	env := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(s.code), "\n") {
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("not a setting: %q", line)
		}
		env[k] = v
	}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if p := cfg.ProxyURL; p == nil || p.Scheme != "http" || p.Host != "203.0.113.10:3128" || p.User.Username() != "hookbook" ||
		!strings.Contains(p.Redacted(), "xxxxx") {
		t.Errorf("proxy = %v", cfg.ProxyURL)
	}
	if got := delivery.ParseNoProxy(cfg.NoProxy); !slices.Equal(got, []string{"hooks.internal.example", "10.20.0.0/16"}) {
		t.Errorf("no proxy = %q", got)
	}
	for _, bad := range []string{"ftp://u:secret-pw@host:21", "http://u:secret-pw@host:99999", "http://u:secret-pw@/"} {
		_, err := config.Load(func(k string) string { return map[string]string{"HOOKBOOK_PROXY_URL": bad}[k] })
		if err == nil || strings.Contains(err.Error(), "secret-pw") {
			t.Errorf("%s: %v", bad, err)
		}
	}
}
