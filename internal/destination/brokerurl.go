package destination

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// MaxURLLength bounds a broker URL, in characters.
const MaxURLLength = 2048

// DecodeStrict reads config into v, a pointer to a struct, for the types
// whose every config error names a field (mqtt, nats, kafka). It refuses
// unknown fields (the message names them: "is not a field of " + what),
// values of the wrong type (naming the field and the Go type) and anything
// but one JSON object; an error about the config as a whole (empty, not an
// object) names field, the leading one. A *FieldError from a field's own
// UnmarshalJSON is returned as it is.
func DecodeStrict(config json.RawMessage, v any, field, what string) error {
	if len(bytes.TrimSpace(config)) == 0 {
		return &FieldError{Field: field, Message: "is required"}
	}
	dec := json.NewDecoder(bytes.NewReader(config))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var fe *FieldError
		if errors.As(err, &fe) {
			return fe
		}
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) && ute.Field != "" {
			return &FieldError{Field: ute.Field, Message: "must be a " + JSONKind(ute.Type)}
		}
		if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return &FieldError{Field: strings.Trim(f, `"`), Message: "is not a field of " + what}
		}
		return &FieldError{Field: field, Message: "the config must be a JSON object: " + err.Error()}
	}
	if dec.More() {
		return &FieldError{Field: field, Message: "the config must be one JSON object"}
	}
	return nil
}

// ParseBrokerURL checks raw, the URL of the one broker a config names
// (mqtt, nats): present, at most MaxURLLength characters, a URL of one of
// schemes (else the error's message is usage), naming a host and at most
// a valid port besides credentials (no path but "/", query or fragment).
// Every error is a *FieldError naming field.
func ParseBrokerURL(field, raw, usage string, schemes ...string) (*url.URL, error) {
	bad := func(msg string) error { return &FieldError{Field: field, Message: msg} }
	if raw == "" {
		return nil, bad("is required")
	}
	if len(raw) > MaxURLLength {
		return nil, bad(fmt.Sprintf("is longer than %d characters", MaxURLLength))
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, bad("is not a URL")
	}
	known := false
	for _, s := range schemes {
		known = known || u.Scheme == s
	}
	if !known {
		return nil, bad(usage)
	}
	if u.Hostname() == "" || u.Opaque != "" {
		return nil, bad("must name a host")
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return nil, bad("must be only scheme, credentials, host and port")
	}
	if p := u.Port(); p != "" && !validPort(p) {
		return nil, bad("has an invalid port")
	}
	return u, nil
}

// validPort reports whether p is 1 to 5 decimal digits naming 1 to 65535.
func validPort(p string) bool {
	if len(p) > 5 {
		return false
	}
	n := 0
	for _, r := range p {
		if r < '0' || r > '9' {
			return false
		}
		n = n*10 + int(r-'0')
	}
	return n > 0 && n <= 65535
}

// HostPort returns the host:port u connects to, the port defaulting to
// defaultPort.
func HostPort(u *url.URL, defaultPort string) string {
	port := u.Port()
	if port == "" {
		port = defaultPort
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// RedactBrokerURL is RedactURL for a broker URL as a config holds it: a
// password becomes Redacted (user:***@); a user name alone is kept, or,
// when userIsToken (NATS), is itself the credential and becomes Redacted
// (***@host, unescaped, as answers show it and clients send it back). A
// URL that does not parse is replaced whole by Redacted when it holds an @,
// and kept when it does not (it holds no credential).
func RedactBrokerURL(raw string, userIsToken bool) string {
	u, err := url.Parse(raw)
	if err != nil {
		if strings.Contains(raw, "@") {
			return Redacted
		}
		return raw
	}
	if u.User == nil {
		return raw
	}
	if _, has := u.User.Password(); has {
		return RedactURL(raw)
	}
	if !userIsToken {
		return raw
	}
	u.User = nil
	return strings.Replace(u.String(), "://", "://"+Redacted+"@", 1)
}
