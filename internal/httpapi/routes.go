package httpapi

import (
	"errors"
	"net/http"
	"time"

	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/db"
	"github.com/hookbook/hookbook/internal/event"
	outbound "github.com/hookbook/hookbook/internal/outbound"
)

func (s *Server) builtinRoutes() []Route {
	a := s.Adapt
	return []Route{
		{Method: "GET", Pattern: "/healthz", Handler: http.HandlerFunc(s.healthz), Public: true},
		{Method: "GET", Pattern: "/readyz", Handler: http.HandlerFunc(s.readyz), Public: true},
		{Method: "GET", Pattern: "/openapi.json", Handler: http.HandlerFunc(s.openapi), Public: true},

		{Method: "GET", Pattern: "/api/v1/event-types", Handler: a(s.listEventTypes)},
		{Method: "POST", Pattern: "/api/v1/event-types", Handler: a(create(s.Outbound.CreateEventType))},
		{Method: "GET", Pattern: "/api/v1/event-types/{name}", Handler: a(s.getEventType)},
		{Method: "GET", Pattern: "/api/v1/events", Handler: a(s.listEvents)},
		{Method: "POST", Pattern: "/api/v1/events", Handler: a(s.publish), Unbuffered: true},
		{Method: "GET", Pattern: "/api/v1/events/{id}", Handler: a(s.getEvent)},

		{Method: "GET", Pattern: "/api/v1/webhooks", Handler: a(list("ep", s.Outbound.Endpoints))},
		{Method: "POST", Pattern: "/api/v1/webhooks", Handler: a(create(s.Outbound.CreateEndpoint))},
		{Method: "GET", Pattern: "/api/v1/webhooks/{id}", Handler: a(s.getEndpoint)},
		{Method: "PATCH", Pattern: "/api/v1/webhooks/{id}", Handler: a(s.updateEndpoint)},
		{Method: "DELETE", Pattern: "/api/v1/webhooks/{id}", Handler: a(remove(s.Outbound.DeleteEndpoint))},
		{Method: "POST", Pattern: "/api/v1/webhooks/{id}/rotate-secret", Handler: a(action(s.Outbound.RotateSecret))},
		{Method: "POST", Pattern: "/api/v1/webhooks/{id}/test", Handler: a(s.sendTest)},
		{Method: "GET", Pattern: "/api/v1/webhooks/{id}/deliveries", Handler: a(s.listDeliveries)},
		{Method: "GET", Pattern: "/api/v1/webhooks/{id}/stats", Handler: a(get(s.Outbound.EndpointStats))},
		{Method: "POST", Pattern: "/api/v1/webhooks/{id}/recover", Handler: a(s.recover)},
		{Method: "POST", Pattern: "/api/v1/webhooks/{id}/replay", Handler: a(s.replay)},
		{Method: "GET", Pattern: "/api/v1/replays/{id}", Handler: a(get(s.Outbound.Replay))},

		{Method: "POST", Pattern: "/api/v1/filters/test", Handler: a(s.testFilter)},

		{Method: "POST", Pattern: "/api/v1/transformations/test", Handler: a(s.testTransformation)},
		{Method: "GET", Pattern: "/api/v1/connectors", Handler: a(s.listConnectors)},

		{Method: "GET", Pattern: "/api/v1/deliveries/{id}", Handler: a(get(s.Outbound.DeliveryDetail))},
		{Method: "POST", Pattern: "/api/v1/deliveries/{id}/redeliver", Handler: a(s.redeliver)},

		{Method: "GET", Pattern: "/api/v1/api-keys", Handler: a(s.listAPIKeys)},
		{Method: "POST", Pattern: "/api/v1/api-keys", Handler: a(s.createAPIKey)},
		{Method: "DELETE", Pattern: "/api/v1/api-keys/{id}", Handler: a(remove(s.Orgs.RevokeAPIKey))},

		{Method: "GET", Pattern: "/api/v1/settings/outbound", Handler: a(s.getOutbound)},
		{Method: "PUT", Pattern: "/api/v1/settings/outbound", Handler: a(s.putOutbound)},
		{Method: "GET", Pattern: "/api/v1/settings/retention", Handler: a(s.getRetention)},
		{Method: "PUT", Pattern: "/api/v1/settings/retention", Handler: a(s.putRetention)},
	}
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if err := s.Ready(r.Context()); err != nil {
		code, msg := "database_unreachable", "the database does not answer"
		if errors.Is(err, db.ErrUnwritable) {
			code, msg = "database_unwritable", "the database answers but cannot store writes (disk full or read-only?)"
		}
		s.Log.Error("not ready", "code", code, "err", err)
		WriteJSON(w, http.StatusServiceUnavailable, map[string]any{"error": map[string]string{"code": code, "message": msg}})
		return
	}
	WriteJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// ---- event types and events

func (s *Server) listEventTypes(w http.ResponseWriter, r *http.Request, org *hookbook.Organization) error {
	q := r.URL.Query()
	p, err := db.ParsePage(q.Get("limit"), "", "")
	if err != nil {
		return err
	}
	page, next, err := s.Outbound.CatalogPage(r.Context(), org.ID, q.Get("cursor"), p.Limit)
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, NewList(page, next))
	return nil
}

func (s *Server) getEventType(w http.ResponseWriter, r *http.Request, org *hookbook.Organization) error {
	et, err := s.Outbound.EventType(r.Context(), org.ID, r.PathValue("name"))
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, et)
	return nil
}

func (s *Server) publish(w http.ResponseWriter, r *http.Request, org *hookbook.Organization) error {
	var in outbound.PublishInput
	if err := Decode(w, r, &in); err != nil {
		return err
	}
	if key := r.Header.Get("Idempotency-Key"); key != "" && in.IdempotencyKey == "" {
		if !hookbook.Storable(key) {
			return &hookbook.Error{Kind: hookbook.EInvalid, Code: "invalid_header",
				Message: "Idempotency-Key must be UTF-8 text without NUL characters", Details: map[string]string{"Idempotency-Key": "invalid text"}}
		}
		in.IdempotencyKey = key
	}
	p, err := s.Outbound.Publish(r.Context(), org.ID, in)
	if err != nil {
		return err
	}
	if p.Duplicate {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	WriteJSON(w, http.StatusAccepted, map[string]string{"id": p.Event.ID})
	return nil
}

// eventDetail is an event with its deliveries.
type eventDetail struct {
	hookbook.Envelope
	Deliveries []*hookbook.Delivery `json:"deliveries"`
	Summary    map[string]int       `json:"delivery_summary"`
}

// viewEvent is an event as the API shows it: its envelope's fields.
func viewEvent(e *hookbook.Event) hookbook.Envelope {
	return hookbook.Envelope{ID: e.ID, Event: e.Type, Timestamp: e.Timestamp.UTC().Format(time.RFC3339), OrganizationID: e.OrganizationID,
		OrderingKey: e.OrderingKey, Sequence: e.Sequence, Data: e.Data}
}

func (s *Server) getEvent(w http.ResponseWriter, r *http.Request, org *hookbook.Organization) error {
	e, err := s.Outbound.Event(r.Context(), org.ID, r.PathValue("id"))
	if err != nil {
		return err
	}
	ds, err := s.Outbound.DeliveriesOfEvent(r.Context(), org.ID, e.ID)
	if err != nil {
		return err
	}
	v := eventDetail{Envelope: viewEvent(e), Deliveries: ds}
	if v.Deliveries == nil {
		v.Deliveries = []*hookbook.Delivery{}
	}
	v.Summary = map[string]int{"total": len(ds), hookbook.StatusPending: 0, hookbook.StatusSucceeded: 0, hookbook.StatusFailed: 0, hookbook.StatusSkipped: 0}
	for _, d := range ds {
		v.Summary[d.Status]++
	}
	WriteJSON(w, http.StatusOK, v)
	return nil
}

// checkEventFilter refuses an ?event= that is neither empty, a type name,
// a wildcard such as "booking.*", nor "*".
func checkEventFilter(filter string) error {
	if filter != "" && !event.ValidPattern(filter) {
		return &hookbook.Error{Kind: hookbook.EInvalid, Code: "invalid_event",
			Message: `event must be an event type name, a wildcard such as "booking.*", or "*"`, Details: map[string]string{"event": "not an event filter"}}
	}
	return nil
}

func (s *Server) listEvents(w http.ResponseWriter, r *http.Request, org *hookbook.Organization) error {
	p, err := ParsePage(r, "evt")
	if err != nil {
		return err
	}
	filter := r.URL.Query().Get("event")
	if err := checkEventFilter(filter); err != nil {
		return err
	}
	events, next, err := s.Outbound.Events(r.Context(), org.ID, filter, p)
	if err != nil {
		return err
	}
	views := make([]hookbook.Envelope, len(events))
	for i, e := range events {
		views[i] = viewEvent(e)
	}
	WriteJSON(w, http.StatusOK, NewList(views, next))
	return nil
}

// ---- endpoints

func (s *Server) updateEndpoint(w http.ResponseWriter, r *http.Request, org *hookbook.Organization) error {
	if _, err := s.Outbound.Endpoint(r.Context(), org.ID, r.PathValue("id")); err != nil {
		return err
	}
	var in outbound.EndpointInput
	if err := Decode(w, r, &in); err != nil {
		return err
	}
	in.IfMatch = r.Header.Get("If-Match")
	e, err := s.Outbound.UpdateEndpoint(r.Context(), org.ID, r.PathValue("id"), in)
	if err != nil {
		return err
	}
	w.Header().Set("ETag", e.ETag())
	WriteJSON(w, http.StatusOK, e)
	return nil
}

// getEndpoint answers an endpoint with its ETag (see hookbook.Endpoint.ETag).
func (s *Server) getEndpoint(w http.ResponseWriter, r *http.Request, org *hookbook.Organization) error {
	e, err := s.Outbound.Endpoint(r.Context(), org.ID, r.PathValue("id"))
	if err != nil {
		return err
	}
	w.Header().Set("ETag", e.ETag())
	WriteJSON(w, http.StatusOK, e)
	return nil
}

func (s *Server) testTransformation(w http.ResponseWriter, r *http.Request, org *hookbook.Organization) error {
	var in outbound.TransformationTest
	if err := Decode(w, r, &in); err != nil {
		return err
	}
	out, err := s.Outbound.TestTransformation(r.Context(), org.ID, in)
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) listConnectors(w http.ResponseWriter, r *http.Request, org *hookbook.Organization) error {
	list, err := s.Outbound.Connectors(r.Context())
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, NewList(list, ""))
	return nil
}

func (s *Server) sendTest(w http.ResponseWriter, r *http.Request, org *hookbook.Organization) error {
	id, err := s.Outbound.SendTest(r.Context(), org.ID, r.PathValue("id"))
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusAccepted, map[string]string{"delivery_id": id})
	return nil
}

// testFilter is a filter's dry run: does this event match this filter?
func (s *Server) testFilter(w http.ResponseWriter, r *http.Request, org *hookbook.Organization) error {
	var in outbound.FilterTestInput
	if err := Decode(w, r, &in); err != nil {
		return err
	}
	ok, err := s.Outbound.TestFilter(in)
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, map[string]bool{"matches": ok})
	return nil
}

// ---- deliveries

func (s *Server) listDeliveries(w http.ResponseWriter, r *http.Request, org *hookbook.Organization) error {
	ep, err := s.Outbound.Endpoint(r.Context(), org.ID, r.PathValue("id"))
	if err != nil {
		return err
	}
	p, err := ParsePage(r, "dlv")
	if err != nil {
		return err
	}
	q := r.URL.Query()
	f := outbound.DeliveryFilter{EndpointID: ep.ID, Status: q.Get("status"), EventType: q.Get("event")}
	switch f.Status {
	case "", hookbook.StatusPending, hookbook.StatusSucceeded, hookbook.StatusFailed, hookbook.StatusSkipped:
	default:
		return &hookbook.Error{Kind: hookbook.EInvalid, Code: "invalid_status",
			Message: "status must be pending, succeeded, failed or skipped", Details: map[string]string{"status": "unknown status"}}
	}
	if err := checkEventFilter(f.EventType); err != nil {
		return err
	}
	list, next, err := s.Outbound.Deliveries(r.Context(), org.ID, f, p)
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, NewList(list, next))
	return nil
}

func (s *Server) redeliver(w http.ResponseWriter, r *http.Request, org *hookbook.Organization) error {
	d, err := s.Outbound.Redeliver(r.Context(), org.ID, r.PathValue("id"))
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusAccepted, d)
	return nil
}

func (s *Server) recover(w http.ResponseWriter, r *http.Request, org *hookbook.Organization) error {
	var in struct {
		Since *string `json:"since"`
	}
	if err := Decode(w, r, &in); err != nil {
		return err
	}
	f := hookbook.Fields{}
	var since time.Time
	if in.Since == nil {
		f.Add("since", "is required (RFC 3339)")
	} else if t, err := time.Parse(time.RFC3339, *in.Since); err != nil {
		f.Add("since", "must be an RFC 3339 time such as 2026-03-24T14:30:00Z")
	} else {
		since = t
	}
	if err := f.Err(); err != nil {
		return err
	}
	rec, err := s.Outbound.RecoverReport(r.Context(), org.ID, r.PathValue("id"), since)
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusAccepted, rec)
	return nil
}

// replay answers a dry run with the count it would queue (200), else
// starts the replay, or finds the same one running, and answers it (202);
// a replay that would queue nothing starts nothing and answers its count
// of 0 (200), as a dry run does.
func (s *Server) replay(w http.ResponseWriter, r *http.Request, org *hookbook.Organization) error {
	var in outbound.ReplayInput
	if err := Decode(w, r, &in); err != nil {
		return err
	}
	f, err := outbound.ParseReplay(in, time.Now())
	if err != nil {
		return err
	}
	if in.DryRun {
		c, err := s.Outbound.CountReplay(r.Context(), org.ID, r.PathValue("id"), f)
		if err != nil {
			return err
		}
		WriteJSON(w, http.StatusOK, c)
		return nil
	}
	job, err := s.Outbound.StartReplay(r.Context(), org.ID, r.PathValue("id"), f)
	if errors.Is(err, outbound.ErrNothingToReplay) {
		WriteJSON(w, http.StatusOK, outbound.ReplayCount{Count: 0, Limit: s.Outbound.ReplayMax()})
		return nil
	}
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/replays/"+job.ID)
	WriteJSON(w, http.StatusAccepted, replayView{ReplayJob: job, Count: job.Total, AlreadyRunning: job.Running})
	return nil
}

// replayView is a started replay: the replay, its count (its total) and
// whether it was running already.
type replayView struct {
	*outbound.ReplayJob
	Count          int  `json:"count"`
	AlreadyRunning bool `json:"already_running"`
}

// ---- API keys

func (s *Server) listAPIKeys(w http.ResponseWriter, r *http.Request, org *hookbook.Organization) error {
	keys, err := s.Orgs.APIKeys(r.Context(), org.ID)
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, NewList(keys, ""))
	return nil
}

func (s *Server) createAPIKey(w http.ResponseWriter, r *http.Request, org *hookbook.Organization) error {
	var in struct {
		Name string `json:"name"`
	}
	if err := Decode(w, r, &in); err != nil {
		return err
	}
	k, err := s.Orgs.CreateAPIKey(r.Context(), org.ID, in.Name)
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusCreated, k)
	return nil
}

// ---- settings

func (s *Server) getOutbound(w http.ResponseWriter, r *http.Request, org *hookbook.Organization) error {
	WriteJSON(w, http.StatusOK, map[string]bool{"enabled": org.OutboundEnabled})
	return nil
}

func (s *Server) putOutbound(w http.ResponseWriter, r *http.Request, org *hookbook.Organization) error {
	var in struct {
		Enabled *bool `json:"enabled"`
	}
	if err := Decode(w, r, &in); err != nil {
		return err
	}
	if in.Enabled == nil {
		f := hookbook.Fields{}
		f.Add("enabled", "is required")
		return f.Err()
	}
	if err := s.Outbound.SetOutboundEnabled(r.Context(), org.ID, *in.Enabled); err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, map[string]bool{"enabled": *in.Enabled})
	return nil
}

// retentionView is an organization's retention: its own (null when it
// keeps the operator's), the one that applies, and the operator's maximum.
type retentionView struct {
	Retention    *string `json:"retention"`
	Effective    string  `json:"effective"`
	MaxRetention string  `json:"max_retention"`
}

func (s *Server) retentionOf(r *http.Request, orgID string) (*retentionView, error) {
	own, err := s.Outbound.Retention(r.Context(), orgID)
	if err != nil {
		return nil, err
	}
	v := &retentionView{Effective: outbound.FormatRetention(s.MaxRetention), MaxRetention: outbound.FormatRetention(s.MaxRetention)}
	if own != nil {
		text := outbound.FormatRetention(*own)
		v.Retention, v.Effective = &text, text
	}
	return v, nil
}

func (s *Server) getRetention(w http.ResponseWriter, r *http.Request, org *hookbook.Organization) error {
	v, err := s.retentionOf(r, org.ID)
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, v)
	return nil
}

// putRetention sets the organization's retention: {"retention":"168h"},
// or null for the operator's maximum.
func (s *Server) putRetention(w http.ResponseWriter, r *http.Request, org *hookbook.Organization) error {
	var in struct {
		Retention outbound.Clearable[string] `json:"retention"`
	}
	if err := Decode(w, r, &in); err != nil {
		return err
	}
	if !in.Retention.Set {
		f := hookbook.Fields{}
		f.Add("retention", "is required: a duration such as 168h, or null for the operator's maximum")
		return f.Err()
	}
	var d *time.Duration
	if in.Retention.Value != nil {
		v, err := outbound.ParseRetention(*in.Retention.Value)
		if err != nil {
			return err
		}
		d = &v
	}
	if err := s.Outbound.SetRetention(r.Context(), org.ID, d, s.MaxRetention); err != nil {
		return err
	}
	return s.getRetention(w, r, org)
}
