package event

import (
	"encoding/json"
	"time"
)

// Payload is the data of a built-in event: each type below is the one
// source of its event's shape. The catalog derives the JSON schema from the
// type (see schemaOf) and the example from a value of it, and the booking
// domain emits values of the same types.
type Payload interface {
	// EventType is the catalog name of the event the payload belongs to.
	EventType() string
}

// Time is a time written as TimeFormat in UTC ("2026-03-25T14:00:00Z").
type Time time.Time

// At converts t.
func At(t time.Time) Time { return Time(t) }

// MarshalJSON writes the time as TimeFormat in UTC.
func (t Time) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Time(t).UTC().Format(TimeFormat))
}

// Struct tags read by schemaOf besides json: pattern, enum (comma-separated),
// minimum, maximum and minProperties. A field with omitempty is optional; a
// pointer field may be null.

// Ref names another resource.
type Ref struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Booking is the booking part of every booking.* event.
type Booking struct {
	ID      string `json:"id" pattern:"^bkg_"`
	Status  string `json:"status" enum:"pending,confirmed,rejected,cancelled,completed,no_show"`
	Service struct {
		ID   string `json:"id" pattern:"^svc_"`
		Name string `json:"name"`
	} `json:"service"`
	SlotID   string `json:"slot_id" pattern:"^slot_"`
	Customer struct {
		ID    string `json:"id" pattern:"^cus_"`
		Name  string `json:"name"`
		Email string `json:"email"`
	} `json:"customer"`
	StartsAt     Time   `json:"starts_at"`
	EndsAt       Time   `json:"ends_at"`
	Participants int    `json:"participants" minimum:"1"`
	Notes        string `json:"notes"`
	Location     string `json:"location"`
	TotalAmount  int64  `json:"total_amount"`
	Currency     string `json:"currency"`
	CreatedAt    Time   `json:"created_at"`
	UpdatedAt    Time   `json:"updated_at"`
}

// BookingCreatedData is the data of booking.created.
type BookingCreatedData struct{ Booking }

// BookingConfirmedData is the data of booking.confirmed.
type BookingConfirmedData struct {
	Booking
	ConfirmedAt Time `json:"confirmed_at"`
}

// BookingRejectedData is the data of booking.rejected.
type BookingRejectedData struct {
	Booking
	Reason     string `json:"reason"`
	RejectedAt Time   `json:"rejected_at"`
}

// Change is a field's old and new value.
type Change[T any] struct {
	Old T `json:"old"`
	New T `json:"new"`
}

// BookingUpdatedData is the data of booking.updated: changes holds only
// the fields that changed.
type BookingUpdatedData struct {
	Booking
	Changes struct {
		Participants *Change[int]    `json:"participants,omitempty"`
		TotalAmount  *Change[int64]  `json:"total_amount,omitempty"`
		Notes        *Change[string] `json:"notes,omitempty"`
	} `json:"changes" minProperties:"1"`
}

// BookingRescheduledData is the data of booking.rescheduled.
type BookingRescheduledData struct {
	Booking
	Previous struct {
		SlotID   string `json:"slot_id" pattern:"^slot_"`
		StartsAt Time   `json:"starts_at"`
		EndsAt   Time   `json:"ends_at"`
	} `json:"previous"`
}

// BookingCancelledData is the data of booking.cancelled.
type BookingCancelledData struct {
	Booking
	Reason       string `json:"reason"`
	CancelledAt  Time   `json:"cancelled_at"`
	RefundAmount *int64 `json:"refund_amount"`
}

// BookingCompletedData is the data of booking.completed.
type BookingCompletedData struct {
	Booking
	CompletedAt Time `json:"completed_at"`
}

// BookingNoShowData is the data of booking.no_show.
type BookingNoShowData struct {
	Booking
	MarkedAt Time `json:"marked_at"`
}

// BookingReminderData is the data of booking.reminder.
type BookingReminderData struct {
	Booking
	Offset string `json:"offset"`
}

// BookingFollowUpData is the data of booking.follow_up.
type BookingFollowUpData struct {
	Booking
	Offset string `json:"offset"`
}

// Payment is the data of the payment.* events.
type Payment struct {
	ID             string  `json:"id" pattern:"^pay_"`
	BookingID      string  `json:"booking_id" pattern:"^bkg_"`
	Amount         int64   `json:"amount"`
	Currency       string  `json:"currency"`
	Method         string  `json:"method"`
	Status         string  `json:"status" enum:"succeeded,failed,refunded,partially_refunded"`
	RefundedAmount int64   `json:"refunded_amount"`
	ErrorCode      *string `json:"error_code"`
	ErrorMessage   *string `json:"error_message"`
	CreatedAt      Time    `json:"created_at"`
}

// PaymentSucceededData is the data of payment.succeeded.
type PaymentSucceededData struct{ Payment }

// PaymentFailedData is the data of payment.failed.
type PaymentFailedData struct{ Payment }

// PaymentRefundedData is the data of payment.refunded: RefundAmount is this
// refund, RefundedAmount the total so far.
type PaymentRefundedData struct {
	Payment
	RefundAmount int64 `json:"refund_amount"`
}

// CustomerCreatedData is the data of customer.created.
type CustomerCreatedData struct {
	ID        string `json:"id" pattern:"^cus_"`
	Name      string `json:"name"`
	Email     string `json:"email"`
	Phone     string `json:"phone"`
	CreatedAt Time   `json:"created_at"`
}

// SlotCreatedData is the data of slot.created.
type SlotCreatedData struct {
	ID        string `json:"id" pattern:"^slot_"`
	ServiceID string `json:"service_id" pattern:"^svc_"`
	StartsAt  Time   `json:"starts_at"`
	EndsAt    Time   `json:"ends_at"`
	Capacity  int    `json:"capacity"`
	CreatedAt Time   `json:"created_at"`
}

// ReviewCreatedData is the data of review.created.
type ReviewCreatedData struct {
	ID         string `json:"id" pattern:"^rev_"`
	BookingID  string `json:"booking_id" pattern:"^bkg_"`
	CustomerID string `json:"customer_id" pattern:"^cus_"`
	Rating     int    `json:"rating" minimum:"1" maximum:"5"`
	Comment    string `json:"comment"`
	CreatedAt  Time   `json:"created_at"`
}

// CommunityEvent is the community event of the community_event.* events.
type CommunityEvent struct {
	ID                string `json:"id" pattern:"^cev_"`
	Slug              string `json:"slug"`
	Title             string `json:"title"`
	StartsAt          Time   `json:"starts_at"`
	ApprovalsRequired int    `json:"approvals_required"`
	ApprovalsCount    int    `json:"approvals_count"`
	Status            string `json:"status" enum:"pending,active"`
}

// CommunityEventApprovedData is the data of community_event.approved.
type CommunityEventApprovedData struct {
	CommunityEvent CommunityEvent `json:"community_event"`
	Approval       struct {
		FullName   string  `json:"full_name"`
		Email      *string `json:"email"`
		ApprovedAt Time    `json:"approved_at"`
	} `json:"approval"`
}

// CommunityEventActivatedData is the data of community_event.activated.
type CommunityEventActivatedData struct {
	CommunityEvent CommunityEvent `json:"community_event"`
	ActivatedAt    Time           `json:"activated_at"`
}

// EndpointDisabledData is the data of endpoint.disabled.
type EndpointDisabledData struct {
	EndpointID    string `json:"endpoint_id" pattern:"^ep_"`
	URL           string `json:"url"`
	Reason        string `json:"reason"`
	DisabledAt    Time   `json:"disabled_at"`
	LastSuccessAt *Time  `json:"last_success_at"`
}

// DeliveryAttempt says which attempt of which delivery an operational
// event is about, and how it ended. It never carries a body, a header or
// a secret.
type DeliveryAttempt struct {
	EndpointID string `json:"endpoint_id" pattern:"^ep_"`
	// URL is the endpoint's URL, any password in it replaced.
	URL        string `json:"url"`
	DeliveryID string `json:"delivery_id" pattern:"^dlv_"`
	EventID    string `json:"event_id" pattern:"^evt_"`
	EventType  string `json:"event_type"`
	Attempt    int    `json:"attempt"`
	// StatusCode is the answer's HTTP status, null when none came.
	StatusCode *int `json:"status_code"`
	// ErrorKind is timeout, connection_refused, dns, tls, blocked,
	// network, http_status, redirect, transformation_error or other; ""
	// on success.
	ErrorKind string `json:"error_kind"`
	Error     string `json:"error"`
	At        Time   `json:"at"`
}

// DeliveryFailingData is the data of delivery.failing.
type DeliveryFailingData struct {
	DeliveryAttempt
	// FailureThreshold is the attempt number that reports a delivery failing.
	FailureThreshold int `json:"failure_threshold"`
}

// DeliveryExhaustedData is the data of delivery.exhausted.
type DeliveryExhaustedData struct {
	DeliveryAttempt
}

// DeliveryRecoveredData is the data of delivery.recovered.
type DeliveryRecoveredData struct {
	DeliveryAttempt
}

// EndpointChange is an endpoint as the endpoint.created, .updated and
// .deleted events show it: never its secret, headers, config or
// transformation, and its URL with any password replaced.
type EndpointChange struct {
	EndpointID  string   `json:"endpoint_id" pattern:"^ep_"`
	Type        string   `json:"type"`
	URL         string   `json:"url"`
	Description string   `json:"description"`
	Events      []string `json:"events"`
	Enabled     bool     `json:"enabled"`
	At          Time     `json:"at"`
}

// EndpointCreatedData is the data of endpoint.created.
type EndpointCreatedData struct{ EndpointChange }

// EndpointUpdatedData is the data of endpoint.updated.
type EndpointUpdatedData struct{ EndpointChange }

// EndpointDeletedData is the data of endpoint.deleted.
type EndpointDeletedData struct{ EndpointChange }

// WebhookTestData is the data of webhook.test.
type WebhookTestData struct {
	EndpointID string `json:"endpoint_id" pattern:"^ep_"`
	Message    string `json:"message"`
}

func (BookingCreatedData) EventType() string          { return BookingCreated }
func (BookingConfirmedData) EventType() string        { return BookingConfirmed }
func (BookingRejectedData) EventType() string         { return BookingRejected }
func (BookingUpdatedData) EventType() string          { return BookingUpdated }
func (BookingRescheduledData) EventType() string      { return BookingRescheduled }
func (BookingCancelledData) EventType() string        { return BookingCancelled }
func (BookingCompletedData) EventType() string        { return BookingCompleted }
func (BookingNoShowData) EventType() string           { return BookingNoShow }
func (BookingReminderData) EventType() string         { return BookingReminder }
func (BookingFollowUpData) EventType() string         { return BookingFollowUp }
func (PaymentSucceededData) EventType() string        { return PaymentSucceeded }
func (PaymentFailedData) EventType() string           { return PaymentFailed }
func (PaymentRefundedData) EventType() string         { return PaymentRefunded }
func (CustomerCreatedData) EventType() string         { return CustomerCreated }
func (SlotCreatedData) EventType() string             { return SlotCreated }
func (ReviewCreatedData) EventType() string           { return ReviewCreated }
func (CommunityEventApprovedData) EventType() string  { return CommunityEventApproved }
func (CommunityEventActivatedData) EventType() string { return CommunityEventActivated }
func (EndpointDisabledData) EventType() string        { return EndpointDisabled }
func (WebhookTestData) EventType() string             { return WebhookTest }
func (DeliveryFailingData) EventType() string         { return DeliveryFailing }
func (DeliveryExhaustedData) EventType() string       { return DeliveryExhausted }
func (DeliveryRecoveredData) EventType() string       { return DeliveryRecovered }
func (EndpointCreatedData) EventType() string         { return EndpointCreated }
func (EndpointUpdatedData) EventType() string         { return EndpointUpdated }
func (EndpointDeletedData) EventType() string         { return EndpointDeleted }
