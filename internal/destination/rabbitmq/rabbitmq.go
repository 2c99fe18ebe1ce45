// Package rabbitmq is the "rabbitmq" destination type: each delivery is
// published to an exchange over AMQP 0-9-1 with publisher confirms, its
// metadata headers as the message's headers, the event id as message_id,
// the event type as type. A delivery succeeds when the broker confirms
// (basic.ack) the message; with mandatory (the default) a message no queue
// is bound to receive is returned by the broker and fails as
// publish_rejected.
package rabbitmq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/hookbook/hookbook/internal/destination"
)

// Config is the config of a rabbitmq endpoint.
type Config struct {
	// URL is amqp://user:password@host:port/vhost (amqps:// for TLS).
	URL string `json:"url"`
	// Exchange is the exchange published to; "" is the default exchange
	// (the routing key then names a queue).
	Exchange string `json:"exchange"`
	// RoutingKey is the routing key; "" means the event's type.
	RoutingKey string `json:"routing_key"`
	// Mandatory asks the broker to return a message no queue receives,
	// which then fails as publish_rejected (default true).
	Mandatory *bool `json:"mandatory"`
}

// MaxChannels bounds the channels one endpoint's connection keeps open.
const MaxChannels = 16

type typ struct{}

// New returns the rabbitmq destination type.
func New() destination.Type { return typ{} }

func (typ) Name() string { return "rabbitmq" }

func parse(config json.RawMessage) (*Config, string, error) {
	var c Config
	if err := destination.Decode(config, &c); err != nil {
		return nil, "", err
	}
	port := "5672"
	if strings.HasPrefix(c.URL, "amqps:") {
		port = "5671"
	}
	_, addr, err := destination.ParseURL("url", c.URL, port, "amqp", "amqps")
	if err != nil {
		return nil, "", err
	}
	if _, err := amqp.ParseURI(c.URL); err != nil {
		return nil, "", &destination.FieldError{Field: "url", Message: err.Error()}
	}
	if err := destination.CheckName("exchange", c.Exchange, false); err != nil {
		return nil, "", err
	}
	if err := destination.CheckName("routing_key", c.RoutingKey, false); err != nil {
		return nil, "", err
	}
	if c.Mandatory == nil {
		yes := true
		c.Mandatory = &yes
	}
	return &c, addr, nil
}

func (typ) Validate(config json.RawMessage) (json.RawMessage, error) {
	c, _, err := parse(config)
	if err != nil {
		return nil, err
	}
	return destination.Encode(c), nil
}

func (typ) Redact(config json.RawMessage) json.RawMessage {
	return destination.RedactURLConfig(config, func(c *Config) *string { return &c.URL })
}

func (typ) Addresses(config json.RawMessage) ([]string, error) {
	_, addr, err := parse(config)
	if err != nil {
		return nil, err
	}
	return []string{addr}, nil
}

func (typ) Fields() []destination.Field {
	return []destination.Field{
		{Name: "url", Label: "AMQP URL", Kind: "url", Required: true, Default: "amqp://user:password@host:5672/vhost",
			Help: "amqp:// or amqps:// (TLS); the password is write-only"},
		{Name: "exchange", Label: "Exchange", Kind: "text", Default: "(the default exchange)",
			Help: "the exchange published to; empty: the default exchange, where the routing key names a queue"},
		{Name: "routing_key", Label: "Routing key", Kind: "text", Default: "(the event type)",
			Help: "empty: the event's type"},
	}
}

// Describe implements destination.Describer.
func (typ) Describe(config json.RawMessage) string {
	var c Config
	json.Unmarshal(config, &c)
	ex := c.Exchange
	if ex == "" {
		ex = "(default)"
	}
	return "rabbitmq exchange " + ex + " at " + destination.RedactURL(c.URL)
}

func (typ) Open(ctx context.Context, config json.RawMessage, dial destination.DialFunc) (destination.Publisher, error) {
	c, _, err := parse(config)
	if err != nil {
		return nil, err
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(30 * time.Second)
	}
	type result struct {
		conn *amqp.Connection
		err  error
	}
	done := make(chan result, 1)
	go func() {
		conn, err := amqp.DialConfig(c.URL, amqp.Config{
			Heartbeat: 10 * time.Second,
			Dial: func(network, addr string) (net.Conn, error) {
				conn, err := dial(ctx, network, addr)
				if err != nil {
					return nil, err
				}
				// The TLS and AMQP handshakes end by the attempt's
				// deadline; the library clears it once open.
				conn.SetDeadline(deadline)
				return conn, nil
			},
			Properties: amqp.Table{"product": "hookbook", "connection_name": "hookbook delivery"},
		})
		done <- result{conn, err}
	}()
	var r result
	select {
	case r = <-done:
	case <-ctx.Done():
		go func() { // the handshake's deadline ends it soon
			if r := <-done; r.conn != nil {
				r.conn.Close()
			}
		}()
		return nil, &destination.Error{Kind: destination.KindTimeout, Err: fmt.Errorf("connecting: %w", ctx.Err())}
	}
	if r.err != nil {
		return nil, classify(ctx, fmt.Errorf("connecting: %w", r.err))
	}
	return &publisher{conn: r.conn, c: c, chans: make(chan *channel, MaxChannels)}, nil
}

type publisher struct {
	conn  *amqp.Connection
	c     *Config
	chans chan *channel // idle channels in confirm mode
}

// channel is one AMQP channel in confirm mode, used by one publish at a time.
type channel struct {
	ch      *amqp.Channel
	returns chan amqp.Return
	closed  chan *amqp.Error
}

func (p *publisher) channel() (*channel, error) {
	select {
	case c := <-p.chans:
		if !c.ch.IsClosed() {
			return c, nil
		}
	default:
	}
	if p.conn.IsClosed() {
		return nil, destination.Errorf(destination.KindConnect, "the connection to the broker is closed")
	}
	ch, err := p.conn.Channel()
	if err != nil {
		return nil, destination.Errorf(destination.KindConnect, "opening a channel: %v", err)
	}
	if err := ch.Confirm(false); err != nil {
		ch.Close()
		return nil, destination.Errorf(destination.KindConnect, "enabling publisher confirms: %v", err)
	}
	c := &channel{ch: ch, returns: make(chan amqp.Return, 4), closed: make(chan *amqp.Error, 1)}
	ch.NotifyReturn(c.returns)
	ch.NotifyClose(c.closed)
	return c, nil
}

func (p *publisher) release(c *channel) {
	select {
	case p.chans <- c:
	default:
		c.ch.Close()
	}
}

// Publish sends m and waits for the broker's confirm.
func (p *publisher) Publish(ctx context.Context, m *destination.Message) error {
	c, err := p.channel()
	if err != nil {
		return err
	}
	headers := make(amqp.Table, len(m.Headers))
	for _, h := range m.Headers {
		headers[h.Name] = h.Value
	}
	key := p.c.RoutingKey
	if key == "" {
		key = m.EventType
	}
	msg := amqp.Publishing{
		Headers: headers, ContentType: "application/json", DeliveryMode: amqp.Persistent,
		MessageId: m.EventID, Type: m.EventType, Timestamp: m.Timestamp, AppId: "hookbook", Body: m.Body,
	}
	dc, err := c.ch.PublishWithDeferredConfirmWithContext(ctx, p.c.Exchange, key, *p.c.Mandatory, false, msg)
	if err != nil {
		c.ch.Close()
		return classify(ctx, fmt.Errorf("publishing: %w", err))
	}
	select {
	case <-dc.Done():
	case <-ctx.Done():
		c.ch.Close() // its confirm may still come: the channel is not reused
		return &destination.Error{Kind: destination.KindTimeout, Err: fmt.Errorf("no confirm from the broker: %w", ctx.Err())}
	}
	if c.ch.IsClosed() {
		var cause *amqp.Error
		select {
		case cause = <-c.closed:
		default:
		}
		if cause != nil {
			return classify(ctx, cause)
		}
		return destination.Errorf(destination.KindConnect, "the channel closed before the broker confirmed the message")
	}
	acked := dc.Acked()
	// A returned message comes before its confirm: it is in c.returns now.
	var returned *amqp.Return
	for drained := false; !drained; {
		select {
		case r := <-c.returns:
			if r.MessageId == m.EventID {
				returned = &r
			}
		default:
			drained = true
		}
	}
	p.release(c)
	switch {
	case !acked:
		return destination.Errorf(destination.KindRejected, "the broker refused the message (basic.nack)")
	case returned != nil:
		return destination.Errorf(destination.KindRejected, "unroutable: the broker returned the message (%d %s): no queue is bound to exchange %q with routing key %q",
			returned.ReplyCode, returned.ReplyText, p.c.Exchange, key)
	}
	return nil
}

func (p *publisher) Close() error {
	return p.conn.Close() // closes its channels too
}

// classify gives an AMQP error its kind: refused credentials or vhost
// access are auth, other channel exceptions (a missing exchange, …) a
// refusal of the message, an expired attempt a timeout, the rest a failed
// connection.
func classify(ctx context.Context, err error) error {
	var amqpErr *amqp.Error
	var netErr net.Error
	switch {
	case errors.As(err, &amqpErr) && (amqpErr.Code == amqp.AccessRefused || amqpErr.Code == amqp.NotAllowed):
		return &destination.Error{Kind: destination.KindAuth, Err: err}
	case errors.Is(err, amqp.ErrSASL), errors.Is(err, amqp.ErrCredentials):
		return &destination.Error{Kind: destination.KindAuth, Err: err}
	case ctx.Err() != nil, errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return &destination.Error{Kind: destination.KindTimeout, Err: err}
	case errors.As(err, &amqpErr) && !amqpErr.Server:
		return &destination.Error{Kind: destination.KindConnect, Err: err}
	case errors.As(err, &amqpErr) && amqpErr.Code >= 400 && amqpErr.Code < 500 && amqpErr.Code != amqp.ResourceLocked:
		return &destination.Error{Kind: destination.KindRejected, Err: err}
	}
	return &destination.Error{Kind: destination.KindConnect, Err: err}
}
