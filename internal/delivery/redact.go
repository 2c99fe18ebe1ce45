package delivery

import (
	"net/http"
	"strings"

	"github.com/hookbook/hookbook/webhook"
)

// Redacted is what the attempt log shows in place of a credential that
// has no scheme (a cookie, an API key, a token header).
const Redacted = "[redacted]"

// credentialWords are the words that make a header name say it carries a
// credential (matched case-insensitively anywhere in the name).
var credentialWords = []string{"token", "secret", "password", "api-key", "apikey", "api_key", "auth", "session"}

// credentialHeaders are the standard headers that always carry one.
var credentialHeaders = map[string]bool{"authorization": true, "proxy-authorization": true, "cookie": true}

// IsCredentialHeader reports whether the attempt log must hide the value
// of the request header name: Authorization, Proxy-Authorization, Cookie
// and any header whose name contains token, secret, password, api-key
// (apikey, api_key), auth or session; never hookbook's own signature
// headers (webhook-signature and {prefix}-Signature), which are HMACs a
// receiver compares when debugging.
func IsCredentialHeader(name, prefix string) bool {
	if isSignatureHeader(name, prefix) {
		return false
	}
	lower := strings.ToLower(name)
	if credentialHeaders[lower] {
		return true
	}
	for _, w := range credentialWords {
		if strings.Contains(lower, w) {
			return true
		}
	}
	return false
}

// isSignatureHeader reports whether name is webhook-signature or
// {prefix}-Signature, in any case, without building either name.
func isSignatureHeader(name, prefix string) bool {
	const suffix = "-Signature"
	if strings.EqualFold(name, webhook.HeaderSignature) {
		return true
	}
	return len(name) == len(prefix)+len(suffix) && strings.EqualFold(name[:len(prefix)], prefix) &&
		strings.EqualFold(name[len(prefix):], suffix)
}

// RedactValue returns what the attempt log shows of a credential value:
// its scheme and "…" when it has one ("Bearer …"), otherwise Redacted.
func RedactValue(v string) string {
	scheme, rest, ok := strings.Cut(strings.TrimSpace(v), " ")
	if ok && strings.TrimSpace(rest) != "" && isScheme(scheme) {
		return scheme + " …"
	}
	return Redacted
}

// isScheme reports whether s looks like an HTTP authentication scheme
// (a short token of letters, digits and dashes).
func isScheme(s string) bool {
	if s == "" || len(s) > 20 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

// recordedHeaders returns the request headers as an attempt records
// them: the first value of each, credential values redacted
// (IsCredentialHeader). What is sent is h itself, unchanged.
func recordedHeaders(h http.Header, prefix string) map[string]string {
	out := make(map[string]string, len(h))
	for k, v := range h {
		if len(v) == 0 {
			continue
		}
		out[k] = v[0]
		if IsCredentialHeader(k, prefix) {
			out[k] = RedactValue(v[0])
		}
	}
	return out
}

// RecordedHeaders returns the headers of an attempt as its log records
// them: credential-bearing values redacted. Senders other than webhooks'
// record their requests with it too.
func RecordedHeaders(h http.Header, prefix string) map[string]string {
	return recordedHeaders(h, prefix)
}
