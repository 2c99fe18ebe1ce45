package delivery

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hookbook/hookbook/internal/netguard"

	"github.com/google/uuid"
	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/queue"
	"github.com/hookbook/hookbook/internal/tracing"
	"github.com/hookbook/hookbook/internal/transform"
	"github.com/hookbook/hookbook/webhook"
)

// MaxResponseBody is how much of a response body an attempt records.
const MaxResponseBody = 4 << 10

// MaxResponseHeaders is how many bytes of response headers (names and
// values) an attempt records.
const MaxResponseHeaders = 4 << 10

// keepHeaders returns the first value of each header in name order, as
// many as fit in limit bytes.
func keepHeaders(h http.Header, limit int) map[string]string {
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, k)
	}
	sort.Strings(names)
	out := make(map[string]string, len(names))
	for _, k := range names {
		if len(h[k]) == 0 {
			continue
		}
		v := h[k][0]
		if limit -= len(k) + len(v); limit < 0 {
			break
		}
		out[k] = v
	}
	return out
}

// WebhookSender makes one signed HTTP POST of a delivery: the Sender of
// webhook endpoints.
type WebhookSender struct {
	Client       *http.Client
	HeaderPrefix string // brand header prefix, e.g. "X-Hookbook"
	UserAgent    string
	Now          func() time.Time
	// Transforms runs endpoints' transformations; nil sends every
	// request untransformed.
	Transforms *transform.Engine

	// newTransport makes the transport of an endpoint with its own TLS
	// settings (nil: such endpoints use Client).
	newTransport func(*tls.Config) *http.Transport
	transports   transports
	tokens       tokens
}

// NewWebhookSender returns a WebhookSender whose client never follows
// redirects and dials through guard.
func NewWebhookSender(guard *netguard.Guard, headerPrefix string, perHost int) *WebhookSender {
	return NewWebhookSenderVia(&Egress{Guard: guard}, headerPrefix, perHost)
}

// NewWebhookSenderVia returns a WebhookSender whose clients never follow
// redirects and connect as egress says (the network guard, then the
// forward proxy if any): the shared client, and one per endpoint with TLS
// settings of its own.
func NewWebhookSenderVia(egress *Egress, headerPrefix string, perHost int) *WebhookSender {
	if egress.Dialer == nil {
		egress.Dialer = &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	}
	newTransport := func(cfg *tls.Config) *http.Transport {
		return &http.Transport{
			Proxy:                 nil, // Egress tunnels through the proxy itself, after the guard's check
			DialContext:           egress.DialContext,
			TLSClientConfig:       cfg,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          1024,
			MaxIdleConnsPerHost:   perHost,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ExpectContinueTimeout: time.Second,
			ResponseHeaderTimeout: 0, // the attempt's context bounds everything
		}
	}
	return &WebhookSender{
		Client:       &http.Client{Transport: newTransport(nil), CheckRedirect: noRedirects},
		HeaderPrefix: headerPrefix,
		UserAgent:    "hookbook/" + hookbook.Version,
		Now:          time.Now,
		newTransport: newTransport,
	}
}

// Headers returns the headers of one attempt of a job sent at now: the
// endpoint's own headers, then the signature headers (webhook.SignHeaders,
// or webhook.SignHeadersEd25519 for an ed25519 endpoint) and the brand
// headers naming the event, the delivery and the attempt.
func (s *WebhookSender) Headers(j *queue.Job, now time.Time) (http.Header, error) {
	return s.headersOf(j, j.Endpoint.Headers, j.Payload, now)
}

// headersOf returns the headers of one attempt with own headers and body:
// the signature covers body.
func (s *WebhookSender) headersOf(j *queue.Job, own map[string]string, body []byte, now time.Time) (http.Header, error) {
	ep := j.Endpoint
	h := http.Header{}
	for k, v := range own {
		h.Set(k, v)
	}
	h["Content-Type"] = []string{"application/json"}
	h["User-Agent"] = []string{s.UserAgent}
	sign := func() error {
		return webhook.SignHeaders(h, s.HeaderPrefix, ep.Scheme, j.EventID, now, body, ep.Secrets(now))
	}
	if ep.SignsWithEd25519() {
		sign = func() error {
			return webhook.SignHeadersEd25519(h, s.HeaderPrefix, j.EventID, now, body, ep.Secrets(now))
		}
	}
	if err := sign(); err != nil {
		return nil, err
	}
	p := s.HeaderPrefix
	h.Set(p+"-Event", j.EventType)
	h.Set(p+"-Delivery-Id", j.DeliveryID)
	h.Set(p+"-Request-Id", uuid.NewString())
	return h, nil
}

// ErrKindTransformation is the error kind of an attempt whose endpoint's
// transformation failed: nothing was sent.
const ErrKindTransformation = "transformation_error"

// Cancelled is the response an attempt records when the endpoint's
// transformation cancelled it: nothing was sent and the delivery succeeded.
const Cancelled = "not sent: the endpoint's transformation cancelled this delivery"

// request returns what an attempt of j sends: the endpoint's URL, headers
// and the event's body, as its enabled transformation changed them.
func (s *WebhookSender) request(ctx context.Context, j *queue.Job, now time.Time) (*transform.Webhook, error) {
	ep := j.Endpoint
	w := &transform.Webhook{EventType: j.EventType, Payload: j.Payload, URL: ep.URL, Method: http.MethodPost, Headers: ep.Headers}
	if ep.Transformation == nil || !ep.Transformation.Enabled || s.Transforms == nil {
		return w, nil
	}
	return s.Transforms.Run(ctx, ep.Transformation.Code, w, now)
}

// Send implements Sender: one request of j within the endpoint's timeout,
// a POST of the event unless the endpoint's transformation changed it (a
// failing transformation fails the attempt with ErrKindTransformation; one
// that cancels it succeeds with nothing sent). Any 2xx answer is a
// success; 410 Gone says the endpoint is gone; any other client error
// except 408 and 429 is a refusal (Rejected); 429 and 503 may say when to
// retry (Retry-After).
func (s *WebhookSender) Send(ctx context.Context, j *queue.Job) Outcome {
	start := s.Now()
	out := Outcome{StartedAt: start, Target: j.Endpoint.URL}
	w, err := s.request(ctx, j, start)
	if err != nil {
		out.Duration = time.Since(start)
		out.Err, out.ErrKind = err.Error(), "other"
		if transform.IsError(err) {
			// The receiver is not at fault: its circuit does not count it.
			out.Err, out.ErrKind, out.Rejected = "transformation failed: "+err.Error(), ErrKindTransformation, true
		}
		return out
	}
	if w.Cancel {
		out.Duration, out.Success, out.Response = time.Since(start), true, Cancelled
		return out
	}
	out.Target = w.URL
	h, err := s.headersOf(j, w.Headers, w.Payload, start)
	if err != nil {
		out.Err, out.ErrKind = err.Error(), "other"
		return out
	}
	tracing.Inject(ctx, h) // the receiver's trace continues the attempt's
	timeout := time.Duration(j.Endpoint.TimeoutSeconds) * time.Second
	client, err := s.clientFor(j.Endpoint)
	if err != nil {
		out.Request = recordedHeaders(h, s.HeaderPrefix)
		out.Duration = time.Since(start)
		out.Err, out.ErrKind = "the endpoint's tls settings: "+err.Error(), ErrKindTLS
		return out
	}
	// One deadline for the whole attempt: waiting for a token, getting
	// it, the request, and the one retry after a 401 all fit within the
	// endpoint's timeout (an attempt must end well within its lease).
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	authz, err := s.authorization(ctx, j.Endpoint, timeout, "")
	if authz != "" {
		h.Set("Authorization", authz)
	}
	out.Request = recordedHeaders(h, s.HeaderPrefix)
	if err != nil {
		out.Duration = time.Since(start)
		out.Err, out.ErrKind = err.Error(), ErrKindOAuthToken
		var te *TokenError
		if errors.As(err, &te) {
			out.ErrKind = te.Kind
		}
		return out
	}
	req, err := http.NewRequestWithContext(ctx, w.Method, w.URL, bytes.NewReader(w.Payload))
	if err != nil {
		out.Err, out.ErrKind = "invalid endpoint URL: "+err.Error(), "other"
		return out
	}
	req.Header = h
	resp, err := client.Do(req)
	if err == nil && resp.StatusCode == http.StatusUnauthorized && j.Endpoint.Auth != nil &&
		j.Endpoint.Auth.Type == hookbook.AuthOAuth2ClientCredentials {
		// The receiver refused the token: one more request with a new one.
		resp.Body.Close()
		var fresh string
		fresh, err = s.authorization(ctx, j.Endpoint, timeout, strings.TrimPrefix(authz, "Bearer "))
		if err != nil {
			out.Duration = time.Since(start)
			out.Err, out.ErrKind = "the receiver answered 401 and "+err.Error(), ErrKindOAuthToken
			var te *TokenError
			if errors.As(err, &te) {
				out.ErrKind = te.Kind
			}
			return out
		}
		req, _ = http.NewRequestWithContext(ctx, w.Method, w.URL, bytes.NewReader(w.Payload))
		req.Header = h.Clone()
		req.Header.Set("Authorization", fresh)
		resp, err = client.Do(req)
	}
	if err != nil {
		out.Duration = time.Since(start)
		out.Err, out.ErrKind = describe(err, ctx, timeout), kindOf(err, ctx)
		return out
	}
	r := &io.LimitedReader{R: resp.Body, N: MaxResponseBody}
	body, readErr := io.ReadAll(r)
	r.N = 64 << 10
	io.Copy(io.Discard, r) // let the connection be reused
	resp.Body.Close()
	out.Duration = time.Since(start)
	out.StatusCode = resp.StatusCode
	out.Rejected = resp.StatusCode >= 400 && resp.StatusCode < 500 &&
		resp.StatusCode != http.StatusRequestTimeout && resp.StatusCode != http.StatusTooManyRequests
	out.Response = string(body)
	out.ResponseHeaders = keepHeaders(resp.Header, MaxResponseHeaders)
	switch {
	case readErr != nil && ctx.Err() != nil:
		out.Err, out.ErrKind = describe(readErr, ctx, timeout), kindOf(readErr, ctx)
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		out.Success = true
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		out.Err, out.ErrKind = fmt.Sprintf("redirect %d not followed (Location: %s)", resp.StatusCode, resp.Header.Get("Location")), "redirect"
	default:
		out.Err, out.ErrKind = fmt.Sprintf("HTTP %d", resp.StatusCode), "http_status"
		out.Gone = resp.StatusCode == http.StatusGone
		if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
			out.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), s.Now())
		}
	}
	return out
}

func describe(err error, ctx context.Context, timeout time.Duration) string {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Sprintf("timeout after %s", timeout)
	}
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) {
		if inner := ue.Unwrap(); inner != nil {
			return inner.Error()
		}
	}
	return err.Error()
}

// kindOf sorts a failed request's error into a few kinds operators can
// alert on.
func kindOf(err error, ctx context.Context) string {
	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	var recErr tls.RecordHeaderError
	var guardErr *netguard.BlockedError
	var proxyErr *ProxyError
	var opErr *net.OpError
	var x509Err x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalidErr x509.CertificateInvalidError
	switch {
	case errors.As(err, &proxyErr):
		return ErrKindProxy
	case errors.Is(ctx.Err(), context.DeadlineExceeded), errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.As(err, &guardErr):
		return "blocked"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection_refused"
	case errors.As(err, &dnsErr):
		return "dns"
	case errors.As(err, &certErr), errors.As(err, &recErr), errors.As(err, &x509Err), errors.As(err, &hostErr), errors.As(err, &invalidErr),
		errors.As(err, &opErr) && (opErr.Op == "remote error" || opErr.Op == "local error"),
		strings.Contains(err.Error(), "tls: "):
		return ErrKindTLS
	}
	var netErr net.Error
	if errors.As(err, &netErr) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) {
		return "network"
	}
	return "other"
}

// parseRetryAfter reads delay-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > int64(MaxRetryAfter/time.Second) {
			return MaxRetryAfter
		}
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	if d < 0 {
		return 0
	}
	return min(d, MaxRetryAfter)
}
