package booking

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/db"
	"github.com/hookbook/hookbook/internal/event"
	"github.com/hookbook/hookbook/internal/ids"
)

// Payment is money paid (or not) for a booking.
type Payment struct {
	ID             string    `json:"id"`
	BookingID      string    `json:"booking_id"`
	Amount         int64     `json:"amount"`
	Currency       string    `json:"currency"`
	Method         string    `json:"method"`
	Status         string    `json:"status"`
	RefundedAmount int64     `json:"refunded_amount"`
	ErrorCode      *string   `json:"error_code"`
	ErrorMessage   *string   `json:"error_message"`
	CreatedAt      time.Time `json:"created_at"`
}

func (p *Payment) data() event.Payment {
	return event.Payment{ID: p.ID, BookingID: p.BookingID, Amount: p.Amount, Currency: p.Currency, Method: p.Method,
		Status: p.Status, RefundedAmount: p.RefundedAmount, ErrorCode: p.ErrorCode, ErrorMessage: p.ErrorMessage,
		CreatedAt: event.At(p.CreatedAt)}
}

const paymentColumns = `id, booking_id, amount, currency, method, status, refunded_amount, error_code, error_message, created_at`

func scanPayment(row db.Scanner) (*Payment, error) {
	var p Payment
	var code, msg sql.NullString
	var c int64
	if err := row.Scan(&p.ID, &p.BookingID, &p.Amount, &p.Currency, &p.Method, &p.Status, &p.RefundedAmount, &code, &msg, &c); err != nil {
		return nil, err
	}
	if code.Valid {
		p.ErrorCode = &code.String
	}
	if msg.Valid {
		p.ErrorMessage = &msg.String
	}
	p.CreatedAt = db.Time(c)
	return &p, nil
}

// MaxAmount bounds every amount in minor units a client gives (a service's
// price, a payment, a refund): a booking's total, at most MaxAmount ×
// MaxParticipants, stays below 2^53, so the data of every event holds its
// amounts exactly for JavaScript receivers.
const MaxAmount = 1_000_000_000_000

// Checked when compiled: a negative constant cannot be a uint64.
const _ uint64 = event.MaxSafeInteger - MaxAmount*MaxParticipants

// checkAmount refuses an amount below min or above MaxAmount under field.
func checkAmount(f hookbook.Fields, field string, v, min int64) {
	switch {
	case v < min && min == 0:
		f.Add(field, "must not be negative (minor units)")
	case v < min:
		f.Add(field, "must be positive (minor units)")
	case v > MaxAmount:
		f.Add(field, fmt.Sprintf("must be at most %d (minor units)", MaxAmount))
	}
}

// PaymentInput records a payment attempt.
type PaymentInput struct {
	BookingID    *string `json:"booking_id"`
	Amount       *int64  `json:"amount"`
	Currency     *string `json:"currency"`
	Method       *string `json:"method"`
	Status       *string `json:"status"`
	ErrorCode    *string `json:"error_code"`
	ErrorMessage *string `json:"error_message"`
}

// CreatePayment records a succeeded or failed payment and publishes
// payment.succeeded or payment.failed.
func (d *Domain) CreatePayment(ctx context.Context, orgID string, in PaymentInput) (*Payment, error) {
	f := hookbook.Fields{}
	p := &Payment{BookingID: required(f, "booking_id", in.BookingID, 64), Method: "card"}
	if in.Amount == nil {
		f.Add("amount", "is required (minor units)")
	} else {
		checkAmount(f, "amount", *in.Amount, 1)
		p.Amount = *in.Amount
	}
	if in.Method != nil {
		p.Method = required(f, "method", in.Method, 50)
	}
	status := ""
	if in.Status != nil {
		status = *in.Status
	}
	switch status {
	case "succeeded":
	case "failed":
		code := optional(f, "error_code", in.ErrorCode, 100)
		msg := optional(f, "error_message", in.ErrorMessage, 1000)
		if code == "" {
			f.Add("error_code", "is required for a failed payment")
		}
		p.ErrorCode, p.ErrorMessage = &code, &msg
	default:
		f.Add("status", `must be "succeeded" or "failed"`)
	}
	p.Status = status
	if in.Currency != nil {
		c := strings.ToUpper(strings.TrimSpace(*in.Currency))
		if !currencyPattern.MatchString(c) {
			f.Add("currency", "must be an ISO 4217 code such as USD")
		}
		p.Currency = c
	}
	if err := f.Err(); err != nil {
		return nil, err
	}
	err := d.DB.Tx(ctx, func(tx *db.Tx) error {
		b, err := lockBooking(ctx, tx, orgID, p.BookingID)
		if err != nil {
			return err
		}
		if p.Currency == "" {
			p.Currency = b.Currency
		} else if p.Currency != b.Currency {
			return &hookbook.Error{Kind: hookbook.EValidation, Code: "validation_failed", Message: "the request has invalid fields",
				Details: map[string]string{"currency": "must be the booking's currency, " + b.Currency}}
		}
		p.ID, p.CreatedAt = ids.New("pay"), d.now().Truncate(time.Second)
		if _, err := tx.ExecContext(ctx, `INSERT INTO payments (id, organization_id, booking_id, amount, currency, method, status,
			error_code, error_message, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			p.ID, orgID, p.BookingID, p.Amount, p.Currency, p.Method, p.Status, p.ErrorCode, p.ErrorMessage, db.Micros(p.CreatedAt)); err != nil {
			return err
		}
		if p.Status == "failed" {
			return d.publish(ctx, tx, orgID, event.PaymentFailedData{Payment: p.data()})
		}
		return d.publish(ctx, tx, orgID, event.PaymentSucceededData{Payment: p.data()})
	})
	return p, err
}

// Payment returns an organization's payment.
func (d *Domain) Payment(ctx context.Context, orgID, id string) (*Payment, error) {
	p, err := scanPayment(d.DB.QueryRowContext(ctx, `SELECT `+paymentColumns+` FROM payments WHERE id = $1 AND organization_id = $2`, id, orgID))
	return p, notFound(err, "payment")
}

// Payments lists an organization's payments.
func (d *Domain) Payments(ctx context.Context, orgID string, p Page) ([]*Payment, string, error) {
	return listQuery(ctx, d.DB, `SELECT `+paymentColumns+` FROM payments WHERE organization_id = $1`, p,
		scanPayment, func(x *Payment) string { return x.ID }, orgID)
}

// Refund returns amount (all that is left when nil) of a succeeded payment
// and publishes payment.refunded. More than was paid is never refunded.
func (d *Domain) Refund(ctx context.Context, orgID, id string, amount *int64) (*Payment, error) {
	if amount != nil {
		f := hookbook.Fields{}
		checkAmount(f, "amount", *amount, 1)
		if err := f.Err(); err != nil {
			return nil, err
		}
	}
	err := d.DB.Tx(ctx, func(tx *db.Tx) error {
		p, err := scanPayment(tx.QueryRowContext(ctx, `SELECT `+paymentColumns+` FROM payments WHERE id = $1 AND organization_id = $2`+tx.ForUpdate(), id, orgID))
		if err != nil {
			return notFound(err, "payment")
		}
		return d.refund(ctx, tx, orgID, p, amount)
	})
	if err != nil {
		return nil, err
	}
	return d.Payment(ctx, orgID, id)
}

func (d *Domain) refund(ctx context.Context, tx *db.Tx, orgID string, p *Payment, amount *int64) error {
	if p.Status == "failed" {
		return conflict("payment_not_refundable", "a failed payment cannot be refunded")
	}
	left := p.Amount - p.RefundedAmount
	n := left
	if amount != nil {
		n = *amount
	}
	if left <= 0 {
		return conflict("payment_fully_refunded", "the payment was refunded in full already")
	}
	if n > left {
		return conflict("refund_exceeds_payment", "only %d of the payment is left to refund", left)
	}
	p.RefundedAmount += n
	p.Status = "partially_refunded"
	if p.RefundedAmount == p.Amount {
		p.Status = "refunded"
	}
	if _, err := tx.ExecContext(ctx, `UPDATE payments SET refunded_amount = $1, status = $2 WHERE id = $3`, p.RefundedAmount, p.Status, p.ID); err != nil {
		return err
	}
	return d.publish(ctx, tx, orgID, event.PaymentRefundedData{Payment: p.data(), RefundAmount: n})
}

// refundBooking refunds amount across a booking's succeeded payments, oldest first.
func (d *Domain) refundBooking(ctx context.Context, tx *db.Tx, orgID, bookingID string, amount int64) error {
	rows, err := tx.QueryContext(ctx, `SELECT `+paymentColumns+` FROM payments WHERE booking_id = $1 AND status IN ('succeeded', 'partially_refunded') ORDER BY id`, bookingID)
	if err != nil {
		return err
	}
	var pays []*Payment
	var paid int64
	for rows.Next() {
		p, err := scanPayment(rows)
		if err != nil {
			rows.Close()
			return err
		}
		pays = append(pays, p)
		paid += p.Amount - p.RefundedAmount
	}
	rows.Close()
	if amount > paid {
		return conflict("refund_exceeds_payment", "only %d was paid and not refunded for this booking", paid)
	}
	for _, p := range pays {
		if amount == 0 {
			break
		}
		n := min(amount, p.Amount-p.RefundedAmount)
		if err := d.refund(ctx, tx, orgID, p, &n); err != nil {
			return err
		}
		amount -= n
	}
	return nil
}

// Review is a customer's rating of a completed booking.
type Review struct {
	ID         string    `json:"id"`
	BookingID  string    `json:"booking_id"`
	CustomerID string    `json:"customer_id"`
	Rating     int       `json:"rating"`
	Comment    string    `json:"comment"`
	CreatedAt  time.Time `json:"created_at"`
}

// ReviewInput creates a review.
type ReviewInput struct {
	BookingID *string `json:"booking_id"`
	Rating    *int    `json:"rating"`
	Comment   *string `json:"comment"`
}

// CreateReview records one review of a completed booking and publishes review.created.
func (d *Domain) CreateReview(ctx context.Context, orgID string, in ReviewInput) (*Review, error) {
	f := hookbook.Fields{}
	r := &Review{BookingID: required(f, "booking_id", in.BookingID, 64), Comment: optional(f, "comment", in.Comment, 5000)}
	if in.Rating == nil || *in.Rating < 1 || *in.Rating > 5 {
		f.Add("rating", "must be a whole number from 1 to 5")
	} else {
		r.Rating = *in.Rating
	}
	if err := f.Err(); err != nil {
		return nil, err
	}
	err := d.DB.Tx(ctx, func(tx *db.Tx) error {
		b, err := lockBooking(ctx, tx, orgID, r.BookingID)
		if err != nil {
			return err
		}
		if b.Status != Completed {
			return conflict("booking_not_completed", "only a completed booking can be reviewed; this one is %s", b.Status)
		}
		var existing string
		if err := tx.QueryRowContext(ctx, `SELECT id FROM reviews WHERE booking_id = $1`, b.ID).Scan(&existing); err == nil {
			return conflict("review_exists", "the booking has a review already: %s", existing)
		}
		r.ID, r.CustomerID, r.CreatedAt = ids.New("rev"), b.CustomerID, d.now().Truncate(time.Second)
		if _, err := tx.ExecContext(ctx, `INSERT INTO reviews (id, organization_id, booking_id, customer_id, rating, comment, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, r.ID, orgID, r.BookingID, r.CustomerID, r.Rating, r.Comment, db.Micros(r.CreatedAt)); err != nil {
			return err
		}
		return d.publish(ctx, tx, orgID, event.ReviewCreatedData{ID: r.ID, BookingID: r.BookingID, CustomerID: r.CustomerID,
			Rating: r.Rating, Comment: r.Comment, CreatedAt: event.At(r.CreatedAt)})
	})
	return r, err
}

// Reviews lists an organization's reviews.
func (d *Domain) Reviews(ctx context.Context, orgID string, p Page) ([]*Review, string, error) {
	return listQuery(ctx, d.DB, `SELECT id, booking_id, customer_id, rating, comment, created_at FROM reviews WHERE organization_id = $1`, p,
		func(row db.Scanner) (*Review, error) {
			var r Review
			var c int64
			if err := row.Scan(&r.ID, &r.BookingID, &r.CustomerID, &r.Rating, &r.Comment, &c); err != nil {
				return nil, err
			}
			r.CreatedAt = db.Time(c)
			return &r, nil
		}, func(r *Review) string { return r.ID }, orgID)
}
