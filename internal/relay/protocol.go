// Package relay is hookbook's side of `hookbook listen`: the messages of
// the listen WebSocket (GET /api/v1/listen), the Hub of this instance's
// listener connections keyed by their endpoint's id, and the Sender that
// hands each attempt of a listening endpoint (type listen) to its
// connection and turns the local app's answer into the attempt.
//
// The protocol: JSON text messages. Once connected, hookbook sends Ready
// (the listening endpoint, its secret); then a Delivery per attempt, each
// answered by the listener with a Result carrying its id. hookbook pings
// every Heartbeat; a connection that does not answer within it is closed.
package relay

import (
	"encoding/json"
	"fmt"
)

// Message types.
const (
	TypeReady    = "ready"
	TypeDelivery = "delivery"
	TypeResult   = "result"
)

// MaxResultMessage bounds a message hookbook reads from a listener (a
// Result: its body excerpt is at most 4 KiB and its headers 4 KiB); a
// larger one closes the connection.
const MaxResultMessage = 64 << 10

// MaxDeliveryMessage bounds a message a listener reads from hookbook (a
// Delivery: a published event is at most 1 MiB, its body JSON-escaped in
// the message).
const MaxDeliveryMessage = 8 << 20

// Ready is hookbook's first message on a listen connection: the listening
// endpoint whose deliveries the connection gets, with the secret that
// signs them (so that the local app verifies signatures unchanged).
type Ready struct {
	Type           string   `json:"type"`
	EndpointID     string   `json:"endpoint_id"`
	OrganizationID string   `json:"organization_id"`
	Name           string   `json:"name"`
	Events         []string `json:"events"`
	Ordered        bool     `json:"ordered"`
	Secret         string   `json:"secret"`
}

// Delivery is one attempt of a delivery, to forward to the local app
// exactly: the event's body and the signed headers, as a webhook endpoint
// would get them. The listener answers it with a Result of the same ID
// within TimeoutMS.
type Delivery struct {
	Type       string            `json:"type"`
	ID         string            `json:"id"`
	DeliveryID string            `json:"delivery_id"`
	EventID    string            `json:"event_id"`
	Event      string            `json:"event"`
	Attempt    int               `json:"attempt"`
	Method     string            `json:"method"`
	Headers    map[string]string `json:"headers"`
	Body       string            `json:"body"`
	TimeoutMS  int64             `json:"timeout_ms"`
}

// Result is the local app's answer to a Delivery: its status (0 when it
// gave none, with Error and ErrorKind saying why), how long it took, an
// excerpt of its body (at most 4 KiB) and its headers (at most 4 KiB).
type Result struct {
	Type       string            `json:"type"`
	ID         string            `json:"id"`
	Status     int               `json:"status"`
	DurationMS float64           `json:"duration_ms"`
	Body       string            `json:"body,omitempty"`
	Headers    map[string]string `json:"headers,omitempty"`
	Error      string            `json:"error,omitempty"`
	ErrorKind  string            `json:"error_kind,omitempty"`
	// URL is where the listener forwarded the delivery.
	URL string `json:"url,omitempty"`
}

// ErrorKinds are the error kinds a Result may give; any other reads as
// "other".
var ErrorKinds = map[string]bool{"connection_refused": true, "timeout": true, "network": true, "dns": true, "tls": true, "other": true, "no_route": true}

// TypeOf returns the type of a message.
func TypeOf(msg []byte) (string, error) {
	var m struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(msg, &m); err != nil {
		return "", fmt.Errorf("relay message: %w", err)
	}
	return m.Type, nil
}
