// Package mqtt is the "mqtt" destination type: MQTT 3.1.1 through
// github.com/eclipse/paho.mqtt.golang. A delivery is published to a topic
// (default "hookbook/{event}", {event} being the event type) at QoS 0, 1
// (the default) or 2, and succeeds on the PUBACK (QoS 1) or PUBCOMP
// (QoS 2); QoS 0 has no acknowledgement and succeeds once written.
// MQTT 3.1.1 has no headers: the message is the envelope bytes alone, which
// already carry the event id, type and timestamp; the signature headers are
// not sent.
package mqtt

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
	"github.com/hookbook/hookbook/internal/destination"
)

// Bounds of a config.
const (
	MaxURLLength   = destination.MaxURLLength
	MaxTopicLength = 255
	// DefaultTopic is the topic when the config names none.
	DefaultTopic = "hookbook/{event}"
	// DefaultQoS is the QoS when the config names none.
	DefaultQoS  = 1
	dialTimeout = 10 * time.Second
)

// Config is an "mqtt" endpoint's config.
type Config struct {
	// URL is tcp://[user:pass@]host[:1883] (mqtt:// is the same) or
	// ssl://…, mqtts://… (TLS, default port 8883).
	URL string `json:"url"`
	// Topic is where messages go; {event} is replaced by the event type.
	Topic string `json:"topic,omitempty"`
	// QoS is 0, 1 or 2; nil is DefaultQoS.
	QoS *int `json:"qos,omitempty"`
}

type mqttType struct{}

// New returns the "mqtt" destination type.
func New() destination.Type { return mqttType{} }

func (mqttType) Name() string { return "mqtt" }

func decode(config json.RawMessage) (Config, error) {
	var c Config
	err := destination.DecodeStrict(config, &c, "url", "an mqtt config (url, topic, qos)")
	return c, err
}

func secure(u *url.URL) bool { return u.Scheme == "ssl" || u.Scheme == "mqtts" }

func parseURL(raw string) (*url.URL, error) {
	return destination.ParseBrokerURL("url", raw, "must be tcp://[user:password@]host[:port] (or mqtt://, ssl://, mqtts://)",
		"tcp", "mqtt", "ssl", "mqtts")
}

// validTopic reports whether s is a topic one can publish to: UTF-8
// without wildcards (+ #) or control characters, not a $-topic.
func validTopic(s string) bool {
	if s == "" || len(s) > MaxTopicLength || !utf8.ValidString(s) || strings.HasPrefix(s, "$") {
		return false
	}
	for _, r := range s {
		if r < ' ' || r == 0x7f || r == '+' || r == '#' || r == utf8.RuneError {
			return false
		}
	}
	return true
}

// Validate checks a config and returns its normal form (topic and qos
// filled in).
func (mqttType) Validate(config json.RawMessage) (json.RawMessage, error) {
	c, err := decode(config)
	if err != nil {
		return nil, err
	}
	if _, err := parseURL(c.URL); err != nil {
		return nil, err
	}
	if c.Topic == "" {
		c.Topic = DefaultTopic
	}
	if !validTopic(strings.ReplaceAll(c.Topic, "{event}", "event")) {
		return nil, &destination.FieldError{Field: "topic", Message: fmt.Sprintf("must be at most %d characters without wildcards (+ #), control characters or a leading $; {event} stands for the event type", MaxTopicLength)}
	}
	if c.QoS == nil {
		q := DefaultQoS
		c.QoS = &q
	}
	if *c.QoS < 0 || *c.QoS > 2 {
		return nil, &destination.FieldError{Field: "qos", Message: "must be 0, 1 or 2"}
	}
	return json.Marshal(c)
}

// Redact replaces the URL's password by "***".
func (mqttType) Redact(config json.RawMessage) json.RawMessage {
	c, err := decode(config)
	if err != nil {
		return json.RawMessage(`{}`)
	}
	c.URL = destination.RedactBrokerURL(c.URL, false)
	out, _ := json.Marshal(c)
	return out
}

func hostPort(u *url.URL) string {
	if secure(u) {
		return destination.HostPort(u, "8883")
	}
	return destination.HostPort(u, "1883")
}

// Addresses returns the host:port the config connects to.
func (mqttType) Addresses(config json.RawMessage) ([]string, error) {
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

// Fields describes the config's form.
func (mqttType) Fields() []destination.Field {
	return []destination.Field{
		{Name: "url", Label: "Broker URL", Kind: "url", Required: true, Default: "tcp://user:password@host:1883",
			Help: "tcp:// or mqtt://; ssl:// or mqtts:// for TLS. The password is write-only."},
		{Name: "topic", Label: "Topic", Kind: "text", Default: DefaultTopic,
			Help: "{event} is replaced by the event type; no wildcards."},
		{Name: "qos", Label: "QoS", Kind: "number", Default: "1",
			Help: "1: success on PUBACK (default); 2: on PUBCOMP; 0: no acknowledgement."},
	}
}

// Open connects to the broker (MQTT 3.1.1, clean session, a random client
// id). The client does not reconnect by itself: a lost connection fails
// the publishes waiting for their acknowledgement (connect), hookbook
// retries them, and the next Publish connects again, with a clean session.
// (paho's own reconnect resends what it had stored and completes the
// waiting publishes as if acknowledged before the broker has answered: a
// publish could be counted delivered and lost.)
func (mqttType) Open(ctx context.Context, config json.RawMessage, dial destination.DialFunc) (destination.Publisher, error) {
	norm, err := mqttType{}.Validate(config)
	if err != nil {
		return nil, destination.Errorf(destination.KindConnect, "mqtt config: %v", err)
	}
	c, _ := decode(norm)
	u, _ := parseURL(c.URL)
	addr := hostPort(u)

	id := make([]byte, 8)
	_, _ = rand.Read(id)
	opts := paho.NewClientOptions().
		AddBroker("tcp://" + addr).
		SetClientID("hookbook-" + hex.EncodeToString(id)).
		SetProtocolVersion(4).
		SetCleanSession(true).
		SetOrderMatters(false).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetConnectTimeout(dialTimeout).
		SetWriteTimeout(dialTimeout).
		SetKeepAlive(30 * time.Second).
		SetCustomOpenConnectionFn(func(*url.URL, paho.ClientOptions) (net.Conn, error) {
			dctx, cancel := context.WithTimeout(context.Background(), dialTimeout)
			defer cancel()
			conn, err := dial(dctx, "tcp", addr)
			if err != nil || !secure(u) {
				return conn, err
			}
			tc := tls.Client(conn, &tls.Config{ServerName: u.Hostname(), MinVersion: tls.VersionTLS12})
			if err := tc.HandshakeContext(dctx); err != nil {
				conn.Close()
				return nil, err
			}
			return tc, nil
		})
	if u.User != nil {
		opts.SetUsername(u.User.Username())
		if pass, ok := u.User.Password(); ok {
			opts.SetPassword(pass)
		}
	}
	client := paho.NewClient(opts)
	tok := client.Connect()
	select {
	case <-tok.Done():
	case <-ctx.Done():
		go func() { <-tok.Done(); client.Disconnect(0) }()
		return nil, destination.Errorf(destination.KindTimeout, "connecting to %s: %v", addr, ctx.Err())
	}
	if err := tok.Error(); err != nil {
		return nil, classify("connecting to "+addr, err)
	}
	return &publisher{client: client, topic: c.Topic, qos: byte(*c.QoS), addr: addr}, nil
}

func classify(what string, err error) error {
	kind := destination.KindConnect
	switch {
	case errors.Is(err, packets.ErrorRefusedBadUsernameOrPassword), errors.Is(err, packets.ErrorRefusedNotAuthorised):
		kind = destination.KindAuth
	case errors.Is(err, context.DeadlineExceeded):
		kind = destination.KindTimeout
	}
	return &destination.Error{Kind: kind, Err: fmt.Errorf("%s: %w", what, err)}
}

type publisher struct {
	client paho.Client
	topic  string
	qos    byte
	addr   string
	closed atomic.Bool
	mu     sync.Mutex // one reconnection at a time
}

// connected connects the client again after a lost connection, within ctx.
func (p *publisher) connected(ctx context.Context) error {
	if p.client.IsConnectionOpen() {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.client.IsConnectionOpen() {
		return nil
	}
	if p.closed.Load() {
		return destination.Errorf(destination.KindConnect, "mqtt: the publisher is closed")
	}
	tok := p.client.Connect()
	select {
	case <-tok.Done():
	case <-ctx.Done():
		return destination.Errorf(destination.KindConnect, "mqtt: not connected to %s: %v", p.addr, ctx.Err())
	}
	if err := tok.Error(); err != nil {
		return classify("mqtt: reconnecting to "+p.addr, err)
	}
	return nil
}

// Topic returns the topic a message of eventType goes to.
func Topic(template, eventType string) string {
	return strings.ReplaceAll(template, "{event}", eventType)
}

// Publish sends m's body and returns on the broker's PUBACK (QoS 1) or
// PUBCOMP (QoS 2), or once written (QoS 0).
func (p *publisher) Publish(ctx context.Context, m *destination.Message) error {
	if p.closed.Load() {
		return destination.Errorf(destination.KindConnect, "mqtt: the publisher is closed")
	}
	if err := p.connected(ctx); err != nil {
		return err
	}
	topic := Topic(p.topic, m.EventType)
	tok := p.client.Publish(topic, p.qos, false, m.Body)
	select {
	case <-tok.Done():
	case <-ctx.Done():
		return destination.Errorf(destination.KindTimeout, "mqtt publish to %s: no acknowledgement in time: %v", topic, ctx.Err())
	}
	if err := tok.Error(); err != nil {
		return classify("mqtt publish to "+topic, err)
	}
	return nil
}

// Close disconnects.
func (p *publisher) Close() error {
	if p.closed.Swap(true) {
		return nil
	}
	p.client.Disconnect(0)
	return nil
}

// Describe implements destination.Describer: the topic and the broker,
// credentials redacted.
func (t mqttType) Describe(config json.RawMessage) string {
	var c Config
	json.Unmarshal(t.Redact(config), &c)
	topic := c.Topic
	if topic == "" {
		topic = DefaultTopic
	}
	return "mqtt topic " + topic + " at " + c.URL
}
