package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/hookbook/hookbook/internal/hookbooktest"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// docSchema compiles the schema at pointer (e.g. "components/schemas/X")
// of the OpenAPI document, as a generated client's validator would.
func docSchema(t *testing.T, pointer string) *jsonschema.Schema {
	t.Helper()
	raw, err := os.ReadFile("../internal/httpapi/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	whole, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource("openapi.json", whole); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("openapi.json#/" + pointer)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// docAccepts reports whether schema s accepts the JSON text body.
func docAccepts(t *testing.T, s *jsonschema.Schema, body string) bool {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return s.Validate(v) == nil
}

// TestBookingInputNeedsOneCustomer: a booking needs customer_id or an
// inline customer, not both, and the document's BookingInput says so: it
// refuses exactly the bodies the server refuses for that reason.
func TestBookingInputNeedsOneCustomer(t *testing.T) {
	t.Parallel()
	schema := docSchema(t, "components/schemas/BookingInput")
	hookbooktest.StartEach(t, func(t *testing.T, in *hookbooktest.Instance) {
		svc := in.Must(201, "POST", "/api/v1/services", map[string]any{"name": "Tour", "duration_minutes": 60, "capacity": 5})
		slot := in.Must(201, "POST", "/api/v1/slots", map[string]any{"service_id": svc["id"], "starts_at": "2031-03-25T14:00:00Z", "ends_at": "2031-03-25T15:00:00Z"})
		cus := in.Must(201, "POST", "/api/v1/customers", map[string]any{"name": "Jane", "email": "jane@example.com"})
		slotID, cusID := slot["id"].(string), cus["id"].(string)
		for _, c := range []struct {
			name, body string
			status     int
			field      string // the field a 422 names
		}{
			{"empty", `{}`, 422, "customer_id"},
			{"slot only", `{"slot_id":"` + slotID + `"}`, 422, "customer_id"},
			{"both", `{"slot_id":"` + slotID + `","customer_id":"` + cusID + `","customer":{"name":"Jane","email":"jane@example.com"}}`, 422, "customer"},
			{"known customer", `{"slot_id":"` + slotID + `","customer_id":"` + cusID + `"}`, 201, ""},
			{"inline customer", `{"slot_id":"` + slotID + `","customer":{"name":"Joe","email":"joe@example.com"}}`, 201, ""},
		} {
			r := in.Do("POST", "/api/v1/bookings", c.body)
			if r.Status != c.status {
				t.Errorf("%s: %d %s, want %d", c.name, r.Status, r.Body, c.status)
				continue
			}
			if c.field != "" {
				details, _ := r.JSON(t)["error"].(map[string]any)["details"].(map[string]any)
				if r.ErrorCode(t) != "validation_failed" || details[c.field] == nil {
					t.Errorf("%s: %s, want validation_failed naming %s", c.name, r.Body, c.field)
				}
			}
			if got := docAccepts(t, schema, c.body); got != (c.status == 201) {
				t.Errorf("%s: the document's BookingInput accepts it = %v, the server answered %d", c.name, got, r.Status)
			}
		}
	})
	if docAccepts(t, schema, `{}`) || docAccepts(t, schema, `{"slot_id":"slot_1"}`) {
		t.Errorf("the document's BookingInput accepts a booking without a customer")
	}
}

// TestRemindersPutReplaces: PUT /api/v1/settings/reminders replaces both
// settings, so a body missing either is refused with 422 naming it, and
// the settings stay as they were.
func TestRemindersPutReplaces(t *testing.T) {
	t.Parallel()
	schema := docSchema(t, "components/schemas/Reminders")
	hookbooktest.StartEach(t, func(t *testing.T, in *hookbooktest.Instance) {
		set := map[string]any{"reminder_offsets": []string{"48h"}, "follow_up_offset": "2h"}
		in.Must(200, "PUT", "/api/v1/settings/reminders", set)
		for _, c := range []struct {
			body    string
			missing []string
		}{
			{`{}`, []string{"reminder_offsets", "follow_up_offset"}},
			{`{"reminder_offsets":["1h"]}`, []string{"follow_up_offset"}},
			{`{"follow_up_offset":""}`, []string{"reminder_offsets"}},
			{`{"reminder_offsets":null,"follow_up_offset":"1h"}`, []string{"reminder_offsets"}},
		} {
			r := in.Do("PUT", "/api/v1/settings/reminders", c.body)
			if r.Status != 422 || r.ErrorCode(t) != "validation_failed" {
				t.Errorf("PUT %s = %d %s, want 422 validation_failed", c.body, r.Status, r.Body)
				continue
			}
			details, _ := r.JSON(t)["error"].(map[string]any)["details"].(map[string]any)
			for _, f := range c.missing {
				if details[f] == nil {
					t.Errorf("PUT %s: %s, want it to name %s", c.body, r.Body, f)
				}
			}
			if docAccepts(t, schema, c.body) {
				t.Errorf("the document accepts %s", c.body)
			}
		}
		got := in.Must(200, "GET", "/api/v1/settings/reminders", nil)
		if b, _ := json.Marshal(got); string(b) != `{"follow_up_offset":"2h","reminder_offsets":["48h"]}` {
			t.Errorf("after refused PUTs the settings are %s", b)
		}
		off := in.Must(200, "PUT", "/api/v1/settings/reminders", `{"reminder_offsets":[],"follow_up_offset":""}`)
		if b, _ := json.Marshal(off); string(b) != `{"follow_up_offset":"","reminder_offsets":[]}` {
			t.Errorf("turning both off = %s", b)
		}
	})
}

// TestPublishedEventKeepsOnlyItsOrderingKey: an event published through
// the API carries only the ordering key it was given, whatever its type,
// and the document says so (it once promised a key taken from the data).
func TestPublishedEventKeepsOnlyItsOrderingKey(t *testing.T) {
	t.Parallel()
	hookbooktest.StartEach(t, func(t *testing.T, in *hookbooktest.Instance) {
		data := hookbooktest.Data("booking.updated", map[string]any{"id": "bkg_01JQ2Z8Y5V4N6T7R8S9A0B1C2D"})
		plain := in.Must(202, "POST", "/api/v1/events", map[string]any{"event": "booking.updated", "data": data})["id"].(string)
		keyed := in.Must(202, "POST", "/api/v1/events", map[string]any{"event": "booking.updated", "ordering_key": "order-7", "data": data})["id"].(string)
		if e := in.Must(200, "GET", "/api/v1/events/"+plain, nil); e["ordering_key"] != nil || e["sequence"] != nil {
			t.Errorf("published without a key: ordering_key %v, sequence %v", e["ordering_key"], e["sequence"])
		}
		if e := in.Must(200, "GET", "/api/v1/events/"+keyed, nil); e["ordering_key"] != "order-7" || e["sequence"] == nil {
			t.Errorf("published with a key: ordering_key %v, sequence %v", e["ordering_key"], e["sequence"])
		}
	})
	raw, err := os.ReadFile("../internal/httpapi/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]struct {
					Description string `json:"description"`
				} `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	desc := doc.Components.Schemas["PublishInput"].Properties["ordering_key"].Description
	if strings.Contains(desc, "from their data") || !strings.Contains(desc, "left out, the event has no key") {
		t.Errorf("PublishInput.ordering_key says: %q", desc)
	}
}
