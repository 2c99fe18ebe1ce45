package booking

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/db"
	"github.com/hookbook/hookbook/internal/event"
	"github.com/hookbook/hookbook/internal/ids"
)

// CommunityEvent is an event that becomes active once enough people approve it.
type CommunityEvent struct {
	ID                string     `json:"id"`
	Slug              string     `json:"slug"`
	Title             string     `json:"title"`
	StartsAt          time.Time  `json:"starts_at"`
	ApprovalsRequired int        `json:"approvals_required"`
	ApprovalsCount    int        `json:"approvals_count"`
	Status            string     `json:"status"`
	ActivatedAt       *time.Time `json:"activated_at"`
	CreatedAt         time.Time  `json:"created_at"`
}

func (c *CommunityEvent) data() event.CommunityEvent {
	return event.CommunityEvent{ID: c.ID, Slug: c.Slug, Title: c.Title, StartsAt: event.At(c.StartsAt),
		ApprovalsRequired: c.ApprovalsRequired, ApprovalsCount: c.ApprovalsCount, Status: c.Status}
}

const communityColumns = `id, slug, title, starts_at, approvals_required, approvals_count, status, activated_at, created_at`

func scanCommunity(row db.Scanner) (*CommunityEvent, error) {
	var c CommunityEvent
	var st, cr int64
	var act sql.NullInt64
	if err := row.Scan(&c.ID, &c.Slug, &c.Title, &st, &c.ApprovalsRequired, &c.ApprovalsCount, &c.Status, &act, &cr); err != nil {
		return nil, err
	}
	c.StartsAt, c.CreatedAt = db.Time(st), db.Time(cr)
	if act.Valid {
		t := db.Time(act.Int64)
		c.ActivatedAt = &t
	}
	return &c, nil
}

// CommunityInput creates a community event.
type CommunityInput struct {
	Slug              *string `json:"slug"`
	Title             *string `json:"title"`
	StartsAt          *string `json:"starts_at"`
	ApprovalsRequired *int    `json:"approvals_required"`
}

// CreateCommunityEvent stores a pending community event.
func (d *Domain) CreateCommunityEvent(ctx context.Context, orgID string, in CommunityInput) (*CommunityEvent, error) {
	f := hookbook.Fields{}
	c := &CommunityEvent{Slug: required(f, "slug", in.Slug, 100), Title: required(f, "title", in.Title, 300), Status: "pending"}
	if c.Slug != "" && !slugPattern.MatchString(c.Slug) {
		f.Add("slug", "must be lower-case letters, digits and dashes")
	}
	c.StartsAt = parseTime(f, "starts_at", in.StartsAt).Truncate(time.Second)
	if in.ApprovalsRequired == nil || *in.ApprovalsRequired < 1 || *in.ApprovalsRequired > 100000 {
		f.Add("approvals_required", "must be a whole number from 1 to 100000")
	} else {
		c.ApprovalsRequired = *in.ApprovalsRequired
	}
	if err := f.Err(); err != nil {
		return nil, err
	}
	c.ID, c.CreatedAt = ids.New("cev"), d.now()
	res, err := d.DB.ExecContext(ctx, `INSERT INTO community_events (id, organization_id, slug, title, starts_at, approvals_required,
		status, created_at) VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7) ON CONFLICT (organization_id, slug) DO NOTHING`,
		c.ID, orgID, c.Slug, c.Title, db.Micros(c.StartsAt), c.ApprovalsRequired, db.Micros(c.CreatedAt))
	if err != nil {
		return nil, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil, conflict("slug_taken", "a community event with slug %q exists", c.Slug)
	}
	return c, nil
}

// CommunityEvent returns a community event by slug.
func (d *Domain) CommunityEvent(ctx context.Context, orgID, slug string) (*CommunityEvent, error) {
	c, err := scanCommunity(d.DB.QueryRowContext(ctx, `SELECT `+communityColumns+` FROM community_events WHERE organization_id = $1 AND slug = $2`, orgID, slug))
	return c, notFound(err, "community event")
}

// CommunityEvents lists an organization's community events.
func (d *Domain) CommunityEvents(ctx context.Context, orgID string, p Page) ([]*CommunityEvent, string, error) {
	return listQuery(ctx, d.DB, `SELECT `+communityColumns+` FROM community_events WHERE organization_id = $1`, p,
		scanCommunity, func(x *CommunityEvent) string { return x.ID }, orgID)
}

// ApprovalInput is one person's approval.
type ApprovalInput struct {
	FullName *string `json:"full_name"`
	Email    *string `json:"email"`
}

// Approve records one person's approval and publishes
// community_event.approved; the approval that reaches the threshold
// activates the event and publishes community_event.activated, once.
//
// Approvals count per person. Two approvals are the same person's when
// both have an email and the emails are equal (case aside), or when either
// has none and the names are equal (case and runs of spaces aside): "Ada
// Lovelace" with and without an email is one person; two Ada Lovelaces
// with different emails are two. A person's repeat approval counts
// nothing, publishes nothing and answers 409 already_approved; an email
// it brings is still recorded on an approval that had none. Errors name
// the fields of ApprovalInput; a caller that carried them elsewhere renames
// them with hookbook.RenameFields.
func (d *Domain) Approve(ctx context.Context, orgID, slug string, in ApprovalInput) (*CommunityEvent, error) {
	f := hookbook.Fields{}
	name := required(f, "full_name", in.FullName, 200)
	var email *string
	if in.Email != nil && strings.TrimSpace(*in.Email) != "" {
		e := validEmail(f, "email", *in.Email)
		email = &e
	}
	if err := f.Err(); err != nil {
		return nil, err
	}
	nameKey := strings.ToLower(strings.Join(strings.Fields(name), " "))
	key := "name:" + nameKey
	if email != nil {
		key = "email:" + *email
	}
	var out *CommunityEvent
	repeat := false
	err := d.DB.Tx(ctx, func(tx *db.Tx) error {
		c, err := scanCommunity(tx.QueryRowContext(ctx, `SELECT `+communityColumns+` FROM community_events WHERE organization_id = $1 AND slug = $2`+tx.ForUpdate(), orgID, slug))
		if err != nil {
			return notFound(err, "community event")
		}
		// The event's row is locked: approvals of one event check and
		// insert one at a time.
		var seen int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM community_approvals WHERE community_event_id = $1
			AND (person_key = $2 OR (name_key = $3 AND (email IS NULL OR $4)))`, c.ID, key, nameKey, email == nil).Scan(&seen); err != nil {
			return err
		}
		if seen > 0 {
			// This person approved already. An email given now completes
			// an approval that had none: later approvals with that email
			// are hers too.
			if email != nil {
				if _, err := tx.ExecContext(ctx, `UPDATE community_approvals SET email = $1, person_key = $2
					WHERE community_event_id = $3 AND person_key = $4
					AND NOT EXISTS (SELECT 1 FROM community_approvals a WHERE a.community_event_id = $3 AND a.person_key = $2)`,
					*email, key, c.ID, "name:"+nameKey); err != nil {
					return err
				}
			}
			repeat = true
			return nil
		}
		now := d.now()
		res, err := tx.ExecContext(ctx, `INSERT INTO community_approvals (community_event_id, person_key, full_name, email, created_at, name_key)
			VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (community_event_id, person_key) DO NOTHING`, c.ID, key, name, email, db.Micros(now), nameKey)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return approvedAlready()
		}
		c.ApprovalsCount++
		activate := c.Status == "pending" && c.ApprovalsCount >= c.ApprovalsRequired
		if activate {
			c.Status, c.ActivatedAt = "active", &now
		}
		if _, err := tx.ExecContext(ctx, `UPDATE community_events SET approvals_count = $1, status = $2, activated_at = $3 WHERE id = $4`,
			c.ApprovalsCount, c.Status, nullTime(c.ActivatedAt), c.ID); err != nil {
			return err
		}
		approved := event.CommunityEventApprovedData{CommunityEvent: c.data()}
		approved.Approval.FullName, approved.Approval.Email, approved.Approval.ApprovedAt = name, email, event.At(now)
		if err := d.publish(ctx, tx, orgID, approved); err != nil {
			return err
		}
		if activate {
			if err := d.publish(ctx, tx, orgID, event.CommunityEventActivatedData{CommunityEvent: c.data(), ActivatedAt: event.At(now)}); err != nil {
				return err
			}
		}
		out = c
		return nil
	})
	if err == nil && repeat {
		return nil, approvedAlready()
	}
	return out, err
}

// approvedAlready answers a person's repeat approval.
func approvedAlready() error {
	return conflict("already_approved", "this person approved the community event already")
}

func nullTime(t *time.Time) any {
	if t == nil {
		return nil
	}
	return db.Micros(*t)
}

// Link is a shareable booking slug for a service.
type Link struct {
	ID        string    `json:"id"`
	ServiceID string    `json:"service_id"`
	Slug      string    `json:"slug"`
	Enabled   bool      `json:"enabled"`
	CreatedAt time.Time `json:"created_at"`
}

// LinkInput creates a link.
type LinkInput struct {
	ServiceID *string `json:"service_id"`
	Slug      *string `json:"slug"`
}

// CreateLink makes a booking link; errors name the fields of LinkInput.
func (d *Domain) CreateLink(ctx context.Context, orgID string, in LinkInput) (*Link, error) {
	f := hookbook.Fields{}
	l := &Link{ServiceID: required(f, "service_id", in.ServiceID, 64), Slug: required(f, "slug", in.Slug, 100), Enabled: true}
	if l.Slug != "" && !slugPattern.MatchString(l.Slug) {
		f.Add("slug", "must be lower-case letters, digits and dashes")
	}
	if err := f.Err(); err != nil {
		return nil, err
	}
	if _, err := d.Service(ctx, orgID, l.ServiceID); err != nil {
		return nil, err
	}
	l.ID, l.CreatedAt = ids.New("lnk"), d.now()
	res, err := d.DB.ExecContext(ctx, `INSERT INTO links (id, organization_id, service_id, slug, enabled, created_at)
		VALUES ($1, $2, $3, $4, TRUE, $5) ON CONFLICT (organization_id, slug) DO NOTHING`, l.ID, orgID, l.ServiceID, l.Slug, db.Micros(l.CreatedAt))
	if err != nil {
		return nil, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil, conflict("slug_taken", "a link with slug %q exists", l.Slug)
	}
	return l, nil
}

func scanLink(row db.Scanner) (*Link, error) {
	var l Link
	var c int64
	if err := row.Scan(&l.ID, &l.ServiceID, &l.Slug, &l.Enabled, &c); err != nil {
		return nil, err
	}
	l.CreatedAt = db.Time(c)
	return &l, nil
}

// Link returns a link by slug.
func (d *Domain) Link(ctx context.Context, orgID, slug string) (*Link, error) {
	l, err := scanLink(d.DB.QueryRowContext(ctx, `SELECT id, service_id, slug, enabled, created_at FROM links WHERE organization_id = $1 AND slug = $2`, orgID, slug))
	return l, notFound(err, "link")
}

// Links lists an organization's links.
func (d *Domain) Links(ctx context.Context, orgID string, p Page) ([]*Link, string, error) {
	return listQuery(ctx, d.DB, `SELECT id, service_id, slug, enabled, created_at FROM links WHERE organization_id = $1`, p,
		scanLink, func(x *Link) string { return x.ID }, orgID)
}

// DisableLink turns a link off; disabling a disabled link answers 409.
func (d *Domain) DisableLink(ctx context.Context, orgID, slug string) (*Link, error) {
	l, err := d.Link(ctx, orgID, slug)
	if err != nil {
		return nil, err
	}
	res, err := d.DB.ExecContext(ctx, `UPDATE links SET enabled = FALSE WHERE id = $1 AND enabled = TRUE`, l.ID)
	if err != nil {
		return nil, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil, conflict("link_disabled", "the link is disabled already")
	}
	l.Enabled = false
	return l, nil
}

// Block is a planner time in which no booking may start.
type Block struct {
	ID        string    `json:"id"`
	StartsAt  time.Time `json:"starts_at"`
	EndsAt    time.Time `json:"ends_at"`
	Reason    string    `json:"reason"`
	CreatedAt time.Time `json:"created_at"`
}

// BlockInput creates a block.
type BlockInput struct {
	StartsAt *string `json:"starts_at"`
	EndsAt   *string `json:"ends_at"`
	Reason   *string `json:"reason"`
}

// CreateBlock stores a planner block; errors name the fields of BlockInput.
func (d *Domain) CreateBlock(ctx context.Context, orgID string, in BlockInput) (*Block, error) {
	f := hookbook.Fields{}
	b := &Block{StartsAt: parseTime(f, "starts_at", in.StartsAt).Truncate(time.Second), EndsAt: parseTime(f, "ends_at", in.EndsAt).Truncate(time.Second),
		Reason: optional(f, "reason", in.Reason, 1000)}
	if !b.StartsAt.IsZero() && !b.EndsAt.IsZero() && !b.EndsAt.After(b.StartsAt) {
		f.Add("ends_at", "must be after starts_at")
	}
	if err := f.Err(); err != nil {
		return nil, err
	}
	b.ID, b.CreatedAt = ids.New("blk"), d.now()
	_, err := d.DB.ExecContext(ctx, `INSERT INTO planner_blocks (id, organization_id, starts_at, ends_at, reason, created_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, b.ID, orgID, db.Micros(b.StartsAt), db.Micros(b.EndsAt), b.Reason, db.Micros(b.CreatedAt))
	return b, err
}

// Blocks lists an organization's planner blocks.
func (d *Domain) Blocks(ctx context.Context, orgID string, p Page) ([]*Block, string, error) {
	return listQuery(ctx, d.DB, `SELECT id, starts_at, ends_at, reason, created_at FROM planner_blocks WHERE organization_id = $1`, p,
		func(r db.Scanner) (*Block, error) {
			var b Block
			var s, e, c int64
			if err := r.Scan(&b.ID, &s, &e, &b.Reason, &c); err != nil {
				return nil, err
			}
			b.StartsAt, b.EndsAt, b.CreatedAt = db.Time(s), db.Time(e), db.Time(c)
			return &b, nil
		}, func(b *Block) string { return b.ID }, orgID)
}

// DeleteBlock removes a planner block.
func (d *Domain) DeleteBlock(ctx context.Context, orgID, id string) error {
	res, err := d.DB.ExecContext(ctx, `DELETE FROM planner_blocks WHERE id = $1 AND organization_id = $2`, id, orgID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return hookbook.NotFound("planner block")
	}
	return nil
}
