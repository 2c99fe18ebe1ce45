package relay

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/hookbook/hookbook/internal/delivery"
	"github.com/hookbook/hookbook/internal/queue"
)

// ErrKindOffline is the error kind of an attempt made while no listener of
// its endpoint was connected to the instance that made it. It is retried
// like any failure; when the listener (re)connects, its endpoint's waiting
// deliveries come due at once (Hub.Back).
const ErrKindOffline = "listener_offline"

// Sender is the delivery.Sender of listening endpoints (type listen): it
// signs an attempt as a webhook's (Headers), hands it to the endpoint's
// listener through the Hub and waits, within the endpoint's timeout, for
// the local app's answer, which becomes the attempt: any 2xx succeeds;
// another status, or a local app refused or unreachable, fails it, and it
// is retried like any endpoint's.
type Sender struct {
	Hub *Hub
	// Headers returns the signed headers of an attempt sent at now
	// (delivery.WebhookSender.Headers).
	Headers func(j *queue.Job, now time.Time) (http.Header, error)
	// HeaderPrefix names the brand headers, for the redaction of the
	// recorded request.
	HeaderPrefix string
	Now          func() time.Time
}

var _ delivery.Sender = (*Sender)(nil)

// Send implements delivery.Sender.
func (s *Sender) Send(ctx context.Context, j *queue.Job) delivery.Outcome {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	start := now()
	out := delivery.Outcome{StartedAt: start, Target: j.Endpoint.URL}
	h, err := s.Headers(j, start)
	if err != nil {
		out.Err, out.ErrKind = err.Error(), "other"
		return out
	}
	out.Request = delivery.RecordedHeaders(h, s.HeaderPrefix)
	if !s.Hub.Connected(j.Endpoint.ID) {
		// Not the listener's fault, nor a sign its destination is down:
		// its circuit does not count it.
		out.Err, out.ErrKind, out.Rejected = ErrOffline.Error(), ErrKindOffline, true
		return out
	}
	timeout := time.Duration(j.Endpoint.TimeoutSeconds) * time.Second
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	headers := make(map[string]string, len(h))
	for k, v := range h {
		if len(v) > 0 {
			headers[k] = v[0]
		}
	}
	r, err := s.Hub.deliver(ctx, j.Endpoint.ID, Delivery{
		DeliveryID: j.DeliveryID, EventID: j.EventID, Event: j.EventType, Attempt: j.Attempt,
		Method: http.MethodPost, Headers: headers, Body: string(j.Payload), TimeoutMS: timeout.Milliseconds(),
	})
	out.Duration = time.Since(start)
	switch {
	case errors.Is(err, ErrOffline), errors.Is(err, ErrGone):
		out.Err, out.ErrKind, out.Rejected = err.Error(), ErrKindOffline, true
		return out
	case errors.Is(err, context.DeadlineExceeded):
		out.Err, out.ErrKind = fmt.Sprintf("timeout after %s", timeout), "timeout"
		return out
	case err != nil:
		out.Err, out.ErrKind = err.Error(), "other"
		return out
	}
	if r.URL != "" {
		out.Target = j.Endpoint.URL + " → " + truncate(r.URL, 2048)
	}
	out.StatusCode = r.Status
	out.Response = truncate(r.Body, delivery.MaxResponseBody)
	out.ResponseHeaders = boundHeaders(r.Headers, delivery.MaxResponseHeaders)
	switch {
	case r.Error != "":
		out.Err, out.ErrKind = "local app: "+truncate(r.Error, 512), r.ErrorKind
		if !ErrorKinds[out.ErrKind] {
			out.ErrKind = "other"
		}
	case r.Status >= 200 && r.Status < 300:
		out.Success = true
	default:
		out.Err, out.ErrKind = fmt.Sprintf("HTTP %d", r.Status), "http_status"
		out.Rejected = r.Status >= 400 && r.Status < 500 && r.Status != http.StatusRequestTimeout && r.Status != http.StatusTooManyRequests
	}
	return out
}

// truncate cuts s, a listener's text, to at most n bytes of valid UTF-8
// without NUL characters (which no database column takes).
func truncate(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, ""), "\x00", "")
}

// boundHeaders keeps headers in name order as long as they fit in limit bytes.
func boundHeaders(h map[string]string, limit int) map[string]string {
	if len(h) == 0 {
		return nil
	}
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, k)
	}
	sort.Strings(names)
	out := make(map[string]string, len(names))
	for _, k := range names {
		if limit -= len(k) + len(h[k]); limit < 0 {
			break
		}
		out[truncate(k, 256)] = truncate(h[k], 1024)
	}
	return out
}
