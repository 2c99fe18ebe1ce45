package admin

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
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

// CreatePortalSession validates in and starts a portal session of an
// organization. baseURL is how browsers reach hookbook
// ("https://hooks.example.com").
func (u *UI) CreatePortalSession(ctx context.Context, orgID, baseURL string, in PortalInput) (*PortalLink, error) {
	u.Handler() // sessions ready
	f := hookbook.Fields{}
	ttl := DefaultPortalTTL
	if in.ExpiresIn != nil {
		d, err := time.ParseDuration(*in.ExpiresIn)
		switch {
		case err != nil:
			f.Add("expires_in", `must be a duration such as "30m" or "1h"`)
		case d < MinPortalTTL || d > MaxPortalTTL:
			f.Add("expires_in", fmt.Sprintf("must be between %s and %s", human(MinPortalTTL), human(MaxPortalTTL)))
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
				if _, err := u.Outbound.EventType(ctx, orgID, t); err != nil {
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
	live, err := u.sessions.livePortals(ctx, orgID)
	if err != nil {
		return nil, fmt.Errorf("count portal sessions: %w", err)
	}
	if live >= MaxPortalSessions {
		return nil, hookbook.Errorf(hookbook.EForbidden, "portal_session_limit",
			"this organization has %d portal links that have not expired, the most allowed; make links that expire sooner", live)
	}
	token, expires, err := u.sessions.create(ctx, orgID, ttl, limits)
	if err != nil {
		return nil, fmt.Errorf("create portal session: %w", err)
	}
	return &PortalLink{URL: strings.TrimRight(baseURL, "/") + "/portal/s/" + token, ExpiresAt: expires.UTC()}, nil
}

// portalStart turns a portal link into the portal's cookie and opens the
// endpoints page. The link works until the session expires.
func (u *UI) portalStart(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	s, err := u.sessions.get(r.Context(), token)
	if err != nil || !s.Portal {
		if err != nil && !hookbook.IsKind(err, hookbook.EUnauthorized) {
			u.Log.Error("portal session", "err", err)
		}
		u.render(w, http.StatusUnauthorized, "expired", &page{Title: "Link expired", Portal: &u.Portal, Base: "/portal"})
		return
	}
	c := &http.Cookie{Name: portalCookie, Value: token, Path: "/portal/", HttpOnly: true,
		MaxAge: int(time.Until(s.ExpiresAt) / time.Second), SameSite: http.SameSiteLaxMode}
	if u.Portal.Secure {
		// Inside another site's frame: sent cross-site, kept apart per
		// embedding site where browsers partition cookies.
		c.SameSite, c.Secure, c.Partitioned = http.SameSiteNoneMode, true, true
	}
	http.SetCookie(w, c)
	http.Redirect(w, r, "/portal/webhooks", http.StatusSeeOther)
}

// portalTheme is the portal's accent colour as a style sheet (the
// configuration checked it is a #rrggbb colour).
func (u *UI) portalTheme(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "max-age=300")
	fmt.Fprintf(w, ":root { --accent: %s; }\n", u.Portal.Accent)
}

// origin is the scheme://host of an http(s) URL, "" otherwise.
func origin(raw string) string {
	p, err := url.Parse(raw)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
		return ""
	}
	return p.Scheme + "://" + p.Host
}

// allows reports whether a session may subscribe an endpoint to pattern:
// an admin may; a portal session only to patterns its event types cover.
func (s *session) allows(pattern string) bool {
	if s.EventTypes == nil {
		return true
	}
	for _, a := range s.EventTypes {
		switch {
		case a == "*", a == pattern:
			return true
		case strings.HasSuffix(a, "*") && strings.HasPrefix(pattern, strings.TrimSuffix(a, "*")):
			return true
		}
	}
	return false
}

// checkEvents refuses event patterns a portal session may not choose.
func (s *session) checkEvents(events []string) error {
	for _, e := range events {
		if !s.allows(e) {
			return &hookbook.Error{Kind: hookbook.EValidation, Code: "validation_failed", Message: "event type not allowed here",
				Details: map[string]string{"events": fmt.Sprintf("%s is not available here; choose among: %s", e, strings.Join(s.EventTypes, ", "))}}
		}
	}
	return nil
}
