package httpapi

import (
	"net/http"

	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/admin"
)

// PortalRoutes serves POST /api/v1/portal/sessions: a link that opens the
// organization's webhook portal. Its URL starts with publicURL, or when
// that is empty with the scheme and host the request came to.
func (s *Server) PortalRoutes(ui *admin.UI, publicURL string) []Route {
	create := func(w http.ResponseWriter, r *http.Request, org *hookbook.Organization) error {
		var in admin.PortalInput
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
		link, err := ui.CreatePortalSession(r.Context(), org.ID, base, in)
		if err != nil {
			return err
		}
		WriteJSON(w, http.StatusCreated, link)
		return nil
	}
	return []Route{{Method: "POST", Pattern: "/api/v1/portal/sessions", Handler: s.Adapt(create)}}
}
