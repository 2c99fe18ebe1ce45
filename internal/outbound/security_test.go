package outbound_test

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/db"
	"github.com/hookbook/hookbook/internal/dbtest"
	"github.com/hookbook/hookbook/internal/hookbooktest"
	"github.com/hookbook/hookbook/internal/outbound"
	"github.com/hookbook/hookbook/internal/outboundtest"
)

// TestEndpointSecurityStored: auth and tls are stored with their
// credentials, read back whole, shown only as views (type and names,
// certificate subject, issuer and expiry; never a secret or a key),
// replaced as a whole by an update and removed by null.
func TestEndpointSecurityStored(t *testing.T) {
	t.Parallel()
	ca := hookbooktest.NewCA(t, "clinic CA")
	client := ca.Client(t, "hookbook-prod", time.Now().Add(90*24*time.Hour))
	dbtest.EachBackend(t, func(t *testing.T, d *db.DB) {
		f := outboundtest.New(t, d)
		ctx := context.Background()
		basic := hookbook.EndpointAuth{Type: "basic", Username: "clinic", Password: "pw-never-shown"}
		tlsIn := hookbook.EndpointTLS{ClientCertificate: client.CertPEM, ClientKey: client.KeyPEM, CACertificates: ca.PEM}
		created, err := f.Svc.CreateEndpoint(ctx, f.Org, outbound.EndpointInput{URL: outboundtest.Ptr("https://127.0.0.1:9/"), Events: &[]string{"*"},
			Auth: outbound.Clear(&basic), TLS: outbound.Clear(&tlsIn)})
		if err != nil {
			t.Fatal(err)
		}
		got, err := f.Svc.Endpoint(ctx, f.Org, created.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(*got.Auth, basic) || *got.TLS != tlsIn {
			t.Fatalf("read back auth %+v tls %+v", got.Auth, got.TLS)
		}
		for _, e := range []any{created, got} {
			b, _ := json.Marshal(e)
			s := string(b)
			if strings.Contains(s, "pw-never-shown") || strings.Contains(s, "PRIVATE KEY") || strings.Contains(s, "BEGIN") {
				t.Errorf("an answer shows a credential: %s", s)
			}
			if !strings.Contains(s, `"auth":{"type":"basic","username":"clinic"}`) || !strings.Contains(s, `"subject":"CN=hookbook-prod"`) ||
				!strings.Contains(s, `"issuer":"CN=clinic CA,O=hookbook tests"`) || !strings.Contains(s, `"not_after":"`) {
				t.Errorf("the views miss something: %s", s)
			}
		}
		// Replaced as a whole: nothing of basic remains.
		bearer := hookbook.EndpointAuth{Type: "bearer", Token: "tok-never-shown"}
		up, err := f.Svc.UpdateEndpoint(ctx, f.Org, created.ID, outbound.EndpointInput{Auth: outbound.Clear(&bearer)})
		if err != nil {
			t.Fatal(err)
		}
		got, _ = f.Svc.Endpoint(ctx, f.Org, created.ID)
		if !reflect.DeepEqual(*got.Auth, bearer) || got.TLS == nil || up.AuthView.Type != "bearer" || up.AuthView.Username != "" {
			t.Errorf("after replacing auth: %+v %+v", got.Auth, up.AuthView)
		}
		// An update that names neither keeps both; null removes.
		if _, err := f.Svc.UpdateEndpoint(ctx, f.Org, created.ID, outbound.EndpointInput{Description: outboundtest.Ptr("x")}); err != nil {
			t.Fatal(err)
		}
		if got, _ = f.Svc.Endpoint(ctx, f.Org, created.ID); got.Auth == nil || got.TLS == nil {
			t.Errorf("an update without auth or tls dropped them")
		}
		if _, err := f.Svc.UpdateEndpoint(ctx, f.Org, created.ID, outbound.EndpointInput{Auth: outbound.Clear[hookbook.EndpointAuth](nil), TLS: outbound.Clear[hookbook.EndpointTLS](nil)}); err != nil {
			t.Fatal(err)
		}
		got, _ = f.Svc.Endpoint(ctx, f.Org, created.ID)
		b, _ := json.Marshal(got)
		if got.Auth != nil || got.TLS != nil || !strings.Contains(string(b), `"auth":null`) || !strings.Contains(string(b), `"tls":null`) {
			t.Errorf("null did not remove them: %s", b)
		}
	})
}

// TestEndpointSecurityValidation: what is wrong with auth or tls answers
// 422 naming the field: bad PEM, a key of another certificate, an expired
// certificate, oversized PEM, an unknown type, missing fields.
func TestEndpointSecurityValidation(t *testing.T) {
	t.Parallel()
	ca := hookbooktest.NewCA(t, "clinic CA")
	good := ca.Client(t, "hookbook-prod", time.Now().Add(time.Hour))
	other := ca.Client(t, "other", time.Now().Add(time.Hour))
	expired := ca.Client(t, "old", time.Now().Add(-time.Hour))
	big := strings.Repeat("A", hookbook.MaxPEM+1)
	dbtest.EachBackend(t, func(t *testing.T, d *db.DB) {
		f := outboundtest.New(t, d)
		ctx := context.Background()
		cases := []struct {
			name  string
			auth  *hookbook.EndpointAuth
			tls   *hookbook.EndpointTLS
			field string
			says  string
		}{
			{"unknown auth type", &hookbook.EndpointAuth{Type: "digest"}, nil, "auth.type", "is not one of"},
			{"no auth type", &hookbook.EndpointAuth{Username: "u"}, nil, "auth.type", "is required"},
			{"basic without password", &hookbook.EndpointAuth{Type: "basic", Username: "u"}, nil, "auth.password", "is required"},
			{"bearer with a password", &hookbook.EndpointAuth{Type: "bearer", Token: "t", Password: "p"}, nil, "auth.password", "is not a field"},
			{"oauth2 without token_url", &hookbook.EndpointAuth{Type: "oauth2_client_credentials", ClientID: "c", ClientSecret: "s"}, nil, "auth.token_url", "is required"},
			{"oauth2 bad token_url", &hookbook.EndpointAuth{Type: "oauth2_client_credentials", TokenURL: "ftp://x", ClientID: "c", ClientSecret: "s"}, nil, "auth.token_url", "http"},
			{"oauth2 bad client_auth", &hookbook.EndpointAuth{Type: "oauth2_client_credentials", TokenURL: "https://x.example/t", ClientID: "c", ClientSecret: "s", ClientAuth: "jwt"}, nil, "auth.client_auth", "basic"},
			{"huge token", &hookbook.EndpointAuth{Type: "bearer", Token: strings.Repeat("t", hookbook.MaxCredential+1)}, nil, "auth.token", "at most"},
			{"empty tls", nil, &hookbook.EndpointTLS{}, "tls", "must set"},
			{"not PEM", nil, &hookbook.EndpointTLS{CACertificates: "hello"}, "tls.ca_certificates", "not PEM"},
			{"oversized PEM", nil, &hookbook.EndpointTLS{CACertificates: big}, "tls.ca_certificates", "at most"},
			{"key of another certificate", nil, &hookbook.EndpointTLS{ClientCertificate: good.CertPEM, ClientKey: other.KeyPEM}, "tls.client_key", "does not match"},
			{"certificate as key", nil, &hookbook.EndpointTLS{ClientCertificate: good.CertPEM, ClientKey: good.CertPEM}, "tls.client_key", "PRIVATE KEY"},
			{"expired certificate", nil, &hookbook.EndpointTLS{ClientCertificate: expired.CertPEM, ClientKey: expired.KeyPEM}, "tls.client_certificate", "expired"},
			{"key without certificate", nil, &hookbook.EndpointTLS{ClientKey: good.KeyPEM}, "tls.client_certificate", "is required"},
		}
		for _, c := range cases {
			in := outbound.EndpointInput{URL: outboundtest.Ptr("https://127.0.0.1:9/"), Events: &[]string{"*"}}
			if c.auth != nil {
				in.Auth = outbound.Clear(c.auth)
			}
			if c.tls != nil {
				in.TLS = outbound.Clear(c.tls)
			}
			_, err := f.Svc.CreateEndpoint(ctx, f.Org, in)
			he := hookbook.AsError(err)
			if he == nil || he.Kind != hookbook.EValidation || !strings.Contains(he.Details[c.field], c.says) {
				t.Errorf("%s: %v %v, want 422 naming %s (%q)", c.name, err, he, c.field, c.says)
			}
		}
	})
}
