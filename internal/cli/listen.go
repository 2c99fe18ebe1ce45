package cli

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/coder/websocket"
	"github.com/hookbook/hookbook/internal/event"
	"github.com/hookbook/hookbook/internal/relay"
)

// Route sends the deliveries of events matching Pattern (a type, a
// wildcard such as booking.*, or *) to URL.
type Route struct {
	Pattern string
	URL     string
}

// ParseForward reads --forward-to values: a URL (where every event goes
// that no route names) or PATTERN=URL. It returns the routes, the plain
// URL last (as the pattern *).
func ParseForward(values []string) ([]Route, error) {
	var routes []Route
	def := ""
	for _, v := range values {
		pattern, target, ok := strings.Cut(v, "=")
		if !ok || strings.Contains(pattern, "/") || strings.Contains(pattern, ":") {
			pattern, target = "*", v
		}
		u, err := url.Parse(target)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("--forward-to %q: want an http(s) URL, or EVENT_TYPE=URL", v)
		}
		if pattern == "*" {
			if def != "" {
				return nil, fmt.Errorf("--forward-to: two URLs for every event (%s, %s); give others as EVENT_TYPE=URL", def, target)
			}
			def = target
			continue
		}
		if !event.ValidPattern(pattern) {
			return nil, fmt.Errorf("--forward-to %q: %q is neither an event type nor a wildcard such as booking.*", v, pattern)
		}
		routes = append(routes, Route{pattern, target})
	}
	if def != "" {
		routes = append(routes, Route{"*", def})
	}
	if len(routes) == 0 {
		return nil, errors.New("--forward-to is required: the local URL deliveries go to, e.g. http://localhost:3000/hooks")
	}
	return routes, nil
}

// Listen is one `hookbook listen`: it keeps a listen WebSocket to
// hookbook, reconnecting with backoff, and forwards each delivery to the
// local app its event routes to, answering with the app's response.
type Listen struct {
	API    API
	Name   string   // the listener's name (its identity with Events)
	Events []string // patterns the listener gets
	Routes []Route  // where each event goes: the first match
	// SkipVerify skips the verification of the local app's TLS certificate.
	SkipVerify bool
	// ExitAfter, when positive, ends Run after that many deliveries.
	ExitAfter int
	PrintJSON bool
	Out       io.Writer // one line per delivery
	Log       io.Writer // the listener's own messages (secret, reconnects)
	// MaxBackoff bounds the wait between reconnections (0: 15 s).
	MaxBackoff time.Duration

	client   *http.Client
	received int // deliveries read, over every connection
	mu       sync.Mutex
	done     int
	failed   int
}

// ErrFailed says some deliveries failed locally (--exit-after).
var ErrFailed = errors.New("some deliveries failed")

// errFatal marks an error that no reconnection would mend.
type errFatal struct{ error }

// Line is what Listen prints of each delivery (a JSON line with --print-json).
type Line struct {
	Time       time.Time `json:"time"`
	Event      string    `json:"event"`
	EventID    string    `json:"event_id"`
	DeliveryID string    `json:"delivery_id"`
	Attempt    int       `json:"attempt"`
	URL        string    `json:"url"`
	Status     int       `json:"status"`
	DurationMS float64   `json:"duration_ms"`
	Error      string    `json:"error,omitempty"`
}

// Run listens until ctx is done (nil), ExitAfter deliveries were handled
// (nil, or ErrFailed if any failed), or hookbook refuses the listener.
func (l *Listen) Run(ctx context.Context) error {
	if err := l.API.Check(); err != nil {
		return err
	}
	if len(l.Routes) == 0 {
		return errors.New("--forward-to is required")
	}
	if len(l.Events) == 0 {
		l.Events = []string{"*"}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	if l.SkipVerify {
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
	}
	l.client = &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	maxBackoff := l.MaxBackoff
	if maxBackoff <= 0 {
		maxBackoff = 15 * time.Second
	}
	backoff := 250 * time.Millisecond
	for {
		ready, err := l.session(ctx)
		if ctx.Err() != nil {
			return nil
		}
		var fatal errFatal
		switch {
		case errors.As(err, &fatal):
			return fatal.error
		case err == nil:
			return l.result()
		}
		if ready {
			backoff = 250 * time.Millisecond
		}
		fmt.Fprintf(l.Log, "hookbook listen: %v; reconnecting in %s\n", err, backoff.Round(time.Millisecond))
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

func (l *Listen) result() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.failed > 0 {
		return fmt.Errorf("%w: %d of %d", ErrFailed, l.failed, l.done)
	}
	return nil
}

// session runs one connection. It returns nil once ExitAfter deliveries
// were handled, errFatal when hookbook refuses the listener, any other
// error when the connection failed or ended; ready says whether it got
// as far as hookbook's ready message.
func (l *Listen) session(ctx context.Context) (ready bool, err error) {
	u, _ := url.Parse(strings.TrimRight(l.API.URL, "/") + "/api/v1/listen")
	u.Scheme = map[string]string{"http": "ws", "https": "wss"}[u.Scheme]
	u.RawQuery = url.Values{"name": {l.Name}, "events": {strings.Join(l.Events, ",")}}.Encode()
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	conn, resp, err := websocket.Dial(dctx, u.String(), &websocket.DialOptions{
		HTTPHeader: http.Header{"Authorization": {"Bearer " + l.API.Key}}, CompressionMode: websocket.CompressionDisabled,
	})
	cancel()
	if err != nil {
		if resp != nil && resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != http.StatusTooManyRequests {
			var b []byte
			if resp.Body != nil {
				b, _ = io.ReadAll(io.LimitReader(resp.Body, 64<<10))
			}
			return false, errFatal{answerError(resp.StatusCode, b)}
		}
		return false, fmt.Errorf("connect to %s: %w", l.API.URL, err)
	}
	defer conn.CloseNow()
	conn.SetReadLimit(relay.MaxDeliveryMessage)
	_, msg, err := conn.Read(ctx)
	if err != nil {
		return false, fmt.Errorf("connection lost: %w", err)
	}
	var r relay.Ready
	if typ, _ := relay.TypeOf(msg); typ != relay.TypeReady || json.Unmarshal(msg, &r) != nil {
		return false, errFatal{fmt.Errorf("%s did not answer as hookbook does (no ready message)", l.API.URL)}
	}
	fmt.Fprintf(l.Log, "hookbook listen: ready, listening to %s as endpoint %s (%s)\n", strings.Join(r.Events, ","), r.EndpointID, r.Name)
	fmt.Fprintf(l.Log, "hookbook listen: the signing secret of this listener is %s\n", r.Secret)
	for _, rt := range l.Routes {
		fmt.Fprintf(l.Log, "hookbook listen: forwarding %s to %s\n", rt.Pattern, rt.URL)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	sem := make(chan struct{}, 64)
	for {
		if l.ExitAfter > 0 && l.received >= l.ExitAfter {
			wg.Wait()
			conn.Close(websocket.StatusNormalClosure, "done")
			return true, nil
		}
		_, msg, err := conn.Read(ctx)
		if err != nil {
			if ctx.Err() != nil {
				conn.Close(websocket.StatusNormalClosure, "stopped")
				return true, ctx.Err()
			}
			if websocket.CloseStatus(err) == websocket.StatusPolicyViolation {
				var ce websocket.CloseError
				if errors.As(err, &ce) && strings.Contains(ce.Reason, "took over") {
					return true, errFatal{errors.New("another hookbook listen with the same --name and --events took over this listener")}
				}
			}
			return true, fmt.Errorf("connection lost: %w", err)
		}
		var d relay.Delivery
		if typ, _ := relay.TypeOf(msg); typ != relay.TypeDelivery || json.Unmarshal(msg, &d) != nil {
			continue // a message of a later version: not ours
		}
		l.received++
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			l.handle(ctx, conn, d)
		}()
	}
}

// handle forwards one delivery, answers hookbook and prints the line.
func (l *Listen) handle(ctx context.Context, conn *websocket.Conn, d relay.Delivery) {
	target := l.route(d.Event)
	res := relay.Result{Type: relay.TypeResult, ID: d.ID, URL: target}
	start := time.Now()
	if target == "" {
		res.Error, res.ErrorKind = "no --forward-to route for "+d.Event, "no_route"
	} else {
		l.forward(ctx, target, d, &res)
	}
	dur := time.Since(start)
	res.DurationMS = float64(dur.Microseconds()) / 1000
	b, _ := json.Marshal(res)
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	conn.Write(wctx, websocket.MessageText, b) // a lost answer fails the attempt on hookbook's side
	cancel()
	ok := res.Error == "" && res.Status >= 200 && res.Status < 300
	line := Line{Time: start.UTC(), Event: d.Event, EventID: d.EventID, DeliveryID: d.DeliveryID, Attempt: d.Attempt,
		URL: target, Status: res.Status, DurationMS: res.DurationMS, Error: res.Error}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.done++
	if !ok {
		l.failed++
	}
	if l.PrintJSON {
		b, _ := json.Marshal(line)
		fmt.Fprintf(l.Out, "%s\n", b)
		return
	}
	status := fmt.Sprintf("[%d]", res.Status)
	if res.Error != "" {
		status = "[ERR " + res.Error + "]"
	}
	fmt.Fprintf(l.Out, "%s  %-28s %s  %s  %s  %dms  %s\n", start.Local().Format("2006-01-02 15:04:05"), d.Event, d.EventID, d.DeliveryID,
		status, dur.Milliseconds(), target)
}

// route returns where an event goes: the first route that matches it.
func (l *Listen) route(eventType string) string {
	for _, r := range l.Routes {
		if event.Match(r.Pattern, eventType) {
			return r.URL
		}
	}
	return ""
}

// forward POSTs the delivery to target, as hookbook would, and records the answer.
func (l *Listen) forward(ctx context.Context, target string, d relay.Delivery, res *relay.Result) {
	timeout := time.Duration(d.TimeoutMS) * time.Millisecond
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	method := d.Method
	if method == "" {
		method = http.MethodPost
	}
	req, err := http.NewRequestWithContext(ctx, method, target, strings.NewReader(d.Body))
	if err != nil {
		res.Error, res.ErrorKind = err.Error(), "other"
		return
	}
	for k, v := range d.Headers {
		req.Header.Set(k, v)
	}
	resp, err := l.client.Do(req)
	if err != nil {
		res.Error, res.ErrorKind = describe(err), kindOf(err, ctx)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	res.Status, res.Body = resp.StatusCode, string(body)
	res.Headers = firstValues(resp.Header, 4<<10)
}

// describe is an error's innermost message.
func describe(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return err.Error()
}

// kindOf sorts a forwarding error into the kinds hookbook records.
func kindOf(err error, ctx context.Context) string {
	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded), errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection_refused"
	case errors.As(err, &dnsErr):
		return "dns"
	case errors.As(err, &certErr):
		return "tls"
	}
	return "network"
}

// firstValues returns the first value of each header in name order, as
// many as fit in limit bytes.
func firstValues(h http.Header, limit int) map[string]string {
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, k)
	}
	sort.Strings(names)
	out := map[string]string{}
	for _, k := range names {
		v := h[k][0]
		if limit -= len(k) + len(v); limit < 0 {
			break
		}
		out[k] = v
	}
	return out
}
