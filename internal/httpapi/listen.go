package httpapi

import (
	"net/http"
	"strings"

	"github.com/coder/websocket"
	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/relay"
)

// ListenRoutes returns GET /api/v1/listen, the WebSocket of `hookbook
// listen`, whose connections hub serves.
func (s *Server) ListenRoutes(hub *relay.Hub) []Route {
	return []Route{{Method: "GET", Pattern: "/api/v1/listen", Handler: s.Adapt(func(w http.ResponseWriter, r *http.Request, org *hookbook.Organization) error {
		return s.listen(w, r, org, hub)
	})}}
}

// listen registers the caller's listener (?name=, ?events= comma-separated
// patterns, * by default) and hands the upgraded connection to the hub.
func (s *Server) listen(w http.ResponseWriter, r *http.Request, org *hookbook.Organization, hub *relay.Hub) error {
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		w.Header().Set("Upgrade", "websocket")
		WriteError(w, hookbook.Errorf(hookbook.EInvalid, "websocket_required",
			"GET /api/v1/listen is a WebSocket: connect with hookbook listen (or any WebSocket client)"), http.StatusUpgradeRequired)
		return nil
	}
	q := r.URL.Query()
	events := []string{"*"}
	if v := q.Get("events"); v != "" {
		events = strings.Split(v, ",")
		for i := range events {
			events[i] = strings.TrimSpace(events[i])
		}
	}
	ep, err := s.Outbound.RegisterListener(r.Context(), org.ID, q.Get("name"), events)
	if err != nil {
		return err
	}
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{CompressionMode: websocket.CompressionDisabled})
	if err != nil {
		return nil // Accept answered the client
	}
	hub.Serve(r.Context(), conn, relay.Ready{
		EndpointID: ep.ID, OrganizationID: org.ID, Name: q.Get("name"), Events: ep.Events, Ordered: ep.Ordered, Secret: ep.Secret,
	})
	return nil
}
