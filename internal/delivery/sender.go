// Package delivery sends events to endpoints: it claims due deliveries from
// the store's queue, signs and POSTs them, records every attempt and
// schedules retries, keeping each endpoint's trouble to itself.
package delivery

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/store"
	"github.com/hookbook/hookbook/webhook"
)

// MaxResponseBody is how much of a response body an attempt records.
const MaxResponseBody = 4 << 10

// Sender makes one signed HTTP attempt of a delivery.
type Sender struct {
	Client       *http.Client
	HeaderPrefix string // brand header prefix, e.g. "X-Hookbook"
	UserAgent    string
	Now          func() time.Time
}

// NewSender returns a Sender whose client never follows redirects and dials
// through guard.
func NewSender(guard *Guard, headerPrefix string, perHost int) *Sender {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	transport := &http.Transport{
		Proxy:                 nil, // deliveries go straight to the endpoint
		DialContext:           guard.DialContext(dialer),
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   perHost,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		ResponseHeaderTimeout: 0, // the attempt's context bounds everything
	}
	return &Sender{
		Client: &http.Client{
			Transport: transport,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		},
		HeaderPrefix: headerPrefix,
		UserAgent:    "hookbook/" + hookbook.Version,
		Now:          time.Now,
	}
}

// Headers returns the headers of one attempt of a job sent at now.
func (s *Sender) Headers(j *store.Job, now time.Time) (http.Header, error) {
	ep := j.Endpoint
	ts := now.Unix()
	tsText := strconv.FormatInt(ts, 10)
	var sigs []string
	for _, secret := range ep.Secrets(now) {
		sig, err := webhook.Sign(secret, j.EventID, now, j.Payload)
		if err != nil {
			return nil, fmt.Errorf("sign: %w", err)
		}
		sigs = append(sigs, sig)
	}
	brand := webhook.SignHMAC(ep.Secret, ts, j.Payload)
	if ep.Scheme == hookbook.SchemeBody {
		brand = webhook.SignBody(ep.Secret, j.Payload)
	}
	h := http.Header{}
	for k, v := range ep.Headers {
		h.Set(k, v)
	}
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", s.UserAgent)
	// Lower-case names exactly as the Standard Webhooks specification writes them.
	h["webhook-id"] = []string{j.EventID}
	h["webhook-timestamp"] = []string{tsText}
	h["webhook-signature"] = []string{strings.Join(sigs, " ")}
	p := s.HeaderPrefix
	h.Set(p+"-Event", j.EventType)
	h.Set(p+"-Delivery-Id", j.DeliveryID)
	h.Set(p+"-Timestamp", tsText)
	h.Set(p+"-Request-Id", uuid.NewString())
	h.Set(p+"-Signature", brand)
	return h, nil
}

// Outcome is what one attempt observed.
type Outcome struct {
	StartedAt    time.Time
	Duration     time.Duration
	StatusCode   int
	Err          string
	ResponseBody string
	RetryAfter   time.Duration // from a 429 or 503 answer, 0 if none
	Headers      http.Header   // the request headers sent
	Success      bool
	Gone         bool // 410: the receiver is gone for good
}

// Send makes one attempt of j within the endpoint's timeout.
func (s *Sender) Send(ctx context.Context, j *store.Job) Outcome {
	start := s.Now()
	out := Outcome{StartedAt: start}
	h, err := s.Headers(j, start)
	if err != nil {
		out.Err = err.Error()
		return out
	}
	out.Headers = h
	timeout := time.Duration(j.Endpoint.TimeoutSeconds) * time.Second
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, j.Endpoint.URL, bytes.NewReader(j.Payload))
	if err != nil {
		out.Err = "invalid endpoint URL: " + err.Error()
		return out
	}
	req.Header = h
	resp, err := s.Client.Do(req)
	if err != nil {
		out.Duration = time.Since(start)
		out.Err = describe(err, ctx, timeout)
		return out
	}
	body, readErr := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBody))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // let the connection be reused
	resp.Body.Close()
	out.Duration = time.Since(start)
	out.StatusCode = resp.StatusCode
	out.ResponseBody = string(body)
	switch {
	case readErr != nil && ctx.Err() != nil:
		out.Err = describe(readErr, ctx, timeout)
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		out.Success = true
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		out.Err = fmt.Sprintf("redirect %d not followed (Location: %s)", resp.StatusCode, resp.Header.Get("Location"))
	default:
		out.Err = fmt.Sprintf("HTTP %d", resp.StatusCode)
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

// MaxRetryAfter caps how long a Retry-After answer may postpone a retry.
const MaxRetryAfter = time.Hour

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

// Policy decides when a failed delivery is tried again.
type Policy struct {
	// Schedule holds the delays before attempts 2, 3, …; the last repeats.
	Schedule []time.Duration
	// Jitter is the relative spread around each delay (0.2 means ±20 %).
	Jitter float64
}

// Next returns when to make the attempt after attempt number done (from 1)
// failed, or the zero time when no attempt is left.
func (p Policy) Next(done, maxAttempts int, now time.Time, retryAfter time.Duration) time.Time {
	if done >= maxAttempts {
		return time.Time{}
	}
	d := p.Delay(done)
	if retryAfter > d {
		d = retryAfter
	}
	return now.Add(d)
}

// Delay returns the jittered delay before attempt done+1.
func (p Policy) Delay(done int) time.Duration {
	if len(p.Schedule) == 0 {
		return 0
	}
	i := min(done-1, len(p.Schedule)-1)
	i = max(i, 0)
	d := float64(p.Schedule[i])
	if p.Jitter > 0 {
		d *= 1 - p.Jitter + 2*p.Jitter*rand.Float64()
	}
	return time.Duration(d)
}
