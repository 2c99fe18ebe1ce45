// Package outbound holds the operations on endpoints, event types and events
// that the JSON API, the admin UI and inbound commands share: validation with
// the same rules everywhere, then each change and the deliveries it queues in
// one transaction; and the delivery queue the engine claims from.
package outbound

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/config"
	"github.com/hookbook/hookbook/internal/db"
	"github.com/hookbook/hookbook/internal/destination"
	"github.com/hookbook/hookbook/internal/event"
	"github.com/hookbook/hookbook/internal/filter"
	"github.com/hookbook/hookbook/internal/idempotency"
	"github.com/hookbook/hookbook/internal/netguard"
	"github.com/hookbook/hookbook/internal/queue"
	"github.com/hookbook/hookbook/internal/ratelimit"
	"github.com/hookbook/hookbook/internal/transform"
	"go.opentelemetry.io/otel/trace"
)

// Service validates and carries out operations for one hookbook instance.
type Service struct {
	DB            *db.DB
	Guard         *netguard.Guard
	SecretOverlap time.Duration // how long a rotated-out secret keeps signing
	HeaderPrefix  string
	// EndpointChanged is called after an endpoint was updated or deleted,
	// so the engine can forget what it knew of it (its circuit, a broker
	// endpoint's connection).
	EndpointChanged func(id string)
	// Queue is the delivery queue publication enqueues into (its Engine
	// and Notify hand deliveries over and wake claimers). Left nil, the
	// Service makes one over DB with no engine, on first use.
	Queue *queue.Queue
	// Limits bounds what one organization may create and do.
	Limits Limits
	// ReplayStarted, when set, is called once a new replay is stored, so
	// that the instance runs RunReplays without waiting for its next pass.
	ReplayStarted func()
	// ReplayLimit is the most deliveries one replay queues (0: MaxReplay).
	ReplayLimit int
	// Log receives the operator's lines of replays (nil: none).
	Log *slog.Logger
	// Transforms runs transformations; nil: one with the default limits
	// (TransformTimeout, when set, for its time limit), on first use.
	Transforms       *transform.Engine
	TransformTimeout time.Duration
	// Tracer traces publications (nil: tracing is off). A publication's
	// span is a child of its caller's (the API request), and its
	// traceparent is stored with the event for the attempts to continue.
	Tracer trace.Tracer
	// Stored, when set, is called with the type of each event this
	// instance stored, once its transaction committed (the metrics).
	Stored func(eventType string)
	// FailingAfter is the attempt whose failure reports a delivery
	// failing (delivery.failing, the "failing" mail); 0: DefaultFailingAfter.
	FailingAfter int
	// MailAlerts queues alert mails to endpoints' alert_emails (a mail
	// server is configured); off, none is queued.
	MailAlerts bool
	// PublicURL is how browsers reach hookbook ("" when unknown): mails
	// link to the delivery log there.
	PublicURL string
	// Destinations are the broker types endpoints may have besides
	// webhooks (HOOKBOOK_DESTINATION_TYPES).
	Destinations destination.Registry

	batch     batcher
	published atomic.Int64
	filtered  atomic.Int64
	disabled  atomic.Int64
	queueOnce sync.Once
	// testReplayBatch, when set by a test, replaces ReplayBatch.
	testReplayBatch int
	replayed        atomic.Int64

	// filterOrgs notes, by organization id, whether its endpoints had
	// filters at its last publication (predecode).
	filterOrgs sync.Map

	transformOnce sync.Once
	testEngine    *transform.Engine // one test run at a time, beside the deliveries'
	examplesOnce  sync.Once
	examples      []ConnectorInfo
	examplesErr   error
}

// Limits bounds what one organization may create and do; a zero field sets
// no limit.
type Limits struct {
	Endpoints  int                // live endpoints per organization
	EventTypes int                // custom event types per organization
	TestSends  *ratelimit.Buckets // test events per organization (this instance)
	// TransformTests bounds transformation test runs per organization
	// (this instance).
	TransformTests *ratelimit.Buckets
}

// checkQuota refuses a creation once the organization has limit things of
// a kind (counted by query), holding a lock so that concurrent creations
// cannot pass it together.
func (s *Service) checkQuota(ctx context.Context, tx *db.Tx, kind, orgID string, limit int, query string) error {
	if limit <= 0 {
		return nil
	}
	if err := tx.Lock(ctx, "hookbook-"+kind+":"+orgID); err != nil {
		return err
	}
	var n int
	if err := tx.QueryRowContext(ctx, query, orgID).Scan(&n); err != nil {
		return err
	}
	if n >= limit {
		singular := strings.TrimSuffix(kind, "s")
		return hookbook.Errorf(hookbook.EForbidden, singular+"_limit",
			"an organization has at most %d %s; delete one first", limit, strings.ReplaceAll(kind, "_", " "))
	}
	return nil
}

// log returns the Service's logger, one that drops everything when unset.
func (s *Service) log() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}

// Published returns how many events this process has stored.
func (s *Service) Published() int64 { return s.published.Load() }

// Disabled returns how many endpoints this process disabled (failing too
// long, or 410 Gone).
func (s *Service) Disabled() int64 { return s.disabled.Load() }

// DisabledEndpoints counts the endpoints, of every organization, that are
// disabled now (by hookbook or by their owner) and not deleted.
func (s *Service) DisabledEndpoints(ctx context.Context) (int64, error) {
	var n int64
	err := s.DB.QueryRowContext(ctx, `SELECT COUNT(*) FROM endpoints WHERE enabled = FALSE AND deleted_at IS NULL`).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count disabled endpoints: %w", err)
	}
	return n, nil
}

// Filtered returns how many deliveries this process did not create because
// an endpoint's filter did not match the event.
func (s *Service) Filtered() int64 { return s.filtered.Load() }

// Endpoint limits and defaults.
const (
	DefaultMaxAttempts = 8
	DefaultTimeout     = 10
	MinSecretLength    = 16
	MaxURLLength       = 2048
	MaxDescription     = 1024
	MaxHeaders         = 20
	// MaxInFlight bounds an endpoint's max_in_flight.
	MaxInFlight = 1000
	// maxRateLimitLength bounds the text of a rate_limit.
	maxRateLimitLength = 64
)

// EndpointInput holds the fields of an endpoint create or update; nil means
// "not given" (create takes the default, update keeps the current value).
type EndpointInput struct {
	// IfMatch is the request's If-Match header (updates only): see
	// UpdateEndpoint.
	IfMatch        string             `json:"-"`
	URL            *string            `json:"url"`
	Events         *[]string          `json:"events"`
	Description    *string            `json:"description"`
	Enabled        *bool              `json:"enabled"`
	Secret         *string            `json:"secret"`
	MaxAttempts    *int               `json:"max_attempts"`
	TimeoutSeconds *int               `json:"timeout_seconds"`
	Scheme         *string            `json:"signature_scheme"`
	Headers        *map[string]string `json:"headers"`
	Ordered        *bool              `json:"ordered"`
	RateLimit      Clearable[string]  `json:"rate_limit"`
	MaxInFlight    Clearable[int]     `json:"max_in_flight"`
	// Filter is the endpoint's payload filter; JSON null clears it.
	Filter Clearable[json.RawMessage] `json:"filter"`
	// Transformation is null (remove it) or {"code", "enabled"}; Connector
	// names a chat connector whose transformation the endpoint takes.
	Transformation json.RawMessage `json:"transformation"`
	// Connector is null to remove a connector's transformation.
	Connector Clearable[string] `json:"connector"`
	// Auth and TLS replace the endpoint's auth and tls settings as a
	// whole; null removes them.
	Auth Clearable[hookbook.EndpointAuth] `json:"auth"`
	TLS  Clearable[hookbook.EndpointTLS]  `json:"tls"`
	// SignatureAlgorithm is "hmac-sha256" (the default) or "ed25519",
	// chosen at creation (see applyNewSigning).
	SignatureAlgorithm *string `json:"signature_algorithm"`
	// AlertEmails are the addresses mailed about the endpoint's health
	// (at most MaxAlertEmails); null or [] clears them.
	AlertEmails *[]string `json:"alert_emails"`
	// Type is "webhook" (the default) or an offered broker type; Config
	// that type's settings (see destinations.go).
	Type   *string         `json:"type"`
	Config json.RawMessage `json:"config"`
}

// Clearable is an optional field that null clears: Set tells whether it
// was given, Value is nil when it was given as null.
type Clearable[T any] struct {
	Set   bool
	Value *T
}

// UnmarshalJSON implements json.Unmarshaler.
func (c *Clearable[T]) UnmarshalJSON(b []byte) error {
	c.Set, c.Value = true, nil
	if string(b) == "null" {
		return nil
	}
	var v T
	err := json.Unmarshal(b, &v)
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		// An integer given as 1e3 or 1000.0 reads as that integer, as
		// the API's other integer fields do.
		if plain, ok := hookbook.IntegralNumber(string(bytes.TrimSpace(b))); ok {
			err = json.Unmarshal([]byte(plain), &v)
		}
	}
	if err != nil {
		return err
	}
	c.Value = &v
	return nil
}

// Clear returns a Clearable given as v (nil: given as null).
func Clear[T any](v *T) Clearable[T] { return Clearable[T]{Set: true, Value: v} }

// CreateEndpoint validates in and stores a new endpoint. The answer carries the secret.
func (s *Service) CreateEndpoint(ctx context.Context, orgID string, in EndpointInput) (*hookbook.RevealedEndpoint, error) {
	e := &hookbook.Endpoint{
		OrganizationID: orgID, Enabled: true, MaxAttempts: DefaultMaxAttempts, TimeoutSeconds: DefaultTimeout,
		Scheme: hookbook.SchemeTimestamped, Headers: map[string]string{},
	}
	f := hookbook.Fields{}
	if in.URL == nil && (in.Type == nil || *in.Type == hookbook.EndpointWebhook) {
		f.Add("url", "is required")
	}
	if in.Events == nil {
		f.Add("events", "is required")
	}
	applyNewSigning(e, in, f)
	if err := s.apply(ctx, e, in, f); err != nil {
		return nil, err
	}
	if err := s.insertEndpoint(ctx, e); err != nil {
		return nil, err
	}
	return s.view(e).Reveal(), nil
}

// UpdateEndpoint changes the given fields of an endpoint. Enabling a
// disabled endpoint clears its disabled reason and resets its health.
//
// in.IfMatch, when set, is the ETag (or ETags) the caller last saw: an
// endpoint of another version, now or when the change is saved, is left
// as it is and the update refused with 412 precondition_failed.
func (s *Service) UpdateEndpoint(ctx context.Context, orgID, id string, in EndpointInput) (*hookbook.Endpoint, error) {
	e, err := s.Endpoint(ctx, orgID, id)
	if err != nil {
		return nil, err
	}
	if in.IfMatch != "" && !etagMatches(in.IfMatch, e.ETag()) {
		return nil, staleEndpoint()
	}
	version := e.UpdatedAt
	f := hookbook.Fields{}
	if in.Secret != nil {
		f.Add("secret", "cannot be changed here; use rotate-secret")
	}
	checkSigningUpdate(e, in, f)
	if e.Type == hookbook.EndpointListen {
		// A listening endpoint's url and events are its listener's identity
		// (a form may send them back unchanged).
		if in.URL != nil && strings.TrimSpace(*in.URL) != e.URL {
			f.Add("url", "a listening endpoint has no url of its own; hookbook listen --forward-to says where deliveries go")
		}
		if in.Events != nil && !sameSet(*in.Events, e.Events) {
			f.Add("events", "a listening endpoint's events are its listener's; start hookbook listen with other --events")
		}
	}
	wasEnabled := e.Enabled
	if err := s.apply(ctx, e, in, f); err != nil {
		return nil, err
	}
	reenabled := !wasEnabled && e.Enabled
	if reenabled {
		e.DisabledReason = nil
	}
	if !e.Enabled && wasEnabled && e.DisabledReason == nil {
		reason := hookbook.DisabledByOrganization
		e.DisabledReason = &reason
	}
	var since *time.Time
	if in.IfMatch != "" {
		since = &version
	}
	if err := s.saveEndpoint(ctx, e, reenabled, since); err != nil {
		return nil, err
	}
	if s.EndpointChanged != nil {
		s.EndpointChanged(e.ID)
	}
	return s.view(e), nil
}

// staleEndpoint is the refusal of an update whose If-Match names another
// version of the endpoint.
func staleEndpoint() error {
	return hookbook.Errorf(hookbook.EPrecondition, "precondition_failed",
		"the endpoint changed since the version named by If-Match; read it again (GET gives its ETag) and send the change anew")
}

// etagMatches reports whether an If-Match list names etag, or is "*".
// Weak ETags never match (strong comparison).
func etagMatches(ifMatch, etag string) bool {
	for _, t := range strings.Split(ifMatch, ",") {
		if t = strings.TrimSpace(t); t == "*" || t == etag {
			return true
		}
	}
	return false
}

// apply validates the given fields and sets them on e.
func (s *Service) apply(ctx context.Context, e *hookbook.Endpoint, in EndpointInput, f hookbook.Fields) error {
	broker := in.Type != nil && *in.Type != hookbook.EndpointWebhook ||
		in.Type == nil && e.Type != "" && e.Type != hookbook.EndpointWebhook
	if in.URL != nil && !broker {
		u := strings.TrimSpace(*in.URL)
		if len(u) > MaxURLLength {
			f.Add("url", fmt.Sprintf("must be at most %d characters", MaxURLLength))
		} else if err := s.Guard.CheckURL(ctx, u); err != nil {
			f.Add("url", err.Error())
		}
		e.URL = u
	}
	if in.Events != nil {
		if msg := s.checkPatterns(ctx, e.OrganizationID, *in.Events); msg != "" {
			f.Add("events", msg)
		}
		e.Events = dedupe(*in.Events)
	}
	if in.Description != nil {
		if len(*in.Description) > MaxDescription {
			f.Add("description", fmt.Sprintf("must be at most %d characters", MaxDescription))
		}
		e.Description = *in.Description
	}
	if in.Enabled != nil {
		e.Enabled = *in.Enabled
	}
	if in.MaxAttempts != nil {
		if *in.MaxAttempts < 1 || *in.MaxAttempts > 20 {
			f.Add("max_attempts", "must be between 1 and 20")
		}
		e.MaxAttempts = *in.MaxAttempts
	}
	if in.TimeoutSeconds != nil {
		if most := int(config.MaxEndpointTimeout / time.Second); *in.TimeoutSeconds < 1 || *in.TimeoutSeconds > most {
			f.Add("timeout_seconds", fmt.Sprintf("must be between 1 and %d", most))
		}
		e.TimeoutSeconds = *in.TimeoutSeconds
	}
	if in.Scheme != nil {
		if *in.Scheme != hookbook.SchemeTimestamped && *in.Scheme != hookbook.SchemeBody && *in.Scheme != hookbook.SchemeBodyHex {
			f.Add("signature_scheme", `must be "timestamped", "body" or "body_hex"`)
		}
		e.Scheme = *in.Scheme
	}
	if in.Ordered != nil {
		e.Ordered = *in.Ordered
	}
	applyThrottle(e, in, f)
	if in.Filter.Set {
		e.Filter = nil
		if in.Filter.Value != nil {
			flt, err := filter.Parse(*in.Filter.Value)
			if fe := filter.ErrorOf(err); fe != nil {
				f.Add(fe.Path, fe.Message)
			} else {
				e.Filter = flt.Text()
			}
		}
	}
	applyTransformation(e, in.Transformation, in.Connector, f)
	s.applySecurity(ctx, e, in, f)
	if in.AlertEmails != nil {
		list, msg := checkAlertEmails(*in.AlertEmails)
		if msg != "" {
			f.Add("alert_emails", msg)
		}
		e.AlertEmails = list
	}
	if in.Headers != nil {
		if msg := s.checkHeaders(*in.Headers); msg != "" {
			f.Add("headers", msg)
		}
		e.Headers = *in.Headers
		if e.Headers == nil {
			e.Headers = map[string]string{}
		}
	}
	s.applyType(ctx, e, in, f)
	return f.Err()
}

// applySecurity validates and sets auth and tls, each replaced as a whole;
// null removes them. Only webhook endpoints take them.
func (s *Service) applySecurity(ctx context.Context, e *hookbook.Endpoint, in EndpointInput, f hookbook.Fields) {
	kind := e.Type // what the endpoint is after this change
	if in.Type != nil {
		kind = *in.Type
	}
	webhookOnly := func(name string) {
		if kind != "" && kind != hookbook.EndpointWebhook {
			f.Add(name, "is only for webhook endpoints")
		}
	}
	if in.Auth.Set {
		e.Auth = in.Auth.Value
		if e.Auth != nil {
			webhookOnly("auth")
			hookbook.CheckAuth(e.Auth, func(u string) error { return s.Guard.CheckURL(ctx, u) }, f)
		}
	}
	if in.TLS.Set {
		e.TLS = in.TLS.Value
		if e.TLS != nil {
			webhookOnly("tls")
			hookbook.CheckTLS(e.TLS, s.DB.Now(), f)
		}
	}
	e.SetViews()
}

// NoLimitHint ends the messages of rate_limit and max_in_flight: how the
// API sets no limit. The admin UI, whose form clears a field left empty,
// says that instead.
const NoLimitHint = ", or null for no limit"

// applyThrottle validates and sets rate_limit and max_in_flight; null clears them.
func applyThrottle(e *hookbook.Endpoint, in EndpointInput, f hookbook.Fields) {
	if in.RateLimit.Set {
		e.RateLimit = nil
		switch v := in.RateLimit.Value; {
		case v == nil:
		case len(*v) > maxRateLimitLength:
			f.Add("rate_limit", fmt.Sprintf("must be at most %d characters", maxRateLimitLength))
		default:
			r, err := ratelimit.ParseLimit(*v)
			if err != nil {
				f.Add("rate_limit", err.Error()+NoLimitHint)
				break
			}
			norm := r.String()
			e.RateLimit = &norm
		}
	}
	if in.MaxInFlight.Set {
		e.MaxInFlight = in.MaxInFlight.Value
		if v := e.MaxInFlight; v != nil && (*v < 1 || *v > MaxInFlight) {
			f.Add("max_in_flight", fmt.Sprintf("must be between 1 and %d", MaxInFlight)+NoLimitHint)
		}
	}
}

func dedupe(list []string) []string {
	seen := map[string]bool{}
	out := make([]string, 0, len(list))
	for _, s := range list {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// checkPatterns returns what is wrong with an endpoint's event filter, or "".
func (s *Service) checkPatterns(ctx context.Context, orgID string, patterns []string) string {
	if len(patterns) == 0 {
		return "must name at least one event type, a wildcard such as booking.* or *"
	}
	if len(patterns) > 100 {
		return "must name at most 100 patterns"
	}
	for _, p := range patterns {
		if !event.ValidPattern(p) {
			return fmt.Sprintf("%q is neither an event type, a wildcard such as booking.*, nor *", p)
		}
		if strings.HasSuffix(p, "*") {
			continue
		}
		if _, err := s.EventType(ctx, orgID, p); err != nil {
			if hookbook.IsKind(err, hookbook.ENotFound) {
				return fmt.Sprintf("unknown event type %q", p)
			}
			return "could not be checked: " + err.Error()
		}
	}
	return ""
}

func (s *Service) checkHeaders(headers map[string]string) string {
	if len(headers) > MaxHeaders {
		return fmt.Sprintf("at most %d headers", MaxHeaders)
	}
	for k, v := range headers {
		ck := http.CanonicalHeaderKey(k)
		if !hookbook.ValidHeaderName(k) {
			return fmt.Sprintf("%q is not a valid header name", k)
		}
		if hookbook.ReservedHeader(ck, s.HeaderPrefix) {
			return fmt.Sprintf("%q is set by hookbook and cannot be overridden", k)
		}
		if strings.ContainsAny(v, "\r\n\x00") || len(v) > 4096 {
			return fmt.Sprintf("the value of %q is not a valid header value", k)
		}
	}
	return ""
}

// SendTest queues a webhook.test event to one endpoint, whatever its filter,
// and returns the delivery's id.
func (s *Service) SendTest(ctx context.Context, orgID, id string) (string, error) {
	ep, err := s.Endpoint(ctx, orgID, id)
	if err != nil {
		return "", err
	}
	if !ep.Enabled {
		return "", hookbook.Errorf(hookbook.EConflict, "endpoint_disabled", "the endpoint is disabled; enable it first")
	}
	if d := s.Limits.TestSends.Take(orgID, time.Now()); !d.Allowed {
		e := hookbook.Errorf(hookbook.ETooMany, "test_send_limit", "an organization may send %s test events; retry in %s",
			s.Limits.TestSends.Rate().Human(), max(d.RetryAfter.Round(time.Second), time.Second))
		e.RetryAfter = d.RetryAfter
		return "", e
	}
	test := event.WebhookTestData{EndpointID: id, Message: event.TestMessage}
	data, _ := json.Marshal(test)
	p, err := s.publish(ctx, Publication{OrganizationID: orgID, Type: test.EventType(), Data: data, EndpointID: id})
	if err != nil {
		return "", err
	}
	return p.Deliveries[0], nil
}

// MaxIdempotencyKey bounds the length of an idempotency key
// (idempotency.MaxKey, the same bound as the Idempotency-Key header's).
const MaxIdempotencyKey = idempotency.MaxKey

// PublishInput is an event published through the API.
type PublishInput struct {
	Event          string          `json:"event"`
	Data           json.RawMessage `json:"data"`
	IdempotencyKey string          `json:"idempotency_key"`
	// OrderingKey is what the event is about: ordered endpoints get the
	// events of one key one at a time. A published event has none unless
	// it is given, whatever its type.
	OrderingKey string `json:"ordering_key"`
}

// Publish validates and publishes an event of a known type. A repeated
// idempotency key within 24 h answers the first event.
func (s *Service) Publish(ctx context.Context, orgID string, in PublishInput) (*Published, error) {
	f := hookbook.Fields{}
	var et *hookbook.EventType
	switch {
	case in.Event == "":
		f.Add("event", "is required")
	case !event.ValidName(in.Event):
		f.Add("event", "is not a valid event type name")
	default:
		var err error
		et, err = s.EventType(ctx, orgID, in.Event)
		if hookbook.IsKind(err, hookbook.ENotFound) {
			return nil, &hookbook.Error{Kind: hookbook.EValidation, Code: "unknown_event_type",
				Message: fmt.Sprintf("event type %q is not in the catalog; register it with POST /api/v1/event-types", in.Event),
				Details: map[string]string{"event": "unknown event type"}}
		}
		if err != nil {
			return nil, err
		}
	}
	data := []byte(strings.TrimSpace(string(in.Data)))
	if len(data) == 0 || string(data) == "null" {
		f.Add("data", "is required and must be a JSON object")
	} else if data[0] != '{' {
		f.Add("data", "must be a JSON object")
	} else if canon, err := event.Canonical(data); err != nil {
		// Receivers verify the body they re-serialise: send nothing they
		// could not reproduce.
		f.Add("data", err.Error())
	} else {
		data = canon
	}
	if len(in.IdempotencyKey) > MaxIdempotencyKey {
		f.Add("idempotency_key", fmt.Sprintf("must be at most %d characters", MaxIdempotencyKey))
	} else if !idempotency.ValidKey(in.IdempotencyKey) {
		f.Add("idempotency_key", "must be text without NUL characters")
	}
	if len(in.OrderingKey) > event.MaxOrderingKey {
		f.Add("ordering_key", fmt.Sprintf("must be at most %d characters", event.MaxOrderingKey))
	} else if strings.TrimSpace(in.OrderingKey) != in.OrderingKey || strings.ContainsFunc(in.OrderingKey, unicode.IsControl) {
		f.Add("ordering_key", "must not hold control characters or begin or end with spaces")
	}
	if err := f.Err(); err != nil {
		return nil, err
	}
	if err := checkSchema(et, data); err != nil {
		return nil, err
	}
	p := Publication{OrganizationID: orgID, Type: in.Event, Data: data, IdempotencyKey: in.IdempotencyKey,
		OrderingKey: in.OrderingKey, Published: true, Canonical: true}
	s.predecode(&p)
	return s.publishBatched(ctx, p)
}

// checkSchema validates published data against its type's schema: the
// catalog's for a built-in type, the organization's own if it gave one.
func checkSchema(et *hookbook.EventType, data []byte) error {
	var err error
	switch {
	case !et.Custom:
		err = event.ValidateBuiltin(et.Name, data)
	case len(et.Schema) > 0:
		err = event.Validate(et.Schema, data)
	}
	var m *event.SchemaMismatch
	switch {
	case errors.As(err, &m):
		return &hookbook.Error{Kind: hookbook.EValidation, Code: "schema_mismatch",
			Message: fmt.Sprintf("data does not match the schema of %q: %s", et.Name, m), Details: m.Fields}
	case err != nil:
		return &hookbook.Error{Kind: hookbook.EValidation, Code: "schema_mismatch",
			Message: fmt.Sprintf("data does not match the schema of %q: %s", et.Name, err), Details: map[string]string{"data": err.Error()}}
	}
	return nil
}

// EventTypeInput registers an organization's own event type.
type EventTypeInput struct {
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Schema      json.RawMessage `json:"schema"`
}

// CreateEventType validates and registers an event type.
func (s *Service) CreateEventType(ctx context.Context, orgID string, in EventTypeInput) (*hookbook.EventType, error) {
	f := hookbook.Fields{}
	if !event.ValidName(in.Name) {
		f.Add("name", `must look like "lead.qualified": lower-case words joined by dots`)
	} else if _, ok := event.LookupBuiltin(in.Name); ok {
		return nil, hookbook.Errorf(hookbook.EConflict, "event_type_exists", "%q is a built-in event type", in.Name)
	}
	if strings.TrimSpace(in.Description) == "" {
		f.Add("description", "is required")
	} else if len(in.Description) > MaxDescription {
		f.Add("description", fmt.Sprintf("must be at most %d characters", MaxDescription))
	}
	schema := json.RawMessage(strings.TrimSpace(string(in.Schema)))
	if string(schema) == "null" || len(schema) == 0 {
		schema = nil // an empty RawMessage would not even marshal
	}
	if len(schema) > 0 {
		if schema[0] != '{' {
			f.Add("schema", "must be a JSON schema object")
		} else if _, err := event.CompileSchema(schema); err != nil {
			f.Add("schema", "is not a valid JSON schema: "+err.Error())
		}
	}
	if err := f.Err(); err != nil {
		return nil, err
	}
	et := &hookbook.EventType{Name: in.Name, Description: in.Description, Schema: schema, Custom: true}
	if err := s.insertEventType(ctx, orgID, et); err != nil {
		return nil, err
	}
	return et, nil
}

// Catalog returns the built-in types followed by the organization's own.
func (s *Service) Catalog(ctx context.Context, orgID string) ([]hookbook.EventType, error) {
	own, err := s.EventTypes(ctx, orgID)
	if err != nil {
		return nil, err
	}
	return append(event.Builtin(), own...), nil
}

// CatalogPage returns up to limit types of the catalog (built-in types,
// then the organization's own, each by name) after the type named cursor
// ("" for the first page), and the cursor of the next page ("" at the end).
func (s *Service) CatalogPage(ctx context.Context, orgID, cursor string, limit int) ([]hookbook.EventType, string, error) {
	all, err := s.Catalog(ctx, orgID)
	if err != nil {
		return nil, "", err
	}
	start := 0
	if cursor != "" {
		start = -1
		for i, t := range all {
			if t.Name == cursor {
				start = i + 1
				break
			}
		}
		if start < 0 {
			return nil, "", &hookbook.Error{Kind: hookbook.EInvalid, Code: "invalid_cursor",
				Message: "cursor is not one this list returned", Details: map[string]string{"cursor": "invalid"}}
		}
	}
	end := min(start+limit, len(all))
	next := ""
	if end < len(all) {
		next = all[end-1].Name
	}
	return all[start:end], next, nil
}
