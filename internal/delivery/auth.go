package delivery

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hookbook/hookbook"
)

// ErrKindOAuthToken is the error kind of an attempt that got no OAuth2
// token for its receiver: the token endpoint failed, answered a non-2xx
// (its status is in the error), answered too much or no token, or did not
// answer within the endpoint's timeout. Nothing was sent to the receiver.
const ErrKindOAuthToken = "oauth_token"

// ErrKindTLS is the error kind of an attempt whose TLS handshake failed:
// the receiver's certificate was not trusted, or it refused the client
// certificate (or the lack of one).
const ErrKindTLS = "tls"

// MaxTokenResponse bounds the answer of a token endpoint.
const MaxTokenResponse = 64 << 10

// tokenMargin is how long before its expiry a cached token is renewed:
// at most this, and at most a fifth of its lifetime.
const tokenMargin = 30 * time.Second

// defaultTokenLifetime is how long a token whose answer gave no
// expires_in is used (a 401 from the receiver renews it sooner).
const defaultTokenLifetime = 5 * time.Minute

// TokenError is a failure to get an OAuth2 token.
type TokenError struct {
	Status int // the token endpoint's HTTP status, 0 when it gave none
	Msg    string
	Kind   string // ErrKindOAuthToken, or ErrKindProxy when the proxy failed
}

func (e *TokenError) Error() string { return "oauth token: " + e.Msg }

// tokens caches the OAuth2 tokens of endpoints, one entry per endpoint:
// requests of one endpoint wait for its token, never another's.
type tokens struct {
	mu sync.Mutex
	m  map[string]*tokenEntry
}

type tokenEntry struct {
	key     string        // the auth settings the token was got with
	lock    chan struct{} // held while the token is got
	token   string
	expires time.Time
	used    time.Time
	// failed is when the last request for a token failed, and failure
	// how: attempts that waited for that request share its failure
	// rather than each waiting for a token endpoint of their own.
	failed  time.Time
	failure error
}

// entry returns the cache entry of an endpoint's auth settings, a fresh
// one when they changed; entries unused for an hour are forgotten.
func (t *tokens) entry(id, key string, now time.Time) *tokenEntry {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = map[string]*tokenEntry{}
	}
	for k, e := range t.m {
		if now.Sub(e.used) > time.Hour {
			delete(t.m, k)
		}
	}
	e := t.m[id]
	if e == nil || e.key != key {
		e = &tokenEntry{key: key, lock: make(chan struct{}, 1)}
		t.m[id] = e
	}
	e.used = now
	return e
}

// token returns a token for ep's oauth2 auth: the cached one unless it
// expires soon or is stale (the one a receiver just refused), else a new
// one from the token endpoint within timeout.
func (s *WebhookSender) token(ctx context.Context, ep *hookbook.Endpoint, timeout time.Duration, stale string) (string, error) {
	waitStart := time.Now()
	e := s.tokens.entry(ep.ID, ep.Auth.Key(), s.Now())
	wait := time.NewTimer(timeout)
	defer wait.Stop()
	select {
	case e.lock <- struct{}{}:
	case <-ctx.Done():
		return "", &TokenError{Msg: "waiting for the token: " + ctx.Err().Error(), Kind: ErrKindOAuthToken}
	case <-wait.C:
		return "", &TokenError{Msg: fmt.Sprintf("waited %s for another attempt's token request", timeout), Kind: ErrKindOAuthToken}
	}
	defer func() { <-e.lock }()
	if e.token != "" && e.token != stale && s.Now().Before(e.expires) {
		return e.token, nil
	}
	if e.failure != nil && e.failed.After(waitStart) {
		return "", e.failure
	}
	tok, life, err := s.fetchToken(ctx, ep.Auth, timeout)
	if err != nil {
		e.token, e.failed, e.failure = "", time.Now(), err
		return "", err
	}
	e.failure = nil
	e.token, e.expires = tok, s.Now().Add(life-min(tokenMargin, life/5))
	return tok, nil
}

// fetchToken asks the token endpoint of a for a client-credentials token
// (RFC 6749 §4.4), through the sender's client (the network guard and the
// proxy), within timeout, reading at most MaxTokenResponse bytes.
func (s *WebhookSender) fetchToken(ctx context.Context, a *hookbook.EndpointAuth, timeout time.Duration) (string, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	form := url.Values{"grant_type": {"client_credentials"}}
	if len(a.Scopes) > 0 {
		form.Set("scope", strings.Join(a.Scopes, " "))
	}
	if a.Audience != "" {
		form.Set("audience", a.Audience)
	}
	if a.ClientAuth == "post" {
		form.Set("client_id", a.ClientID)
		form.Set("client_secret", a.ClientSecret)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", 0, &TokenError{Msg: "invalid token URL", Kind: ErrKindOAuthToken}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", s.UserAgent)
	if a.ClientAuth != "post" {
		// RFC 6749 §2.3.1: the id and secret form-encoded, then basic auth.
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString(
			[]byte(url.QueryEscape(a.ClientID)+":"+url.QueryEscape(a.ClientSecret))))
	}
	resp, err := s.Client.Do(req)
	if err != nil {
		kind := ErrKindOAuthToken
		if k := kindOf(err, ctx); k == ErrKindProxy {
			kind = k
		}
		return "", 0, &TokenError{Msg: a.TokenURL + ": " + describe(err, ctx, timeout), Kind: kind}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxTokenResponse+1))
	switch {
	case err != nil:
		return "", 0, &TokenError{Status: resp.StatusCode, Msg: fmt.Sprintf("%s answered HTTP %d, then: %s", a.TokenURL, resp.StatusCode, describe(err, ctx, timeout)), Kind: ErrKindOAuthToken}
	case len(body) > MaxTokenResponse:
		return "", 0, &TokenError{Status: resp.StatusCode, Msg: fmt.Sprintf("%s answered HTTP %d with more than %d KiB", a.TokenURL, resp.StatusCode, MaxTokenResponse>>10), Kind: ErrKindOAuthToken}
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		return "", 0, &TokenError{Status: resp.StatusCode, Msg: fmt.Sprintf("%s answered HTTP %d: %s", a.TokenURL, resp.StatusCode, oauthError(body, a)), Kind: ErrKindOAuthToken}
	}
	var answer struct {
		AccessToken string          `json:"access_token"`
		TokenType   string          `json:"token_type"`
		ExpiresIn   json.RawMessage `json:"expires_in"`
	}
	if err := json.Unmarshal(body, &answer); err != nil || answer.AccessToken == "" {
		return "", 0, &TokenError{Status: resp.StatusCode, Msg: fmt.Sprintf("%s answered HTTP %d without an access_token in JSON", a.TokenURL, resp.StatusCode), Kind: ErrKindOAuthToken}
	}
	if strings.ContainsAny(answer.AccessToken, "\r\n\x00") || len(answer.AccessToken) > hookbook.MaxCredential {
		return "", 0, &TokenError{Status: resp.StatusCode, Msg: fmt.Sprintf("%s answered an access_token that cannot be sent in a header", a.TokenURL), Kind: ErrKindOAuthToken}
	}
	if t := answer.TokenType; t != "" && !strings.EqualFold(t, "bearer") {
		return "", 0, &TokenError{Status: resp.StatusCode, Msg: fmt.Sprintf("%s answered token_type %q; only bearer tokens are sent", a.TokenURL, excerpt([]byte(t), "")), Kind: ErrKindOAuthToken}
	}
	life := defaultTokenLifetime
	if secs, err := strconv.ParseFloat(strings.Trim(string(answer.ExpiresIn), `"`), 64); err == nil && secs > 0 {
		life = time.Duration(min(secs, 366*24*3600) * float64(time.Second))
	}
	return answer.AccessToken, life, nil
}

// oauthError describes a token endpoint's error answer for the delivery
// log: only the "error" and "error_description" of an OAuth error answer
// (RFC 6749 §5.2), never the rest of the body, which may echo the request
// and so the client secret in any encoding; whatever of the secret they
// still hold, plainly or encoded as the request carried it, is masked.
func oauthError(body []byte, a *hookbook.EndpointAuth) string {
	var answer struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if json.Unmarshal(body, &answer) != nil || answer.Error == "" {
		return "no OAuth error in the answer (its body is not shown)"
	}
	msg := answer.Error
	if answer.Description != "" {
		msg += ": " + answer.Description
	}
	for _, secret := range []string{a.ClientSecret, url.QueryEscape(a.ClientSecret),
		base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(a.ClientID) + ":" + url.QueryEscape(a.ClientSecret)))} {
		if len(secret) >= 4 {
			msg = strings.ReplaceAll(msg, secret, Redacted)
		}
	}
	return excerpt([]byte(msg), "")
}

// excerpt returns the start of a token endpoint's answer for the delivery
// log, secret (if it echoes it) masked.
func excerpt(b []byte, secret string) string {
	s := strings.ToValidUTF8(string(b), "?")
	if secret != "" {
		s = strings.ReplaceAll(s, secret, Redacted)
	}
	if len(s) > 256 {
		s = s[:256] + "…"
	}
	return strings.TrimSpace(s)
}

// authorization returns the Authorization header value ep's auth sends,
// "" when it has none.
func (s *WebhookSender) authorization(ctx context.Context, ep *hookbook.Endpoint, timeout time.Duration, stale string) (string, error) {
	a := ep.Auth
	if a == nil {
		return "", nil
	}
	switch a.Type {
	case hookbook.AuthBasic:
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(a.Username+":"+a.Password)), nil
	case hookbook.AuthBearer:
		return "Bearer " + a.Token, nil
	case hookbook.AuthOAuth2ClientCredentials:
		tok, err := s.token(ctx, ep, timeout, stale)
		if err != nil {
			return "", err
		}
		return "Bearer " + tok, nil
	}
	return "", errors.New("unknown auth type " + strconv.Quote(a.Type))
}

// transports holds the HTTP transports of endpoints with their own TLS
// settings, by endpoint id, each built for one version of the settings:
// a change or an hour unused closes it.
type transports struct {
	mu sync.Mutex
	m  map[string]*ownTransport
}

type ownTransport struct {
	key    string
	client *http.Client
	t      *http.Transport
	used   time.Time
}

// clientFor returns the HTTP client of an endpoint: the shared one, or
// one of its own for its TLS settings.
func (s *WebhookSender) clientFor(ep *hookbook.Endpoint) (*http.Client, error) {
	if ep.TLS == nil || s.newTransport == nil {
		return s.Client, nil
	}
	key, now := ep.TLS.Key(), s.Now()
	s.transports.mu.Lock()
	defer s.transports.mu.Unlock()
	if s.transports.m == nil {
		s.transports.m = map[string]*ownTransport{}
	}
	for id, o := range s.transports.m {
		if now.Sub(o.used) > time.Hour {
			o.t.CloseIdleConnections()
			delete(s.transports.m, id)
		}
	}
	if o := s.transports.m[ep.ID]; o != nil && o.key == key {
		o.used = now
		return o.client, nil
	} else if o != nil {
		o.t.CloseIdleConnections()
		delete(s.transports.m, ep.ID)
	}
	cfg, err := ep.TLS.Config()
	if err != nil {
		return nil, err
	}
	t := s.newTransport(cfg)
	o := &ownTransport{key: key, t: t, used: now, client: &http.Client{Transport: t, CheckRedirect: noRedirects}}
	s.transports.m[ep.ID] = o
	return o.client, nil
}

// Close closes the idle connections of every transport of the sender.
func (s *WebhookSender) Close() {
	s.transports.mu.Lock()
	defer s.transports.mu.Unlock()
	for id, o := range s.transports.m {
		o.t.CloseIdleConnections()
		delete(s.transports.m, id)
	}
	if t, ok := s.Client.Transport.(*http.Transport); ok {
		t.CloseIdleConnections()
	}
}

func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
