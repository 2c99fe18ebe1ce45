package delivery_test

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/delivery"
	"github.com/hookbook/hookbook/internal/hookbooktest"
	"github.com/hookbook/hookbook/internal/netguard"
	"github.com/hookbook/hookbook/internal/queue"
)

// tokenClock is a settable time for token expiry.
type tokenClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *tokenClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *tokenClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func jobTo(ep *hookbook.Endpoint) *queue.Job {
	if ep.TimeoutSeconds == 0 {
		ep.TimeoutSeconds = 5
	}
	if ep.Secret == "" {
		ep.Secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	}
	return &queue.Job{DeliveryID: "dlv_" + ep.ID, EventID: "evt_1", EventType: "booking.created", Attempt: 1,
		Payload: []byte(`{"id":"evt_1"}`), Endpoint: ep}
}

// tokenServer is an OAuth2 token endpoint and a receiver that accepts only
// the tokens it issued and has not revoked.
type tokenServer struct {
	token, receiver *httptest.Server
	clientAuth      string // "basic" or "post": how the client must authenticate
	expiresIn       atomic.Int64
	issued          atomic.Int64
	mu              sync.Mutex
	valid           map[string]bool
	forms           []url.Values
}

func newTokenServer(t *testing.T, clientAuth string) *tokenServer {
	ts := &tokenServer{clientAuth: clientAuth, valid: map[string]bool{}}
	ts.expiresIn.Store(3600)
	ts.token = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		id, secret, basic := r.BasicAuth()
		// RFC 6749 §2.3.1: both form-encoded before basic auth.
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
		if clientAuth == "post" {
			id, secret, basic = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret"), false
		}
		if basic == (clientAuth == "post") || id != "hookbook client" || secret != "s3cret:&=" || r.PostForm.Get("grant_type") != "client_credentials" {
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error":"invalid_client"}`)
			return
		}
		ts.mu.Lock()
		ts.forms = append(ts.forms, r.PostForm)
		tok := fmt.Sprintf("tok-%d", ts.issued.Add(1))
		ts.valid[tok] = true
		ts.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": ts.expiresIn.Load()})
	}))
	ts.receiver = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		ts.mu.Lock()
		good := ok && ts.valid[tok]
		ts.mu.Unlock()
		if !good {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		io.WriteString(w, "accepted "+tok)
	}))
	t.Cleanup(ts.token.Close)
	t.Cleanup(ts.receiver.Close)
	return ts
}

// revokeAll makes the receiver refuse every token issued so far.
func (ts *tokenServer) revokeAll() {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	clear(ts.valid)
}

func (ts *tokenServer) endpoint(id string) *hookbook.Endpoint {
	return &hookbook.Endpoint{ID: id, URL: ts.receiver.URL + "/hook", Auth: &hookbook.EndpointAuth{
		Type: hookbook.AuthOAuth2ClientCredentials, TokenURL: ts.token.URL + "/token", ClientID: "hookbook client",
		ClientSecret: "s3cret:&=", Scopes: []string{"hooks.write", "hooks.read"}, Audience: "https://api.example", ClientAuth: ts.clientAuth}}
}

// TestOAuth2ClientCredentials: hookbook gets a token from the token
// endpoint (client authentication basic or post), sends it as a bearer
// token, keeps it until shortly before it expires, and gets a new one
// once when the receiver answers 401; the token never shows in the
// request the delivery log keeps.
func TestOAuth2ClientCredentials(t *testing.T) {
	t.Parallel()
	for _, clientAuth := range []string{"basic", "post"} {
		t.Run(clientAuth, func(t *testing.T) {
			t.Parallel()
			ts := newTokenServer(t, clientAuth)
			s := delivery.NewWebhookSender(&netguard.Guard{}, "X-Hookbook", 4)
			c := &tokenClock{t: time.Now()}
			s.Now = c.Now
			ep := ts.endpoint("ep_oauth_" + clientAuth)
			send := func(wantToken string) {
				t.Helper()
				o := s.Send(context.Background(), jobTo(ep))
				if !o.Success || o.Response != "accepted "+wantToken {
					t.Fatalf("outcome = %+v, want accepted %s", o, wantToken)
				}
				if got := o.Request["Authorization"]; got != "Bearer …" {
					t.Errorf("the delivery log keeps Authorization %q", got)
				}
			}
			send("tok-1")
			send("tok-1") // cached
			if n := ts.issued.Load(); n != 1 {
				t.Errorf("%d tokens issued for two deliveries, want 1", n)
			}
			form := ts.forms[0]
			if form.Get("scope") != "hooks.write hooks.read" || form.Get("audience") != "https://api.example" {
				t.Errorf("token request form = %v", form)
			}
			// Shortly before it expires, the token is renewed.
			c.Add(time.Hour - 10*time.Second)
			send("tok-2")
			// A receiver that stops accepting it: one 401, a new token, success.
			ts.revokeAll()
			send("tok-3")
			// A token endpoint whose tokens the receiver never accepts:
			// one renewal, then the 401 is the outcome.
			ts.revokeAll()
			ts.mu.Lock()
			ts.valid = map[string]bool{}
			ts.mu.Unlock()
			before := ts.issued.Load()
			ts.receiver.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusUnauthorized) })
			o := s.Send(context.Background(), jobTo(ep))
			if o.Success || o.StatusCode != http.StatusUnauthorized || ts.issued.Load() != before+1 {
				t.Errorf("outcome = %+v after %d new tokens, want a 401 after one renewal", o, ts.issued.Load()-before)
			}
		})
	}
}

// TestOAuth2TokenFailures: a token endpoint that refuses, answers too
// much, answers no token, or never answers fails the attempt with
// oauth_token and its status; nothing is sent to the receiver, and
// another endpoint keeps delivering meanwhile.
func TestOAuth2TokenFailures(t *testing.T) {
	t.Parallel()
	var received atomic.Int64
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { received.Add(1) }))
	t.Cleanup(receiver.Close)
	release := make(chan struct{})
	hanging := make(chan struct{}, 8)
	tokens := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/refuse":
			w.WriteHeader(http.StatusForbidden)
			io.WriteString(w, `{"error":"unauthorized_client","client_secret_was":"s3cret-value"}`)
		case "/echo", "/echo-post":
			// A token endpoint that echoes the request it refused: the
			// secret travels base64-encoded (basic) or form-encoded (post).
			r.ParseForm()
			w.WriteHeader(http.StatusBadRequest)
			json.NewEncoder(w).Encode(map[string]string{"error": "invalid_client",
				"error_description": "got " + r.Header.Get("Authorization") + " " + r.PostForm.Encode(), "request": r.PostForm.Encode()})
		case "/huge":
			w.Write([]byte(`{"access_token":"`))
			chunk := []byte(strings.Repeat("a", 64<<10))
			for range 80 { // 5 MiB
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		case "/empty":
			io.WriteString(w, `{"token_type":"bearer"}`)
		case "/hang":
			hanging <- struct{}{}
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
	}))
	t.Cleanup(func() { close(release); tokens.Close() })
	s := delivery.NewWebhookSender(&netguard.Guard{}, "X-Hookbook", 4)
	ep := func(path string, timeout int) *hookbook.Endpoint {
		return &hookbook.Endpoint{ID: "ep_" + strings.Trim(path, "/"), URL: receiver.URL, TimeoutSeconds: timeout, Auth: &hookbook.EndpointAuth{
			Type: hookbook.AuthOAuth2ClientCredentials, TokenURL: tokens.URL + path, ClientID: "c", ClientSecret: "s3cret-value"}}
	}
	for _, path := range []string{"/echo", "/echo-post"} {
		e := ep(path, 5)
		e.Auth.ClientSecret = "s3cret+value/&x=1"
		if path == "/echo-post" {
			e.Auth.ClientAuth = "post"
		}
		o := s.Send(context.Background(), jobTo(e))
		basic := base64.StdEncoding.EncodeToString([]byte("c:" + url.QueryEscape(e.Auth.ClientSecret)))
		if o.ErrKind != delivery.ErrKindOAuthToken || !strings.Contains(o.Err, "invalid_client") {
			t.Errorf("%s: outcome = %+v, want oauth_token with the OAuth error", path, o)
		}
		for _, leak := range []string{e.Auth.ClientSecret, url.QueryEscape(e.Auth.ClientSecret), basic} {
			if strings.Contains(o.Err, leak) {
				t.Errorf("%s: the error shows the client secret (%s): %s", path, leak, o.Err)
			}
		}
	}
	for _, c := range []struct{ path, want string }{
		{"/refuse", "answered HTTP 403"},
		{"/huge", "more than 64 KiB"},
		{"/empty", "without an access_token"},
	} {
		o := s.Send(context.Background(), jobTo(ep(c.path, 5)))
		if o.Success || o.ErrKind != delivery.ErrKindOAuthToken || !strings.Contains(o.Err, c.want) || o.StatusCode != 0 {
			t.Errorf("%s: outcome = %+v, want oauth_token saying %q", c.path, o, c.want)
		}
		if strings.Contains(o.Err, "s3cret-value") {
			t.Errorf("%s: the error shows the client secret: %s", c.path, o.Err)
		}
	}
	// A token endpoint that never answers holds only its own endpoint.
	done := make(chan delivery.Outcome, 1)
	go func() { done <- s.Send(context.Background(), jobTo(ep("/hang", 2))) }()
	<-hanging
	other := s.Send(context.Background(), jobTo(&hookbook.Endpoint{ID: "ep_other", URL: receiver.URL}))
	select {
	case o := <-done:
		t.Fatalf("the hanging token request ended before the other endpoint was served: %+v", o)
	default:
	}
	if !other.Success {
		t.Errorf("another endpoint, while a token request hangs: %+v", other)
	}
	o := <-done
	if o.ErrKind != delivery.ErrKindOAuthToken || !strings.Contains(o.Err, "timeout after 2s") {
		t.Errorf("hanging token endpoint: %+v", o)
	}
	if n := received.Load(); n != 1 {
		t.Errorf("the receiver got %d requests, want only the other endpoint's", n)
	}
}

// TestBasicAndBearerAuth: basic and bearer auth send their Authorization
// header; the delivery log keeps only its scheme.
func TestBasicAndBearerAuth(t *testing.T) {
	t.Parallel()
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		switch {
		case ok && u == "clinic" && p == "pa:ss word":
		case r.Header.Get("Authorization") == "Bearer static-token-123":
		default:
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	t.Cleanup(receiver.Close)
	s := delivery.NewWebhookSender(&netguard.Guard{}, "X-Hookbook", 4)
	for _, c := range []struct {
		auth *hookbook.EndpointAuth
		logs string
	}{
		{&hookbook.EndpointAuth{Type: hookbook.AuthBasic, Username: "clinic", Password: "pa:ss word"}, "Basic …"},
		{&hookbook.EndpointAuth{Type: hookbook.AuthBearer, Token: "static-token-123"}, "Bearer …"},
	} {
		o := s.Send(context.Background(), jobTo(&hookbook.Endpoint{ID: "ep_" + c.auth.Type, URL: receiver.URL,
			Headers: map[string]string{"Authorization": "Bearer overridden"}, Auth: c.auth}))
		if !o.Success || o.Request["Authorization"] != c.logs {
			t.Errorf("%s: outcome = %+v", c.auth.Type, o)
		}
	}
}

// tlsReceiver starts an HTTPS receiver with a certificate of serverCA,
// asking for a client certificate of clientCA when clientCA is not nil.
func tlsReceiver(t *testing.T, serverCA, clientCA *hookbooktest.CA) *httptest.Server {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.TLS.PeerCertificates) > 0 {
			io.WriteString(w, "hello "+r.TLS.PeerCertificates[0].Subject.CommonName)
		}
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{serverCA.Server(t).Pair}}
	if clientCA != nil {
		srv.TLS.ClientAuth, srv.TLS.ClientCAs = tls.RequireAndVerifyClientCert, clientCA.Pool()
	}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes are the point
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// TestEndpointTLS: an endpoint's CA certificates make its receiver's
// private CA trusted (and only its own); its client certificate passes
// a receiver that requires one. A missing, wrong or untrusted
// certificate fails the attempt with the error kind tls. Changed settings
// take effect at the next attempt.
func TestEndpointTLS(t *testing.T) {
	t.Parallel()
	privateCA, clientCA, otherCA := hookbooktest.NewCA(t, "clinic private CA"), hookbooktest.NewCA(t, "clinic client CA"), hookbooktest.NewCA(t, "stranger CA")
	plain := tlsReceiver(t, privateCA, nil)
	mutual := tlsReceiver(t, privateCA, clientCA)
	good, wrong := clientCA.Client(t, "hookbook-prod", time.Now().Add(time.Hour)), otherCA.Client(t, "intruder", time.Now().Add(time.Hour))
	s := delivery.NewWebhookSender(&netguard.Guard{}, "X-Hookbook", 4)
	t.Cleanup(s.Close)
	cases := []struct {
		name, url string
		tls       *hookbook.EndpointTLS
		ok        bool
		response  string
	}{
		{"private CA trusted", plain.URL, &hookbook.EndpointTLS{CACertificates: privateCA.PEM}, true, ""},
		{"private CA not trusted", plain.URL, nil, false, ""},
		{"another endpoint's CA", plain.URL, &hookbook.EndpointTLS{CACertificates: otherCA.PEM}, false, ""},
		{"client certificate", mutual.URL, &hookbook.EndpointTLS{CACertificates: privateCA.PEM, ClientCertificate: good.CertPEM, ClientKey: good.KeyPEM}, true, "hello hookbook-prod"},
		{"no client certificate", mutual.URL, &hookbook.EndpointTLS{CACertificates: privateCA.PEM}, false, ""},
		{"wrong client certificate", mutual.URL, &hookbook.EndpointTLS{CACertificates: privateCA.PEM, ClientCertificate: wrong.CertPEM, ClientKey: wrong.KeyPEM}, false, ""},
	}
	for i, c := range cases {
		o := s.Send(context.Background(), jobTo(&hookbook.Endpoint{ID: fmt.Sprintf("ep_tls%d", i), URL: c.url, TLS: c.tls}))
		if o.Success != c.ok || (!c.ok && o.ErrKind != delivery.ErrKindTLS) || o.Response != c.response {
			t.Errorf("%s: outcome = %+v", c.name, o)
		}
	}
	// One endpoint whose settings change: the next attempt uses the new ones.
	ep := &hookbook.Endpoint{ID: "ep_changing", URL: mutual.URL, TLS: &hookbook.EndpointTLS{CACertificates: privateCA.PEM, ClientCertificate: wrong.CertPEM, ClientKey: wrong.KeyPEM}}
	if o := s.Send(context.Background(), jobTo(ep)); o.Success {
		t.Fatalf("wrong certificate accepted: %+v", o)
	}
	ep.TLS = &hookbook.EndpointTLS{CACertificates: privateCA.PEM, ClientCertificate: good.CertPEM, ClientKey: good.KeyPEM}
	if o := s.Send(context.Background(), jobTo(ep)); !o.Success {
		t.Errorf("after the change: %+v", o)
	}
}

// TestDeliveriesThroughProxies: with a forward proxy, deliveries and
// token requests leave through it (HTTP CONNECT and SOCKS5, with
// credentials), asking it for the address the network guard checked; a
// blocked destination is refused before the proxy is asked; NO_PROXY
// destinations go straight; a failing proxy is the error kind proxy and
// its password shows nowhere.
func TestDeliveriesThroughProxies(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"http", "socks5"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			start := hookbooktest.StartHTTPProxy
			if kind == "socks5" {
				start = hookbooktest.StartSOCKS5Proxy
			}
			p := start(t, "egress", "proxy-pw-42")
			proxyURL, _ := url.Parse(p.URL)
			loopback := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
			s := delivery.NewWebhookSenderVia(&delivery.Egress{Guard: &netguard.Guard{Enabled: true, Allowed: loopback}, Proxy: proxyURL}, "X-Hookbook", 4)
			t.Cleanup(s.Close)
			ts := newTokenServer(t, "basic")
			// The receiver by name: the guard resolves it, the proxy is asked for the address.
			ep := ts.endpoint("ep_proxied_" + kind)
			ep.URL = strings.Replace(ts.receiver.URL, "127.0.0.1", "localhost", 1)
			if o := s.Send(context.Background(), jobTo(ep)); !o.Success {
				t.Fatalf("through the proxy: %+v", o)
			}
			asked := p.Asked()
			if !slices.Contains(asked, ts.receiver.Listener.Addr().String()) || !slices.Contains(asked, ts.token.Listener.Addr().String()) {
				t.Errorf("the proxy was asked for %v, want the receiver and the token endpoint", asked)
			}
			if creds := p.Credentials(); len(creds) == 0 || creds[0] != "egress:proxy-pw-42" {
				t.Errorf("the proxy got credentials %v", creds)
			}

			// A blocked destination: refused before the proxy is asked.
			strict := delivery.NewWebhookSenderVia(&delivery.Egress{Guard: &netguard.Guard{Enabled: true}, Proxy: proxyURL}, "X-Hookbook", 4)
			before := len(p.Asked())
			for _, target := range []string{ts.receiver.URL, "http://169.254.169.254/latest/meta-data"} {
				o := strict.Send(context.Background(), jobTo(&hookbook.Endpoint{ID: "ep_blocked", URL: target}))
				if o.Success || o.ErrKind != "blocked" {
					t.Errorf("%s through the proxy: %+v, want blocked", target, o)
				}
			}
			if n := len(p.Asked()); n != before {
				t.Errorf("the proxy was asked for a blocked destination: %v", p.Asked()[before:])
			}

			// NO_PROXY: straight to the receiver.
			direct := delivery.NewWebhookSenderVia(&delivery.Egress{Guard: &netguard.Guard{}, Proxy: proxyURL, NoProxy: delivery.ParseNoProxy("example.com, 127.0.0.0/8")}, "X-Hookbook", 4)
			before = len(p.Asked())
			if o := direct.Send(context.Background(), jobTo(&hookbook.Endpoint{ID: "ep_direct", URL: ts.receiver.URL, Auth: &hookbook.EndpointAuth{Type: hookbook.AuthBearer, Token: "x"}})); o.StatusCode != http.StatusUnauthorized {
				t.Errorf("NO_PROXY destination: %+v", o)
			}
			if n := len(p.Asked()); n != before {
				t.Errorf("a NO_PROXY destination went through the proxy")
			}

			// A proxy that resets the tunnels to one receiver fails only
			// that endpoint's attempts, with the kind proxy.
			victim := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
			t.Cleanup(victim.Close)
			p.ResetTo(victim.Listener.Addr().String())
			o := s.Send(context.Background(), jobTo(&hookbook.Endpoint{ID: "ep_victim", URL: victim.URL}))
			if o.Success || o.ErrKind != delivery.ErrKindProxy {
				t.Errorf("proxy reset: %+v, want kind proxy", o)
			}
			if strings.Contains(o.Err, "proxy-pw-42") {
				t.Errorf("the error shows the proxy's password: %s", o.Err)
			}
			if o := s.Send(context.Background(), jobTo(ts.endpoint("ep_still_"+kind))); !o.Success {
				t.Errorf("another endpoint while the proxy resets one: %+v", o)
			}
		})
	}
}

// TestProxyFailures: a proxy that refuses connections, resets them,
// answers CONNECT with a non-2xx or refuses the credentials fails the
// attempt with the kind proxy, also for token requests.
func TestProxyFailures(t *testing.T) {
	t.Parallel()
	receiver := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	t.Cleanup(receiver.Close)
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	deadAddr := closed.Addr().String()
	closed.Close()
	resetting := hookbooktest.StartHTTPProxy(t, "", "")
	resetting.ResetAll(true)
	refusing := hookbooktest.StartHTTPProxy(t, "", "")
	refusing.RefuseWith(http.StatusForbidden)
	badCreds := hookbooktest.StartSOCKS5Proxy(t, "egress", "right")
	for _, c := range []struct{ name, proxy, want string }{
		{"refused", "http://u:hidden-pw@" + deadAddr, "connection refused"},
		{"reset", resetting.URL, "proxy"},
		{"CONNECT 403", refusing.URL, "403 Forbidden"},
		{"SOCKS5 credentials", strings.Replace(badCreds.URL, "right", "wrong", 1), "refused the username and password"},
	} {
		u, _ := url.Parse(c.proxy)
		s := delivery.NewWebhookSenderVia(&delivery.Egress{Guard: &netguard.Guard{}, Proxy: u}, "X-Hookbook", 4)
		o := s.Send(context.Background(), jobTo(&hookbook.Endpoint{ID: "ep_x", URL: receiver.URL}))
		if o.Success || o.ErrKind != delivery.ErrKindProxy || !strings.Contains(o.Err, c.want) {
			t.Errorf("%s: %+v", c.name, o)
		}
		if strings.Contains(o.Err, "hidden-pw") || strings.Contains(o.Err, "wrong@") {
			t.Errorf("%s: the error shows the proxy's password: %s", c.name, o.Err)
		}
		// A token request through it: the kind is proxy too.
		o = s.Send(context.Background(), jobTo(&hookbook.Endpoint{ID: "ep_t", URL: receiver.URL, Auth: &hookbook.EndpointAuth{
			Type: hookbook.AuthOAuth2ClientCredentials, TokenURL: receiver.URL + "/token", ClientID: "c", ClientSecret: "s"}}))
		if o.Success || o.ErrKind != delivery.ErrKindProxy {
			t.Errorf("%s, token request: %+v", c.name, o)
		}
	}
}

// TestOAuth2TokenRequestShared: the attempts of one endpoint wait for one
// token request at a time; when it fails, those waiting share its failure
// rather than each holding a worker for a token endpoint of their own.
func TestOAuth2TokenRequestShared(t *testing.T) {
	t.Parallel()
	var requests atomic.Int64
	first := make(chan struct{}, 1)
	release := make(chan struct{})
	tokens := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		select {
		case first <- struct{}{}:
		default:
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(release); tokens.Close() })
	s := delivery.NewWebhookSender(&netguard.Guard{}, "X-Hookbook", 4)
	ep := &hookbook.Endpoint{ID: "ep_shared", URL: "http://127.0.0.1:9/", TimeoutSeconds: 2, Auth: &hookbook.EndpointAuth{
		Type: hookbook.AuthOAuth2ClientCredentials, TokenURL: tokens.URL, ClientID: "c", ClientSecret: "s"}}
	outcomes := make(chan delivery.Outcome, 4)
	go func() { outcomes <- s.Send(context.Background(), jobTo(ep)) }()
	<-first
	for range 3 {
		go func() { outcomes <- s.Send(context.Background(), jobTo(ep)) }()
	}
	for range 4 {
		if o := <-outcomes; o.ErrKind != delivery.ErrKindOAuthToken {
			t.Errorf("outcome = %+v", o)
		}
	}
	if n := requests.Load(); n != 1 {
		t.Errorf("%d token requests for four attempts waiting together, want 1", n)
	}
}

// TestOAuthAttemptKeepsOneDeadline: getting a token and the request share
// the endpoint's timeout, so an attempt ends by its deadline however long
// the token took (a longer one could outlive its lease and be sent twice).
func TestOAuthAttemptKeepsOneDeadline(t *testing.T) {
	t.Parallel()
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // then the server notices hookbook hanging up
		<-r.Context().Done()        // answers only when hookbook gives up
	}))
	t.Cleanup(receiver.Close)
	tokens := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(1500 * time.Millisecond):
		case <-r.Context().Done():
		}
		io.WriteString(w, `{"access_token":"tok","token_type":"bearer","expires_in":3600}`)
	}))
	t.Cleanup(tokens.Close)
	s := delivery.NewWebhookSender(&netguard.Guard{}, "X-Hookbook", 4)
	ep := &hookbook.Endpoint{ID: "ep_deadline", URL: receiver.URL, TimeoutSeconds: 2, Auth: &hookbook.EndpointAuth{
		Type: hookbook.AuthOAuth2ClientCredentials, TokenURL: tokens.URL, ClientID: "c", ClientSecret: "s3cret-value"}}
	o := s.Send(context.Background(), jobTo(ep))
	if o.Success || o.ErrKind != "timeout" {
		t.Errorf("outcome = %+v, want a timeout", o)
	}
	// 1.5 s for the token and a fresh 2 s for the request would be 3.5 s.
	if o.Duration >= 3300*time.Millisecond {
		t.Errorf("the attempt took %s: the token's time was not counted in the 2 s timeout", o.Duration)
	}
}
