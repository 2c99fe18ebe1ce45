package httpapi

import (
	"net/http"

	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/inbound"
	"github.com/hookbook/hookbook/internal/ratelimit"
)

// InboundChallenge is the WWW-Authenticate of a command refused with 401:
// it must be signed with the organization's inbound secret.
const InboundChallenge = `HMAC-SHA256 realm="hookbook inbound commands"`

// InboundRoutes returns the public command endpoints and the settings and
// log routes of inbound commands. The settings never carry the secret; it
// leaves only through GET /api/v1/settings/inbound/secret, the explicit reveal.
func (s *Server) InboundRoutes(svc *inbound.Service) []Route {
	a := s.Adapt
	command := func(w http.ResponseWriter, r *http.Request) {
		out, err := svc.Execute(r.Context(), r.PathValue("org"), ratelimit.ClientAddr(r), r.Header, func() ([]byte, error) { return ReadBody(w, r) })
		if err != nil {
			if hookbook.HTTPStatus(err) == http.StatusUnauthorized {
				// Commands authenticate by their signature, not an API key.
				w.Header().Set("WWW-Authenticate", InboundChallenge)
			}
			s.fail(w, r, err)
			return
		}
		WriteJSON(w, http.StatusOK, map[string]any{"ok": true, "action": out.Action, "result": out.Result})
	}
	return []Route{
		{Method: "POST", Pattern: "/api/public/webhooks/inbound", Handler: http.HandlerFunc(command), Public: true},
		{Method: "POST", Pattern: "/api/public/webhooks/inbound/{org}", Handler: http.HandlerFunc(command), Public: true},
		{Method: "GET", Pattern: "/api/v1/settings/inbound", Handler: a(func(w http.ResponseWriter, r *http.Request, org *hookbook.Organization) error {
			st, err := svc.Settings(r.Context(), org.ID)
			if err != nil {
				return err
			}
			WriteJSON(w, http.StatusOK, st)
			return nil
		})},
		{Method: "GET", Pattern: "/api/v1/settings/inbound/secret", Handler: a(func(w http.ResponseWriter, r *http.Request, org *hookbook.Organization) error {
			st, err := svc.Settings(r.Context(), org.ID)
			if err != nil {
				return err
			}
			if st.Secret == "" {
				return hookbook.Errorf(hookbook.ENotFound, "inbound_secret_not_set",
					"no inbound secret is set yet; PUT /api/v1/settings/inbound generates one")
			}
			w.Header().Set("Cache-Control", "no-store")
			WriteJSON(w, http.StatusOK, map[string]string{"secret": st.Secret})
			return nil
		})},
		{Method: "PUT", Pattern: "/api/v1/settings/inbound", Handler: a(func(w http.ResponseWriter, r *http.Request, org *hookbook.Organization) error {
			var in inbound.SettingsInput
			if err := Decode(w, r, &in); err != nil {
				return err
			}
			st, err := svc.SetSettings(r.Context(), org.ID, in)
			if err != nil {
				return err
			}
			WriteJSON(w, http.StatusOK, st)
			return nil
		})},
		{Method: "GET", Pattern: "/api/v1/inbound/commands", Handler: a(list("cmd", svc.Commands))},
	}
}
