package admin

import (
	"net/http"
	"strings"

	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/outbound"
)

// securityFields are the form fields of an endpoint's auth and tls that
// are shown again when the form is: never a password, secret, token or key.
var securityFields = []string{"auth_type", "auth_username", "auth_token_url", "auth_client_id", "auth_scopes",
	"auth_audience", "auth_client_auth", "tls_action", "tls_client_certificate", "tls_ca_certificates"}

// readSecurity reads the endpoint form's auth and tls (an admin session's
// only: a portal session neither sees nor sets them). "keep" leaves them
// as they are, "none" removes them; otherwise they are replaced as a
// whole by what the form gives, credentials included (password fields,
// never filled in by the page).
func readSecurity(r *http.Request, s *session, in *outbound.EndpointInput, form map[string]string) {
	if s.Portal {
		return
	}
	for _, k := range securityFields {
		form[k] = r.PostFormValue(k)
	}
	val := func(k string) string { return strings.TrimSpace(r.PostFormValue(k)) }
	switch t := form["auth_type"]; t {
	case "", "keep":
	case "none":
		in.Auth = outbound.Clear[hookbook.EndpointAuth](nil)
	default:
		a := hookbook.EndpointAuth{Type: t}
		switch t {
		case hookbook.AuthBasic:
			a.Username, a.Password = val("auth_username"), r.PostFormValue("auth_password")
		case hookbook.AuthBearer:
			a.Token = val("auth_token")
		case hookbook.AuthOAuth2ClientCredentials:
			a.TokenURL, a.ClientID, a.ClientSecret = val("auth_token_url"), val("auth_client_id"), val("auth_client_secret")
			a.Scopes, a.Audience, a.ClientAuth = strings.Fields(val("auth_scopes")), val("auth_audience"), val("auth_client_auth")
		}
		in.Auth = outbound.Clear(&a)
	}
	switch form["tls_action"] {
	case "", "keep":
	case "none":
		in.TLS = outbound.Clear[hookbook.EndpointTLS](nil)
	default:
		in.TLS = outbound.Clear(&hookbook.EndpointTLS{ClientCertificate: val("tls_client_certificate"),
			ClientKey: val("tls_client_key"), CACertificates: val("tls_ca_certificates")})
	}
}

// securityForm is how the form starts: an endpoint's settings kept, a new
// endpoint's none.
func securityForm(form map[string]string, ep *hookbook.Endpoint) {
	form["auth_type"], form["tls_action"], form["auth_client_auth"] = "none", "none", "basic"
	if ep == nil {
		return
	}
	if ep.Auth != nil {
		form["auth_type"] = "keep"
	}
	if ep.TLS != nil {
		form["tls_action"] = "keep"
	}
}
