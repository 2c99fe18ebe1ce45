package outbound

import (
	"context"
	"time"

	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/ratelimit"
)

// EndpointStats is an endpoint's backlog and the state of its throttle.
type EndpointStats struct {
	EndpointID string `json:"endpoint_id"`
	// Pending counts deliveries not finished yet (due, scheduled for a
	// retry, parked behind their ordering key, or in flight).
	Pending  int `json:"pending"`
	Due      int `json:"due"`
	InFlight int `json:"in_flight"`
	// OldestPendingAt is when the oldest pending delivery was created.
	OldestPendingAt         *time.Time `json:"oldest_pending_at"`
	OldestPendingAgeSeconds float64    `json:"oldest_pending_age_seconds"`
	RateLimit               *string    `json:"rate_limit"`
	Burst                   *int       `json:"burst"`
	MaxInFlight             *int       `json:"max_in_flight"`
	// Throttled is true when due deliveries wait for the rate or for
	// max_in_flight right now.
	Throttled bool `json:"throttled"`
	// NextAllowedAt is when the rate allows the next attempt (null without
	// a rate limit).
	NextAllowedAt *time.Time `json:"next_allowed_at"`
}

// EndpointStats returns an organization's endpoint's backlog and throttle.
func (s *Service) EndpointStats(ctx context.Context, orgID, id string) (*EndpointStats, error) {
	e, err := s.Endpoint(ctx, orgID, id)
	if err != nil {
		return nil, err
	}
	return s.Backlog(ctx, e)
}

// Backlog returns the backlog and throttle of an endpoint the caller has
// read already (EndpointStats without reading it again).
func (s *Service) Backlog(ctx context.Context, e *hookbook.Endpoint) (*EndpointStats, error) {
	st, err := s.queue().EndpointState(ctx, e.ID)
	if err != nil {
		return nil, err
	}
	now := s.DB.Now()
	out := &EndpointStats{EndpointID: e.ID, Pending: st.Pending, Due: st.Due, InFlight: st.InFlight,
		RateLimit: e.RateLimit, MaxInFlight: e.MaxInFlight}
	if t := st.OldestPendingAt; t != nil {
		out.OldestPendingAt = t
		out.OldestPendingAgeSeconds = SecondsToMillis(max(now.Sub(*t), 0))
	}
	if e.RateLimit != nil {
		if r, err := ratelimit.ParseLimit(*e.RateLimit); err == nil {
			b := r.Burst()
			out.Burst = &b
		}
		out.NextAllowedAt = st.NextAllowedAt
	}
	waitsForRate := out.NextAllowedAt != nil && out.NextAllowedAt.After(now)
	waitsForSlots := e.MaxInFlight != nil && st.InFlight >= *e.MaxInFlight
	out.Throttled = st.Due > 0 && (waitsForRate || waitsForSlots)
	return out, nil
}

// SecondsToMillis is d in seconds rounded to the millisecond, as a float
// that prints short: 1.644, never 1.6440000000000001.
func SecondsToMillis(d time.Duration) float64 {
	return float64(d.Round(time.Millisecond).Milliseconds()) / 1000
}
