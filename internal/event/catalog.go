// Package event defines hookbook's event catalog (names, descriptions, JSON
// schemas and example payloads), event-name rules, endpoint filter matching
// and the envelope that is the body of every delivery.
package event

import (
	"encoding/json"
	"reflect"
	"regexp"
	"sort"
	"strings"

	"github.com/hookbook/hookbook"
)

// Built-in event type names.
const (
	BookingCreated          = "booking.created"
	BookingConfirmed        = "booking.confirmed"
	BookingRejected         = "booking.rejected"
	BookingUpdated          = "booking.updated"
	BookingRescheduled      = "booking.rescheduled"
	BookingCancelled        = "booking.cancelled"
	BookingCompleted        = "booking.completed"
	BookingNoShow           = "booking.no_show"
	BookingReminder         = "booking.reminder"
	BookingFollowUp         = "booking.follow_up"
	PaymentSucceeded        = "payment.succeeded"
	PaymentFailed           = "payment.failed"
	PaymentRefunded         = "payment.refunded"
	CustomerCreated         = "customer.created"
	SlotCreated             = "slot.created"
	ReviewCreated           = "review.created"
	CommunityEventApproved  = "community_event.approved"
	CommunityEventActivated = "community_event.activated"
	EndpointDisabled        = "endpoint.disabled"
	// Operational events: about one endpoint, never sent to it.
	DeliveryFailing   = "delivery.failing"
	DeliveryExhausted = "delivery.exhausted"
	DeliveryRecovered = "delivery.recovered"
	EndpointCreated   = "endpoint.created"
	EndpointUpdated   = "endpoint.updated"
	EndpointDeleted   = "endpoint.deleted"
	WebhookTest       = "webhook.test"
)

var namePattern = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$`)

// OptIn reports whether events of type name go only to endpoints that
// name them or their family ("delivery.*", "endpoint.*"), never through
// "*": the operational types added after endpoint.disabled, so that an
// endpoint taking every event does not start receiving hookbook's
// reports about the organization's other endpoints.
func OptIn(name string) bool { return Operational(name) && name != EndpointDisabled }

// Subscribed reports whether an endpoint with patterns takes events of
// type name: one of them selects it (MatchAny), other than "*" for an
// opt-in type.
func Subscribed(patterns []string, name string) bool {
	if !OptIn(name) {
		return MatchAny(patterns, name)
	}
	for _, p := range patterns {
		if p != "*" && Match(p, name) {
			return true
		}
	}
	return false
}

// Operational reports whether typ is one of hookbook's operational events
// (delivery.* and endpoint.*): each is about one endpoint (data.endpoint_id)
// and never goes to that endpoint.
func Operational(typ string) bool {
	return strings.HasPrefix(typ, "delivery.") || strings.HasPrefix(typ, "endpoint.")
}

// ValidName reports whether name is a well-formed event type name such as
// "lead.qualified".
func ValidName(name string) bool { return len(name) <= 128 && namePattern.MatchString(name) }

// ValidPattern reports whether p may stand in an endpoint's event filter:
// an exact name, a prefix wildcard such as "booking.*", or "*".
func ValidPattern(p string) bool {
	if p == "*" {
		return true
	}
	if prefix, ok := strings.CutSuffix(p, ".*"); ok {
		return namePattern.MatchString(prefix+".x") && !strings.Contains(prefix, "*")
	}
	return ValidName(p)
}

// Match reports whether an endpoint filter pattern selects event type name.
// "*" selects everything; "booking.*" selects every name below "booking.".
func Match(pattern, name string) bool {
	if pattern == "*" {
		return true
	}
	if prefix, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(name, prefix)
	}
	return pattern == name
}

// MatchAny reports whether one of patterns selects name.
func MatchAny(patterns []string, name string) bool {
	for _, p := range patterns {
		if Match(p, name) {
			return true
		}
	}
	return false
}

// Builtin returns the built-in catalog, sorted by name.
func Builtin() []hookbook.EventType {
	out := make([]hookbook.EventType, 0, len(builtin))
	for _, t := range builtin {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// LookupBuiltin returns the built-in type called name.
func LookupBuiltin(name string) (hookbook.EventType, bool) {
	t, ok := builtin[name]
	return t, ok
}

var builtin = map[string]hookbook.EventType{}

// def registers a built-in type: its name, schema and example all come
// from example's type and value.
func def(description string, example Payload) {
	name := example.EventType()
	s, err := json.Marshal(schemaOf(reflect.TypeOf(example)))
	if err != nil {
		panic(err)
	}
	e, err := json.Marshal(example)
	if err != nil {
		panic(err)
	}
	builtin[name] = hookbook.EventType{Name: name, Description: description, Schema: s, Example: e, OrderingKey: orderingKeyDoc(name)}
}
