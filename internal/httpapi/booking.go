package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/booking"
)

// BookingRoutes returns the routes of the booking domain.
func (s *Server) BookingRoutes(d *booking.Domain) []Route {
	a := s.Adapt
	return []Route{
		{Method: "GET", Pattern: "/api/v1/services", Handler: a(list("svc", d.Services))},
		{Method: "POST", Pattern: "/api/v1/services", Handler: a(create(d.CreateService))},
		{Method: "GET", Pattern: "/api/v1/services/{id}", Handler: a(get(d.Service))},
		{Method: "PATCH", Pattern: "/api/v1/services/{id}", Handler: a(patch(d.UpdateService))},
		{Method: "DELETE", Pattern: "/api/v1/services/{id}", Handler: a(remove(d.DeleteService))},

		{Method: "GET", Pattern: "/api/v1/slots", Handler: a(s.listSlots(d))},
		{Method: "POST", Pattern: "/api/v1/slots", Handler: a(create(d.CreateSlot))},
		{Method: "GET", Pattern: "/api/v1/slots/{id}", Handler: a(get(d.Slot))},
		{Method: "DELETE", Pattern: "/api/v1/slots/{id}", Handler: a(remove(d.DeleteSlot))},

		{Method: "GET", Pattern: "/api/v1/customers", Handler: a(list("cus", d.Customers))},
		{Method: "POST", Pattern: "/api/v1/customers", Handler: a(create(d.CreateCustomer))},
		{Method: "GET", Pattern: "/api/v1/customers/{id}", Handler: a(get(d.Customer))},

		{Method: "GET", Pattern: "/api/v1/bookings", Handler: a(list("bkg", func(ctx context.Context, org string, p booking.Page) ([]*booking.Booking, string, error) {
			return d.Bookings(ctx, org, "", p)
		}))},
		{Method: "POST", Pattern: "/api/v1/bookings", Handler: a(create(d.CreateBooking))},
		{Method: "GET", Pattern: "/api/v1/bookings/{id}", Handler: a(get(d.Booking))},
		{Method: "PATCH", Pattern: "/api/v1/bookings/{id}", Handler: a(patch(d.Update))},
		{Method: "POST", Pattern: "/api/v1/bookings/{id}/confirm", Handler: a(action(d.Confirm))},
		{Method: "POST", Pattern: "/api/v1/bookings/{id}/reject", Handler: a(update(func(ctx context.Context, org, id string, in struct {
			Reason *string `json:"reason"`
		}) (*booking.Booking, error) {
			reason := ""
			if in.Reason != nil {
				reason = *in.Reason
			}
			return d.Reject(ctx, org, id, reason)
		}))},
		{Method: "POST", Pattern: "/api/v1/bookings/{id}/reschedule", Handler: a(update(d.Reschedule))},
		{Method: "POST", Pattern: "/api/v1/bookings/{id}/cancel", Handler: a(update(d.Cancel))},
		{Method: "POST", Pattern: "/api/v1/bookings/{id}/complete", Handler: a(action(d.Complete))},
		{Method: "POST", Pattern: "/api/v1/bookings/{id}/no-show", Handler: a(action(d.MarkNoShow))},

		{Method: "GET", Pattern: "/api/v1/payments", Handler: a(list("pay", d.Payments))},
		{Method: "POST", Pattern: "/api/v1/payments", Handler: a(create(d.CreatePayment))},
		{Method: "GET", Pattern: "/api/v1/payments/{id}", Handler: a(get(d.Payment))},
		{Method: "POST", Pattern: "/api/v1/payments/{id}/refund", Handler: a(update(func(ctx context.Context, org, id string, in struct {
			Amount *int64 `json:"amount"`
		}) (*booking.Payment, error) {
			return d.Refund(ctx, org, id, in.Amount)
		}))},

		{Method: "GET", Pattern: "/api/v1/reviews", Handler: a(list("rev", d.Reviews))},
		{Method: "POST", Pattern: "/api/v1/reviews", Handler: a(create(d.CreateReview))},

		{Method: "GET", Pattern: "/api/v1/community-events", Handler: a(list("cev", d.CommunityEvents))},
		{Method: "POST", Pattern: "/api/v1/community-events", Handler: a(create(d.CreateCommunityEvent))},
		{Method: "GET", Pattern: "/api/v1/community-events/{id}", Handler: a(get(d.CommunityEvent))},
		{Method: "POST", Pattern: "/api/v1/community-events/{id}/approvals", Handler: a(update(func(ctx context.Context, org, slug string, in booking.ApprovalInput) (*booking.CommunityEvent, error) {
			return d.Approve(ctx, org, slug, in)
		}))},

		{Method: "GET", Pattern: "/api/v1/links", Handler: a(list("lnk", d.Links))},
		{Method: "POST", Pattern: "/api/v1/links", Handler: a(create(func(ctx context.Context, org string, in booking.LinkInput) (*booking.Link, error) {
			return d.CreateLink(ctx, org, in)
		}))},
		{Method: "GET", Pattern: "/api/v1/links/{id}", Handler: a(get(d.Link))},
		{Method: "POST", Pattern: "/api/v1/links/{id}/disable", Handler: a(action(d.DisableLink))},

		{Method: "GET", Pattern: "/api/v1/planner/blocks", Handler: a(list("blk", d.Blocks))},
		{Method: "POST", Pattern: "/api/v1/planner/blocks", Handler: a(create(func(ctx context.Context, org string, in booking.BlockInput) (*booking.Block, error) {
			return d.CreateBlock(ctx, org, in)
		}))},
		{Method: "DELETE", Pattern: "/api/v1/planner/blocks/{id}", Handler: a(remove(d.DeleteBlock))},

		{Method: "GET", Pattern: "/api/v1/settings/reminders", Handler: a(func(w http.ResponseWriter, r *http.Request, org *hookbook.Organization) error {
			rem, err := d.RemindersOf(r.Context(), org.ID)
			if err != nil {
				return err
			}
			WriteJSON(w, http.StatusOK, rem)
			return nil
		})},
		{Method: "PUT", Pattern: "/api/v1/settings/reminders", Handler: a(func(w http.ResponseWriter, r *http.Request, org *hookbook.Organization) error {
			var in booking.RemindersInput
			if err := Decode(w, r, &in); err != nil {
				return err
			}
			rem, err := d.SetReminders(r.Context(), org.ID, in)
			if err != nil {
				return err
			}
			WriteJSON(w, http.StatusOK, rem)
			return nil
		})},
	}
}

func (s *Server) listSlots(d *booking.Domain) OrgHandler {
	return func(w http.ResponseWriter, r *http.Request, org *hookbook.Organization) error {
		p, err := ParsePage(r, "slot")
		if err != nil {
			return err
		}
		q := r.URL.Query()
		f := booking.SlotFilter{ServiceID: q.Get("service_id")}
		for _, x := range []struct {
			name string
			dst  *time.Time
		}{{"from", &f.From}, {"to", &f.To}} {
			if v := q.Get(x.name); v != "" {
				t, err := time.Parse(time.RFC3339, v)
				if err != nil {
					return &hookbook.Error{Kind: hookbook.EInvalid, Code: "invalid_query", Message: x.name + " must be an RFC 3339 time",
						Details: map[string]string{x.name: "not an RFC 3339 time"}}
				}
				*x.dst = t
			}
		}
		list, next, err := d.Slots(r.Context(), org.ID, f, p)
		if err != nil {
			return err
		}
		WriteJSON(w, http.StatusOK, NewList(list, next))
		return nil
	}
}
