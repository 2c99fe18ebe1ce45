package booking

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/db"
	"github.com/hookbook/hookbook/internal/event"
	"github.com/hookbook/hookbook/internal/ids"
)

// Booking is a customer's place in a slot.
type Booking struct {
	ID           string    `json:"id"`
	Status       string    `json:"status"`
	ServiceID    string    `json:"service_id"`
	ServiceName  string    `json:"service_name"`
	SlotID       string    `json:"slot_id"`
	CustomerID   string    `json:"customer_id"`
	CustomerName string    `json:"customer_name"`
	Email        string    `json:"customer_email"`
	StartsAt     time.Time `json:"starts_at"`
	EndsAt       time.Time `json:"ends_at"`
	Participants int       `json:"participants"`
	Notes        string    `json:"notes"`
	Location     string    `json:"location"`
	TotalAmount  int64     `json:"total_amount"`
	Currency     string    `json:"currency"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// data is the booking part of every booking.* event.
func (b *Booking) data() event.Booking {
	p := event.Booking{ID: b.ID, Status: b.Status, SlotID: b.SlotID, StartsAt: event.At(b.StartsAt), EndsAt: event.At(b.EndsAt),
		Participants: b.Participants, Notes: b.Notes, Location: b.Location, TotalAmount: b.TotalAmount, Currency: b.Currency,
		CreatedAt: event.At(b.CreatedAt), UpdatedAt: event.At(b.UpdatedAt)}
	p.Service.ID, p.Service.Name = b.ServiceID, b.ServiceName
	p.Customer.ID, p.Customer.Name, p.Customer.Email = b.CustomerID, b.CustomerName, b.Email
	return p
}

const bookingSelect = `SELECT b.id, b.status, b.service_id, s.name, s.location, b.slot_id, b.customer_id, c.name, c.email,
	b.starts_at, b.ends_at, b.participants, b.notes, b.total_amount, b.currency, b.created_at, b.updated_at
	FROM bookings b JOIN services s ON s.id = b.service_id JOIN customers c ON c.id = b.customer_id`

func scanBooking(row db.Scanner) (*Booking, error) {
	var b Booking
	var st, en, c, u int64
	if err := row.Scan(&b.ID, &b.Status, &b.ServiceID, &b.ServiceName, &b.Location, &b.SlotID, &b.CustomerID, &b.CustomerName, &b.Email,
		&st, &en, &b.Participants, &b.Notes, &b.TotalAmount, &b.Currency, &c, &u); err != nil {
		return nil, err
	}
	b.StartsAt, b.EndsAt, b.CreatedAt, b.UpdatedAt = db.Time(st), db.Time(en), db.Time(c), db.Time(u)
	return &b, nil
}

// Booking returns an organization's booking.
func (d *Domain) Booking(ctx context.Context, orgID, id string) (*Booking, error) {
	b, err := scanBooking(d.DB.QueryRowContext(ctx, bookingSelect+` WHERE b.id = $1 AND b.organization_id = $2`, id, orgID))
	return b, notFound(err, "booking")
}

// lockBooking reads a booking inside tx, locking it on PostgreSQL.
func lockBooking(ctx context.Context, tx *db.Tx, orgID, id string) (*Booking, error) {
	if lock := tx.ForUpdate(); lock != "" {
		if _, err := tx.ExecContext(ctx, `SELECT id FROM bookings WHERE id = $1`+lock, id); err != nil {
			return nil, err
		}
	}
	b, err := scanBooking(tx.QueryRowContext(ctx, bookingSelect+` WHERE b.id = $1 AND b.organization_id = $2`, id, orgID))
	return b, notFound(err, "booking")
}

// Bookings lists an organization's bookings, optionally of one status.
func (d *Domain) Bookings(ctx context.Context, orgID, status string, p Page) ([]*Booking, string, error) {
	q := bookingSelect + ` WHERE b.organization_id = $1 AND ($2 = '' OR b.status = $2)`
	rows, err := d.DB.QueryContext(ctx, q+` AND ($3 = '' OR b.id < $3) ORDER BY b.id DESC LIMIT $4`, orgID, status, p.Cursor, p.Limit+1)
	if err != nil {
		return nil, "", err
	}
	defer rows.Close()
	var out []*Booking
	for rows.Next() {
		b, err := scanBooking(rows)
		if err != nil {
			return nil, "", err
		}
		out = append(out, b)
	}
	if len(out) > p.Limit {
		return out[:p.Limit], out[p.Limit-1].ID, rows.Err()
	}
	return out, "", rows.Err()
}

// BookingInput creates a booking: a slot, and a known customer or an inline one.
type BookingInput struct {
	SlotID       *string        `json:"slot_id"`
	CustomerID   *string        `json:"customer_id"`
	Customer     *CustomerInput `json:"customer"`
	Participants *int           `json:"participants"`
	Notes        *string        `json:"notes"`
}

// MaxParticipants bounds one booking.
const MaxParticipants = 1000

// CreateBooking books a slot and publishes booking.created (and
// customer.created for an inline customer whose email is new). The booking
// is pending when its service requires approval, else confirmed. A slot
// never holds more participants than its capacity, even under concurrent
// requests, and no booking starts inside a planner block.
func (d *Domain) CreateBooking(ctx context.Context, orgID string, in BookingInput) (*Booking, error) {
	f := hookbook.Fields{}
	slotID := required(f, "slot_id", in.SlotID, 64)
	participants := 1
	if in.Participants != nil {
		participants = *in.Participants
		if participants < 1 || participants > MaxParticipants {
			f.Add("participants", "must be between 1 and 1000")
		}
	}
	notes := optional(f, "notes", in.Notes, 2000)
	var inline *Customer
	switch {
	case in.CustomerID != nil && in.Customer != nil:
		f.Add("customer", "give customer_id or customer, not both")
	case in.CustomerID != nil:
	case in.Customer != nil:
		inline = in.Customer.validate(f, "customer.")
	default:
		f.Add("customer_id", "is required (or an inline customer with name and email)")
	}
	if err := f.Err(); err != nil {
		return nil, err
	}
	var id string
	err := d.DB.Tx(ctx, func(tx *db.Tx) error {
		now := d.now()
		slot, svc, err := d.bookableSlot(ctx, tx, orgID, slotID)
		if err != nil {
			return err
		}
		var customerID string
		if inline != nil {
			c, err := findCustomer(ctx, tx, orgID, inline.Email)
			if err != nil {
				return err
			}
			if c == nil {
				if err := d.insertCustomer(ctx, tx, orgID, inline, now); err != nil {
					return err
				}
				c = inline
			}
			customerID = c.ID
		} else {
			if err := tx.QueryRowContext(ctx, `SELECT id FROM customers WHERE id = $1 AND organization_id = $2`, *in.CustomerID, orgID).Scan(&customerID); err != nil {
				return notFound(err, "customer")
			}
		}
		if err := take(ctx, tx, slot.ID, participants); err != nil {
			return err
		}
		status := Confirmed
		if svc.RequiresApproval {
			status = Pending
		}
		id = ids.New("bkg")
		if _, err := tx.ExecContext(ctx, `INSERT INTO bookings (id, organization_id, service_id, slot_id, customer_id, status,
			participants, notes, total_amount, currency, starts_at, ends_at, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13)`,
			id, orgID, svc.ID, slot.ID, customerID, status, participants, notes, svc.Price*int64(participants), svc.Currency,
			db.Micros(slot.StartsAt), db.Micros(slot.EndsAt), db.Micros(now.Truncate(time.Second))); err != nil {
			return err
		}
		return d.publishBooking(ctx, tx, orgID, id, func(b event.Booking) event.Payload { return event.BookingCreatedData{Booking: b} })
	})
	if err != nil {
		return nil, err
	}
	return d.Booking(ctx, orgID, id)
}

// publishBooking publishes the event that wrap makes of the booking as it
// stands in tx.
func (d *Domain) publishBooking(ctx context.Context, tx *db.Tx, orgID, id string, wrap func(event.Booking) event.Payload) error {
	b, err := lockBooking(ctx, tx, orgID, id)
	if err != nil {
		return err
	}
	return d.publish(ctx, tx, orgID, wrap(b.data()))
}

// bookableSlot returns a slot and its service, refusing slots that start
// inside a planner block.
func (d *Domain) bookableSlot(ctx context.Context, tx *db.Tx, orgID, slotID string) (*Slot, *Service, error) {
	slot, err := scanSlot(tx.QueryRowContext(ctx, `SELECT `+slotColumns+` FROM slots WHERE id = $1 AND organization_id = $2 AND deleted_at IS NULL`, slotID, orgID))
	if err != nil {
		return nil, nil, notFound(err, "slot")
	}
	svc, err := scanService(tx.QueryRowContext(ctx, `SELECT `+serviceColumns+` FROM services WHERE id = $1`, slot.ServiceID))
	if err != nil {
		return nil, nil, notFound(err, "service")
	}
	var block string
	err = tx.QueryRowContext(ctx, `SELECT id FROM planner_blocks WHERE organization_id = $1 AND starts_at <= $2 AND ends_at > $2 LIMIT 1`,
		orgID, db.Micros(slot.StartsAt)).Scan(&block)
	if err == nil {
		return nil, nil, conflict("slot_blocked", "the slot starts inside planner block %s", block)
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return nil, nil, err
	}
	return slot, svc, nil
}

// take reserves n places in a slot in one conditional UPDATE, so concurrent
// bookings can never overfill it.
func take(ctx context.Context, tx *db.Tx, slotID string, n int) error {
	res, err := tx.ExecContext(ctx, `UPDATE slots SET booked = booked + $1 WHERE id = $2 AND booked + $1 <= capacity`, n, slotID)
	if err != nil {
		return err
	}
	if k, _ := res.RowsAffected(); k == 0 {
		return conflict("slot_full", "the slot has fewer than %d places left", n)
	}
	return nil
}

func release(ctx context.Context, tx *db.Tx, slotID string, n int) error {
	_, err := tx.ExecContext(ctx, `UPDATE slots SET booked = CASE WHEN booked > $1 THEN booked - $1 ELSE 0 END WHERE id = $2`, n, slotID)
	return err
}

// transition moves a booking from one of from to status and publishes typ
// with extra fields, after change (which may be nil) ran in the transaction.
func (d *Domain) transition(ctx context.Context, orgID, id string, from []string, status string,
	change func(tx *db.Tx, b *Booking) (func(event.Booking) event.Payload, error)) (*Booking, error) {
	err := d.DB.Tx(ctx, func(tx *db.Tx) error {
		b, err := lockBooking(ctx, tx, orgID, id)
		if err != nil {
			return err
		}
		allowed := false
		for _, s := range from {
			allowed = allowed || b.Status == s
		}
		if !allowed {
			return conflict("invalid_transition", "a %s booking cannot become %s", b.Status, status)
		}
		wrap, err := change(tx, b)
		if err != nil {
			return err
		}
		now := d.now()
		if _, err := tx.ExecContext(ctx, `UPDATE bookings SET status = $1, updated_at = $2 WHERE id = $3`, status, db.Micros(now), id); err != nil {
			return err
		}
		return d.publishBooking(ctx, tx, orgID, id, wrap)
	})
	if err != nil {
		return nil, err
	}
	return d.Booking(ctx, orgID, id)
}

func (d *Domain) stampNow() event.Time { return event.At(d.now()) }

// Confirm approves a pending booking.
func (d *Domain) Confirm(ctx context.Context, orgID, id string) (*Booking, error) {
	return d.transition(ctx, orgID, id, []string{Pending}, Confirmed,
		func(*db.Tx, *Booking) (func(event.Booking) event.Payload, error) {
			return func(b event.Booking) event.Payload {
				return event.BookingConfirmedData{Booking: b, ConfirmedAt: d.stampNow()}
			}, nil
		})
}

// Reject turns a pending booking down and frees its places.
func (d *Domain) Reject(ctx context.Context, orgID, id, reason string) (*Booking, error) {
	return d.transition(ctx, orgID, id, []string{Pending}, Rejected,
		func(tx *db.Tx, b *Booking) (func(event.Booking) event.Payload, error) {
			return func(b event.Booking) event.Payload {
				return event.BookingRejectedData{Booking: b, Reason: reason, RejectedAt: d.stampNow()}
			}, release(ctx, tx, b.SlotID, b.Participants)
		})
}

// Complete marks a confirmed booking as having taken place.
func (d *Domain) Complete(ctx context.Context, orgID, id string) (*Booking, error) {
	return d.transition(ctx, orgID, id, []string{Confirmed}, Completed,
		func(*db.Tx, *Booking) (func(event.Booking) event.Payload, error) {
			return func(b event.Booking) event.Payload {
				return event.BookingCompletedData{Booking: b, CompletedAt: d.stampNow()}
			}, nil
		})
}

// MarkNoShow records that the customer of a confirmed booking did not come:
// only once the booking has started (409 booking_not_started before).
func (d *Domain) MarkNoShow(ctx context.Context, orgID, id string) (*Booking, error) {
	return d.transition(ctx, orgID, id, []string{Confirmed}, NoShow,
		func(_ *db.Tx, bk *Booking) (func(event.Booking) event.Payload, error) {
			if d.now().Before(bk.StartsAt) {
				return nil, conflict("booking_not_started", "a booking can be marked no-show only once it has started; this one starts at %s",
					bk.StartsAt.UTC().Format(time.RFC3339))
			}
			return func(b event.Booking) event.Payload {
				return event.BookingNoShowData{Booking: b, MarkedAt: d.stampNow()}
			}, nil
		})
}

// CancelInput cancels a booking; RefundAmount, when set, refunds that much
// of its succeeded payments.
type CancelInput struct {
	Reason       *string `json:"reason"`
	RefundAmount *int64  `json:"refund_amount"`
	// Email, when set, must be the booking customer's (public cancellations).
	Email string `json:"-"`
}

// Cancel cancels a pending or confirmed booking, frees its places and
// publishes booking.cancelled (and payment.refunded for a refund).
func (d *Domain) Cancel(ctx context.Context, orgID, id string, in CancelInput) (*Booking, error) {
	f := hookbook.Fields{}
	reason := optional(f, "reason", in.Reason, 1000)
	if in.RefundAmount != nil {
		checkAmount(f, "refund_amount", *in.RefundAmount, 1)
	}
	if err := f.Err(); err != nil {
		return nil, err
	}
	return d.transition(ctx, orgID, id, []string{Pending, Confirmed}, Cancelled,
		func(tx *db.Tx, b *Booking) (func(event.Booking) event.Payload, error) {
			if in.Email != "" && !strings.EqualFold(in.Email, b.Email) {
				return nil, hookbook.Errorf(hookbook.EForbidden, "email_mismatch", "the email does not match the booking's")
			}
			if in.RefundAmount != nil {
				if err := d.refundBooking(ctx, tx, orgID, b.ID, *in.RefundAmount); err != nil {
					return nil, err
				}
			}
			return func(b event.Booking) event.Payload {
				return event.BookingCancelledData{Booking: b, Reason: reason, CancelledAt: d.stampNow(), RefundAmount: in.RefundAmount}
			}, release(ctx, tx, b.SlotID, b.Participants)
		})
}

// RescheduleInput moves a booking to another slot.
type RescheduleInput struct {
	SlotID *string `json:"slot_id"`
	Email  string  `json:"-"` // when set, must be the customer's
}

// Reschedule moves a pending or confirmed booking to another slot of the
// same service, keeping its status, and publishes booking.rescheduled.
func (d *Domain) Reschedule(ctx context.Context, orgID, id string, in RescheduleInput) (*Booking, error) {
	f := hookbook.Fields{}
	slotID := required(f, "slot_id", in.SlotID, 64)
	if err := f.Err(); err != nil {
		return nil, err
	}
	err := d.DB.Tx(ctx, func(tx *db.Tx) error {
		b, err := lockBooking(ctx, tx, orgID, id)
		if err != nil {
			return err
		}
		if in.Email != "" && !strings.EqualFold(in.Email, b.Email) {
			return hookbook.Errorf(hookbook.EForbidden, "email_mismatch", "the email does not match the booking's")
		}
		if b.Status != Pending && b.Status != Confirmed {
			return conflict("invalid_transition", "a %s booking cannot be rescheduled", b.Status)
		}
		if slotID == b.SlotID {
			return conflict("same_slot", "the booking is already in that slot")
		}
		slot, svc, err := d.bookableSlot(ctx, tx, orgID, slotID)
		if err != nil {
			return err
		}
		if svc.ID != b.ServiceID {
			return &hookbook.Error{Kind: hookbook.EValidation, Code: "validation_failed", Message: "the request has invalid fields",
				Details: map[string]string{"slot_id": "belongs to another service"}}
		}
		if err := take(ctx, tx, slot.ID, b.Participants); err != nil {
			return err
		}
		if err := release(ctx, tx, b.SlotID, b.Participants); err != nil {
			return err
		}
		var moved event.BookingRescheduledData
		moved.Previous.SlotID, moved.Previous.StartsAt, moved.Previous.EndsAt = b.SlotID, event.At(b.StartsAt), event.At(b.EndsAt)
		if _, err := tx.ExecContext(ctx, `UPDATE bookings SET slot_id = $1, starts_at = $2, ends_at = $3, updated_at = $4 WHERE id = $5`,
			slot.ID, db.Micros(slot.StartsAt), db.Micros(slot.EndsAt), db.Micros(d.now()), id); err != nil {
			return err
		}
		return d.publishBooking(ctx, tx, orgID, id, func(b event.Booking) event.Payload { moved.Booking = b; return moved })
	})
	if err != nil {
		return nil, err
	}
	return d.Booking(ctx, orgID, id)
}

// UpdateInput changes a booking's details.
type UpdateInput struct {
	Participants *int    `json:"participants"`
	Notes        *string `json:"notes"`
}

// Update changes the participants or notes of a pending or confirmed
// booking and publishes booking.updated with each change's old and new value.
func (d *Domain) Update(ctx context.Context, orgID, id string, in UpdateInput) (*Booking, error) {
	f := hookbook.Fields{}
	if in.Participants == nil && in.Notes == nil {
		f.Add("participants", "give participants or notes to change")
	}
	if in.Participants != nil && (*in.Participants < 1 || *in.Participants > MaxParticipants) {
		f.Add("participants", "must be between 1 and 1000")
	}
	notes := optional(f, "notes", in.Notes, 2000)
	if err := f.Err(); err != nil {
		return nil, err
	}
	err := d.DB.Tx(ctx, func(tx *db.Tx) error {
		b, err := lockBooking(ctx, tx, orgID, id)
		if err != nil {
			return err
		}
		if b.Status != Pending && b.Status != Confirmed {
			return conflict("invalid_transition", "a %s booking cannot be changed", b.Status)
		}
		var updated event.BookingUpdatedData
		changes := &updated.Changes
		changed := false
		participants, total := b.Participants, b.TotalAmount
		if in.Participants != nil && *in.Participants != b.Participants {
			delta := *in.Participants - b.Participants
			if delta > 0 {
				if err := take(ctx, tx, b.SlotID, delta); err != nil {
					return err
				}
			} else if err := release(ctx, tx, b.SlotID, -delta); err != nil {
				return err
			}
			participants = *in.Participants
			total = b.TotalAmount / int64(b.Participants) * int64(participants)
			changes.Participants = &event.Change[int]{Old: b.Participants, New: participants}
			changes.TotalAmount = &event.Change[int64]{Old: b.TotalAmount, New: total}
			changed = true
		}
		if in.Notes != nil && notes != b.Notes {
			changes.Notes = &event.Change[string]{Old: b.Notes, New: notes}
			changed = true
		} else {
			notes = b.Notes
		}
		if !changed {
			return nil // nothing changed: no event
		}
		if _, err := tx.ExecContext(ctx, `UPDATE bookings SET participants = $1, total_amount = $2, notes = $3, updated_at = $4 WHERE id = $5`,
			participants, total, notes, db.Micros(d.now()), id); err != nil {
			return err
		}
		return d.publishBooking(ctx, tx, orgID, id, func(b event.Booking) event.Payload { updated.Booking = b; return updated })
	})
	if err != nil {
		return nil, err
	}
	return d.Booking(ctx, orgID, id)
}
