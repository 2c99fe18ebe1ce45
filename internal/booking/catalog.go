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

// Service is something customers book.
type Service struct {
	ID               string    `json:"id"`
	Name             string    `json:"name"`
	DurationMinutes  int       `json:"duration_minutes"`
	Price            int64     `json:"price"`
	Currency         string    `json:"currency"`
	Capacity         int       `json:"capacity"`
	Location         string    `json:"location"`
	RequiresApproval bool      `json:"requires_approval"`
	CreatedAt        time.Time `json:"created_at"`
	UpdatedAt        time.Time `json:"updated_at"`
}

// ServiceInput creates or updates a service; nil fields are not given.
type ServiceInput struct {
	Name             *string `json:"name"`
	DurationMinutes  *int    `json:"duration_minutes"`
	Price            *int64  `json:"price"`
	Currency         *string `json:"currency"`
	Capacity         *int    `json:"capacity"`
	Location         *string `json:"location"`
	RequiresApproval *bool   `json:"requires_approval"`
}

const serviceColumns = `id, name, duration_minutes, price, currency, capacity, location, requires_approval, created_at, updated_at`

func scanService(row db.Scanner) (*Service, error) {
	var s Service
	var c, u int64
	if err := row.Scan(&s.ID, &s.Name, &s.DurationMinutes, &s.Price, &s.Currency, &s.Capacity, &s.Location, &s.RequiresApproval, &c, &u); err != nil {
		return nil, err
	}
	s.CreatedAt, s.UpdatedAt = db.Time(c), db.Time(u)
	return &s, nil
}

func (in ServiceInput) apply(s *Service, f hookbook.Fields, create bool) {
	if in.Name != nil || create {
		s.Name = required(f, "name", in.Name, 200)
	}
	if in.DurationMinutes != nil {
		if *in.DurationMinutes < 1 || *in.DurationMinutes > 24*60 {
			f.Add("duration_minutes", "must be between 1 and 1440")
		}
		s.DurationMinutes = *in.DurationMinutes
	} else if create {
		f.Add("duration_minutes", "is required")
	}
	if in.Price != nil {
		checkAmount(f, "price", *in.Price, 0)
		s.Price = *in.Price
	}
	if in.Currency != nil {
		c := strings.ToUpper(strings.TrimSpace(*in.Currency))
		if !currencyPattern.MatchString(c) {
			f.Add("currency", "must be an ISO 4217 code such as USD")
		}
		s.Currency = c
	}
	if in.Capacity != nil {
		if *in.Capacity < 1 || *in.Capacity > 100000 {
			f.Add("capacity", "must be between 1 and 100000")
		}
		s.Capacity = *in.Capacity
	}
	if in.Location != nil {
		s.Location = optional(f, "location", in.Location, 500)
	}
	if in.RequiresApproval != nil {
		s.RequiresApproval = *in.RequiresApproval
	}
}

// CreateService validates and stores a service.
func (d *Domain) CreateService(ctx context.Context, orgID string, in ServiceInput) (*Service, error) {
	s := &Service{Currency: "USD", Capacity: 1}
	f := hookbook.Fields{}
	in.apply(s, f, true)
	if err := f.Err(); err != nil {
		return nil, err
	}
	now := d.now()
	s.ID, s.CreatedAt, s.UpdatedAt = ids.New("svc"), now, now
	_, err := d.DB.ExecContext(ctx, `INSERT INTO services (id, organization_id, name, duration_minutes, price, currency,
		capacity, location, requires_approval, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)`,
		s.ID, orgID, s.Name, s.DurationMinutes, s.Price, s.Currency, s.Capacity, s.Location, s.RequiresApproval, db.Micros(now))
	return s, err
}

// Service returns an organization's service.
func (d *Domain) Service(ctx context.Context, orgID, id string) (*Service, error) {
	s, err := scanService(d.DB.QueryRowContext(ctx, `SELECT `+serviceColumns+` FROM services
		WHERE id = $1 AND organization_id = $2 AND deleted_at IS NULL`, id, orgID))
	return s, notFound(err, "service")
}

// Services lists an organization's services.
func (d *Domain) Services(ctx context.Context, orgID string, p Page) ([]*Service, string, error) {
	return listQuery(ctx, d.DB, `SELECT `+serviceColumns+` FROM services WHERE organization_id = $1 AND deleted_at IS NULL`, p,
		scanService, func(x *Service) string { return x.ID }, orgID)
}

// UpdateService changes the given fields of a service.
func (d *Domain) UpdateService(ctx context.Context, orgID, id string, in ServiceInput) (*Service, error) {
	s, err := d.Service(ctx, orgID, id)
	if err != nil {
		return nil, err
	}
	f := hookbook.Fields{}
	in.apply(s, f, false)
	if err := f.Err(); err != nil {
		return nil, err
	}
	s.UpdatedAt = d.now()
	_, err = d.DB.ExecContext(ctx, `UPDATE services SET name = $1, duration_minutes = $2, price = $3, currency = $4,
		capacity = $5, location = $6, requires_approval = $7, updated_at = $8 WHERE id = $9`,
		s.Name, s.DurationMinutes, s.Price, s.Currency, s.Capacity, s.Location, s.RequiresApproval, db.Micros(s.UpdatedAt), s.ID)
	return s, err
}

// DeleteService removes a service; its bookings stay.
func (d *Domain) DeleteService(ctx context.Context, orgID, id string) error {
	res, err := d.DB.ExecContext(ctx, `UPDATE services SET deleted_at = $1 WHERE id = $2 AND organization_id = $3 AND deleted_at IS NULL`,
		db.Micros(d.now()), id, orgID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return hookbook.NotFound("service")
	}
	return nil
}

// Slot is a time a service can be booked at.
type Slot struct {
	ID        string    `json:"id"`
	ServiceID string    `json:"service_id"`
	StartsAt  time.Time `json:"starts_at"`
	EndsAt    time.Time `json:"ends_at"`
	Capacity  int       `json:"capacity"`
	Booked    int       `json:"booked"`
	CreatedAt time.Time `json:"created_at"`
}

// SlotInput creates a slot.
type SlotInput struct {
	ServiceID *string `json:"service_id"`
	StartsAt  *string `json:"starts_at"`
	EndsAt    *string `json:"ends_at"`
	Capacity  *int    `json:"capacity"`
}

const slotColumns = `id, service_id, starts_at, ends_at, capacity, booked, created_at`

func scanSlot(row db.Scanner) (*Slot, error) {
	var s Slot
	var st, en, c int64
	if err := row.Scan(&s.ID, &s.ServiceID, &st, &en, &s.Capacity, &s.Booked, &c); err != nil {
		return nil, err
	}
	s.StartsAt, s.EndsAt, s.CreatedAt = db.Time(st), db.Time(en), db.Time(c)
	return &s, nil
}

func slotPayload(s *Slot) event.SlotCreatedData {
	return event.SlotCreatedData{ID: s.ID, ServiceID: s.ServiceID, StartsAt: event.At(s.StartsAt), EndsAt: event.At(s.EndsAt),
		Capacity: s.Capacity, CreatedAt: event.At(s.CreatedAt)}
}

// CreateSlot adds an availability slot and publishes slot.created.
func (d *Domain) CreateSlot(ctx context.Context, orgID string, in SlotInput) (*Slot, error) {
	f := hookbook.Fields{}
	serviceID := required(f, "service_id", in.ServiceID, 64)
	start, end := parseTime(f, "starts_at", in.StartsAt), parseTime(f, "ends_at", in.EndsAt)
	if !start.IsZero() && !end.IsZero() && !end.After(start) {
		f.Add("ends_at", "must be after starts_at")
	}
	if in.Capacity != nil && (*in.Capacity < 1 || *in.Capacity > 100000) {
		f.Add("capacity", "must be between 1 and 100000")
	}
	if err := f.Err(); err != nil {
		return nil, err
	}
	svc, err := d.Service(ctx, orgID, serviceID)
	if err != nil {
		return nil, err
	}
	slot := &Slot{ID: ids.New("slot"), ServiceID: svc.ID, StartsAt: start.Truncate(time.Second), EndsAt: end.Truncate(time.Second), Capacity: svc.Capacity, CreatedAt: d.now()}
	if in.Capacity != nil {
		slot.Capacity = *in.Capacity
	}
	err = d.DB.Tx(ctx, func(tx *db.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO slots (id, organization_id, service_id, starts_at, ends_at, capacity, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, slot.ID, orgID, slot.ServiceID, db.Micros(slot.StartsAt), db.Micros(slot.EndsAt), slot.Capacity, db.Micros(slot.CreatedAt)); err != nil {
			return err
		}
		return d.publish(ctx, tx, orgID, slotPayload(slot))
	})
	return slot, err
}

// Slot returns an organization's slot.
func (d *Domain) Slot(ctx context.Context, orgID, id string) (*Slot, error) {
	s, err := scanSlot(d.DB.QueryRowContext(ctx, `SELECT `+slotColumns+` FROM slots
		WHERE id = $1 AND organization_id = $2 AND deleted_at IS NULL`, id, orgID))
	return s, notFound(err, "slot")
}

// SlotFilter narrows a slot list.
type SlotFilter struct {
	ServiceID string
	From, To  time.Time // zero: unbounded
}

// Slots lists slots, newest first.
func (d *Domain) Slots(ctx context.Context, orgID string, f SlotFilter, p Page) ([]*Slot, string, error) {
	to := int64(1<<62 - 1)
	if !f.To.IsZero() {
		to = db.Micros(f.To)
	}
	return listQuery(ctx, d.DB, `SELECT `+slotColumns+` FROM slots WHERE organization_id = $1 AND deleted_at IS NULL
		AND ($2 = '' OR service_id = $2) AND starts_at >= $3 AND starts_at < $4`, p,
		scanSlot, func(s *Slot) string { return s.ID }, orgID, f.ServiceID, db.Micros(f.From), to)
}

// DeleteSlot removes a slot that holds no active booking.
func (d *Domain) DeleteSlot(ctx context.Context, orgID, id string) error {
	return d.DB.Tx(ctx, func(tx *db.Tx) error {
		var booked int
		err := tx.QueryRowContext(ctx, `SELECT booked FROM slots WHERE id = $1 AND organization_id = $2 AND deleted_at IS NULL`+tx.ForUpdate(),
			id, orgID).Scan(&booked)
		if err != nil {
			return notFound(err, "slot")
		}
		if booked > 0 {
			return conflict("slot_has_bookings", "the slot holds %d participants; cancel or reschedule their bookings first", booked)
		}
		_, err = tx.ExecContext(ctx, `UPDATE slots SET deleted_at = $1 WHERE id = $2`, db.Micros(d.now()), id)
		return err
	})
}

// Customer is a person who books.
type Customer struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Email     string    `json:"email"`
	Phone     string    `json:"phone"`
	CreatedAt time.Time `json:"created_at"`
}

// CustomerInput creates a customer.
type CustomerInput struct {
	Name  *string `json:"name"`
	Email *string `json:"email"`
	Phone *string `json:"phone"`
}

func customerPayload(c *Customer) event.CustomerCreatedData {
	return event.CustomerCreatedData{ID: c.ID, Name: c.Name, Email: c.Email, Phone: c.Phone, CreatedAt: event.At(c.CreatedAt)}
}

func (in CustomerInput) validate(f hookbook.Fields, prefix string) *Customer {
	c := &Customer{Name: required(f, prefix+"name", in.Name, 200), Phone: optional(f, prefix+"phone", in.Phone, 50)}
	if in.Email == nil || *in.Email == "" {
		f.Add(prefix+"email", "is required")
	} else {
		c.Email = validEmail(f, prefix+"email", *in.Email)
	}
	return c
}

// CreateCustomer adds a customer and publishes customer.created. An email
// already known to the organization answers 409.
func (d *Domain) CreateCustomer(ctx context.Context, orgID string, in CustomerInput) (*Customer, error) {
	f := hookbook.Fields{}
	c := in.validate(f, "")
	if err := f.Err(); err != nil {
		return nil, err
	}
	err := d.DB.Tx(ctx, func(tx *db.Tx) error {
		existing, err := findCustomer(ctx, tx, orgID, c.Email)
		if err != nil {
			return err
		}
		if existing != nil {
			return conflict("customer_exists", "a customer with this email exists: %s", existing.ID)
		}
		return d.insertCustomer(ctx, tx, orgID, c, d.now())
	})
	return c, err
}

func findCustomer(ctx context.Context, tx *db.Tx, orgID, email string) (*Customer, error) {
	c, err := scanCustomer(tx.QueryRowContext(ctx, `SELECT `+customerColumns+` FROM customers WHERE organization_id = $1 AND email = $2`, orgID, email))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return c, err
}

func (d *Domain) insertCustomer(ctx context.Context, tx *db.Tx, orgID string, c *Customer, now time.Time) error {
	c.ID, c.CreatedAt = ids.New("cus"), now.Truncate(time.Second)
	if _, err := tx.ExecContext(ctx, `INSERT INTO customers (id, organization_id, name, email, phone, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		c.ID, orgID, c.Name, c.Email, c.Phone, db.Micros(c.CreatedAt)); err != nil {
		return err
	}
	return d.publish(ctx, tx, orgID, customerPayload(c))
}

const customerColumns = `id, name, email, phone, created_at`

func scanCustomer(row db.Scanner) (*Customer, error) {
	var c Customer
	var created int64
	if err := row.Scan(&c.ID, &c.Name, &c.Email, &c.Phone, &created); err != nil {
		return nil, err
	}
	c.CreatedAt = db.Time(created)
	return &c, nil
}

// Customer returns an organization's customer.
func (d *Domain) Customer(ctx context.Context, orgID, id string) (*Customer, error) {
	c, err := scanCustomer(d.DB.QueryRowContext(ctx, `SELECT `+customerColumns+` FROM customers WHERE id = $1 AND organization_id = $2`, id, orgID))
	return c, notFound(err, "customer")
}

// Customers lists an organization's customers.
func (d *Domain) Customers(ctx context.Context, orgID string, p Page) ([]*Customer, string, error) {
	return listQuery(ctx, d.DB, `SELECT `+customerColumns+` FROM customers WHERE organization_id = $1`, p,
		scanCustomer, func(x *Customer) string { return x.ID }, orgID)
}
