package event

import "time"

// The built-in catalog: a description and an example value per payload
// type. Schemas come from the types themselves (schemaOf).

func ts(s string) Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return Time(t)
}

func ptr[T any](v T) *T { return &v }

func exampleBooking(status string) Booking {
	b := Booking{ID: "bkg_01JQ2Z8Y5V4N6T7R8S9A0B1C2D", Status: status, SlotID: "slot_01JQ2Z8Y5V4N6T7R8S9A0B1C2F",
		StartsAt: ts("2026-03-25T14:00:00Z"), EndsAt: ts("2026-03-25T15:30:00Z"), Participants: 2,
		Notes: "Window seat, please", Location: "Main Square", TotalAmount: 9000, Currency: "USD",
		CreatedAt: ts("2026-03-24T14:30:00Z"), UpdatedAt: ts("2026-03-24T14:30:00Z")}
	b.Service.ID, b.Service.Name = "svc_01JQ2Z8Y5V4N6T7R8S9A0B1C2E", "City Walking Tour"
	b.Customer.ID, b.Customer.Name, b.Customer.Email = "cus_01JQ2Z8Y5V4N6T7R8S9A0B1C2G", "Jane Doe", "jane@example.com"
	return b
}

func examplePayment(status string) Payment {
	return Payment{ID: "pay_01JQ2Z8Y5V4N6T7R8S9A0B1C2H", BookingID: "bkg_01JQ2Z8Y5V4N6T7R8S9A0B1C2D",
		Amount: 9000, Currency: "USD", Method: "card", Status: status, CreatedAt: ts("2026-03-24T14:35:00Z")}
}

func exampleCommunity(count int, status string) CommunityEvent {
	return CommunityEvent{ID: "cev_01JQ2Z8Y5V4N6T7R8S9A0B1C2J", Slug: "summer-meetup", Title: "Summer meetup",
		StartsAt: ts("2026-07-01T18:00:00Z"), ApprovalsRequired: 3, ApprovalsCount: count, Status: status}
}

func init() {
	def("A booking was made: pending when its service requires approval, else confirmed.",
		BookingCreatedData{exampleBooking("confirmed")})
	def("A pending booking was confirmed.",
		BookingConfirmedData{Booking: exampleBooking("confirmed"), ConfirmedAt: ts("2026-03-24T15:00:00Z")})
	def("A pending booking was rejected.",
		BookingRejectedData{Booking: exampleBooking("rejected"), Reason: "Fully booked", RejectedAt: ts("2026-03-24T15:00:00Z")})
	updated := BookingUpdatedData{Booking: exampleBooking("confirmed")}
	updated.Participants, updated.TotalAmount = 3, 13500
	updated.Changes.Participants = &Change[int]{Old: 2, New: 3}
	updated.Changes.TotalAmount = &Change[int64]{Old: 9000, New: 13500}
	def("Booking details changed; changes holds each changed field's old and new value.", updated)
	moved := BookingRescheduledData{Booking: exampleBooking("confirmed")}
	moved.Previous.SlotID, moved.Previous.StartsAt, moved.Previous.EndsAt = "slot_01JQ2Z8Y5V4N6T7R8S9A0B1C2K", ts("2026-03-24T10:00:00Z"), ts("2026-03-24T11:30:00Z")
	def("A booking moved to another slot; previous holds the former times.", moved)
	def("A booking was cancelled by the host or the customer; refund_amount is set when money was refunded.",
		BookingCancelledData{Booking: exampleBooking("cancelled"), Reason: "Customer request", CancelledAt: ts("2026-03-24T16:00:00Z"), RefundAmount: ptr(int64(9000))})
	def("A booking took place.", BookingCompletedData{Booking: exampleBooking("completed"), CompletedAt: ts("2026-03-25T15:30:00Z")})
	def("The customer did not show up.", BookingNoShowData{Booking: exampleBooking("no_show"), MarkedAt: ts("2026-03-25T15:30:00Z")})
	def("A confirmed booking starts within the reminder offset.", BookingReminderData{Booking: exampleBooking("confirmed"), Offset: "24h"})
	def("A booking ended the follow-up offset ago.", BookingFollowUpData{Booking: exampleBooking("completed"), Offset: "1h"})

	def("A payment for a booking succeeded.", PaymentSucceededData{examplePayment("succeeded")})
	failed := examplePayment("failed")
	failed.ErrorCode, failed.ErrorMessage = ptr("card_declined"), ptr("The card was declined")
	def("A payment attempt failed; error_code and error_message say why.", PaymentFailedData{failed})
	refunded := examplePayment("refunded")
	refunded.RefundedAmount = 9000
	def("Money was refunded; refund_amount is this refund, refunded_amount the total so far.",
		PaymentRefundedData{Payment: refunded, RefundAmount: 9000})

	def("A customer was added.", CustomerCreatedData{ID: "cus_01JQ2Z8Y5V4N6T7R8S9A0B1C2G", Name: "Jane Smith",
		Email: "jane@example.com", Phone: "+1234567890", CreatedAt: ts("2026-03-24T14:30:00Z")})
	def("An availability slot was added.", SlotCreatedData{ID: "slot_01JQ2Z8Y5V4N6T7R8S9A0B1C2F", ServiceID: "svc_01JQ2Z8Y5V4N6T7R8S9A0B1C2E",
		StartsAt: ts("2026-03-25T14:00:00Z"), EndsAt: ts("2026-03-25T15:30:00Z"), Capacity: 10, CreatedAt: ts("2026-03-20T09:00:00Z")})
	def("A customer reviewed a completed booking.", ReviewCreatedData{ID: "rev_01JQ2Z8Y5V4N6T7R8S9A0B1C2L", BookingID: "bkg_01JQ2Z8Y5V4N6T7R8S9A0B1C2D",
		CustomerID: "cus_01JQ2Z8Y5V4N6T7R8S9A0B1C2G", Rating: 5, Comment: "Wonderful tour", CreatedAt: ts("2026-03-26T09:00:00Z")})

	approved := CommunityEventApprovedData{CommunityEvent: exampleCommunity(2, "pending")}
	approved.Approval.FullName, approved.Approval.Email, approved.Approval.ApprovedAt = "Ada Lovelace", ptr("ada@example.com"), ts("2026-06-01T10:00:00Z")
	def("Someone approved a community event.", approved)
	def("A community event reached its approval threshold and is active.",
		CommunityEventActivatedData{CommunityEvent: exampleCommunity(3, "active"), ActivatedAt: ts("2026-06-01T10:05:00Z")})

	def("hookbook disabled one of the organization's endpoints.", EndpointDisabledData{EndpointID: "ep_01JQ2Z8Y5V4N6T7R8S9A0B1C2M",
		URL: "https://example.com/hooks", Reason: "no successful delivery for 120h0m0s", DisabledAt: ts("2026-03-30T10:00:00Z"),
		LastSuccessAt: ptr(ts("2026-03-25T10:00:00Z"))})
	attempt := DeliveryAttempt{EndpointID: "ep_01JQ2Z8Y5V4N6T7R8S9A0B1C2M", URL: "https://example.com/hooks",
		DeliveryID: "dlv_01JQ2Z8Y5V4N6T7R8S9A0B1C2N", EventID: "evt_01JQ2Z8Y5V4N6T7R8S9A0B1C2P", EventType: BookingCreated,
		Attempt: 3, StatusCode: ptr(503), ErrorKind: "http_status", Error: "HTTP 503", At: ts("2026-03-25T10:05:00Z")}
	def("A delivery failed its Nth attempt (failure_threshold, HOOKBOOK_FAILING_AFTER): its endpoint is failing. At most one per endpoint per hour.",
		DeliveryFailingData{DeliveryAttempt: attempt, FailureThreshold: 3})
	exhausted := attempt
	exhausted.Attempt = 8
	def("A delivery failed its last attempt: it will not be retried (replay it once the endpoint works).", DeliveryExhaustedData{exhausted})
	recovered := attempt
	recovered.Attempt, recovered.StatusCode, recovered.ErrorKind, recovered.Error = 4, ptr(200), "", ""
	def("The first successful attempt to an endpoint reported failing (delivery.failing).", DeliveryRecoveredData{recovered})
	change := EndpointChange{EndpointID: "ep_01JQ2Z8Y5V4N6T7R8S9A0B1C2M", Type: "webhook", URL: "https://example.com/hooks",
		Description: "Bookings to the CRM", Events: []string{"booking.*"}, Enabled: true, At: ts("2026-03-24T09:00:00Z")}
	def("An endpoint was created.", EndpointCreatedData{change})
	def("An endpoint's settings changed (data shows them after the change).", EndpointUpdatedData{change})
	deleted := change
	deleted.Enabled = false
	def("An endpoint was deleted.", EndpointDeletedData{deleted})
	def("A test event sent on request to one endpoint.", WebhookTestData{EndpointID: "ep_01JQ2Z8Y5V4N6T7R8S9A0B1C2M", Message: TestMessage})
}

// TestMessage is the message of every webhook.test event.
const TestMessage = "This is a test event from hookbook."
