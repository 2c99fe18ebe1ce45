package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookbook/hookbook/internal/db"
	"github.com/hookbook/hookbook/internal/event"
)

// catalogReceiver collects every delivered envelope and validates its data
// against the catalog schema of its type.
type catalogReceiver struct {
	*receiver
	t testing.TB
}

func newCatalogReceiver(t *testing.T, in *instance) *catalogReceiver {
	rc := newReceiver(t, nil)
	in.createEndpoint(rc.URL, []string{"*"}, nil)
	return &catalogReceiver{receiver: rc, t: t}
}

type envelope struct {
	ID    string         `json:"id"`
	Event string         `json:"event"`
	Data  map[string]any `json:"data"`
	raw   json.RawMessage
}

// expect waits for the next event of typ and returns it, after checking
// its data against the schema of the catalog.
func (c *catalogReceiver) expect(typ string, seen map[string]bool) envelope {
	c.t.Helper()
	var found envelope
	waitFor(c.t, 5*time.Second, "event "+typ, func() bool {
		for _, r := range c.All() {
			var e envelope
			json.Unmarshal(r.Body, &e)
			if e.Event == typ && !seen[e.ID] {
				var full struct {
					Data json.RawMessage `json:"data"`
				}
				json.Unmarshal(r.Body, &full)
				e.raw = full.Data
				found = e
				return true
			}
		}
		return false
	})
	seen[found.ID] = true
	et, ok := event.LookupBuiltin(typ)
	if !ok {
		c.t.Fatalf("%s is not in the catalog", typ)
	}
	if err := event.Validate(et.Schema, found.raw); err != nil {
		c.t.Errorf("%s payload does not match its schema: %v\n%s", typ, err, found.raw)
	}
	return found
}

func future(h int) string {
	return time.Now().Add(time.Duration(h) * time.Hour).UTC().Truncate(time.Second).Format(time.RFC3339)
}

// startInPast moves a booking's start (and end) two hours back, as if
// time had passed since it was booked.
func startInPast(t *testing.T, in *instance, id string) {
	t.Helper()
	past := time.Now().Add(-2 * time.Hour)
	if _, err := in.app.DB.ExecContext(context.Background(), `UPDATE bookings SET starts_at = $1, ends_at = $2 WHERE id = $3`,
		db.Micros(past), db.Micros(past.Add(90*time.Minute)), id); err != nil {
		t.Fatal(err)
	}
}

// bookingFixture creates a service and a slot.
func bookingFixture(t *testing.T, in *instance, approval bool, capacity int) (svc, slot string) {
	t.Helper()
	svc = in.must(201, "POST", "/api/v1/services", map[string]any{"name": "City Walking Tour", "duration_minutes": 90, "price": 4500,
		"currency": "USD", "capacity": capacity, "location": "Main Square", "requires_approval": approval})["id"].(string)
	slot = in.must(201, "POST", "/api/v1/slots", map[string]any{"service_id": svc, "starts_at": future(48), "ends_at": future(50)})["id"].(string)
	return svc, slot
}

func TestBookingLifecycleEmitsEveryEvent(t *testing.T) {
	t.Parallel()
	in := start(t, nil)
	rc := newCatalogReceiver(t, in)
	seen := map[string]bool{}
	svc, slot := bookingFixture(t, in, true, 10)
	if e := rc.expect("slot.created", seen); e.Data["id"] != slot || e.Data["capacity"].(float64) != 10 {
		t.Errorf("slot.created = %v", e.Data)
	}
	// An inline customer creates the customer too.
	b := in.must(201, "POST", "/api/v1/bookings", map[string]any{"slot_id": slot, "participants": 2, "notes": "vegan",
		"customer": map[string]any{"name": "Jane Doe", "email": "Jane@Example.com"}})
	id := b["id"].(string)
	if b["status"] != "pending" || b["total_amount"].(float64) != 9000 {
		t.Fatalf("booking = %v", b)
	}
	if e := rc.expect("customer.created", seen); e.Data["email"] != "jane@example.com" {
		t.Errorf("customer.created = %v", e.Data)
	}
	e := rc.expect("booking.created", seen)
	if e.Data["id"] != id || e.Data["status"] != "pending" || e.Data["participants"].(float64) != 2 ||
		e.Data["customer"].(map[string]any)["name"] != "Jane Doe" || e.Data["service"].(map[string]any)["id"] != svc {
		t.Errorf("booking.created = %v", e.Data)
	}
	// Invalid transitions answer 409 and change nothing.
	for _, a := range []string{"complete", "no-show"} {
		if r := in.do("POST", "/api/v1/bookings/"+id+"/"+a, nil); r.Status != 409 || r.ErrorCode(t) != "invalid_transition" {
			t.Errorf("%s on a pending booking = %d %s", a, r.Status, r.Body)
		}
	}
	in.must(200, "POST", "/api/v1/bookings/"+id+"/confirm", nil)
	if e := rc.expect("booking.confirmed", seen); e.Data["status"] != "confirmed" || e.Data["confirmed_at"] == nil {
		t.Errorf("booking.confirmed = %v", e.Data)
	}
	up := in.must(200, "PATCH", "/api/v1/bookings/"+id, map[string]any{"participants": 3})
	if up["participants"].(float64) != 3 || up["total_amount"].(float64) != 13500 {
		t.Errorf("updated booking = %v", up)
	}
	ch := rc.expect("booking.updated", seen).Data["changes"].(map[string]any)
	if p := ch["participants"].(map[string]any); p["old"].(float64) != 2 || p["new"].(float64) != 3 {
		t.Errorf("changes = %v", ch)
	}
	slot2 := in.must(201, "POST", "/api/v1/slots", map[string]any{"service_id": svc, "starts_at": future(72), "ends_at": future(74)})["id"].(string)
	rc.expect("slot.created", seen)
	in.must(200, "POST", "/api/v1/bookings/"+id+"/reschedule", map[string]any{"slot_id": slot2})
	if e := rc.expect("booking.rescheduled", seen); e.Data["slot_id"] != slot2 || e.Data["previous"].(map[string]any)["slot_id"] != slot {
		t.Errorf("booking.rescheduled = %v", e.Data)
	}
	if s := in.must(200, "GET", "/api/v1/slots/"+slot, nil); s["booked"].(float64) != 0 {
		t.Errorf("old slot still holds %v", s["booked"])
	}
	if s := in.must(200, "GET", "/api/v1/slots/"+slot2, nil); s["booked"].(float64) != 3 {
		t.Errorf("new slot holds %v", s["booked"])
	}

	// Payments: succeeded, failed, refunded; never more than was paid.
	pay := in.must(201, "POST", "/api/v1/payments", map[string]any{"booking_id": id, "amount": 13500, "method": "card", "status": "succeeded"})
	if e := rc.expect("payment.succeeded", seen); e.Data["amount"].(float64) != 13500 || e.Data["currency"] != "USD" {
		t.Errorf("payment.succeeded = %v", e.Data)
	}
	in.must(201, "POST", "/api/v1/payments", map[string]any{"booking_id": id, "amount": 500, "status": "failed",
		"error_code": "card_declined", "error_message": "The card was declined"})
	if e := rc.expect("payment.failed", seen); e.Data["error_code"] != "card_declined" || e.Data["error_message"] != "The card was declined" {
		t.Errorf("payment.failed = %v", e.Data)
	}
	in.must(200, "POST", "/api/v1/payments/"+pay["id"].(string)+"/refund", map[string]any{"amount": 3500})
	if e := rc.expect("payment.refunded", seen); e.Data["refund_amount"].(float64) != 3500 || e.Data["refunded_amount"].(float64) != 3500 {
		t.Errorf("payment.refunded = %v", e.Data)
	}
	if r := in.do("POST", "/api/v1/payments/"+pay["id"].(string)+"/refund", map[string]any{"amount": 10001}); r.Status != 409 || r.ErrorCode(t) != "refund_exceeds_payment" {
		t.Errorf("over-refund = %d %s", r.Status, r.Body)
	}

	// Complete, then review once.
	if r := in.do("POST", "/api/v1/reviews", map[string]any{"booking_id": id, "rating": 5}); r.Status != 409 {
		t.Errorf("review before completion = %d", r.Status)
	}
	in.must(200, "POST", "/api/v1/bookings/"+id+"/complete", nil)
	rc.expect("booking.completed", seen)
	in.must(201, "POST", "/api/v1/reviews", map[string]any{"booking_id": id, "rating": 5, "comment": "Wonderful"})
	if e := rc.expect("review.created", seen); e.Data["rating"].(float64) != 5 {
		t.Errorf("review.created = %v", e.Data)
	}
	if r := in.do("POST", "/api/v1/reviews", map[string]any{"booking_id": id, "rating": 4}); r.Status != 409 || r.ErrorCode(t) != "review_exists" {
		t.Errorf("second review = %d %s", r.Status, r.Body)
	}

	// A confirmed booking (no approval needed) that is rejected is refused; one cancelled with a refund; one no-show.
	_, openSlot := bookingFixture(t, in, false, 5)
	rc.expect("slot.created", seen)
	cus := in.must(201, "POST", "/api/v1/customers", map[string]any{"name": "Ada", "email": "ada@example.com", "phone": "+1"})["id"].(string)
	rc.expect("customer.created", seen)
	b2 := in.must(201, "POST", "/api/v1/bookings", map[string]any{"slot_id": openSlot, "customer_id": cus})
	if b2["status"] != "confirmed" {
		t.Fatalf("booking without approval = %v", b2["status"])
	}
	rc.expect("booking.created", seen)
	if r := in.do("POST", "/api/v1/bookings/"+b2["id"].(string)+"/reject", nil); r.Status != 409 {
		t.Errorf("reject confirmed = %d", r.Status)
	}
	in.must(201, "POST", "/api/v1/payments", map[string]any{"booking_id": b2["id"], "amount": 4500, "status": "succeeded"})
	rc.expect("payment.succeeded", seen)
	in.must(200, "POST", "/api/v1/bookings/"+b2["id"].(string)+"/cancel", map[string]any{"reason": "Customer request", "refund_amount": 4500})
	if e := rc.expect("booking.cancelled", seen); e.Data["reason"] != "Customer request" || e.Data["refund_amount"].(float64) != 4500 {
		t.Errorf("booking.cancelled = %v", e.Data)
	}
	rc.expect("payment.refunded", seen)
	if r := in.do("POST", "/api/v1/bookings/"+b2["id"].(string)+"/cancel", nil); r.Status != 409 {
		t.Errorf("cancel twice = %d", r.Status)
	}
	b3 := in.must(201, "POST", "/api/v1/bookings", map[string]any{"slot_id": openSlot, "customer_id": cus})["id"].(string)
	rc.expect("booking.created", seen)
	// No-show only once the booking has started.
	if r := in.do("POST", "/api/v1/bookings/"+b3+"/no-show", nil); r.Status != 409 || r.ErrorCode(t) != "booking_not_started" ||
		!strings.Contains(string(r.Body), "only once it has started") {
		t.Errorf("no-show before the start = %d %s", r.Status, r.Body)
	}
	startInPast(t, in, b3)
	in.must(200, "POST", "/api/v1/bookings/"+b3+"/no-show", nil)
	rc.expect("booking.no_show", seen)

	// A pending booking rejected.
	_, apprSlot := bookingFixture(t, in, true, 5)
	rc.expect("slot.created", seen)
	b4 := in.must(201, "POST", "/api/v1/bookings", map[string]any{"slot_id": apprSlot, "customer_id": cus})["id"].(string)
	rc.expect("booking.created", seen)
	in.must(200, "POST", "/api/v1/bookings/"+b4+"/reject", map[string]any{"reason": "Fully booked"})
	if e := rc.expect("booking.rejected", seen); e.Data["reason"] != "Fully booked" || e.Data["status"] != "rejected" {
		t.Errorf("booking.rejected = %v", e.Data)
	}

	// Community event: approvals, one per person, activation once.
	in.must(201, "POST", "/api/v1/community-events", map[string]any{"slug": "summer-meetup", "title": "Summer meetup", "starts_at": future(100), "approvals_required": 2})
	in.must(200, "POST", "/api/v1/community-events/summer-meetup/approvals", map[string]any{"full_name": "Ada Lovelace", "email": "ada@example.com"})
	rc.expect("community_event.approved", seen)
	// The same person again (same email, case aside): nothing changes.
	if r := in.do("POST", "/api/v1/community-events/summer-meetup/approvals", map[string]any{"full_name": "A. Lovelace", "email": "ADA@example.com"}); r.Status != 409 {
		t.Errorf("second approval by one person = %d %s, want 409", r.Status, r.Body)
	}
	ce := in.must(200, "POST", "/api/v1/community-events/summer-meetup/approvals", map[string]any{"full_name": "Grace Hopper"})
	if ce["status"] != "active" || ce["approvals_count"].(float64) != 2 {
		t.Errorf("community event = %v", ce)
	}
	rc.expect("community_event.approved", seen)
	if e := rc.expect("community_event.activated", seen); e.Data["community_event"].(map[string]any)["status"] != "active" {
		t.Errorf("activated = %v", e.Data)
	}
	in.must(200, "POST", "/api/v1/community-events/summer-meetup/approvals", map[string]any{"full_name": "Alan Turing"})
	rc.expect("community_event.approved", seen)
	// Each event commits with its change: the event list is final.
	if n := len(in.must(200, "GET", "/api/v1/events?event=community_event.activated", nil)["data"].([]any)); n != 1 {
		t.Errorf("%d community_event.activated events, want 1", n)
	}
	activations := 0
	for _, r := range rc.All() {
		if r.Header.Get("X-Hookbook-Event") == "community_event.activated" {
			activations++
		}
	}
	if activations != 1 {
		t.Errorf("community_event.activated sent %d times", activations)
	}
}

func TestConcurrentBookingsNeverOverfill(t *testing.T) {
	t.Parallel()
	in := start(t, nil)
	_, slot := bookingFixture(t, in, false, 10)
	cus := in.must(201, "POST", "/api/v1/customers", map[string]any{"name": "Many", "email": "many@example.com"})["id"].(string)
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := in.do("POST", "/api/v1/bookings", map[string]any{"slot_id": slot, "customer_id": cus, "participants": 1})
			mu.Lock()
			codes[r.Status]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if codes[201] != 10 || codes[409] != 40 {
		t.Fatalf("answers %v, want 10 × 201 and 40 × 409", codes)
	}
	if s := in.must(200, "GET", "/api/v1/slots/"+slot, nil); s["booked"].(float64) != 10 {
		t.Errorf("slot holds %v", s["booked"])
	}
	n := 0
	for _, e := range in.must(200, "GET", "/api/v1/events?event=booking.created&limit=500", nil)["data"].([]any) {
		_ = e
		n++
	}
	if n != 10 {
		t.Errorf("%d booking.created events, want 10", n)
	}
}

// TestChangeAndEventAreAtomic breaks the events table under a running
// instance: the booking's change must roll back with its event.
func TestChangeAndEventAreAtomic(t *testing.T) {
	t.Parallel()
	in := start(t, nil)
	_, slot := bookingFixture(t, in, false, 5)
	cus := in.must(201, "POST", "/api/v1/customers", map[string]any{"name": "Atom", "email": "atom@example.com"})["id"].(string)
	db := in.app.DB
	if _, err := db.ExecContext(t.Context(), `ALTER TABLE events RENAME TO events_away`); err != nil {
		t.Fatal(err)
	}
	r := in.do("POST", "/api/v1/bookings", map[string]any{"slot_id": slot, "customer_id": cus})
	if r.Status < 500 {
		t.Fatalf("booking with a broken events table = %d %s", r.Status, r.Body)
	}
	if _, err := db.ExecContext(t.Context(), `ALTER TABLE events_away RENAME TO events`); err != nil {
		t.Fatal(err)
	}
	if l := in.must(200, "GET", "/api/v1/bookings", nil)["data"].([]any); len(l) != 0 {
		t.Errorf("the booking was stored without its event: %v", l)
	}
	if s := in.must(200, "GET", "/api/v1/slots/"+slot, nil); s["booked"].(float64) != 0 {
		t.Errorf("the slot kept the places: %v", s["booked"])
	}
	if l := in.must(200, "GET", "/api/v1/events?event=booking.created", nil)["data"].([]any); len(l) != 0 {
		t.Errorf("an event without its change: %v", l)
	}
	// And with the table back, the same request works.
	in.must(201, "POST", "/api/v1/bookings", map[string]any{"slot_id": slot, "customer_id": cus})
}

func TestPlannerBlocksAndLinks(t *testing.T) {
	t.Parallel()
	in := start(t, nil)
	svc, _ := bookingFixture(t, in, false, 5)
	start := time.Now().Add(200 * time.Hour).UTC().Truncate(time.Hour)
	blk := in.must(201, "POST", "/api/v1/planner/blocks", map[string]any{"starts_at": start.Format(time.RFC3339), "ends_at": start.Add(4 * time.Hour).Format(time.RFC3339), "reason": "Holiday"})
	inside := in.must(201, "POST", "/api/v1/slots", map[string]any{"service_id": svc, "starts_at": start.Add(time.Hour).Format(time.RFC3339), "ends_at": start.Add(2 * time.Hour).Format(time.RFC3339)})["id"].(string)
	body := map[string]any{"slot_id": inside, "customer": map[string]any{"name": "B", "email": "b@example.com"}}
	if r := in.do("POST", "/api/v1/bookings", body); r.Status != 409 || r.ErrorCode(t) != "slot_blocked" {
		t.Fatalf("booking inside a block = %d %s", r.Status, r.Body)
	}
	in.must(204, "DELETE", "/api/v1/planner/blocks/"+blk["id"].(string), nil)
	in.must(201, "POST", "/api/v1/bookings", body)

	in.must(201, "POST", "/api/v1/links", map[string]any{"service_id": svc, "slug": "walk"})
	if r := in.do("POST", "/api/v1/links", map[string]any{"service_id": svc, "slug": "walk"}); r.Status != 409 {
		t.Errorf("duplicate slug = %d", r.Status)
	}
	if l := in.must(200, "POST", "/api/v1/links/walk/disable", nil); l["enabled"] != false {
		t.Errorf("link = %v", l)
	}
	if r := in.do("POST", "/api/v1/links/walk/disable", nil); r.Status != 409 {
		t.Errorf("disable twice = %d", r.Status)
	}
}

func TestRemindersFireOnceAcrossRestart(t *testing.T) {
	t.Parallel()
	db := databaseURL(t)
	env := map[string]string{"HOOKBOOK_DATABASE_URL": db, "HOOKBOOK_REMINDER_INTERVAL": "100ms"}
	in := start(t, env)
	rc := newReceiver(t, nil)
	in.createEndpoint(rc.URL, []string{"booking.reminder", "booking.follow_up"}, nil)
	// Reminders off while the bookings are made and one is cancelled, so the
	// cancelled one is skipped for its state, not for its timing.
	in.must(200, "PUT", "/api/v1/settings/reminders", map[string]any{"reminder_offsets": []string{}, "follow_up_offset": ""})
	svc := in.must(201, "POST", "/api/v1/services", map[string]any{"name": "Quick", "duration_minutes": 1, "capacity": 5})["id"].(string)
	now := time.Now().UTC()
	mk := func(startIn, length time.Duration) string {
		s := in.must(201, "POST", "/api/v1/slots", map[string]any{"service_id": svc,
			"starts_at": now.Add(startIn).Format(time.RFC3339), "ends_at": now.Add(startIn + length).Format(time.RFC3339)})["id"].(string)
		return in.must(201, "POST", "/api/v1/bookings", map[string]any{"slot_id": s, "customer": map[string]any{"name": "R", "email": "r@example.com"}})["id"].(string)
	}
	soon := mk(8*time.Second, 2*time.Second)    // reminders "6s" and "1h", then a follow-up
	cancelled := mk(9*time.Second, time.Second) // cancelled: nothing
	in.must(200, "POST", "/api/v1/bookings/"+cancelled+"/cancel", nil)
	in.must(200, "PUT", "/api/v1/settings/reminders", map[string]any{"reminder_offsets": []string{"6s", "1h"}, "follow_up_offset": "1s"})

	count := func(typ, id string) int {
		n := 0
		for _, r := range rc.All() {
			var e envelope
			json.Unmarshal(r.Body, &e)
			if e.Event == typ && e.Data["id"] == id {
				n++
			}
		}
		return n
	}
	// The "1h" reminder is due at once; the "6s" one about two seconds later.
	waitFor(t, 8*time.Second, "both reminders", func() bool { return count("booking.reminder", soon) == 2 })
	in.stop() // restart on the same database
	in = start(t, env)
	waitFor(t, 15*time.Second, "the follow-up", func() bool { return count("booking.follow_up", soon) == 1 })
	// Two more passes of the scheduler have had every chance to fire again.
	passes := in.app.JobPasses("reminders")
	waitFor(t, 5*time.Second, "two more scheduler passes", func() bool { return in.app.JobPasses("reminders") >= passes+2 })
	if n := count("booking.reminder", soon); n != 2 {
		t.Errorf("%d reminders after a restart, want 2", n)
	}
	if n := count("booking.follow_up", soon); n != 1 {
		t.Errorf("%d follow-ups, want 1", n)
	}
	if n := count("booking.reminder", cancelled) + count("booking.follow_up", cancelled); n != 0 {
		t.Errorf("a cancelled booking got %d reminders", n)
	}
	var offsets []string
	for _, r := range rc.All() {
		var e envelope
		json.Unmarshal(r.Body, &e)
		if e.Event == "booking.reminder" {
			offsets = append(offsets, fmt.Sprint(e.Data["offset"]))
		}
	}
	if len(offsets) != 2 {
		t.Errorf("reminder offsets %v", offsets)
	}
}

func TestBookingBadInput(t *testing.T) {
	t.Parallel()
	in := start(t, nil)
	svc, slot := bookingFixture(t, in, false, 2)
	other := secondOrg(t, in)
	cases := []struct {
		name, method, path string
		body               any
		status             int
		field              string
	}{
		{"service without name", "POST", "/api/v1/services", `{"duration_minutes":30}`, 422, "name"},
		{"service duration of wrong type", "POST", "/api/v1/services", `{"name":"x","duration_minutes":"30"}`, 422, "duration_minutes"},
		{"service bad currency", "POST", "/api/v1/services", `{"name":"x","duration_minutes":30,"currency":"dollars"}`, 422, "currency"},
		{"service negative price", "POST", "/api/v1/services", `{"name":"x","duration_minutes":30,"price":-1}`, 422, "price"},
		{"slot ends before it starts", "POST", "/api/v1/slots", map[string]any{"service_id": svc, "starts_at": future(5), "ends_at": future(4)}, 422, "ends_at"},
		{"slot bad time", "POST", "/api/v1/slots", map[string]any{"service_id": svc, "starts_at": "tomorrow", "ends_at": future(4)}, 422, "starts_at"},
		{"slot unknown service", "POST", "/api/v1/slots", map[string]any{"service_id": "svc_01ARZ3NDEKTSV4RRFFQ69G5FAV", "starts_at": future(4), "ends_at": future(5)}, 404, ""},
		{"customer bad email", "POST", "/api/v1/customers", `{"name":"x","email":"nope"}`, 422, "email"},
		{"customer missing email", "POST", "/api/v1/customers", `{"name":"x"}`, 422, "email"},
		{"booking without customer", "POST", "/api/v1/bookings", map[string]any{"slot_id": slot}, 422, "customer_id"},
		{"booking inline customer bad email", "POST", "/api/v1/bookings", map[string]any{"slot_id": slot, "customer": map[string]any{"name": "x", "email": "x"}}, 422, "customer.email"},
		{"booking zero participants", "POST", "/api/v1/bookings", map[string]any{"slot_id": slot, "customer_id": "cus_x", "participants": 0}, 422, "participants"},
		{"booking over capacity", "POST", "/api/v1/bookings", map[string]any{"slot_id": slot, "customer": map[string]any{"name": "x", "email": "x@example.com"}, "participants": 3}, 409, ""},
		{"booking unknown slot", "POST", "/api/v1/bookings", map[string]any{"slot_id": "slot_01ARZ3NDEKTSV4RRFFQ69G5FAV", "customer_id": "cus_x"}, 404, ""},
		{"booking unknown customer", "POST", "/api/v1/bookings", map[string]any{"slot_id": slot, "customer_id": "cus_01ARZ3NDEKTSV4RRFFQ69G5FAV"}, 404, ""},
		{"payment without status", "POST", "/api/v1/payments", map[string]any{"booking_id": "bkg_x", "amount": 5}, 422, "status"},
		{"failed payment without code", "POST", "/api/v1/payments", map[string]any{"booking_id": "bkg_x", "amount": 5, "status": "failed"}, 422, "error_code"},
		{"payment unknown booking", "POST", "/api/v1/payments", map[string]any{"booking_id": "bkg_01ARZ3NDEKTSV4RRFFQ69G5FAV", "amount": 5, "status": "succeeded"}, 404, ""},
		{"review rating 6", "POST", "/api/v1/reviews", map[string]any{"booking_id": "bkg_x", "rating": 6}, 422, "rating"},
		{"community bad slug", "POST", "/api/v1/community-events", map[string]any{"slug": "Not A Slug", "title": "t", "starts_at": future(1), "approvals_required": 1}, 422, "slug"},
		{"community zero threshold", "POST", "/api/v1/community-events", map[string]any{"slug": "ok", "title": "t", "starts_at": future(1), "approvals_required": 0}, 422, "approvals_required"},
		{"approval without name", "POST", "/api/v1/community-events/none/approvals", `{}`, 422, "full_name"},
		{"approval unknown slug", "POST", "/api/v1/community-events/none/approvals", `{"full_name":"x"}`, 404, ""},
		{"block ends before it starts", "POST", "/api/v1/planner/blocks", map[string]any{"starts_at": future(5), "ends_at": future(4)}, 422, "ends_at"},
		{"reminders bad offset", "PUT", "/api/v1/settings/reminders", `{"reminder_offsets":["soon"]}`, 422, "reminder_offsets"},
		{"reminders wrong type", "PUT", "/api/v1/settings/reminders", `{"reminder_offsets":"24h"}`, 422, "reminder_offsets"},
		{"slots bad from", "GET", "/api/v1/slots?from=yesterday", nil, 400, "from"},
		{"malformed booking", "POST", "/api/v1/bookings", `{"slot_id":`, 400, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := in.do(c.method, c.path, c.body)
			if r.Status != c.status {
				t.Fatalf("status %d, want %d: %s", r.Status, c.status, r.Body)
			}
			var e struct {
				Error struct {
					Code    string            `json:"code"`
					Details map[string]string `json:"details"`
				} `json:"error"`
			}
			if json.Unmarshal(r.Body, &e) != nil || e.Error.Code == "" {
				t.Fatalf("not a JSON error: %s", r.Body)
			}
			if c.field != "" && e.Error.Details[c.field] == "" {
				t.Fatalf("details %v do not name %s", e.Error.Details, c.field)
			}
		})
	}
	// Another organization's ids are not found.
	for _, p := range []string{"/api/v1/services/" + svc, "/api/v1/slots/" + slot} {
		if r := in.doKey(other, "GET", p, nil); r.Status != 404 {
			t.Errorf("%s with another organization's key = %d", p, r.Status)
		}
	}
	if r := in.doKey(other, "POST", "/api/v1/bookings", map[string]any{"slot_id": slot, "customer": map[string]any{"name": "x", "email": "x@example.com"}}); r.Status != 404 {
		t.Errorf("booking another organization's slot = %d", r.Status)
	}
	_ = http.StatusOK
}

// TestCommunityApprovalsPerPerson: approvals count once per person (the
// same email case aside, or the same name when either has no email); a
// person's repeat approval answers 409 already_approved, changes nothing
// and publishes nothing, but an email it brings completes her approval.
func TestCommunityApprovalsPerPerson(t *testing.T) {
	t.Parallel()
	in := start(t, nil)
	in.must(201, "POST", "/api/v1/community-events", map[string]any{"slug": "meetup", "title": "Meetup", "starts_at": future(100), "approvals_required": 10})
	approve := func(name, email string) response {
		t.Helper()
		body := map[string]any{"full_name": name}
		if email != "" {
			body["email"] = email
		}
		return in.do("POST", "/api/v1/community-events/meetup/approvals", body)
	}
	for i, a := range []struct {
		name, email string
		count       float64 // 0: a repeat, answered 409
	}{
		{"Ada Lovelace", "", 1},
		{"Ada Lovelace", "ada@example.com", 0},   // the same name, one without email: hers, now with the email
		{"ada  lovelace", "", 0},                 // case and spaces aside
		{"A. Lovelace", "ADA@example.com", 0},    // the same email, recorded by the second approval
		{"Ada Lovelace", "other@example.com", 2}, // both have emails, different: another Ada
		{"Grace Hopper", "grace@example.com", 3},
		{"Grace Hopper", "hopper@example.com", 4},
		{"Grace Hopper", "", 0}, // matches a Grace Hopper
		{"Alan Turing", "", 5},
	} {
		r := approve(a.name, a.email)
		if a.count == 0 {
			if r.Status != 409 || !strings.Contains(string(r.Body), `"already_approved"`) {
				t.Errorf("approval %d (%s, %q) = %d %s, want 409 already_approved", i, a.name, a.email, r.Status, r.Body)
			}
			continue
		}
		var got struct {
			Count float64 `json:"approvals_count"`
		}
		if r.Status != 200 || json.Unmarshal(r.Body, &got) != nil || got.Count != a.count {
			t.Errorf("approval %d (%s, %q) = %d %s, want 200 with approvals_count %v", i, a.name, a.email, r.Status, r.Body, a.count)
		}
	}
	if n := len(in.must(200, "GET", "/api/v1/events?event=community_event.approved", nil)["data"].([]any)); n != 5 {
		t.Errorf("%d community_event.approved events, want 5 (one per person)", n)
	}
}
