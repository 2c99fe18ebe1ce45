package event

import (
	"encoding/json"
	"strings"
)

// MaxOrderingKey is the longest ordering key a publisher may give.
const MaxOrderingKey = 255

// orderingKeyDoc says where a built-in type's ordering key comes from, as
// OrderingKey reads it.
func orderingKeyDoc(typ string) string {
	group, _, _ := strings.Cut(typ, ".")
	switch {
	case group == "booking":
		return "data.id: the booking"
	case group == "payment", typ == ReviewCreated:
		return "data.booking_id: the booking"
	case typ == CustomerCreated:
		return "data.id: the customer"
	case typ == SlotCreated:
		return "data.id: the slot"
	case group == "community_event":
		return "data.community_event.id: the community event"
	case Operational(typ):
		return "data.endpoint_id: the endpoint"
	}
	return ""
}

// OrderingKey is the ordering key of a built-in event: what it is about,
// whose events an ordered endpoint receives one at a time in sequence
// order. booking.*, payment.* and review.created: the booking's id;
// customer.created: the customer's; slot.created: the slot's;
// community_event.*: the community event's; the operational events
// (endpoint.*, delivery.*): the endpoint's. Other types (webhook.test, an organization's own) have none
// unless their publisher gives one.
func OrderingKey(typ string, data []byte) string {
	var d struct {
		ID             string `json:"id"`
		BookingID      string `json:"booking_id"`
		EndpointID     string `json:"endpoint_id"`
		CommunityEvent struct {
			ID string `json:"id"`
		} `json:"community_event"`
	}
	group, _, _ := strings.Cut(typ, ".")
	if _, builtin := builtin[typ]; !builtin || json.Unmarshal(data, &d) != nil {
		return ""
	}
	switch {
	case group == "booking":
		return d.ID
	case group == "payment", typ == ReviewCreated:
		return d.BookingID
	case typ == CustomerCreated, typ == SlotCreated:
		return d.ID
	case group == "community_event":
		return d.CommunityEvent.ID
	case Operational(typ):
		return d.EndpointID
	}
	return ""
}
