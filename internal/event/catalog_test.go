package event

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestEveryBuiltinExampleValidates(t *testing.T) {
	types := Builtin()
	if len(types) != 26 {
		t.Fatalf("catalog has %d types, want the contract's 20 and the 6 operational ones", len(types))
	}
	for _, et := range types {
		if err := Validate(et.Schema, et.Example); err != nil {
			t.Errorf("%s: example does not match schema: %v", et.Name, err)
		}
		if et.Description == "" {
			t.Errorf("%s: no description", et.Name)
		}
	}
	// A schema that rejects: a booking without its id.
	bc, _ := LookupBuiltin(BookingCreated)
	if err := Validate(bc.Schema, []byte(`{"status":"confirmed"}`)); err == nil {
		t.Fatal("an incomplete booking passed the schema")
	}
}

func TestNames(t *testing.T) {
	for name, want := range map[string]bool{
		"lead.qualified": true, "workflow.triggered": true, "a.b.c": true, "a_1.b2": true,
		"lead": false, "Lead.qualified": false, ".x": false, "a..b": false, "a.1b": false, "a.b.": false, "": false,
	} {
		if got := ValidName(name); got != want {
			t.Errorf("ValidName(%q) = %v, want %v", name, got, want)
		}
	}
	for p, want := range map[string]bool{"*": true, "booking.*": true, "booking.created": true, "a.b.*": true, "booking*": false, "*.created": false, "b.*.*": false} {
		if got := ValidPattern(p); got != want {
			t.Errorf("ValidPattern(%q) = %v, want %v", p, got, want)
		}
	}
}

func TestMatch(t *testing.T) {
	cases := []struct {
		p, n string
		want bool
	}{
		{"*", "booking.created", true},
		{"booking.*", "booking.created", true},
		{"booking.*", "bookings.created", false},
		{"booking.*", "payment.succeeded", false},
		{"booking.created", "booking.created", true},
		{"booking.created", "booking.cancelled", false},
		{"a.b.*", "a.b.c", true},
	}
	for _, c := range cases {
		if got := Match(c.p, c.n); got != c.want {
			t.Errorf("Match(%q,%q) = %v", c.p, c.n, got)
		}
	}
}

func TestEnvelopeShape(t *testing.T) {
	b, err := Envelope("evt_1", "org_1", "booking.created", time.Date(2026, 3, 24, 14, 30, 0, 0, time.FixedZone("x", 3600)), "", 0, json.RawMessage(`{"a":"<b>"}`))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"evt_1","event":"booking.created","timestamp":"2026-03-24T13:30:00Z","organization_id":"org_1","data":{"a":"<b>"}}`
	if string(b) != want {
		t.Fatalf("envelope\n got %s\nwant %s", b, want)
	}
}

func TestSchemasComeFromTheTypes(t *testing.T) {
	schema := func(name string) map[string]any {
		et, ok := LookupBuiltin(name)
		if !ok {
			t.Fatalf("%s is not in the catalog", name)
		}
		var s map[string]any
		if err := json.Unmarshal(et.Schema, &s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	props := func(s map[string]any) map[string]any { return s["properties"].(map[string]any) }
	updated := props(schema(BookingUpdated))
	changes := updated["changes"].(map[string]any)
	if changes["minProperties"] != float64(1) || len(changes["required"].([]any)) != 0 || props(changes)["notes"] == nil {
		t.Errorf("booking.updated changes = %v", changes)
	}
	if updated["id"].(map[string]any)["pattern"] != "^bkg_" || updated["starts_at"].(map[string]any)["format"] != "date-time" {
		t.Errorf("booking fields lost their tags: %v %v", updated["id"], updated["starts_at"])
	}
	if typ := props(schema(BookingCancelled))["refund_amount"].(map[string]any)["type"]; len(typ.([]any)) != 2 {
		t.Errorf("refund_amount may be null: type %v", typ)
	}
	// A booking.updated without any change is refused.
	et, _ := LookupBuiltin(BookingUpdated)
	var ex map[string]any
	json.Unmarshal(et.Example, &ex)
	ex["changes"] = map[string]any{}
	b, _ := json.Marshal(ex)
	if err := Validate(et.Schema, b); err == nil {
		t.Error("booking.updated without changes passed its schema")
	}
}

func TestSchemaReferencesStayInside(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret.json")
	os.WriteFile(secret, []byte(`{"type":"string","description":"TOP-SECRET-CONTENT"}`), 0o600)
	for _, ref := range []string{"file://" + secret, secret, "http://127.0.0.1:1/x.json", "https://example.com/s.json"} {
		doc := `{"type":"object","properties":{"a":{"$ref":` + strconv.Quote(ref) + `}}}`
		_, err := CompileSchema([]byte(doc))
		if err == nil {
			t.Errorf("$ref %s compiled", ref)
		} else if strings.Contains(err.Error(), "TOP-SECRET") {
			t.Errorf("$ref %s leaked the file: %v", ref, err)
		}
	}
	// References inside the schema still work.
	inside := `{"$defs":{"n":{"type":"integer"}},"type":"object","properties":{"a":{"$ref":"#/$defs/n"}}}`
	if err := Validate([]byte(inside), []byte(`{"a":"x"}`)); err == nil {
		t.Error("an internal $ref was not applied")
	}
	if err := Validate([]byte(inside), []byte(`{"a":1}`)); err != nil {
		t.Errorf("an internal $ref failed: %v", err)
	}
}
