package booking_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/booking"
	"github.com/hookbook/hookbook/internal/db"
	"github.com/hookbook/hookbook/internal/dbtest"
	"github.com/hookbook/hookbook/internal/event"
	"github.com/hookbook/hookbook/internal/netguard"
	"github.com/hookbook/hookbook/internal/org"
	"github.com/hookbook/hookbook/internal/outbound"
)

func ptr[T any](v T) *T { return &v }

func domain(t *testing.T, d *db.DB) (*booking.Domain, *outbound.Service, string) {
	t.Helper()
	o, err := (&org.Service{DB: d}).CreateOrganization(context.Background(), "acme", org.NewAPIKey())
	if err != nil {
		t.Fatal(err)
	}
	out := &outbound.Service{DB: d, Guard: &netguard.Guard{}, HeaderPrefix: "X-Hookbook"}
	return &booking.Domain{DB: d, Outbound: out}, out, o.ID
}

// newSlot makes a service of capacity places, without approval, and a slot
// of it two days ahead.
func newSlot(t *testing.T, dom *booking.Domain, orgID string, capacity int) *booking.Slot {
	t.Helper()
	ctx := context.Background()
	svc, err := dom.CreateService(ctx, orgID, booking.ServiceInput{Name: ptr("Tour"), DurationMinutes: ptr(60), Price: ptr(int64(1000)), Capacity: ptr(capacity)})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Hour)
	slot, err := dom.CreateSlot(ctx, orgID, booking.SlotInput{ServiceID: &svc.ID,
		StartsAt: ptr(start.Format(time.RFC3339)), EndsAt: ptr(start.Add(time.Hour).Format(time.RFC3339))})
	if err != nil {
		t.Fatal(err)
	}
	return slot
}

// TestCapacityUnderConcurrency books a 5-place slot from 20 goroutines:
// exactly 5 succeed, the rest get slot_full, and each success published
// exactly one booking.created that matches its schema.
func TestCapacityUnderConcurrency(t *testing.T) {
	t.Parallel()
	dbtest.EachBackend(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		dom, out, orgID := domain(t, d)
		slot := newSlot(t, dom, orgID, 5)
		var wg sync.WaitGroup
		var mu sync.Mutex
		codes := map[string]int{}
		for i := range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := dom.CreateBooking(ctx, orgID, booking.BookingInput{SlotID: &slot.ID,
					Customer: &booking.CustomerInput{Name: ptr("Guest"), Email: ptr("g" + string(rune('a'+i)) + "@example.com")}})
				code := "ok"
				if err != nil {
					code = hookbook.Code(err)
				}
				mu.Lock()
				codes[code]++
				mu.Unlock()
			}()
		}
		wg.Wait()
		if codes["ok"] != 5 || codes["slot_full"] != 15 {
			t.Fatalf("outcomes = %v, want 5 bookings and 15 slot_full", codes)
		}
		events, _, err := out.Events(ctx, orgID, event.BookingCreated, db.Page{Limit: 100})
		if err != nil || len(events) != 5 {
			t.Fatalf("%d booking.created events (%v), want 5", len(events), err)
		}
		et, _ := event.LookupBuiltin(event.BookingCreated)
		for _, e := range events {
			if err := event.Validate(et.Schema, e.Data); err != nil {
				t.Errorf("booking.created does not match its schema: %v: %s", err, e.Data)
			}
		}
	})
}

func TestInvalidTransitions(t *testing.T) {
	t.Parallel()
	dbtest.EachBackend(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		dom, _, orgID := domain(t, d)
		slot := newSlot(t, dom, orgID, 2)
		b, err := dom.CreateBooking(ctx, orgID, booking.BookingInput{SlotID: &slot.ID, Customer: &booking.CustomerInput{Name: ptr("A"), Email: ptr("a@example.com")}})
		if err != nil {
			t.Fatal(err)
		}
		if b.Status != booking.Confirmed {
			t.Fatalf("a booking of a service without approval is %s", b.Status)
		}
		if _, err := dom.Confirm(ctx, orgID, b.ID); hookbook.Code(err) != "invalid_transition" {
			t.Errorf("confirming a confirmed booking = %v", err)
		}
		if _, err := dom.Booking(ctx, "org_other", b.ID); !hookbook.IsKind(err, hookbook.ENotFound) {
			t.Errorf("another organization reads the booking: %v", err)
		}
	})
}
