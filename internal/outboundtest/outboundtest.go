// Package outboundtest is the fixture of the storage tests of outbound and
// queue: an organization on a test database with an outbound.Service and a
// queue.Queue wired to each other as an instance wires them, endpoints and
// publications made through the service, and valid event data from the
// catalog's examples. It compiles only what those tests compile already;
// whole instances are internal/hookbooktest's.
package outboundtest

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/db"
	"github.com/hookbook/hookbook/internal/event"
	"github.com/hookbook/hookbook/internal/netguard"
	"github.com/hookbook/hookbook/internal/org"
	"github.com/hookbook/hookbook/internal/outbound"
	"github.com/hookbook/hookbook/internal/queue"
)

// Fixture is one organization's outbound service and delivery queue.
type Fixture struct {
	Svc *outbound.Service
	Q   *queue.Queue
	Org string // the organization's id
}

// New creates an organization on d and wires its service and queue: no
// network guard, the X-Hookbook header prefix, a rotation overlap of an
// hour, and no engine (every delivery waits in the queue to be claimed).
func New(t testing.TB, d *db.DB) Fixture {
	t.Helper()
	o, err := (&org.Service{DB: d}).CreateOrganization(context.Background(), "acme", org.NewAPIKey())
	if err != nil {
		t.Fatal(err)
	}
	q := &queue.Queue{DB: d}
	svc := &outbound.Service{DB: d, Guard: &netguard.Guard{}, HeaderPrefix: "X-Hookbook", SecretOverlap: time.Hour, Queue: q}
	q.Endpoints = svc
	q.Outcomes = svc.Outcomes
	return Fixture{Svc: svc, Q: q, Org: o.ID}
}

// Endpoint creates an endpoint subscribed to events, at an address nothing
// listens on.
func (f Fixture) Endpoint(t testing.TB, events ...string) *hookbook.RevealedEndpoint {
	t.Helper()
	e, err := f.Svc.CreateEndpoint(context.Background(), f.Org, outbound.EndpointInput{URL: Ptr("http://127.0.0.1:9/hook"), Events: &events})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// Publish publishes an event of the built-in type typ with its example
// data, under the idempotency key key ("" for none).
func (f Fixture) Publish(t testing.TB, typ, key string) *outbound.Published {
	t.Helper()
	data, err := json.Marshal(Data(typ, nil))
	if err != nil {
		t.Fatal(err)
	}
	p, err := f.Svc.Publish(context.Background(), f.Org, outbound.PublishInput{Event: typ, Data: data, IdempotencyKey: key})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Data returns the catalog's example data of the built-in event type typ
// with fields set on top. It panics for a type the catalog lacks.
func Data(typ string, fields map[string]any) map[string]any {
	et, ok := event.LookupBuiltin(typ)
	if !ok {
		panic("outboundtest: no built-in event type " + typ)
	}
	var d map[string]any
	if err := json.Unmarshal(et.Example, &d); err != nil {
		panic(err)
	}
	for k, v := range fields {
		d[k] = v
	}
	return d
}

// Ptr returns a pointer to v, for the optional fields of inputs.
func Ptr[T any](v T) *T { return &v }
