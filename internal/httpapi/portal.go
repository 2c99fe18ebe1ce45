package httpapi

import (
	"net/http"

	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/session"
)

// PortalRoutes serves POST /api/v1/portal/sessions: a link that opens the
// organization's webhook portal. Its URL starts with publicURL, or when
// that is empty with the scheme and host the request came to.
func (s *Server) PortalRoutes(sessions *session.Store, publicURL string) []Route {
	create := func(w http.ResponseWriter, r *http.Request, org *hookbook.Organization) error {
		var in session.PortalInput
		if err := Decode(w, r, &in); err != nil {
			return err
		}
		base := publicURL
		if base == "" {
			scheme := "http"
			if r.TLS != nil {
				scheme = "https"
			}
			base = scheme + "://" + r.Host
		}
		link, err := sessions.CreatePortal(r.Context(), org.ID, base, in)
		if err != nil {
			return err
		}
		WriteJSON(w, http.StatusCreated, link)
		return nil
	}
	return []Route{{Method: "POST", Pattern: "/api/v1/portal/sessions", Handler: s.Adapt(create)}}
}
