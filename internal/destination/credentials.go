package destination

import (
	"bytes"
	"encoding/json"
	"net/url"
	"strings"
)

// Redacted is what answers show in place of a credential.
const Redacted = "***"

// RedactURL returns raw with the password of its user information replaced
// by Redacted (a user name alone is kept). A URL that does not parse is
// replaced whole.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return Redacted
	}
	if u.User == nil {
		return raw
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), Redacted)
	}
	s := u.String()
	// url escapes the asterisks of the placeholder; show them as they are.
	return strings.Replace(s, ":%2A%2A%2A@", ":***@", 1)
}

// KeepCredentials returns the config next where every credential given
// back as it was shown (Redacted, alone, as a URL's password or as a URL's
// user name alone, NATS's token) takes its
// value in prev, the stored config: so a form or a client that sends back
// what it was shown keeps the credentials it never saw. A field with no
// counterpart in prev is left as it is (and fails validation when it
// must). Objects are followed field by field; lists item by item.
func KeepCredentials(next, prev json.RawMessage) json.RawMessage {
	if len(prev) == 0 || !bytes.Contains(next, []byte(Redacted)) {
		return next
	}
	var n, p any
	if json.Unmarshal(next, &n) != nil || json.Unmarshal(prev, &p) != nil {
		return next
	}
	out, err := json.Marshal(keep(n, p))
	if err != nil {
		return next
	}
	return out
}

func keep(n, p any) any {
	switch nv := n.(type) {
	case map[string]any:
		pm, _ := p.(map[string]any)
		for k, v := range nv {
			nv[k] = keep(v, pm[k])
		}
		return nv
	case []any:
		pl, _ := p.([]any)
		for i, v := range nv {
			var pv any
			if i < len(pl) {
				pv = pl[i]
			}
			nv[i] = keep(v, pv)
		}
		return nv
	case string:
		ps, ok := p.(string)
		if !ok || !strings.Contains(nv, Redacted) {
			return nv
		}
		if nv == Redacted {
			return ps
		}
		return keepURLPassword(nv, ps)
	}
	return n
}

// keepURLPassword gives next, a URL whose password is Redacted, the
// password of prev.
func keepURLPassword(next, prev string) string {
	nu, err := url.Parse(next)
	if err != nil || nu.User == nil {
		return next
	}
	pw, hasPW := nu.User.Password()
	token := !hasPW && nu.User.Username() == Redacted // nats://***@host: a token
	if pw != Redacted && !token {
		return next
	}
	pu, err := url.Parse(prev)
	if err != nil || pu.User == nil {
		return next
	}
	if token {
		if _, ok := pu.User.Password(); ok {
			return next
		}
		nu.User = pu.User
		return nu.String()
	}
	pw, ok := pu.User.Password()
	if !ok {
		return next
	}
	nu.User = url.UserPassword(nu.User.Username(), pw)
	return nu.String()
}

// RedactAny redacts a config of a type this instance does not offer: every
// URL's password and every field whose name speaks of a credential
// (password, token, secret) become Redacted.
func RedactAny(config json.RawMessage) json.RawMessage {
	var v any
	if json.Unmarshal(config, &v) != nil {
		return json.RawMessage(`{}`)
	}
	out, err := json.Marshal(redactAny("", v))
	if err != nil {
		return json.RawMessage(`{}`)
	}
	return out
}

func redactAny(name string, v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = redactAny(k, e)
		}
	case []any:
		for i, e := range x {
			x[i] = redactAny(name, e)
		}
	case string:
		n := strings.ToLower(name)
		if strings.Contains(n, "password") || strings.Contains(n, "token") || strings.Contains(n, "secret") {
			return Redacted
		}
		if strings.Contains(x, "@") {
			return RedactURL(x)
		}
	}
	return v
}

// HasRedacted reports whether a config still holds Redacted where a
// credential goes (a value of its own, or a URL's password): a credential
// sent back with no stored one to keep.
func HasRedacted(config json.RawMessage) bool {
	if !bytes.Contains(config, []byte(Redacted)) {
		return false
	}
	var v any
	if json.Unmarshal(config, &v) != nil {
		return false
	}
	return hasRedacted(v)
}

func hasRedacted(v any) bool {
	switch x := v.(type) {
	case map[string]any:
		for _, e := range x {
			if hasRedacted(e) {
				return true
			}
		}
	case []any:
		for _, e := range x {
			if hasRedacted(e) {
				return true
			}
		}
	case string:
		if x == Redacted {
			return true
		}
		if u, err := url.Parse(x); err == nil && u.User != nil {
			pw, _ := u.User.Password()
			return pw == Redacted
		}
	}
	return false
}

// RedactURLConfig redacts a config of type C whose one credential is the
// password of the URL that field points at (RedactURL): the config as
// decoded into C, with that password Redacted; `{}` when it does not
// decode.
func RedactURLConfig[C any](config json.RawMessage, field func(*C) *string) json.RawMessage {
	var c C
	if json.Unmarshal(config, &c) != nil {
		return json.RawMessage(`{}`)
	}
	u := field(&c)
	*u = RedactURL(*u)
	return Encode(c)
}
