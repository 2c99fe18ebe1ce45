package hookbook

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Kinds of an endpoint's auth.
const (
	AuthOAuth2ClientCredentials = "oauth2_client_credentials"
	AuthBasic                   = "basic"
	AuthBearer                  = "bearer"
)

// Bounds of an endpoint's auth and tls settings.
const (
	// MaxPEM bounds each PEM field of tls (a certificate chain, a key, a
	// CA bundle).
	MaxPEM = 64 << 10
	// MaxCACertificates bounds the certificates of ca_certificates.
	MaxCACertificates = 20
	// MaxCredential bounds a secret: a client secret, a password, a token.
	MaxCredential = 8 << 10
	// MaxAuthName bounds a client id, a username, an audience, a scope.
	MaxAuthName = 512
	// MaxScopes bounds the scopes of an OAuth2 token request.
	MaxScopes = 50
	// MaxTokenURL bounds the token URL.
	MaxTokenURL = 2048
)

// EndpointAuth is how hookbook authenticates to an endpoint's receiver:
// an OAuth2 client-credentials token, HTTP basic auth, or a static bearer
// token, sent in the Authorization header of each attempt. Its secrets
// (ClientSecret, Password, Token) never leave hookbook: answers show
// View(). It is replaced as a whole when changed.
type EndpointAuth struct {
	Type string `json:"type"`
	// oauth2_client_credentials
	TokenURL     string   `json:"token_url,omitempty"`
	ClientID     string   `json:"client_id,omitempty"`
	ClientSecret string   `json:"client_secret,omitempty"`
	Scopes       []string `json:"scopes,omitempty"`
	Audience     string   `json:"audience,omitempty"`
	// ClientAuth is how the client authenticates to the token endpoint:
	// "basic" (HTTP basic auth, the default) or "post" (in the form).
	ClientAuth string `json:"client_auth,omitempty"`
	// basic
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	// bearer
	Token string `json:"token,omitempty"`
}

// AuthView is what answers show of an EndpointAuth: its type and the
// fields that are not secrets.
type AuthView struct {
	Type       string   `json:"type"`
	TokenURL   string   `json:"token_url,omitempty"`
	ClientID   string   `json:"client_id,omitempty"`
	Scopes     []string `json:"scopes,omitempty"`
	Audience   string   `json:"audience,omitempty"`
	ClientAuth string   `json:"client_auth,omitempty"`
	Username   string   `json:"username,omitempty"`
}

// View returns what answers show of a; nil for nil.
func (a *EndpointAuth) View() *AuthView {
	if a == nil {
		return nil
	}
	return &AuthView{Type: a.Type, TokenURL: a.TokenURL, ClientID: a.ClientID, Scopes: a.Scopes,
		Audience: a.Audience, ClientAuth: a.ClientAuth, Username: a.Username}
}

// Key returns a digest of every setting of a, for caches that must
// forget what they hold when the settings change.
func (a *EndpointAuth) Key() string { return digest(a) }

// EndpointTLS is an endpoint's own TLS settings: a client certificate and
// key for mutual TLS, and CA certificates trusted for its receiver beside
// the system's. ClientKey never leaves hookbook: answers show View().
type EndpointTLS struct {
	ClientCertificate string `json:"client_certificate,omitempty"`
	ClientKey         string `json:"client_key,omitempty"`
	CACertificates    string `json:"ca_certificates,omitempty"`
}

// CertificateView describes a certificate without its key.
type CertificateView struct {
	Subject  string    `json:"subject"`
	Issuer   string    `json:"issuer"`
	NotAfter time.Time `json:"not_after"`
}

// TLSView is what answers show of an EndpointTLS.
type TLSView struct {
	ClientCertificate *CertificateView  `json:"client_certificate"`
	CACertificates    []CertificateView `json:"ca_certificates"`
}

// View returns what answers show of t (certificates described, never
// the key); nil for nil.
func (t *EndpointTLS) View() *TLSView {
	if t == nil {
		return nil
	}
	v := &TLSView{CACertificates: []CertificateView{}}
	if certs, _ := parseCertificates(t.ClientCertificate); len(certs) > 0 {
		v.ClientCertificate = describeCert(certs[0])
	}
	cas, _ := parseCertificates(t.CACertificates)
	for _, c := range cas {
		v.CACertificates = append(v.CACertificates, *describeCert(c))
	}
	return v
}

// Key returns a digest of every setting of t, for caches that must forget
// what they hold when the settings change.
func (t *EndpointTLS) Key() string { return digest(t) }

// Config returns the client TLS configuration of t: its certificate
// presented to the receiver, and its CAs trusted beside the system's.
func (t *EndpointTLS) Config() (*tls.Config, error) {
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if t.ClientCertificate != "" {
		pair, err := tls.X509KeyPair([]byte(t.ClientCertificate), []byte(t.ClientKey))
		if err != nil {
			return nil, fmt.Errorf("client certificate: %w", err)
		}
		c.Certificates = []tls.Certificate{pair}
	}
	if t.CACertificates != "" {
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		certs, err := parseCertificates(t.CACertificates)
		if err != nil {
			return nil, fmt.Errorf("ca certificates: %w", err)
		}
		for _, cert := range certs {
			pool.AddCert(cert)
		}
		c.RootCAs = pool
	}
	return c, nil
}

func describeCert(c *x509.Certificate) *CertificateView {
	return &CertificateView{Subject: c.Subject.String(), Issuer: c.Issuer.String(), NotAfter: c.NotAfter.UTC()}
}

func digest(v any) string {
	b, _ := json.Marshal(v)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// parseCertificates reads every CERTIFICATE block of a PEM text; any
// other text or block type, or none at all, is an error.
func parseCertificates(text string) ([]*x509.Certificate, error) {
	rest := []byte(text)
	var out []*x509.Certificate
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("holds a %s block where a CERTIFICATE was expected", block.Type)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("holds a certificate that does not parse: %v", err)
		}
		out = append(out, c)
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		return nil, fmt.Errorf("is not PEM: text outside a PEM block")
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("is not PEM: no CERTIFICATE block")
	}
	return out, nil
}

// CheckTLS validates t as saved at now, adding what is wrong to f under
// tls.{field}: PEM that does not parse, a key that does not match the
// certificate, an expired (or not yet valid) certificate, a key without a
// certificate or the other way round, more than MaxPEM bytes in a field.
func CheckTLS(t *EndpointTLS, now time.Time, f Fields) {
	if t == nil {
		return
	}
	fields := map[string]string{"client_certificate": t.ClientCertificate, "client_key": t.ClientKey, "ca_certificates": t.CACertificates}
	big := false
	for name, v := range fields {
		if len(v) > MaxPEM {
			f.Add("tls."+name, fmt.Sprintf("must be at most %d bytes of PEM", MaxPEM))
			big = true
		}
	}
	if big {
		return
	}
	if t.ClientCertificate == "" && t.ClientKey == "" && t.CACertificates == "" {
		f.Add("tls", "must set client_certificate and client_key, ca_certificates, or both; null removes the settings")
		return
	}
	if (t.ClientCertificate == "") != (t.ClientKey == "") {
		if t.ClientCertificate == "" {
			f.Add("tls.client_certificate", "is required with client_key")
		} else {
			f.Add("tls.client_key", "is required with client_certificate")
		}
	}
	if t.ClientCertificate != "" {
		certs, err := parseCertificates(t.ClientCertificate)
		switch {
		case err != nil:
			f.Add("tls.client_certificate", err.Error())
		case checkValidity(certs[0], now) != "":
			f.Add("tls.client_certificate", checkValidity(certs[0], now))
		case t.ClientKey != "":
			if msg := checkKey(certs[0], t.ClientKey); msg != "" {
				f.Add("tls.client_key", msg)
			}
		}
	}
	if t.CACertificates != "" {
		certs, err := parseCertificates(t.CACertificates)
		switch {
		case err != nil:
			f.Add("tls.ca_certificates", err.Error())
		case len(certs) > MaxCACertificates:
			f.Add("tls.ca_certificates", fmt.Sprintf("must hold at most %d certificates", MaxCACertificates))
		default:
			for _, c := range certs {
				if msg := checkValidity(c, now); msg != "" {
					f.Add("tls.ca_certificates", msg)
					break
				}
			}
		}
	}
}

func checkValidity(c *x509.Certificate, now time.Time) string {
	switch {
	case now.After(c.NotAfter):
		return fmt.Sprintf("the certificate %q expired on %s", c.Subject.String(), c.NotAfter.UTC().Format(time.RFC3339))
	case now.Before(c.NotBefore):
		return fmt.Sprintf("the certificate %q is not valid before %s", c.Subject.String(), c.NotBefore.UTC().Format(time.RFC3339))
	}
	return ""
}

// checkKey returns what is wrong with a PEM private key for cert, or "".
func checkKey(cert *x509.Certificate, keyPEM string) string {
	block, rest := pem.Decode([]byte(keyPEM))
	if block == nil || len(bytes.TrimSpace(rest)) > 0 {
		return "is not PEM: expected one PRIVATE KEY block"
	}
	var key crypto.Signer
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		var k any
		k, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		if s, ok := k.(crypto.Signer); ok {
			key = s
		}
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		return fmt.Sprintf("holds a %s block where a PRIVATE KEY was expected (an encrypted key must be decrypted first)", block.Type)
	}
	if err != nil || key == nil {
		return "holds a private key that does not parse"
	}
	type equaler interface{ Equal(crypto.PublicKey) bool }
	pub, ok := key.Public().(equaler)
	if !ok || !pub.Equal(cert.PublicKey) {
		return "does not match the client certificate"
	}
	switch key.(type) {
	case *rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey:
	default:
		return "must be an RSA, ECDSA or Ed25519 key"
	}
	return ""
}

// CheckAuth validates a as saved, adding what is wrong to f under
// auth.{field}; checkURL validates the token URL as an endpoint URL
// would be (the network guard). Missing fields, unknown types, fields of
// another type and over-long values are refused.
func CheckAuth(a *EndpointAuth, checkURL func(string) error, f Fields) {
	if a == nil {
		return
	}
	req := func(name, v string, max int) {
		switch {
		case v == "":
			f.Add("auth."+name, "is required")
		case len(v) > max:
			f.Add("auth."+name, fmt.Sprintf("must be at most %d characters", max))
		case strings.ContainsAny(v, "\r\n\x00"):
			f.Add("auth."+name, "must not contain line breaks or NUL")
		}
	}
	extra := func(names ...string) {
		set := map[string]bool{"token_url": a.TokenURL != "", "client_id": a.ClientID != "", "client_secret": a.ClientSecret != "",
			"scopes": len(a.Scopes) > 0, "audience": a.Audience != "", "client_auth": a.ClientAuth != "",
			"username": a.Username != "", "password": a.Password != "", "token": a.Token != ""}
		for _, n := range names {
			delete(set, n)
		}
		for n, on := range set {
			if on {
				f.Add("auth."+n, fmt.Sprintf("is not a field of auth type %q", a.Type))
			}
		}
	}
	switch a.Type {
	case AuthOAuth2ClientCredentials:
		extra("token_url", "client_id", "client_secret", "scopes", "audience", "client_auth")
		req("token_url", a.TokenURL, MaxTokenURL)
		if a.TokenURL != "" && len(a.TokenURL) <= MaxTokenURL {
			if u, err := url.Parse(a.TokenURL); err == nil && u.User != nil {
				f.Add("auth.token_url", "must not carry credentials; use client_id and client_secret")
			} else if err := checkURL(a.TokenURL); err != nil {
				f.Add("auth.token_url", err.Error())
			}
		}
		req("client_id", a.ClientID, MaxAuthName)
		req("client_secret", a.ClientSecret, MaxCredential)
		if len(a.Audience) > MaxAuthName {
			f.Add("auth.audience", fmt.Sprintf("must be at most %d characters", MaxAuthName))
		}
		if len(a.Scopes) > MaxScopes {
			f.Add("auth.scopes", fmt.Sprintf("must name at most %d scopes", MaxScopes))
		}
		for _, s := range a.Scopes {
			if s == "" || len(s) > MaxAuthName || strings.ContainsAny(s, " \t\r\n\x00\"\\") {
				f.Add("auth.scopes", "each scope must be 1 to 512 characters without spaces, quotes or backslashes")
				break
			}
		}
		switch a.ClientAuth {
		case "":
			a.ClientAuth = "basic"
		case "basic", "post":
		default:
			f.Add("auth.client_auth", `must be "basic" or "post"`)
		}
	case AuthBasic:
		extra("username", "password")
		req("username", a.Username, MaxAuthName)
		if strings.Contains(a.Username, ":") {
			f.Add("auth.username", "must not contain a colon")
		}
		req("password", a.Password, MaxCredential)
	case AuthBearer:
		extra("token")
		req("token", a.Token, MaxCredential)
	case "":
		f.Add("auth.type", `is required: "oauth2_client_credentials", "basic" or "bearer"`)
	default:
		f.Add("auth.type", fmt.Sprintf(`%q is not one of "oauth2_client_credentials", "basic", "bearer"`, a.Type))
	}
}
