package session

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/event"
)

// Portal session bounds.
const (
	DefaultPortalTTL   = time.Hour
	MaxPortalTTL       = 24 * time.Hour
	MinPortalTTL       = time.Minute
	MaxPortalEventList = 100
	// MaxPortalSessions is how many unexpired portal sessions an
	// organization may hold.
	MaxPortalSessions = 1000
)

// PortalInput asks for a portal session: how long its link works, which
// event types its endpoints may subscribe to (nil: every one) and whether
// it may change anything.
type PortalInput struct {
	ExpiresIn  *string   `json:"expires_in"`
	EventTypes *[]string `json:"event_types"`
	ReadOnly   *bool     `json:"read_only"`
}

// PortalLink is a created portal session: the link opens the
// organization's webhook pages until ExpiresAt.
type PortalLink struct {
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expires_at"`
}

// CreatePortal validates in and starts a portal session of an
// organization. baseURL is how browsers reach hookbook
// ("https://hooks.example.com").
func (s *Store) CreatePortal(ctx context.Context, orgID, baseURL string, in PortalInput) (*PortalLink, error) {
	f := hookbook.Fields{}
	ttl := DefaultPortalTTL
	if in.ExpiresIn != nil {
		d, err := time.ParseDuration(*in.ExpiresIn)
		switch {
		case err != nil:
			f.Add("expires_in", `must be a duration such as "30m" or "1h"`)
		case d < MinPortalTTL || d > MaxPortalTTL:
			f.Add("expires_in", fmt.Sprintf("must be between %s and %s", hookbook.HumanDuration(MinPortalTTL), hookbook.HumanDuration(MaxPortalTTL)))
		default:
			ttl = d
		}
	}
	limits := &Limits{}
	if in.ReadOnly != nil {
		limits.ReadOnly = *in.ReadOnly
	}
	if in.EventTypes != nil {
		types := *in.EventTypes
		switch {
		case len(types) == 0:
			f.Add("event_types", "must name at least one event type (leave it out for every type)")
		case len(types) > MaxPortalEventList:
			f.Add("event_types", fmt.Sprintf("at most %d entries", MaxPortalEventList))
		}
		for _, t := range types {
			if !event.ValidPattern(t) {
				f.Add("event_types", fmt.Sprintf("%q is not an event type name or wildcard such as booking.*", t))
				break
			}
			if !strings.HasSuffix(t, "*") {
				if _, err := s.Catalog.EventType(ctx, orgID, t); err != nil {
					f.Add("event_types", fmt.Sprintf("%q is not in the catalog", t))
					break
				}
			}
		}
		limits.EventTypes = types
	}
	if err := f.Err(); err != nil {
		return nil, err
	}
	live, err := s.LivePortals(ctx, orgID)
	if err != nil {
		return nil, fmt.Errorf("count portal sessions: %w", err)
	}
	if live >= MaxPortalSessions {
		return nil, hookbook.Errorf(hookbook.EForbidden, "portal_session_limit",
			"this organization has %d portal links that have not expired, the most allowed; make links that expire sooner", live)
	}
	token, expires, err := s.Create(ctx, orgID, ttl, limits)
	if err != nil {
		return nil, fmt.Errorf("create portal session: %w", err)
	}
	return &PortalLink{URL: strings.TrimRight(baseURL, "/") + "/portal/s/" + token, ExpiresAt: expires.UTC()}, nil
}
