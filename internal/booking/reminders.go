package booking

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/db"
	"github.com/hookbook/hookbook/internal/event"
)

// Reminders are an organization's reminder and follow-up settings.
type Reminders struct {
	ReminderOffsets []string `json:"reminder_offsets"`
	FollowUpOffset  string   `json:"follow_up_offset"`
}

// DefaultReminders apply until an organization sets its own.
var DefaultReminders = Reminders{ReminderOffsets: []string{"24h"}, FollowUpOffset: "1h"}

// FollowUpWindow bounds how late a follow-up may still fire, so that turning
// follow-ups on does not flood receivers with old bookings.
const FollowUpWindow = 7 * 24 * time.Hour

// RemindersOf returns an organization's settings.
func (d *Domain) RemindersOf(ctx context.Context, orgID string) (Reminders, error) {
	var offsets, follow string
	err := d.DB.QueryRowContext(ctx, `SELECT reminder_offsets, follow_up_offset FROM reminder_settings WHERE organization_id = $1`, orgID).Scan(&offsets, &follow)
	if errors.Is(err, sql.ErrNoRows) {
		return DefaultReminders, nil
	}
	if err != nil {
		return Reminders{}, err
	}
	r := Reminders{FollowUpOffset: follow}
	err = json.Unmarshal([]byte(offsets), &r.ReminderOffsets)
	return r, err
}

// RemindersInput replaces the settings: both fields are required (an
// empty list turns reminders off, an empty follow-up offset follow-ups).
type RemindersInput struct {
	ReminderOffsets *[]string `json:"reminder_offsets"`
	FollowUpOffset  *string   `json:"follow_up_offset"`
}

// SetReminders validates and stores an organization's settings, replacing
// both: a missing field is refused, not kept. Offsets are Go durations
// ("24h", "90m"); an empty follow-up offset turns follow-ups off.
func (d *Domain) SetReminders(ctx context.Context, orgID string, in RemindersInput) (Reminders, error) {
	r := Reminders{ReminderOffsets: []string{}}
	f := hookbook.Fields{}
	if in.ReminderOffsets == nil {
		f.Add("reminder_offsets", "is required (a list of durations such as 24h; an empty list turns reminders off)")
	} else {
		if len(*in.ReminderOffsets) > 10 {
			f.Add("reminder_offsets", "at most 10 offsets")
		}
		for _, o := range *in.ReminderOffsets {
			dur, err := time.ParseDuration(o)
			if err != nil || dur <= 0 || dur > 365*24*time.Hour {
				f.Add("reminder_offsets", fmt.Sprintf("%q is not a positive duration such as 24h", o))
				continue
			}
			r.ReminderOffsets = append(r.ReminderOffsets, o)
		}
	}
	if in.FollowUpOffset == nil {
		f.Add("follow_up_offset", "is required (a duration such as 1h, or empty to turn follow-ups off)")
	} else if *in.FollowUpOffset != "" {
		dur, err := time.ParseDuration(*in.FollowUpOffset)
		if err != nil || dur <= 0 || dur > 365*24*time.Hour {
			f.Add("follow_up_offset", "must be a positive duration such as 1h, or empty to turn follow-ups off")
		} else {
			r.FollowUpOffset = *in.FollowUpOffset
		}
	}
	if err := f.Err(); err != nil {
		return r, err
	}
	b, _ := json.Marshal(r.ReminderOffsets)
	_, err := d.DB.ExecContext(ctx, `INSERT INTO reminder_settings (organization_id, reminder_offsets, follow_up_offset) VALUES ($1, $2, $3)
		ON CONFLICT (organization_id) DO UPDATE SET reminder_offsets = excluded.reminder_offsets, follow_up_offset = excluded.follow_up_offset`,
		orgID, string(b), r.FollowUpOffset)
	return r, err
}

// FireReminders publishes every booking.reminder and booking.follow_up that
// is due at now, each exactly once per booking, offset and start time: the
// row in reminders_sent and the event commit together, and the row's key
// refuses a second one, also from another instance. Cancelled, rejected and
// no-show bookings get none; a rescheduled booking is planned anew.
func (d *Domain) FireReminders(ctx context.Context) (int, error) {
	now := d.now()
	rows, err := d.DB.QueryContext(ctx, `SELECT id FROM organizations`)
	if err != nil {
		return 0, err
	}
	var orgs []string
	for rows.Next() {
		var id string
		rows.Scan(&id)
		orgs = append(orgs, id)
	}
	rows.Close()
	fired := 0
	for _, org := range orgs {
		r, err := d.RemindersOf(ctx, org)
		if err != nil {
			return fired, err
		}
		for _, o := range r.ReminderOffsets {
			off, err := time.ParseDuration(o)
			if err != nil {
				continue
			}
			n, err := d.fire(ctx, org, "reminder", o, `status = 'confirmed' AND starts_at > $2 AND starts_at <= $3`, db.Micros(now), db.Micros(now.Add(off)), now)
			fired += n
			if err != nil {
				return fired, err
			}
		}
		if off, err := time.ParseDuration(r.FollowUpOffset); err == nil && r.FollowUpOffset != "" {
			n, err := d.fire(ctx, org, "follow_up", r.FollowUpOffset, `status IN ('confirmed', 'completed') AND ends_at <= $2 AND ends_at > $3`,
				db.Micros(now.Add(-off)), db.Micros(now.Add(-off-FollowUpWindow)), now)
			fired += n
			if err != nil {
				return fired, err
			}
		}
	}
	return fired, nil
}

// fire publishes one kind of reminder for the bookings that cond selects
// ($1 is the organization, $2 and $3 the bounds) and that have none yet.
func (d *Domain) fire(ctx context.Context, orgID, kind, offset, cond string, a, b int64, now time.Time) (int, error) {
	rows, err := d.DB.QueryContext(ctx, `SELECT id FROM bookings WHERE organization_id = $1 AND `+cond+`
		AND NOT EXISTS (SELECT 1 FROM reminders_sent r WHERE r.booking_id = bookings.id AND r.kind = $4 AND r.offset_text = $5 AND r.starts_at = bookings.starts_at)
		LIMIT 500`, orgID, a, b, kind, offset)
	if err != nil {
		return 0, err
	}
	var due []string
	for rows.Next() {
		var id string
		rows.Scan(&id)
		due = append(due, id)
	}
	rows.Close()
	wrap := func(b event.Booking, offset string) event.Payload {
		return event.BookingReminderData{Booking: b, Offset: offset}
	}
	if kind == "follow_up" {
		wrap = func(b event.Booking, offset string) event.Payload {
			return event.BookingFollowUpData{Booking: b, Offset: offset}
		}
	}
	fired := 0
	for _, id := range due {
		err := d.DB.Tx(ctx, func(tx *db.Tx) error {
			bk, err := lockBooking(ctx, tx, orgID, id)
			if err != nil {
				return err
			}
			// Still due now that it is locked? It may have been cancelled,
			// completed or rescheduled since the list was read.
			var still int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM bookings WHERE organization_id = $1 AND `+cond+` AND id = $4`,
				orgID, a, b, id).Scan(&still); err != nil {
				return err
			}
			if still == 0 {
				return nil
			}
			res, err := tx.ExecContext(ctx, `INSERT INTO reminders_sent (booking_id, kind, offset_text, starts_at, created_at) VALUES ($1, $2, $3, $4, $5)
				ON CONFLICT (booking_id, kind, offset_text, starts_at) DO NOTHING`, id, kind, offset, db.Micros(bk.StartsAt), db.Micros(now))
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 0 {
				return nil // another instance fired it
			}
			fired++
			return d.publish(ctx, tx, orgID, wrap(bk.data(), offset))
		})
		if err != nil {
			return fired, err
		}
	}
	return fired, nil
}
