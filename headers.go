package hookbook

import (
	"net/http"
	"strings"
)

// setHeaders are the headers hookbook sets itself on every delivery
// request, by canonical name.
var setHeaders = map[string]bool{
	"Content-Type": true, "Content-Length": true, "User-Agent": true, "Host": true, "Connection": true,
	"Transfer-Encoding": true, "Webhook-Id": true, "Webhook-Timestamp": true, "Webhook-Signature": true,
}

// ReservedHeader reports whether hookbook sets the header name (in its
// canonical form) on every delivery request itself, so that neither an
// endpoint's headers nor its transformation may set it: the transport and
// Standard Webhooks headers, and with a brandPrefix ("X-Hookbook") every
// header under it.
func ReservedHeader(name, brandPrefix string) bool {
	if setHeaders[name] {
		return true
	}
	return brandPrefix != "" && strings.HasPrefix(name, http.CanonicalHeaderKey(brandPrefix)+"-")
}

// ValidHeaderName reports whether name is an HTTP token, as a header name
// must be (an empty name is not).
func ValidHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for _, r := range name {
		if r > 126 || r <= 32 || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r) {
			return false
		}
	}
	return true
}
