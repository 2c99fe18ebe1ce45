package delivery

import (
	"context"
	"fmt"
	"time"

	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/queue"
)

// Sender makes one attempt of a delivery to one kind of destination. It
// never retries by itself and bounds the attempt by the endpoint's timeout;
// the engine decides what the outcome means for the delivery (retry, give
// up, open the circuit). WebhookSender is the Sender of webhook endpoints.
type Sender interface {
	Send(ctx context.Context, j *queue.Job) Outcome
}

// Outcome is what one attempt observed, in terms every kind of destination
// can give.
type Outcome struct {
	StartedAt time.Time
	Duration  time.Duration
	// StatusCode is the destination's answer (an HTTP status for a
	// webhook), 0 when none came.
	StatusCode int
	Err        string // "" on success
	ErrKind    string // what kind of failure (see queue.Result.ErrorKind)
	// Response is an excerpt of the answer (at most MaxResponseBody bytes),
	// ResponseHeaders its metadata (at most MaxResponseHeaders bytes).
	Response        string
	ResponseHeaders map[string]string
	// Target is where the attempt went (a webhook's URL) and Request what
	// described it beside the payload (a webhook's headers), as logged.
	Target  string
	Request map[string]string
	Success bool
	// Gone says the destination is gone for good: its endpoint is disabled.
	Gone bool
	// Rejected says the destination answered and refused this delivery
	// (a client error): it is up, so its circuit does not count the failure.
	Rejected bool
	// RetryAfter is how long the destination asked to wait, 0 if it did not.
	RetryAfter time.Duration
}

// KindWebhook is the kind of endpoint that receives signed HTTP POSTs.
const KindWebhook = hookbook.EndpointWebhook

// Senders maps a kind of endpoint to the Sender of its deliveries.
type Senders map[string]Sender

// endpointKind returns the kind of an endpoint: its Type, a webhook when
// unset.
func endpointKind(ep *hookbook.Endpoint) string {
	if ep.Type == "" {
		return KindWebhook
	}
	return ep.Type
}

// For returns the Sender of an endpoint's kind.
func (s Senders) For(ep *hookbook.Endpoint) (Sender, error) {
	kind := endpointKind(ep)
	if sender, ok := s[kind]; ok {
		return sender, nil
	}
	return nil, fmt.Errorf("no sender for endpoints of kind %q", kind)
}

// send makes one attempt of j with the Sender of its endpoint's kind; an
// endpoint of a kind no Sender serves fails the attempt.
func (s Senders) send(ctx context.Context, j *queue.Job, now func() time.Time) Outcome {
	sender, err := s.For(j.Endpoint)
	if err != nil {
		return Outcome{StartedAt: now(), Err: err.Error(), ErrKind: "other"}
	}
	return sender.Send(ctx, j)
}
