package admin

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hookbook/hookbook"
)

// portalStart turns a portal link into the portal's cookie and opens the
// endpoints page. The link works until the session expires.
func (u *UI) portalStart(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	s, err := u.Sessions.Get(r.Context(), token)
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
