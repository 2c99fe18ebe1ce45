package destination

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"strconv"
	"strings"
)

// MaxConfig bounds the size of a config, in bytes of JSON.
const MaxConfig = 8 << 10

// MaxName bounds a name in a config (an exchange, a stream, a topic, …).
const MaxName = 255

// Decode reads config into v, a pointer to a struct, refusing unknown
// fields, values of the wrong type and configs above MaxConfig with a
// *FieldError naming the field ("" for the config as a whole).
func Decode(config json.RawMessage, v any) error {
	if len(config) > MaxConfig {
		return &FieldError{Message: fmt.Sprintf("must be at most %d bytes of JSON", MaxConfig)}
	}
	if len(bytes.TrimSpace(config)) == 0 || bytes.Equal(bytes.TrimSpace(config), []byte("null")) {
		return &FieldError{Message: "is required for this type"}
	}
	dec := json.NewDecoder(bytes.NewReader(config))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if dec.More() {
			return &FieldError{Message: "must be one JSON object"}
		}
		return nil
	}
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &typeErr) && typeErr.Field != "":
		return &FieldError{Field: typeErr.Field, Message: "must be a " + JSONKind(typeErr.Type)}
	case errors.As(err, &typeErr):
		return &FieldError{Message: "must be a JSON object"}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name, _ := strconv.Unquote(strings.TrimPrefix(err.Error(), "json: unknown field "))
		return &FieldError{Field: name, Message: "is not a field of this type"}
	}
	return &FieldError{Message: "must be a JSON object"}
}

// JSONKind names the JSON value a Go type decodes from, for messages
// that speak of what a client sends ("a list of strings"), never of Go
// types ("[]string").
func JSONKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "whole number"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Bool:
		return "boolean"
	case reflect.String:
		return "string"
	case reflect.Slice, reflect.Array:
		return "list of " + plural(JSONKind(t.Elem()))
	}
	return "JSON object"
}

func plural(kind string) string {
	if rest, ok := strings.CutPrefix(kind, "list of "); ok {
		return "lists of " + rest
	}
	return kind + "s"
}

// Encode returns the JSON of a normalized config.
func Encode(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// ParseURL checks a broker URL of one of schemes (the first is the
// default one), bounded in length, with a host and a valid port and no
// query or fragment (a client would act on its options), and returns it
// with host:port, the port defaulting to defaultPort.
func ParseURL(field, raw string, defaultPort string, schemes ...string) (*url.URL, string, error) {
	bad := func(msg string) error { return &FieldError{Field: field, Message: msg} }
	if raw == "" {
		return nil, "", bad("is required")
	}
	if len(raw) > MaxURLLength {
		return nil, "", bad(fmt.Sprintf("must be at most %d characters", MaxURLLength))
	}
	u, err := url.Parse(raw)
	ok := err == nil
	if ok {
		ok = false
		for _, s := range schemes {
			ok = ok || u.Scheme == s
		}
	}
	if !ok {
		return nil, "", bad("must be a URL of scheme " + strings.Join(schemes, ", ") + " (" + schemes[0] + "://user:password@host:port…)")
	}
	if u.Hostname() == "" {
		return nil, "", bad("must name a host")
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return nil, "", bad("has an invalid port")
		}
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		// Clients act on a URL's options (certificate files read from
		// hookbook's disk, pool sizes, timeouts): they are hookbook's to set.
		return nil, "", bad("must not have a query or a fragment (connection options are not set through the URL)")
	}
	return u, HostPort(u, defaultPort), nil
}

// CheckName refuses an empty (when required) or oversized name field.
func CheckName(field, v string, required bool) error {
	switch {
	case v == "" && required:
		return &FieldError{Field: field, Message: "is required"}
	case len(v) > MaxName:
		return &FieldError{Field: field, Message: fmt.Sprintf("must be at most %d characters", MaxName)}
	case strings.ContainsAny(v, "\x00\r\n"):
		return &FieldError{Field: field, Message: "must not contain control characters"}
	}
	return nil
}
