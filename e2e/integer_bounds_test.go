package e2e

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hookbook/hookbook/internal/booking"
	"github.com/hookbook/hookbook/internal/hookbooktest"
)

// TestIntegerFieldsAreBounded: every integer a client gives the booking
// domain that reaches an event's data (amounts, capacities, quantities,
// durations, counts, refunds) is refused with 422 naming the field when it
// is too large for the event (beyond 2^53) or for the rule, on every
// create and update route; the largest accepted values make events that
// reach a receiver. Both databases.
func TestIntegerFieldsAreBounded(t *testing.T) {
	t.Parallel()
	hookbooktest.StartEach(t, func(t *testing.T, in *hookbooktest.Instance) {
		rc := hookbooktest.NewReceiver(t, nil)
		in.CreateEndpoint(rc.URL, []string{"*"}, nil)
		maxAmount := strconv.FormatInt(booking.MaxAmount, 10)
		// The largest values accepted, end to end: a booking's total is the
		// price times the participants, and still an exact JSON number.
		svc := in.Must(201, "POST", "/api/v1/services", `{"name":"Tour","duration_minutes":1440,"price":`+maxAmount+`,"capacity":100000}`)
		svcID := svc["id"].(string)
		slot := in.Must(201, "POST", "/api/v1/slots", map[string]any{"service_id": svcID, "starts_at": "2031-03-25T14:00:00Z", "ends_at": "2031-03-25T15:00:00Z", "capacity": 100000})
		bkg := in.Must(201, "POST", "/api/v1/bookings", map[string]any{"slot_id": slot["id"], "participants": booking.MaxParticipants,
			"customer": map[string]any{"name": "Jane", "email": "jane@example.com"}})
		bkgID := bkg["id"].(string)
		if want := float64(booking.MaxAmount) * booking.MaxParticipants; bkg["total_amount"] != want {
			t.Errorf("total_amount = %v, want %v", bkg["total_amount"], want)
		}
		pay := in.Must(201, "POST", "/api/v1/payments", `{"booking_id":"`+bkgID+`","amount":`+maxAmount+`,"status":"succeeded"}`)
		payID := pay["id"].(string)
		in.Must(200, "POST", "/api/v1/payments/"+payID+"/refund", `{"amount":1}`)
		in.Must(201, "POST", "/api/v1/community-events", map[string]any{"slug": "launch", "title": "Launch", "starts_at": "2031-04-01T10:00:00Z", "approvals_required": 100000})
		hookbooktest.WaitFor(t, 20*time.Second, "the events of the largest values", func() bool {
			n := 0
			for _, r := range rc.All() {
				if strings.Contains(string(r.Body), `"total_amount":1000000000000000`) || strings.Contains(string(r.Body), `"amount":`+maxAmount) {
					n++
				}
			}
			return n >= 3 // booking.created, payment.succeeded, payment.refunded
		})

		huge := []string{"9223372036854775807", "9007199254740993", strconv.FormatInt(booking.MaxAmount+1, 10)}
		for _, c := range []struct {
			method, path, body, field string
		}{
			{"POST", "/api/v1/services", `{"name":"X","duration_minutes":60,"price":%s}`, "price"},
			{"POST", "/api/v1/services", `{"name":"X","duration_minutes":%s}`, "duration_minutes"},
			{"POST", "/api/v1/services", `{"name":"X","duration_minutes":60,"capacity":%s}`, "capacity"},
			{"PATCH", "/api/v1/services/" + svcID, `{"price":%s}`, "price"},
			{"PATCH", "/api/v1/services/" + svcID, `{"duration_minutes":%s}`, "duration_minutes"},
			{"PATCH", "/api/v1/services/" + svcID, `{"capacity":%s}`, "capacity"},
			{"POST", "/api/v1/slots", `{"service_id":"` + svcID + `","starts_at":"2031-05-01T10:00:00Z","ends_at":"2031-05-01T11:00:00Z","capacity":%s}`, "capacity"},
			{"POST", "/api/v1/bookings", `{"slot_id":"` + slot["id"].(string) + `","customer_id":"` + bkg["customer_id"].(string) + `","participants":%s}`, "participants"},
			{"PATCH", "/api/v1/bookings/" + bkgID, `{"participants":%s}`, "participants"},
			{"POST", "/api/v1/bookings/" + bkgID + "/cancel", `{"refund_amount":%s}`, "refund_amount"},
			{"POST", "/api/v1/payments", `{"booking_id":"` + bkgID + `","status":"succeeded","amount":%s}`, "amount"},
			{"POST", "/api/v1/payments/" + payID + "/refund", `{"amount":%s}`, "amount"},
			{"POST", "/api/v1/reviews", `{"booking_id":"` + bkgID + `","rating":%s}`, "rating"},
			{"POST", "/api/v1/community-events", `{"slug":"big","title":"Big","starts_at":"2031-04-01T10:00:00Z","approvals_required":%s}`, "approvals_required"},
		} {
			for _, n := range huge {
				body := strings.Replace(c.body, "%s", n, 1)
				r := in.Do(c.method, c.path, body)
				if r.Status != 422 || r.ErrorCode(t) != "validation_failed" {
					t.Errorf("%s %s %s = %d %s, want 422 validation_failed", c.method, c.path, body, r.Status, r.Body)
					continue
				}
				if d, _ := r.JSON(t)["error"].(map[string]any)["details"].(map[string]any); d[c.field] == nil {
					t.Errorf("%s %s %s: %s does not name %s", c.method, c.path, body, r.Body, c.field)
				}
			}
		}
		// Nothing was changed by a refused request.
		if got := in.Must(200, "GET", "/api/v1/bookings/"+bkgID, nil); got["status"] == "cancelled" || got["participants"] != float64(booking.MaxParticipants) {
			t.Errorf("booking after refused changes: %v", got)
		}
	})
}
