package inbound

import (
	"bytes"
	"context"
	"encoding/json"
	"unicode/utf8"

	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/booking"
)

// Request is the body of an inbound command.
type Request struct {
	Action string                     `json:"action"`
	Params map[string]json.RawMessage `json:"params"`
	Data   map[string]json.RawMessage `json:"data"`
}

// Parse decodes a command body: malformed JSON answers 400, fields of the
// wrong shape 422 naming them.
func Parse(body []byte) (*Request, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, hookbook.Errorf(hookbook.EInvalid, "invalid_json", "the body must be a JSON object {\"action\",\"params\",\"data\"}")
	}
	if bytes.Contains(trimmed, []byte(`\u0000`)) || !utf8.Valid(trimmed) {
		return nil, hookbook.Errorf(hookbook.EInvalid, "invalid_json", "JSON strings must be UTF-8 text without NUL characters")
	}
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	if err := dec.Decode(&raw); err != nil || dec.More() {
		return nil, hookbook.Errorf(hookbook.EInvalid, "invalid_json", "the body is not valid JSON")
	}
	f := hookbook.Fields{}
	var r Request
	if a, ok := raw["action"]; !ok || string(a) == "null" {
		f.Add("action", "is required")
	} else if json.Unmarshal(a, &r.Action) != nil || r.Action == "" {
		f.Add("action", "must be a non-empty string")
	}
	for _, part := range []struct {
		name string
		dst  *map[string]json.RawMessage
	}{{"params", &r.Params}, {"data", &r.Data}} {
		v, ok := raw[part.name]
		if !ok || string(v) == "null" {
			*part.dst = map[string]json.RawMessage{}
			continue
		}
		if json.Unmarshal(v, part.dst) != nil {
			f.Add(part.name, "must be an object")
		}
		if *part.dst == nil {
			*part.dst = map[string]json.RawMessage{}
		}
	}
	if err := f.Err(); err != nil {
		return nil, err
	}
	return &r, nil
}

// fields reads typed values from params and data, collecting problems
// under "params.x" and "data.x".
type fields struct {
	r *Request
	f hookbook.Fields
}

func (x *fields) src(part string) map[string]json.RawMessage {
	if part == "params" {
		return x.r.Params
	}
	return x.r.Data
}

// str returns a string field; required ones must be present and non-empty.
func (x *fields) str(part, name string, required bool) *string {
	v, ok := x.src(part)[name]
	if !ok || string(v) == "null" {
		if required {
			x.f.Add(part+"."+name, "is required")
		}
		return nil
	}
	var s string
	if json.Unmarshal(v, &s) != nil {
		x.f.Add(part+"."+name, "must be a string")
		return nil
	}
	if required && s == "" {
		x.f.Add(part+"."+name, "is required")
		return nil
	}
	return &s
}

func (x *fields) int(part, name string) *int {
	v, ok := x.src(part)[name]
	if !ok || string(v) == "null" {
		return nil
	}
	var n int
	if json.Unmarshal(v, &n) != nil {
		x.f.Add(part+"."+name, "must be an integer")
		return nil
	}
	return &n
}

// prefixed renames the fields of a domain validation error to where the
// command carried them ("service_id" → "params.service_id").
func prefixed(err error, where map[string]string) error {
	names := make(map[string]string, len(where))
	for k, part := range where {
		names[k] = part + "." + k
	}
	return hookbook.RenameFields(err, names)
}

// action is one inbound command: its name, the scope that allows it, and
// how it runs. prepare reads its fields from the command (problems go to
// x.f) and returns the call of the booking-domain method, with the same
// validation, state change and events as the API.
type action struct {
	name, scope string
	prepare     func(ctx context.Context, d *booking.Domain, orgID string, x *fields) func() (any, error)
}

// actions is every inbound action, the one home of its scope and handler.
var actions = []action{
	{"admin.slots.create", "admin.slots", func(ctx context.Context, d *booking.Domain, orgID string, x *fields) func() (any, error) {
		in := booking.SlotInput{ServiceID: x.str("params", "service_id", true), StartsAt: x.str("params", "starts_at", true),
			EndsAt: x.str("params", "ends_at", true), Capacity: x.int("params", "capacity")}
		return func() (any, error) {
			out, err := d.CreateSlot(ctx, orgID, in)
			return out, prefixed(err, map[string]string{"service_id": "params", "starts_at": "params", "ends_at": "params", "capacity": "params"})
		}
	}},
	{"admin.slots.delete", "admin.slots", func(ctx context.Context, d *booking.Domain, orgID string, x *fields) func() (any, error) {
		id := x.str("params", "slot_id", true)
		return func() (any, error) {
			if err := d.DeleteSlot(ctx, orgID, *id); err != nil {
				return nil, err
			}
			return map[string]any{"slot_id": *id, "deleted": true}, nil
		}
	}},
	{"admin.appointments.approve", "admin.appointments", func(ctx context.Context, d *booking.Domain, orgID string, x *fields) func() (any, error) {
		id := x.str("params", "booking_id", true)
		return func() (any, error) { return d.Confirm(ctx, orgID, *id) }
	}},
	{"admin.appointments.reject", "admin.appointments", func(ctx context.Context, d *booking.Domain, orgID string, x *fields) func() (any, error) {
		id, reason := x.str("params", "booking_id", true), x.str("data", "reason", false)
		return func() (any, error) {
			text := ""
			if reason != nil {
				text = *reason
			}
			return d.Reject(ctx, orgID, *id, text)
		}
	}},
	{"admin.appointments.cancel", "admin.appointments", func(ctx context.Context, d *booking.Domain, orgID string, x *fields) func() (any, error) {
		id, reason := x.str("params", "booking_id", true), x.str("data", "reason", false)
		return func() (any, error) {
			out, err := d.Cancel(ctx, orgID, *id, booking.CancelInput{Reason: reason})
			return out, prefixed(err, map[string]string{"reason": "data"})
		}
	}},
	{"admin.links.create", "admin.links", func(ctx context.Context, d *booking.Domain, orgID string, x *fields) func() (any, error) {
		in := booking.LinkInput{ServiceID: x.str("params", "service_id", true), Slug: x.str("params", "slug", true)}
		return func() (any, error) {
			out, err := d.CreateLink(ctx, orgID, in)
			return out, prefixed(err, map[string]string{"service_id": "params", "slug": "params"})
		}
	}},
	{"admin.links.disable", "admin.links", func(ctx context.Context, d *booking.Domain, orgID string, x *fields) func() (any, error) {
		slug := x.str("params", "slug", true)
		return func() (any, error) { return d.DisableLink(ctx, orgID, *slug) }
	}},
	{"admin.planner.block", "admin.planner", func(ctx context.Context, d *booking.Domain, orgID string, x *fields) func() (any, error) {
		in := booking.BlockInput{StartsAt: x.str("params", "starts_at", true), EndsAt: x.str("params", "ends_at", true), Reason: x.str("data", "reason", false)}
		return func() (any, error) {
			out, err := d.CreateBlock(ctx, orgID, in)
			return out, prefixed(err, map[string]string{"starts_at": "params", "ends_at": "params", "reason": "data"})
		}
	}},
	{"admin.planner.unblock", "admin.planner", func(ctx context.Context, d *booking.Domain, orgID string, x *fields) func() (any, error) {
		id := x.str("params", "block_id", true)
		return func() (any, error) {
			if err := d.DeleteBlock(ctx, orgID, *id); err != nil {
				return nil, err
			}
			return map[string]any{"block_id": *id, "deleted": true}, nil
		}
	}},
	{"admin.community-events.approve", "admin.community-events", approveCommunityEvent},
	{"public.booking.create", "public.booking", func(ctx context.Context, d *booking.Domain, orgID string, x *fields) func() (any, error) {
		in := booking.BookingInput{SlotID: x.str("params", "slot_id", true), Participants: x.int("data", "participants"),
			Customer: &booking.CustomerInput{Name: x.str("data", "full_name", true), Email: x.str("data", "email", true)}}
		return func() (any, error) {
			out, err := d.CreateBooking(ctx, orgID, in)
			return out, hookbook.RenameFields(err, map[string]string{"slot_id": "params.slot_id", "participants": "data.participants",
				"customer.name": "data.full_name", "customer.email": "data.email"})
		}
	}},
	{"public.appointment.cancel", "public.appointment", func(ctx context.Context, d *booking.Domain, orgID string, x *fields) func() (any, error) {
		id, email := x.str("params", "booking_id", true), x.str("data", "email", true)
		return func() (any, error) { return d.Cancel(ctx, orgID, *id, booking.CancelInput{Email: *email}) }
	}},
	{"public.appointment.reschedule", "public.appointment", func(ctx context.Context, d *booking.Domain, orgID string, x *fields) func() (any, error) {
		id, slot, email := x.str("params", "booking_id", true), x.str("params", "slot_id", true), x.str("data", "email", true)
		return func() (any, error) {
			out, err := d.Reschedule(ctx, orgID, *id, booking.RescheduleInput{SlotID: slot, Email: *email})
			return out, prefixed(err, map[string]string{"slot_id": "params"})
		}
	}},
	{"public.community.approve", "public.community", approveCommunityEvent},
}

// approveCommunityEvent is the handler of both community approvals: the
// organization's own and the public one.
func approveCommunityEvent(ctx context.Context, d *booking.Domain, orgID string, x *fields) func() (any, error) {
	slug := x.str("params", "slugId", true)
	in := booking.ApprovalInput{FullName: x.str("data", "full_name", true), Email: x.str("data", "email", false)}
	return func() (any, error) {
		out, err := d.Approve(ctx, orgID, *slug, in)
		return out, prefixed(err, map[string]string{"full_name": "data", "email": "data"})
	}
}

// lookup returns the action named name.
func lookup(name string) (action, bool) {
	for _, a := range actions {
		if a.name == name {
			return a, true
		}
	}
	return action{}, false
}

// Run validates a command's fields and runs its action for orgID, with the
// same domain method, validation, state change and events as the API.
func (s *Service) Run(ctx context.Context, orgID string, r *Request) (any, error) {
	a, ok := lookup(r.Action)
	if !ok {
		return nil, hookbook.Errorf(hookbook.ENotFound, "unknown_action", "unknown action %q", r.Action)
	}
	x := &fields{r: r, f: hookbook.Fields{}}
	run := a.prepare(ctx, s.Booking, orgID, x)
	if err := x.f.Err(); err != nil {
		return nil, err
	}
	return run()
}

// KnownAction reports whether action exists.
func KnownAction(action string) bool {
	_, ok := lookup(action)
	return ok
}
