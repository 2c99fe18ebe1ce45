package event

// JSON schemas (draft 2020-12) and example payloads of the built-in catalog.
// The booking domain emits exactly these shapes; its tests validate every
// emitted payload against the schema of its type.

type m = map[string]any

func str() m            { return m{"type": "string"} }
func strOrNull() m      { return m{"type": []string{"string", "null"}} }
func integer() m        { return m{"type": "integer"} }
func intOrNull() m      { return m{"type": []string{"integer", "null"}} }
func dateTime() m       { return m{"type": "string", "format": "date-time"} }
func dateTimeOrNull() m { return m{"type": []string{"string", "null"}, "format": "date-time"} }
func prefixed(p string) m {
	return m{"type": "string", "pattern": "^" + p + "_"}
}

// obj is an object schema whose listed properties are all required.
func obj(props m) m {
	req := make([]string, 0, len(props))
	for k := range props {
		req = append(req, k)
	}
	return m{"type": "object", "properties": props, "required": req}
}

// with returns a copy of base's properties plus extra.
func with(base m, extra m) m {
	out := m{}
	for k, v := range base {
		out[k] = v
	}
	for k, v := range extra {
		out[k] = v
	}
	return out
}

func schemaOf(props m) m {
	s := obj(props)
	s["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	return s
}

var bookingProps = m{
	"id":           prefixed("bkg"),
	"status":       m{"type": "string", "enum": []string{"pending", "confirmed", "rejected", "cancelled", "completed", "no_show"}},
	"service":      obj(m{"id": prefixed("svc"), "name": str()}),
	"slot_id":      prefixed("slot"),
	"customer":     obj(m{"id": prefixed("cus"), "name": str(), "email": str()}),
	"starts_at":    dateTime(),
	"ends_at":      dateTime(),
	"participants": m{"type": "integer", "minimum": 1},
	"notes":        str(),
	"location":     str(),
	"total_amount": integer(),
	"currency":     str(),
	"created_at":   dateTime(),
	"updated_at":   dateTime(),
}

var bookingExample = m{
	"id":           "bkg_01JQ2Z8Y5V4N6T7R8S9A0B1C2D",
	"status":       "confirmed",
	"service":      m{"id": "svc_01JQ2Z8Y5V4N6T7R8S9A0B1C2E", "name": "City Walking Tour"},
	"slot_id":      "slot_01JQ2Z8Y5V4N6T7R8S9A0B1C2F",
	"customer":     m{"id": "cus_01JQ2Z8Y5V4N6T7R8S9A0B1C2G", "name": "Jane Doe", "email": "jane@example.com"},
	"starts_at":    "2026-03-25T14:00:00Z",
	"ends_at":      "2026-03-25T15:30:00Z",
	"participants": 2,
	"notes":        "Window seat, please",
	"location":     "Main Square",
	"total_amount": 9000,
	"currency":     "USD",
	"created_at":   "2026-03-24T14:30:00Z",
	"updated_at":   "2026-03-24T14:30:00Z",
}

func bookingWith(extraProps, extraExample m) (m, m) {
	return schemaOf(with(bookingProps, extraProps)), with(bookingExample, extraExample)
}

var paymentProps = m{
	"id":              prefixed("pay"),
	"booking_id":      prefixed("bkg"),
	"amount":          integer(),
	"currency":        str(),
	"method":          str(),
	"status":          m{"type": "string", "enum": []string{"succeeded", "failed", "refunded", "partially_refunded"}},
	"refunded_amount": integer(),
	"error_code":      strOrNull(),
	"error_message":   strOrNull(),
	"created_at":      dateTime(),
}

var paymentExample = m{
	"id": "pay_01JQ2Z8Y5V4N6T7R8S9A0B1C2H", "booking_id": "bkg_01JQ2Z8Y5V4N6T7R8S9A0B1C2D",
	"amount": 9000, "currency": "USD", "method": "card", "status": "succeeded",
	"refunded_amount": 0, "error_code": nil, "error_message": nil, "created_at": "2026-03-24T14:35:00Z",
}

var communityProps = obj(m{
	"id": prefixed("cev"), "slug": str(), "title": str(), "starts_at": dateTime(),
	"approvals_required": integer(), "approvals_count": integer(),
	"status": m{"type": "string", "enum": []string{"pending", "active"}},
})

var communityExample = m{
	"id": "cev_01JQ2Z8Y5V4N6T7R8S9A0B1C2J", "slug": "summer-meetup", "title": "Summer meetup",
	"starts_at": "2026-07-01T18:00:00Z", "approvals_required": 3, "approvals_count": 3, "status": "active",
}

func init() {
	s, e := bookingWith(nil, nil)
	def(BookingCreated, "A booking was made: pending when its service requires approval, else confirmed.", s, e)
	s, e = bookingWith(m{"confirmed_at": dateTime()}, m{"confirmed_at": "2026-03-24T15:00:00Z"})
	def(BookingConfirmed, "A pending booking was confirmed.", s, e)
	s, e = bookingWith(m{"reason": str(), "rejected_at": dateTime()}, m{"status": "rejected", "reason": "Fully booked", "rejected_at": "2026-03-24T15:00:00Z"})
	def(BookingRejected, "A pending booking was rejected.", s, e)
	s, e = bookingWith(m{"changes": m{"type": "object", "minProperties": 1, "additionalProperties": obj(m{"old": m{}, "new": m{}})}},
		m{"participants": 3, "total_amount": 13500, "changes": m{"participants": m{"old": 2, "new": 3}, "total_amount": m{"old": 9000, "new": 13500}}})
	def(BookingUpdated, "Booking details changed; changes holds each field's old and new value.", s, e)
	s, e = bookingWith(m{"previous": obj(m{"slot_id": prefixed("slot"), "starts_at": dateTime(), "ends_at": dateTime()})},
		m{"previous": m{"slot_id": "slot_01JQ2Z8Y5V4N6T7R8S9A0B1C2K", "starts_at": "2026-03-24T10:00:00Z", "ends_at": "2026-03-24T11:30:00Z"}})
	def(BookingRescheduled, "A booking moved to another slot; previous holds the former times.", s, e)
	s, e = bookingWith(m{"reason": str(), "cancelled_at": dateTime(), "refund_amount": intOrNull()},
		m{"status": "cancelled", "reason": "Customer request", "cancelled_at": "2026-03-24T16:00:00Z", "refund_amount": 9000})
	def(BookingCancelled, "A booking was cancelled by the host or the customer; refund_amount is set when money was refunded.", s, e)
	s, e = bookingWith(m{"completed_at": dateTime()}, m{"status": "completed", "completed_at": "2026-03-25T15:30:00Z"})
	def(BookingCompleted, "A booking took place.", s, e)
	s, e = bookingWith(m{"marked_at": dateTime()}, m{"status": "no_show", "marked_at": "2026-03-25T15:30:00Z"})
	def(BookingNoShow, "The customer did not show up.", s, e)
	s, e = bookingWith(m{"offset": str()}, m{"offset": "24h"})
	def(BookingReminder, "A confirmed booking starts within the reminder offset.", s, e)
	s, e = bookingWith(m{"offset": str()}, m{"status": "completed", "offset": "1h"})
	def(BookingFollowUp, "A booking ended the follow-up offset ago.", s, e)

	def(PaymentSucceeded, "A payment for a booking succeeded.", schemaOf(paymentProps), paymentExample)
	def(PaymentFailed, "A payment attempt failed; error_code and error_message say why.", schemaOf(paymentProps),
		with(paymentExample, m{"status": "failed", "error_code": "card_declined", "error_message": "The card was declined"}))
	def(PaymentRefunded, "Money was refunded; refund_amount is this refund, refunded_amount the total so far.",
		schemaOf(with(paymentProps, m{"refund_amount": integer()})),
		with(paymentExample, m{"status": "refunded", "refunded_amount": 9000, "refund_amount": 9000}))

	def(CustomerCreated, "A customer was added.", schemaOf(m{
		"id": prefixed("cus"), "name": str(), "email": str(), "phone": str(), "created_at": dateTime(),
	}), m{"id": "cus_01JQ2Z8Y5V4N6T7R8S9A0B1C2G", "name": "Jane Smith", "email": "jane@example.com", "phone": "+1234567890", "created_at": "2026-03-24T14:30:00Z"})

	def(SlotCreated, "An availability slot was added.", schemaOf(m{
		"id": prefixed("slot"), "service_id": prefixed("svc"), "starts_at": dateTime(), "ends_at": dateTime(),
		"capacity": integer(), "created_at": dateTime(),
	}), m{"id": "slot_01JQ2Z8Y5V4N6T7R8S9A0B1C2F", "service_id": "svc_01JQ2Z8Y5V4N6T7R8S9A0B1C2E",
		"starts_at": "2026-03-25T14:00:00Z", "ends_at": "2026-03-25T15:30:00Z", "capacity": 10, "created_at": "2026-03-20T09:00:00Z"})

	def(ReviewCreated, "A customer reviewed a completed booking.", schemaOf(m{
		"id": prefixed("rev"), "booking_id": prefixed("bkg"), "customer_id": prefixed("cus"),
		"rating": m{"type": "integer", "minimum": 1, "maximum": 5}, "comment": str(), "created_at": dateTime(),
	}), m{"id": "rev_01JQ2Z8Y5V4N6T7R8S9A0B1C2L", "booking_id": "bkg_01JQ2Z8Y5V4N6T7R8S9A0B1C2D",
		"customer_id": "cus_01JQ2Z8Y5V4N6T7R8S9A0B1C2G", "rating": 5, "comment": "Wonderful tour", "created_at": "2026-03-26T09:00:00Z"})

	def(CommunityEventApproved, "Someone approved a community event.", schemaOf(m{
		"community_event": communityProps,
		"approval":        obj(m{"full_name": str(), "email": strOrNull(), "approved_at": dateTime()}),
	}), m{"community_event": with(communityExample, m{"approvals_count": 2, "status": "pending"}),
		"approval": m{"full_name": "Ada Lovelace", "email": "ada@example.com", "approved_at": "2026-06-01T10:00:00Z"}})
	def(CommunityEventActivated, "A community event reached its approval threshold and is active.", schemaOf(m{
		"community_event": communityProps, "activated_at": dateTime(),
	}), m{"community_event": communityExample, "activated_at": "2026-06-01T10:05:00Z"})

	def(EndpointDisabled, "hookbook disabled one of the organization's endpoints.", schemaOf(m{
		"endpoint_id": prefixed("ep"), "url": str(), "reason": str(), "disabled_at": dateTime(),
		"last_success_at": dateTimeOrNull(),
	}), m{"endpoint_id": "ep_01JQ2Z8Y5V4N6T7R8S9A0B1C2M", "url": "https://example.com/hooks",
		"reason": "no successful delivery for 120h0m0s", "disabled_at": "2026-03-30T10:00:00Z", "last_success_at": "2026-03-25T10:00:00Z"})
	def(WebhookTest, "A test event sent on request to one endpoint.", schemaOf(m{
		"endpoint_id": prefixed("ep"), "message": str(),
	}), m{"endpoint_id": "ep_01JQ2Z8Y5V4N6T7R8S9A0B1C2M", "message": "This is a test event from hookbook."})
}
