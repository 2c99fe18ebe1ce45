// Package hookbook holds the domain types shared by every part of hookbook:
// organizations, endpoints, events, deliveries and attempts, and the error
// type that carries a machine-readable code to the HTTP edge.
//
// Storage (package db), the delivery engine (package delivery) and the
// HTTP API (package httpapi) all speak in these types; this package depends
// on nothing but the standard library and package webhook (the signature
// schemes).
package hookbook

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"time"

	"github.com/hookbook/hookbook/webhook"
)

// Version is the build's version, set with -ldflags "-X github.com/hookbook/hookbook.Version=…".
var Version = "0.1.0-dev"

// Delivery statuses.
const (
	StatusPending   = "pending"
	StatusSucceeded = "succeeded"
	StatusFailed    = "failed"
	// StatusSkipped is a delivery published while its endpoint was
	// disabled: never attempted, kept for the retention period, replayable
	// once the endpoint is enabled again.
	StatusSkipped = "skipped"
)

// Signature schemes of the brand signature header (see package webhook).
const (
	SchemeTimestamped = webhook.SchemeTimestamped
	SchemeBody        = webhook.SchemeBody
	SchemeBodyHex     = webhook.SchemeBodyHex
)

// Organization owns every other resource. Its API key is stored hashed.
type Organization struct {
	ID              string
	Name            string
	OutboundEnabled bool
	CreatedAt       time.Time
}

// Endpoint is a URL that receives an organization's events.
type Endpoint struct {
	ID             string `json:"id"`
	OrganizationID string `json:"organization_id"`
	// Type is the kind of destination: EndpointWebhook (the default) or
	// the name of a message broker type (package destination).
	Type           string            `json:"type"`
	URL            string            `json:"url"`
	Description    string            `json:"description"`
	Events         []string          `json:"events"`
	Enabled        bool              `json:"enabled"`
	DisabledReason *string           `json:"disabled_reason"`
	MaxAttempts    int               `json:"max_attempts"`
	TimeoutSeconds int               `json:"timeout_seconds"`
	Scheme         string            `json:"signature_scheme"`
	Headers        map[string]string `json:"headers"`
	// Ordered endpoints get the events of one ordering key (a booking, a
	// customer, …) one at a time, in sequence order.
	Ordered bool `json:"ordered"`
	// RateLimit bounds how often the endpoint is sent to ("10/s", "600/m"),
	// across every instance; nil sets no rate.
	RateLimit *string `json:"rate_limit"`
	// MaxInFlight bounds its attempts in flight across every instance; nil
	// leaves the instance's per-endpoint concurrency.
	MaxInFlight *int `json:"max_in_flight"`
	// Filter, when set, is a payload filter (JSON, see internal/filter):
	// only the events whose envelope matches it create a delivery.
	Filter json.RawMessage `json:"filter"`
	// Config is a broker destination's settings (JSON, its type's shape),
	// credentials included: it never leaves hookbook as part of an
	// Endpoint. ConfigView is what answers show of it, every credential
	// replaced by "***"; both are nil for webhooks.
	Config     json.RawMessage `json:"-"`
	ConfigView json.RawMessage `json:"config"`
	// Transformation changes each request before it is signed and sent
	// (package transform); nil when the endpoint has none.
	Transformation *Transformation `json:"transformation"`

	LastSuccessAt       *time.Time `json:"last_success_at"`
	LastFailureAt       *time.Time `json:"last_failure_at"`
	ConsecutiveFailures int        `json:"consecutive_failures"`
	// FailingSince is when the current run of failures began (no success since).
	FailingSince *time.Time `json:"-"`
	// AlertEmails are the addresses hookbook mails when the endpoint
	// starts failing, is about to be disabled, is disabled and recovers
	// (at most MaxAlertEmails; never nil).
	AlertEmails []string `json:"alert_emails"`

	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`

	// Secret is the newest signing secret. It never leaves hookbook as part
	// of an Endpoint: Reveal is the one way to show it (on creation,
	// rotation and an explicit reveal).
	Secret string `json:"-"`
	// PreviousSecrets are the secrets rotated out, newest first, each
	// signing until it expires (the rotation overlap).
	PreviousSecrets []PreviousSecret `json:"-"`

	// Auth is how hookbook authenticates to the receiver and TLS its own
	// TLS settings (client certificate, trusted CAs); nil when unset.
	// Both carry credentials and never leave hookbook as part of an
	// Endpoint: AuthView and TLSView (SetViews) are what answers show.
	Auth     *EndpointAuth `json:"-"`
	AuthView *AuthView     `json:"auth"`
	TLS      *EndpointTLS  `json:"-"`
	TLSView  *TLSView      `json:"tls"`
	// SignatureAlgorithm is how the endpoint signs, chosen at creation:
	// AlgorithmHMACSHA256 (Secret is an HMAC secret: "v1" signatures and
	// the brand signature) or AlgorithmEd25519 (Secret and PreviousSecrets
	// are "whsk_" ed25519 signing keys: "v1a" signatures, no brand
	// signature).
	SignatureAlgorithm string `json:"signature_algorithm"`
	// PublicKey is the "whpk_" public key of an ed25519 endpoint's newest
	// signing key, readable at any time (see SetPublicKey); nil for HMAC.
	PublicKey *string `json:"public_key"`
}

// SetViews sets AuthView and TLSView from Auth and TLS.
func (e *Endpoint) SetViews() {
	e.AuthView, e.TLSView = e.Auth.View(), e.TLS.View()
}

// Signature algorithms of an endpoint.
const (
	AlgorithmHMACSHA256 = "hmac-sha256"
	AlgorithmEd25519    = "ed25519"
)

// SignsWithEd25519 reports whether the endpoint signs with ed25519 keys.
func (e *Endpoint) SignsWithEd25519() bool { return e.SignatureAlgorithm == AlgorithmEd25519 }

// SetPublicKey sets PublicKey from Secret: the public key of an ed25519
// endpoint's signing key, nil for other endpoints (or a key that does not
// parse, which creation never stores).
func (e *Endpoint) SetPublicKey() {
	e.PublicKey = nil
	if !e.SignsWithEd25519() {
		return
	}
	if pk, err := webhook.PublicKeyOf(e.Secret); err == nil {
		e.PublicKey = &pk
	}
}

// EndpointWebhook is the type of endpoint that receives signed HTTP POSTs.
const EndpointWebhook = "webhook"

// EndpointListen is the type of endpoint that `hookbook listen` keeps: its
// deliveries go over the listener's WebSocket to a developer's machine.
const EndpointListen = "listen"

// Throttled reports whether the endpoint has a rate limit or a bound on
// its attempts in flight: its deliveries then go through the claim, which
// enforces both across instances.
func (e *Endpoint) Throttled() bool { return e.RateLimit != nil || e.MaxInFlight != nil }

// Transformation is an endpoint's JavaScript function handler(webhook),
// run at attempt time while Enabled. Connector names the ready-made chat
// connector whose code it is ("slack", "teams", "discord"), "" for code of
// one's own.
type Transformation struct {
	Code      string `json:"code"`
	Enabled   bool   `json:"enabled"`
	Connector string `json:"connector,omitempty"`
}

// DisabledByOrganization is the disabled reason of an endpoint its
// organization switched off (rather than hookbook, after failures).
const DisabledByOrganization = "disabled by the organization"

// Paused reports whether the endpoint is off because its organization
// switched it off, not because hookbook disabled it.
func (e *Endpoint) Paused() bool {
	return !e.Enabled && (e.DisabledReason == nil || *e.DisabledReason == DisabledByOrganization)
}

// MaxPreviousSecrets bounds the secrets rotated out that still sign.
const MaxPreviousSecrets = 10

// PreviousSecret is a secret rotated out, signing until ExpiresAt.
type PreviousSecret struct {
	Secret    string `json:"secret"`
	ExpiresAt int64  `json:"expires_at"` // unix microseconds
}

// RevealedEndpoint is an endpoint shown together with its newest secret.
type RevealedEndpoint struct {
	*Endpoint
	Secret string `json:"secret"`
}

// Reveal returns e with its secret, for the answers that must show it.
func (e *Endpoint) Reveal() *RevealedEndpoint {
	return &RevealedEndpoint{Endpoint: e, Secret: e.Secret}
}

// Secrets returns the secrets that sign a message sent at now: the newest
// first, then each one rotated out while its overlap lasts (at most
// MaxPreviousSecrets).
func (e *Endpoint) Secrets(now time.Time) []string {
	s := []string{e.Secret}
	for _, p := range e.LivePreviousSecrets(now) {
		s = append(s, p.Secret)
	}
	return s
}

// LivePreviousSecrets returns the secrets rotated out whose overlap lasts
// at now, newest first, at most MaxPreviousSecrets.
func (e *Endpoint) LivePreviousSecrets(now time.Time) []PreviousSecret {
	var out []PreviousSecret
	for _, p := range e.PreviousSecrets {
		if p.Secret != "" && now.UnixMicro() < p.ExpiresAt && len(out) < MaxPreviousSecrets {
			out = append(out, p)
		}
	}
	return out
}

// Event is something that happened in an organization. Payload is the exact
// envelope sent as the body of every delivery of the event.
type Event struct {
	ID             string          `json:"id"`
	OrganizationID string          `json:"organization_id"`
	Type           string          `json:"event"`
	Timestamp      time.Time       `json:"timestamp"`
	OrderingKey    string          `json:"ordering_key,omitempty"`
	Sequence       int64           `json:"sequence,omitempty"`
	Data           json.RawMessage `json:"data"`
	Payload        []byte          `json:"-"`
}

// Envelope is the JSON body of every delivery.
type Envelope struct {
	ID             string `json:"id"`
	Event          string `json:"event"`
	Timestamp      string `json:"timestamp"`
	OrganizationID string `json:"organization_id"`
	// OrderingKey names what the event is about (a booking's id, …), and
	// Sequence grows with each event of that key in the organization; both
	// are left out for events without a key.
	OrderingKey string          `json:"ordering_key,omitempty"`
	Sequence    int64           `json:"sequence,omitempty"`
	Data        json.RawMessage `json:"data"`
}

// ETag names the version of an endpoint's settings: it changes with every
// change of them (an update, a rotated secret, disabling), not with its
// health counters. An update sent with If-Match and another ETag is
// refused (EPrecondition).
func (e *Endpoint) ETag() string {
	sum := sha256.Sum256([]byte(e.ID + "@" + strconv.FormatInt(e.UpdatedAt.UnixMicro(), 10)))
	return `"` + hex.EncodeToString(sum[:12]) + `"`
}

// Delivery is one event on its way to one endpoint. The deliveries table is
// also the queue: pending rows whose NextAttemptAt has come are claimed by
// workers under a lease.
type Delivery struct {
	ID             string     `json:"id"`
	OrganizationID string     `json:"-"`
	EndpointID     string     `json:"endpoint_id"`
	EventID        string     `json:"event_id"`
	EventType      string     `json:"event"`
	Status         string     `json:"status"`
	Attempts       int        `json:"attempts"`
	MaxAttempts    int        `json:"max_attempts"`
	LastStatusCode *int       `json:"last_status_code"`
	LastError      *string    `json:"last_error"`
	NextAttemptAt  *time.Time `json:"next_attempt_at"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
	// InFlight reports that an attempt is running now: NextAttemptAt is
	// then when its lease ends, not a planned retry.
	InFlight bool `json:"-"`
}

// Attempt is one HTTP request of a delivery and what came back.
type Attempt struct {
	DeliveryID   string    `json:"-"`
	Attempt      int       `json:"attempt"`
	StartedAt    time.Time `json:"started_at"`
	DurationMS   int64     `json:"duration_ms"`
	StatusCode   *int      `json:"status_code"`
	Error        *string   `json:"error"`
	ResponseBody string    `json:"response_body"`
	// ResponseHeaders are the answer's headers (first value of each, at
	// most 4 KiB in all).
	ResponseHeaders map[string]string `json:"response_headers"`
	RequestURL      string            `json:"request_url"`
	RequestHeaders  map[string]string `json:"request_headers"`
}

// EventType is an entry of the event catalog.
type EventType struct {
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Schema      json.RawMessage `json:"schema"`
	Example     json.RawMessage `json:"example"`
	Custom      bool            `json:"custom"`
	// OrderingKey says where a built-in type's ordering key comes from
	// ("data.id: the booking"); empty when its events have none.
	OrderingKey string `json:"ordering_key,omitempty"`
}
