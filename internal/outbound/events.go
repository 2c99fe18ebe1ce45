package outbound

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/hookbook/hookbook/internal/db"

	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/event"
	"github.com/hookbook/hookbook/internal/filter"
	"github.com/hookbook/hookbook/internal/idempotency"
	"github.com/hookbook/hookbook/internal/ids"
	"github.com/hookbook/hookbook/internal/queue"
	"github.com/hookbook/hookbook/internal/tracing"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// insertEventType registers an organization's own event type, unless it
// already has Limits.EventTypes of them (403 event_type_limit).
func (s *Service) insertEventType(ctx context.Context, orgID string, et *hookbook.EventType) error {
	var schema any
	if len(et.Schema) > 0 {
		schema = string(et.Schema)
	}
	return s.DB.Tx(ctx, func(tx *db.Tx) error {
		if err := s.checkQuota(ctx, tx, "event_types", orgID, s.Limits.EventTypes,
			`SELECT COUNT(*) FROM event_types WHERE organization_id = $1`); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO event_types (organization_id, name, description, schema, created_at)
			VALUES ($1, $2, $3, $4, $5) ON CONFLICT (organization_id, name) DO NOTHING`,
			orgID, et.Name, et.Description, schema, db.Micros(s.DB.Now()))
		if err != nil {
			return fmt.Errorf("create event type: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return hookbook.Errorf(hookbook.EConflict, "event_type_exists", "event type %q already exists", et.Name)
		}
		return nil
	})
}

// EventTypes lists an organization's own event types by name.
func (s *Service) EventTypes(ctx context.Context, orgID string) ([]hookbook.EventType, error) {
	rows, err := s.DB.QueryContext(ctx, `SELECT name, description, schema FROM event_types WHERE organization_id = $1 ORDER BY name`, orgID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []hookbook.EventType
	for rows.Next() {
		var et hookbook.EventType
		var schema sql.NullString
		if err := rows.Scan(&et.Name, &et.Description, &schema); err != nil {
			return nil, err
		}
		if schema.Valid {
			et.Schema = json.RawMessage(schema.String)
		}
		et.Custom = true
		out = append(out, et)
	}
	return out, rows.Err()
}

// EventType returns a built-in type or one of the organization's own.
func (s *Service) EventType(ctx context.Context, orgID, name string) (*hookbook.EventType, error) {
	if et, ok := event.LookupBuiltin(name); ok {
		return &et, nil
	}
	var et hookbook.EventType
	var schema sql.NullString
	err := s.DB.QueryRowContext(ctx, `SELECT name, description, schema FROM event_types WHERE organization_id = $1 AND name = $2`,
		orgID, name).Scan(&et.Name, &et.Description, &schema)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, hookbook.NotFound("event type")
	}
	if err != nil {
		return nil, err
	}
	if schema.Valid {
		et.Schema = json.RawMessage(schema.String)
	}
	et.Custom = true
	return &et, nil
}

// Publication is an event to store and fan out.
type Publication struct {
	OrganizationID string
	Type           string
	Data           json.RawMessage
	OccurredAt     time.Time // zero means now
	IdempotencyKey string    // optional
	// OrderingKey is what the event is about. Left empty, hookbook's own
	// events take the key their data names (event.OrderingKey); published
	// ones (Published) have none.
	OrderingKey string
	Published   bool // published through the API rather than by hookbook
	// Canonical says Data is already in canonical form (event.Canonical),
	// so the writer's turn is not spent converting it again.
	Canonical bool
	// EndpointID, when set, sends the event to that endpoint only, whatever
	// its filter and the outbound switch (test events).
	EndpointID string
	// About is the endpoint an operational event is about: it never goes
	// to that endpoint.
	About string

	// decoded is Data decoded for filters ahead of the transaction, when
	// the organization's endpoints had filters at its last publication.
	decoded any
}

// Published is what Publish did.
type Published struct {
	Event      *hookbook.Event
	Duplicate  bool     // the idempotency key had been used: Event is the first one
	Deliveries []string // ids of the deliveries queued
}

// publish stores an event and queues a delivery for every endpoint of the
// organization whose filter matches (skipped for a disabled one), in one
// transaction of its own.
func (s *Service) publish(ctx context.Context, p Publication) (*Published, error) {
	var out *Published
	err := s.DB.Tx(ctx, func(tx *db.Tx) error {
		var err error
		out, err = s.PublishTx(ctx, tx, p)
		return err
	})
	return out, err
}

// PublishTx stores an event and queues its deliveries inside tx, so that a
// change and its event commit together or not at all. Publish is the same
// for the API, with validation and group commit.
func (s *Service) PublishTx(ctx context.Context, tx *db.Tx, p Publication) (out *Published, err error) {
	ctx, span := tracing.Start(ctx, s.Tracer, "publish "+p.Type, trace.SpanKindProducer,
		tracing.AttrOrganization.String(p.OrganizationID), tracing.AttrEventType.String(p.Type))
	if span != nil {
		defer func() {
			switch {
			case err != nil:
				tracing.Fail(span, hookbook.Code(err))
			case out.Duplicate:
				span.SetAttributes(tracing.AttrEventID.String(out.Event.ID), attribute.Bool("hookbook.duplicate", true))
			default:
				span.SetAttributes(tracing.AttrEventID.String(out.Event.ID), tracing.AttrFanout.Int(len(out.Deliveries)))
			}
			span.End()
		}()
	}
	now := s.DB.Now().UTC()
	at := p.OccurredAt
	if at.IsZero() {
		at = now
	}
	evt := &hookbook.Event{ID: ids.New("evt"), OrganizationID: p.OrganizationID, Type: p.Type, Timestamp: at.UTC().Truncate(time.Second), Data: p.Data}
	if p.IdempotencyKey != "" {
		first, err := idempotency.ClaimEventKey(ctx, tx, p.OrganizationID, p.IdempotencyKey, evt.ID, now)
		if err != nil {
			return nil, fmt.Errorf("idempotency key: %w", err)
		}
		if first != "" {
			e, err := getEvent(ctx, tx, p.OrganizationID, first)
			if hookbook.IsKind(err, hookbook.ENotFound) {
				// Purged by a retention shorter than the key's 24 h: the
				// answer is still the first event's id.
				e, err = &hookbook.Event{ID: first, OrganizationID: p.OrganizationID, Type: p.Type}, nil
			}
			if err != nil {
				return nil, err
			}
			if e.Data != nil && !samePublication(e, p) {
				return nil, hookbook.Errorf(hookbook.EConflict, "idempotency_key_reused",
					"this idempotency key was used for another event in the last 24 h; use a new key for a new event")
			}
			return &Published{Event: e, Duplicate: true}, nil
		}
	}
	key := p.OrderingKey
	if key == "" && !p.Published {
		key = event.OrderingKey(p.Type, p.Data)
	}
	var seq int64
	if key != "" {
		var err error
		if seq, err = nextSequence(ctx, tx, p.OrganizationID, key, now); err != nil {
			return nil, err
		}
	}
	evt.OrderingKey, evt.Sequence = key, seq
	envelope := event.Envelope
	if p.Canonical {
		envelope = event.CanonicalEnvelope
	}
	payload, err := envelope(evt.ID, evt.OrganizationID, evt.Type, evt.Timestamp, key, seq, evt.Data)
	if err != nil {
		return nil, err
	}
	evt.Payload = payload
	traceparent := tracing.TraceParent(ctx)
	if span == nil {
		traceparent = "" // tracing is off: nothing to continue
	}
	if _, err := tx.ExecContext(ctx, insertEventSQL, evt.ID, evt.OrganizationID, evt.Type, string(payload), db.Micros(evt.Timestamp), db.Micros(now), traceparent); err != nil {
		return nil, fmt.Errorf("insert event: %w", err)
	}
	targets, fan, err := targets(ctx, tx, p, evt)
	if err != nil {
		return nil, err
	}
	s.noteFilters(p.OrganizationID, fan.filters)
	out = &Published{Event: evt}
	// The queue owns the deliveries' states (due, parked behind their key,
	// or leased to this instance's engine at once): publication only says
	// where the event goes.
	out.Deliveries, err = s.queue().Enqueue(ctx, tx, queue.Fanout{OrganizationID: evt.OrganizationID, EventID: evt.ID,
		EventType: evt.Type, Payload: evt.Payload, OrderingKey: key, Sequence: seq, Endpoints: targets, Now: now, TraceParent: traceparent})
	if err != nil {
		return nil, err
	}
	tx.OnCommit(func() {
		s.published.Add(1)
		s.filtered.Add(int64(fan.filtered))
		if s.Stored != nil {
			s.Stored(evt.Type)
		}
	})
	return out, nil
}

const insertEventSQL = `INSERT INTO events (id, organization_id, type, payload, occurred_at, created_at, traceparent)
	VALUES ($1, $2, $3, $4, $5, $6, $7)`

// targets returns the endpoints an event goes to: those of its organization
// that take its type and whose filter, if any, matches its envelope (the
// event's data is decoded once, for the first filter), or the one endpoint
// the publication names, whatever its filter.
func targets(ctx context.Context, tx *db.Tx, p Publication, evt *hookbook.Event) (out []*hookbook.Endpoint, fan fanStats, err error) {
	if p.EndpointID != "" {
		ep, err := scanEndpoint(tx.QueryRowContext(ctx, `SELECT `+endpointColumns+` FROM endpoints
			WHERE id = $1 AND organization_id = $2 AND deleted_at IS NULL`, p.EndpointID, p.OrganizationID))
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fan, hookbook.NotFound("endpoint")
		}
		if err != nil {
			return nil, fan, err
		}
		return []*hookbook.Endpoint{ep}, fan, nil
	}
	cands, err := candidates(ctx, tx, p.OrganizationID)
	if err != nil {
		return nil, fan, err
	}
	var env map[string]any
	for _, c := range cands {
		if c.ep.ID == p.About || !event.Subscribed(c.ep.Events, p.Type) {
			continue
		}
		if c.filter != nil {
			fan.filters = true
			if env == nil {
				env = filterEnvelope(evt, p.decoded)
			}
			if !c.filter.Match(env) {
				fan.filtered++
				continue
			}
		}
		out = append(out, c.ep)
	}
	return out, fan, nil
}

// fanStats says what filters did to a fan-out: whether any endpoint taking
// the event's type had one, and how many endpoints they left out.
type fanStats struct {
	filters  bool
	filtered int
}

// filterEnvelope is an event's envelope as filters see it, with its data
// decoded already, or decoded now when decoded is nil.
func filterEnvelope(evt *hookbook.Event, decoded any) map[string]any {
	data := decoded
	if data == nil {
		var err error
		if data, err = filter.Decode(evt.Data); err != nil {
			data = nil // stored data is valid JSON; a filter on data then matches nothing
		}
	}
	return filter.Envelope(evt.ID, evt.Type, evt.Timestamp.UTC().Format(event.TimeFormat), evt.OrganizationID,
		evt.OrderingKey, evt.Sequence, data)
}

// candidate is a live endpoint with its parsed filter (nil for none); a
// disabled one gets skipped deliveries.
type candidate struct {
	ep     *hookbook.Endpoint
	filter *filter.Filter
}

// candidates returns the organization's live endpoints, enabled or not (a
// disabled one's deliveries are skipped), or none when its outbound
// switch is off. A transaction that publishes several events (a
// group commit) reads them once.
func candidates(ctx context.Context, tx *db.Tx, orgID string) ([]candidate, error) {
	memo, _ := tx.Value(candidatesKey)
	byOrg, _ := memo.(map[string][]candidate)
	if c, ok := byOrg[orgID]; ok {
		return c, nil
	}
	var enabled bool
	if err := tx.QueryRowContext(ctx, `SELECT outbound_enabled FROM organizations WHERE id = $1`, orgID).Scan(&enabled); err != nil {
		return nil, fmt.Errorf("organization %s: %w", orgID, err)
	}
	var out []candidate
	if enabled {
		rows, err := tx.QueryContext(ctx, `SELECT `+endpointColumns+` FROM endpoints
			WHERE organization_id = $1 AND deleted_at IS NULL ORDER BY id`, orgID)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		for rows.Next() {
			ep, err := scanEndpoint(rows)
			if err != nil {
				return nil, err
			}
			out = append(out, candidate{ep: ep, filter: parsedFilter(ep)})
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	if byOrg == nil {
		byOrg = map[string][]candidate{}
		tx.Remember(candidatesKey, byOrg)
	}
	byOrg[orgID] = out
	return out, nil
}

const candidatesKey = "outbound.candidates"

// forgetCandidates drops what candidates remembered in tx, after a change
// to endpoints within the same transaction.
func forgetCandidates(tx *db.Tx) { tx.Remember(candidatesKey, nil) }

func getEvent(ctx context.Context, q db.Queryer, orgID, id string) (*hookbook.Event, error) {
	var e hookbook.Event
	var payload string
	var occurred int64
	err := q.QueryRowContext(ctx, `SELECT id, organization_id, type, payload, occurred_at FROM events WHERE id = $1 AND organization_id = $2`,
		id, orgID).Scan(&e.ID, &e.OrganizationID, &e.Type, &payload, &occurred)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, hookbook.NotFound("event")
	}
	if err != nil {
		return nil, err
	}
	e.Payload = []byte(payload)
	e.Timestamp = db.Time(occurred)
	var env hookbook.Envelope
	if err := json.Unmarshal(e.Payload, &env); err == nil {
		e.Data, e.OrderingKey, e.Sequence = env.Data, env.OrderingKey, env.Sequence
	}
	return &e, nil
}

// Event returns an organization's event.
func (s *Service) Event(ctx context.Context, orgID, id string) (*hookbook.Event, error) {
	return getEvent(ctx, s.DB, orgID, id)
}

// Events lists an organization's events, newest first, optionally of the
// types a filter selects: a name, a wildcard such as "booking.*", or "*".
func (s *Service) Events(ctx context.Context, orgID, filter string, p db.Page) ([]*hookbook.Event, string, error) {
	exact, prefix := eventParams(filter)
	rows, err := s.DB.QueryContext(ctx, `SELECT id FROM events WHERE organization_id = $1 AND ($2 = '' OR type = $2)
		AND ($3 = '' OR id < $3) AND ($5 = '' OR substr(type, 1, length($5)) = $5) ORDER BY id DESC LIMIT $4`,
		orgID, exact, p.Cursor, p.Limit+1, prefix)
	if err != nil {
		return nil, "", err
	}
	var idList []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, "", err
		}
		idList = append(idList, id)
	}
	rows.Close()
	idList, next := db.Trim(idList, p, func(s string) string { return s })
	out := make([]*hookbook.Event, 0, len(idList))
	for _, id := range idList {
		e, err := s.Event(ctx, orgID, id)
		if err != nil {
			return nil, "", err
		}
		out = append(out, e)
	}
	return out, next, nil
}

// samePublication reports whether p publishes the same event as first: the
// same type and the same data, compared as JSON values.
func samePublication(first *hookbook.Event, p Publication) bool {
	if first.Type != p.Type {
		return false
	}
	var a, b any
	if json.Unmarshal(first.Data, &a) != nil || json.Unmarshal(p.Data, &b) != nil {
		return bytes.Equal(first.Data, p.Data)
	}
	return reflect.DeepEqual(a, b)
}
