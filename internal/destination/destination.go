// Package destination is what hookbook knows of message brokers as
// endpoints: the Type of each kind of broker (its config's validation,
// redaction and the addresses it connects to), the Publisher that one
// connection offers, the Message an attempt publishes and the Error kinds
// an attempt can fail with. Each broker's client lives in a package of its
// own below this one (rabbitmq, nats, kafka, redis, mqtt), so that this
// package and its users import no broker library.
package destination

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"time"
)

// Type is one kind of broker destination ("rabbitmq", "nats", …).
type Type interface {
	// Name is the endpoint type it serves.
	Name() string
	// Validate checks a config and returns its normal form (unknown fields
	// refused, defaults filled in, bounded sizes). A bad field is a
	// *FieldError naming it ("url", "topic", …).
	Validate(config json.RawMessage) (json.RawMessage, error)
	// Redact returns a valid config with every credential (a password or
	// token in a URL, a SASL password, …) replaced by "***": what answers,
	// logs, the UI and the portal show.
	Redact(config json.RawMessage) json.RawMessage
	// Addresses returns the host:port addresses a valid config connects
	// to, for the network guard to check when the endpoint is saved.
	Addresses(config json.RawMessage) ([]string, error)
	// Fields describes the config's fields for the forms of the admin UI
	// and the portal, in the order they are shown.
	Fields() []Field
	// Open connects to the broker of a valid config. Every connection it
	// makes goes through dial, which applies the network guard. The
	// Publisher is reused across attempts until Close.
	Open(ctx context.Context, config json.RawMessage, dial DialFunc) (Publisher, error)
}

// Describer is implemented by a Type that can say in one line where a
// config publishes, credentials redacted ("redis stream S at
// redis://…"): the target the delivery log shows. Without it the target
// is the type's name.
type Describer interface {
	Describe(config json.RawMessage) string
}

// AddressFielder is implemented by a Type whose addresses come from a
// config field other than "url" (kafka: "brokers").
type AddressFielder interface {
	AddressField() string
}

// AddressField names the config field t's addresses come from, for
// messages about them: "url" unless t says otherwise.
func AddressField(t Type) string {
	if a, ok := t.(AddressFielder); ok {
		return a.AddressField()
	}
	return "url"
}

// DialFunc opens a network connection, as net.Dialer.DialContext does.
type DialFunc func(ctx context.Context, network, address string) (net.Conn, error)

// Publisher publishes messages over one connection (or pool) to a broker.
// It is safe for concurrent use.
type Publisher interface {
	// Publish sends m and returns once the broker has acknowledged it
	// (a publisher confirm, a JetStream ack, a PUBACK, a Kafka produce
	// ack, an XADD reply), or an *Error saying why not. ctx bounds the
	// attempt (the endpoint's timeout).
	Publish(ctx context.Context, m *Message) error
	// Close ends the connection; Publish fails afterwards.
	Close() error
}

// Message is one delivery published to a broker: the exact envelope bytes
// a webhook receiver gets as the body, and the metadata as the broker's
// headers or properties where it has them.
type Message struct {
	EventID   string
	EventType string
	Timestamp time.Time
	// Key is the event's ordering key ("" when it has none); Sequence its
	// place in that key's order (0 when unordered).
	Key      string
	Sequence int64
	Body     []byte
	// Headers are the signature headers a webhook receiver would get
	// (webhook-id, webhook-timestamp, webhook-signature and the brand
	// headers) and the metadata headers, in a fixed order.
	Headers []Header
}

// Header is one metadata header of a Message.
type Header struct{ Name, Value string }

// The kinds of a failed publish, as the delivery log shows them.
const (
	KindConnect  = "connect"          // the broker could not be reached
	KindAuth     = "auth"             // the broker refused the credentials
	KindRejected = "publish_rejected" // the broker refused the message
	KindTimeout  = "timeout"          // no acknowledgement in time
)

// Error is a failed Open or Publish: its Kind says which, Err the cause.
type Error struct {
	Kind string
	Err  error
}

func (e *Error) Error() string { return e.Kind + ": " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error of kind with a formatted cause.
func Errorf(kind, format string, args ...any) *Error {
	return &Error{Kind: kind, Err: fmt.Errorf(format, args...)}
}

// KindOf returns the kind of err: its *Error's, KindTimeout for an
// expired context, KindConnect otherwise.
func KindOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return KindTimeout
	}
	return KindConnect
}

// FieldError is an invalid config field, shown as a 422 naming
// "config.<Field>".
type FieldError struct {
	Field   string
	Message string
}

func (e *FieldError) Error() string { return "config." + e.Field + ": " + e.Message }

// Field describes one config field for a form.
type Field struct {
	Name     string // its JSON name
	Label    string
	Help     string
	Kind     string // "text", "url" (may hold a credential), "number", "list" (one per line), "secret", "bool" (true or false)
	Required bool
	Default  string // shown as the placeholder
}
