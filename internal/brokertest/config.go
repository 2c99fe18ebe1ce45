package brokertest

import (
	"encoding/json"
	"errors"
	"testing"
)

// ConfigType is the config half of a destination type (what
// destination.Type offers; brokertest imports no hookbook package).
type ConfigType interface {
	Validate(config json.RawMessage) (json.RawMessage, error)
	Redact(config json.RawMessage) json.RawMessage
	Addresses(config json.RawMessage) ([]string, error)
}

// CheckConfig asserts, for a fuzz target, what every type's Validate
// promises of config: a refusal is an error that errors.As finds in
// fieldErr (a **destination.FieldError); an accepted config's normal form
// is a fixed point of Validate, its redaction is valid too, and its
// addresses are known.
func CheckConfig(t *testing.T, typ ConfigType, config json.RawMessage, fieldErr any) {
	t.Helper()
	norm, err := typ.Validate(config)
	if err != nil {
		if !errors.As(err, fieldErr) {
			t.Fatalf("not a FieldError: %v", err)
		}
		return
	}
	again, err := typ.Validate(norm)
	if err != nil || string(again) != string(norm) {
		t.Fatalf("the normal form %s is not a fixed point: %s, %v", norm, again, err)
	}
	if _, err := typ.Validate(typ.Redact(norm)); err != nil {
		t.Fatalf("the redaction of %s is invalid: %v", norm, err)
	}
	if _, err := typ.Addresses(norm); err != nil {
		t.Fatal(err)
	}
}
