// Package nats is the "nats" destination type: NATS JetStream, through
// github.com/nats-io/nats.go. A delivery is published to a subject
// (default "hookbook.{event}", {event} being the event type) with the
// event id as Nats-Msg-Id, so the stream deduplicates redeliveries within
// its duplicate window, and succeeds on the stream's PubAck. The stream
// must exist and cover the subject: without one the publish is refused
// (publish_rejected).
package nats

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hookbook/hookbook/internal/destination"
	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Bounds of a config.
const (
	MaxURLLength     = destination.MaxURLLength
	MaxSubjectLength = 255
	// DefaultSubject is the subject when the config names none.
	DefaultSubject = "hookbook.{event}"
	defaultPort    = "4222"
	dialTimeout    = 10 * time.Second
)

// Config is a "nats" endpoint's config.
type Config struct {
	// URL is nats://[user:pass@]host[:4222] or tls://…; a user name alone
	// (nats://token@host) is a token.
	URL string `json:"url"`
	// Subject is where messages go; {event} is replaced by the event type.
	Subject string `json:"subject,omitempty"`
}

type natsType struct{}

// New returns the "nats" destination type.
func New() destination.Type { return natsType{} }

func (natsType) Name() string { return "nats" }

func decode(config json.RawMessage) (Config, error) {
	var c Config
	err := destination.DecodeStrict(config, &c, "url", "a nats config (url, subject)")
	return c, err
}

func parseURL(raw string) (*url.URL, error) {
	return destination.ParseBrokerURL("url", raw, "must be nats://[user:password@]host[:port] or tls://…", "nats", "tls")
}

// validSubject reports whether s is a subject one can publish to: tokens of
// printable characters without spaces or wildcards, joined by dots.
func validSubject(s string) bool {
	if s == "" || len(s) > MaxSubjectLength || !utf8.ValidString(s) {
		return false
	}
	for _, tok := range strings.Split(s, ".") {
		if tok == "" || tok == "*" || tok == ">" {
			return false
		}
		for _, r := range tok {
			if r <= ' ' || r == 0x7f || r == '*' || r == '>' || r == utf8.RuneError {
				return false
			}
		}
	}
	return true
}

// Validate checks a config and returns its normal form (the subject filled in).
func (natsType) Validate(config json.RawMessage) (json.RawMessage, error) {
	c, err := decode(config)
	if err != nil {
		return nil, err
	}
	if _, err := parseURL(c.URL); err != nil {
		return nil, err
	}
	if c.Subject == "" {
		c.Subject = DefaultSubject
	}
	if !validSubject(strings.ReplaceAll(c.Subject, "{event}", "event")) {
		return nil, &destination.FieldError{Field: "subject", Message: fmt.Sprintf("must be dot-separated tokens without spaces or wildcards (* >), at most %d characters; {event} stands for the event type", MaxSubjectLength)}
	}
	return json.Marshal(c)
}

// Redact replaces the password (or token) of the URL by "***".
func (natsType) Redact(config json.RawMessage) json.RawMessage {
	c, err := decode(config)
	if err != nil {
		return json.RawMessage(`{}`)
	}
	c.URL = destination.RedactBrokerURL(c.URL, true) // a user name alone is a token
	out, _ := json.Marshal(c)
	return out
}

// Addresses returns the host:port the config connects to.
func (natsType) Addresses(config json.RawMessage) ([]string, error) {
	c, err := decode(config)
	if err != nil {
		return nil, err
	}
	u, err := parseURL(c.URL)
	if err != nil {
		return nil, err
	}
	return []string{hostPort(u)}, nil
}

func hostPort(u *url.URL) string { return destination.HostPort(u, defaultPort) }

// Fields describes the config's form.
func (natsType) Fields() []destination.Field {
	return []destination.Field{
		{Name: "url", Label: "Server URL", Kind: "url", Required: true, Default: "nats://user:password@host:4222",
			Help: "nats:// or tls://; user:password@ or a token@ before the host. The credentials are write-only."},
		{Name: "subject", Label: "Subject", Kind: "text", Default: DefaultSubject,
			Help: "{event} is replaced by the event type. A JetStream stream must cover the subject."},
	}
}

// dialer sends nats.go's connections through the network guard's dial.
type dialer struct{ dial destination.DialFunc }

func (d dialer) Dial(network, address string) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), dialTimeout)
	defer cancel()
	return d.dial(ctx, network, address)
}

// Open connects to the server; the connection reconnects by itself after
// an outage, and Publish fails (connect) while it is down.
func (natsType) Open(ctx context.Context, config json.RawMessage, dial destination.DialFunc) (destination.Publisher, error) {
	c, err := decode(config)
	if err != nil {
		return nil, destination.Errorf(destination.KindConnect, "nats config: %v", err)
	}
	u, err := parseURL(c.URL)
	if err != nil {
		return nil, destination.Errorf(destination.KindConnect, "nats config: %v", err)
	}
	if c.Subject == "" {
		c.Subject = DefaultSubject
	}
	opts := []natsgo.Option{
		natsgo.Name("hookbook"),
		natsgo.SetCustomDialer(dialer{dial}),
		natsgo.SkipHostLookup(), // the dial resolves, under the network guard
		natsgo.Timeout(dialTimeout),
		natsgo.MaxReconnects(-1),
		natsgo.ReconnectWait(250 * time.Millisecond),
		natsgo.ReconnectBufSize(-1), // fail at once while disconnected, never buffer
		natsgo.NoCallbacksAfterClientClose(),
	}
	if u.User != nil {
		if pass, ok := u.User.Password(); ok {
			opts = append(opts, natsgo.UserInfo(u.User.Username(), pass))
		} else {
			opts = append(opts, natsgo.Token(u.User.Username()))
		}
	}
	if u.Scheme == "tls" {
		opts = append(opts, natsgo.Secure())
	}
	server := (&url.URL{Scheme: u.Scheme, Host: hostPort(u)}).String()

	type result struct {
		nc  *natsgo.Conn
		err error
	}
	done := make(chan result, 1)
	go func() {
		nc, err := natsgo.Connect(server, opts...)
		done <- result{nc, err}
	}()
	var r result
	select {
	case r = <-done:
	case <-ctx.Done():
		go func() { // close the connection should it come after all
			if r := <-done; r.nc != nil {
				r.nc.Close()
			}
		}()
		return nil, destination.Errorf(destination.KindTimeout, "connecting to %s: %v", hostPort(u), ctx.Err())
	}
	if r.err != nil {
		return nil, classify(fmt.Sprintf("connecting to %s", hostPort(u)), r.err)
	}
	js, err := jetstream.New(r.nc)
	if err != nil {
		r.nc.Close()
		return nil, destination.Errorf(destination.KindConnect, "jetstream: %v", err)
	}
	return &publisher{nc: r.nc, js: js, subject: c.Subject}, nil
}

// classify maps a nats.go error to a destination error kind.
func classify(what string, err error) error {
	kind := destination.KindConnect
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, natsgo.ErrTimeout):
		kind = destination.KindTimeout
	case errors.Is(err, natsgo.ErrAuthorization), errors.Is(err, natsgo.ErrAuthExpired),
		errors.Is(err, natsgo.ErrAuthRevoked), errors.Is(err, natsgo.ErrAccountAuthExpired),
		errors.Is(err, natsgo.ErrPermissionViolation):
		kind = destination.KindAuth
	case errors.Is(err, natsgo.ErrNoResponders), errors.Is(err, jetstream.ErrNoStreamResponse):
		kind = destination.KindRejected
		err = fmt.Errorf("no JetStream stream covers the subject (create one whose subjects include it): %w", err)
	case errors.Is(err, natsgo.ErrMaxPayload), errors.Is(err, natsgo.ErrBadSubject),
		errors.Is(err, natsgo.ErrBadHeaderMsg):
		kind = destination.KindRejected
	}
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		kind = destination.KindRejected
	}
	return &destination.Error{Kind: kind, Err: fmt.Errorf("%s: %w", what, err)}
}

type publisher struct {
	nc      *natsgo.Conn
	js      jetstream.JetStream
	subject string
}

// Subject returns the subject a message of eventType goes to.
func Subject(template, eventType string) string {
	return strings.ReplaceAll(template, "{event}", eventType)
}

// Publish sends m with its headers and Nats-Msg-Id = its event id, and
// returns once the stream acknowledged it (a duplicate the stream already
// holds counts as acknowledged).
func (p *publisher) Publish(ctx context.Context, m *destination.Message) error {
	if p.nc.IsClosed() {
		return destination.Errorf(destination.KindConnect, "nats: the publisher is closed")
	}
	if !p.nc.IsConnected() {
		return destination.Errorf(destination.KindConnect, "nats: not connected to %s (reconnecting)", p.nc.ConnectedAddr())
	}
	msg := natsgo.NewMsg(Subject(p.subject, m.EventType))
	msg.Data = m.Body
	for _, h := range m.Headers {
		msg.Header.Add(h.Name, h.Value)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
	}
	_, err := p.js.PublishMsg(ctx, msg, jetstream.WithMsgID(m.EventID))
	if err != nil {
		if ctx.Err() != nil {
			return destination.Errorf(destination.KindTimeout, "nats publish to %s: no ack in time: %v", msg.Subject, err)
		}
		return classify("nats publish to "+msg.Subject, err)
	}
	return nil
}

// Close ends the connection.
func (p *publisher) Close() error {
	p.nc.Close()
	return nil
}

// Describe implements destination.Describer: the subject and the server,
// credentials redacted.
func (t natsType) Describe(config json.RawMessage) string {
	var c Config
	json.Unmarshal(t.Redact(config), &c)
	subject := c.Subject
	if subject == "" {
		subject = DefaultSubject
	}
	return "nats subject " + subject + " at " + c.URL
}
