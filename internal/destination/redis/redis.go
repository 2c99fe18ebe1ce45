// Package redis is the "redis" destination type: each delivery is an XADD
// to a Redis stream, trimmed with MAXLEN ~ max_len, its metadata headers as
// the entry's fields beside the body. A delivery succeeds on the XADD
// reply (the entry's id).
package redis

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"

	goredis "github.com/redis/go-redis/v9"

	"github.com/hookbook/hookbook/internal/destination"
)

// Config is the config of a redis endpoint.
type Config struct {
	// URL is redis://[user:password@]host:port[/db] or rediss:// for TLS.
	URL string `json:"url"`
	// Stream is the key of the stream entries are added to.
	Stream string `json:"stream"`
	// MaxLen trims the stream to about this many entries (MAXLEN ~).
	MaxLen int64 `json:"max_len"`
}

// Bounds of max_len.
const (
	DefaultMaxLen = 100_000
	MaxMaxLen     = 1_000_000_000
)

// BodyField is the stream field that holds the envelope.
const BodyField = "body"

// PoolSize bounds the connections one endpoint's client opens.
const PoolSize = 16

type typ struct{}

// New returns the redis destination type.
func New() destination.Type { return typ{} }

func (typ) Name() string { return "redis" }

func parse(config json.RawMessage) (*Config, *goredis.Options, string, error) {
	c := Config{MaxLen: DefaultMaxLen} // unless the config names one (0 is refused)
	if err := destination.Decode(config, &c); err != nil {
		return nil, nil, "", err
	}
	_, addr, err := destination.ParseURL("url", c.URL, "6379", "redis", "rediss")
	if err != nil {
		return nil, nil, "", err
	}
	opts, err := goredis.ParseURL(c.URL)
	if err != nil {
		return nil, nil, "", &destination.FieldError{Field: "url", Message: strings.TrimPrefix(err.Error(), "redis: ")}
	}
	if err := destination.CheckName("stream", c.Stream, true); err != nil {
		return nil, nil, "", err
	}
	if c.MaxLen < 1 || c.MaxLen > MaxMaxLen {
		return nil, nil, "", &destination.FieldError{Field: "max_len", Message: fmt.Sprintf("must be between 1 and %d", MaxMaxLen)}
	}
	return &c, opts, addr, nil
}

func (typ) Validate(config json.RawMessage) (json.RawMessage, error) {
	c, _, _, err := parse(config)
	if err != nil {
		return nil, err
	}
	return destination.Encode(c), nil
}

func (typ) Redact(config json.RawMessage) json.RawMessage {
	return destination.RedactURLConfig(config, func(c *Config) *string { return &c.URL })
}

func (typ) Addresses(config json.RawMessage) ([]string, error) {
	_, _, addr, err := parse(config)
	if err != nil {
		return nil, err
	}
	return []string{addr}, nil
}

func (typ) Fields() []destination.Field {
	return []destination.Field{
		{Name: "url", Label: "Redis URL", Kind: "url", Required: true, Default: "redis://user:password@host:6379/0",
			Help: "redis:// or rediss:// (TLS); the password is write-only"},
		{Name: "stream", Label: "Stream", Kind: "text", Required: true, Default: "hookbook-events",
			Help: "the stream key each delivery is added to (XADD)"},
		{Name: "max_len", Label: "Max length", Kind: "number", Default: fmt.Sprint(DefaultMaxLen),
			Help: "the stream is trimmed to about this many entries (MAXLEN ~)"},
	}
}

// Describe implements destination.Describer.
func (typ) Describe(config json.RawMessage) string {
	var c Config
	json.Unmarshal(config, &c)
	return "redis stream " + c.Stream + " at " + destination.RedactURL(c.URL)
}

func (typ) Open(ctx context.Context, config json.RawMessage, dial destination.DialFunc) (destination.Publisher, error) {
	c, opts, _, err := parse(config)
	if err != nil {
		return nil, err
	}
	tlsConfig := opts.TLSConfig
	opts.TLSConfig = nil
	opts.Dialer = func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := dial(ctx, network, addr)
		if err != nil || tlsConfig == nil {
			return conn, err
		}
		tc := tls.Client(conn, tlsConfig.Clone())
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, err
		}
		return tc, nil
	}
	opts.MaxRetries = -1 // the engine retries
	opts.PoolSize = PoolSize
	opts.ContextTimeoutEnabled = true
	opts.DisableIdentity = true
	client := goredis.NewClient(opts)
	if err := client.Ping(ctx).Err(); err != nil {
		client.Close()
		return nil, classify(ctx, err)
	}
	return &publisher{client: client, c: c}, nil
}

type publisher struct {
	client *goredis.Client
	c      *Config
}

// Publish adds one entry: every header of m as a field, then the body.
func (p *publisher) Publish(ctx context.Context, m *destination.Message) error {
	values := make([]any, 0, 2*len(m.Headers)+2)
	for _, h := range m.Headers {
		values = append(values, h.Name, h.Value)
	}
	values = append(values, BodyField, m.Body)
	err := p.client.XAdd(ctx, &goredis.XAddArgs{Stream: p.c.Stream, MaxLen: p.c.MaxLen, Approx: true, Values: values}).Err()
	if err != nil {
		return classify(ctx, err)
	}
	return nil
}

func (p *publisher) Close() error { return p.client.Close() }

// classify gives a Redis error its kind: a refused login is auth, any other
// error reply a refusal of the message, an expired attempt a timeout, the
// rest a failed connection.
func classify(ctx context.Context, err error) error {
	var redisErr goredis.Error
	var netErr net.Error
	switch {
	case errors.As(err, &redisErr):
		msg := redisErr.Error()
		for _, p := range []string{"WRONGPASS", "NOAUTH", "NOPERM", "ERR AUTH", "ERR invalid password", "ERR Client sent AUTH"} {
			if strings.HasPrefix(msg, p) {
				return &destination.Error{Kind: destination.KindAuth, Err: err}
			}
		}
		return &destination.Error{Kind: destination.KindRejected, Err: err}
	case ctx.Err() != nil, errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return &destination.Error{Kind: destination.KindTimeout, Err: err}
	}
	return &destination.Error{Kind: destination.KindConnect, Err: err}
}
