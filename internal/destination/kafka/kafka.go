// Package kafka is the "kafka" destination type, through
// github.com/twmb/franz-go. A delivery is produced to one topic by an
// idempotent producer (acks from all in-sync replicas), with the event's
// ordering key as the record key (so one booking's events land in one
// partition, in order) and the signature and metadata headers as record
// headers; it succeeds on the produce acknowledgement.
package kafka

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hookbook/hookbook/internal/destination"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// Bounds of a config.
const (
	MaxBrokers        = 10
	MaxBrokerLength   = 255
	MaxTopicLength    = 249
	MaxUsernameLength = 255
	MaxPasswordLength = 1024
	dialTimeout       = 10 * time.Second
)

// The SASL mechanisms a config may name.
var mechanisms = []string{"plain", "scram-sha-256", "scram-sha-512"}

// Config is a "kafka" endpoint's config.
type Config struct {
	// Brokers are the seed brokers, host:port; the others the cluster
	// names are dialled through the same network guard.
	Brokers []string `json:"brokers"`
	Topic   string   `json:"topic"`
	SASL    *SASL    `json:"sasl,omitempty"`
	// TLS connects to the brokers over TLS (their certificates verified).
	TLS bool `json:"tls,omitempty"`
}

// SASL is the optional SASL authentication of a config.
type SASL struct {
	Mechanism string `json:"mechanism"`
	Username  string `json:"username"`
	Password  string `json:"password"`
}

// UnmarshalJSON refuses unknown fields of the sasl object, naming them
// "sasl.<field>".
func (s *SASL) UnmarshalJSON(b []byte) error {
	type fields SASL
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode((*fields)(s)); err != nil {
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) && ute.Field != "" {
			return fieldErr("sasl."+strings.TrimPrefix(ute.Field, "sasl."), "must be a %s", destination.JSONKind(ute.Type))
		}
		if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return fieldErr("sasl."+strings.Trim(f, `"`), "is not a field of sasl (mechanism, username, password)")
		}
		return fieldErr("sasl", "must be an object: %v", err)
	}
	return nil
}

type kafkaType struct{}

// New returns the "kafka" destination type.
func New() destination.Type { return kafkaType{} }

func (kafkaType) Name() string { return "kafka" }

// AddressField: a Kafka config's addresses are its brokers.
func (kafkaType) AddressField() string { return "brokers" }

func fieldErr(field, format string, args ...any) error {
	return &destination.FieldError{Field: field, Message: fmt.Sprintf(format, args...)}
}

func decode(config json.RawMessage) (Config, error) {
	var c Config
	err := destination.DecodeStrict(config, &c, "brokers", "a kafka config (brokers, topic, sasl, tls)")
	return c, err
}

func validBroker(b string) bool {
	if len(b) > MaxBrokerLength {
		return false
	}
	host, port, err := net.SplitHostPort(b)
	if err != nil || host == "" || len(port) == 0 || len(port) > 5 {
		return false
	}
	n := 0
	for _, r := range port {
		if r < '0' || r > '9' {
			return false
		}
		n = n*10 + int(r-'0')
	}
	if n == 0 || n > 65535 {
		return false
	}
	for _, r := range host {
		if r <= ' ' || r == 0x7f || r == '/' || r == '@' || r > 0x7e {
			return false
		}
	}
	return true
}

// validTopic is Kafka's rule: 1–249 of [a-zA-Z0-9._-], not "." or "..".
func validTopic(t string) bool {
	if t == "" || len(t) > MaxTopicLength || t == "." || t == ".." {
		return false
	}
	for _, r := range t {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

func check(c Config) error {
	if len(c.Brokers) == 0 {
		return fieldErr("brokers", "is required: at least one host:port")
	}
	if len(c.Brokers) > MaxBrokers {
		return fieldErr("brokers", "has more than %d brokers", MaxBrokers)
	}
	for _, b := range c.Brokers {
		if !validBroker(b) {
			return fieldErr("brokers", "each must be host:port (at most %d characters)", MaxBrokerLength)
		}
	}
	if !validTopic(c.Topic) {
		return fieldErr("topic", "is required: 1 to %d letters, digits, '.', '_' or '-'", MaxTopicLength)
	}
	if s := c.SASL; s != nil {
		found := false
		for _, m := range mechanisms {
			found = found || s.Mechanism == m
		}
		switch {
		case !found:
			return fieldErr("sasl.mechanism", "must be plain, scram-sha-256 or scram-sha-512")
		case s.Username == "" || len(s.Username) > MaxUsernameLength:
			return fieldErr("sasl.username", "is required, at most %d characters", MaxUsernameLength)
		case s.Password == "" || len(s.Password) > MaxPasswordLength:
			return fieldErr("sasl.password", "is required, at most %d characters", MaxPasswordLength)
		}
	}
	return nil
}

// Validate checks a config and returns its normal form.
func (kafkaType) Validate(config json.RawMessage) (json.RawMessage, error) {
	c, err := decode(config)
	if err != nil {
		return nil, err
	}
	if c.SASL != nil {
		c.SASL.Mechanism = strings.ToLower(c.SASL.Mechanism)
	}
	if err := check(c); err != nil {
		return nil, err
	}
	return json.Marshal(c)
}

// Redact replaces the SASL password by "***".
func (kafkaType) Redact(config json.RawMessage) json.RawMessage {
	c, err := decode(config)
	if err != nil {
		return json.RawMessage(`{}`)
	}
	if c.SASL != nil {
		c.SASL.Password = "***"
	}
	out, _ := json.Marshal(c)
	return out
}

// Addresses returns the seed brokers.
func (kafkaType) Addresses(config json.RawMessage) ([]string, error) {
	c, err := decode(config)
	if err != nil {
		return nil, err
	}
	if err := check(c); err != nil {
		return nil, err
	}
	return append([]string(nil), c.Brokers...), nil
}

// Fields describes the config's form.
func (kafkaType) Fields() []destination.Field {
	return []destination.Field{
		{Name: "brokers", Label: "Brokers", Kind: "list", Required: true, Default: "kafka-1.example.com:9092",
			Help: fmt.Sprintf("Seed brokers, host:port, one per line (at most %d).", MaxBrokers)},
		{Name: "topic", Label: "Topic", Kind: "text", Required: true, Default: "hookbook-events",
			Help: "The topic must exist. The ordering key is the record key."},
		{Name: "sasl.mechanism", Label: "SASL mechanism", Kind: "text", Default: "plain",
			Help: "plain, scram-sha-256 or scram-sha-512; empty for none."},
		{Name: "sasl.username", Label: "SASL user", Kind: "text"},
		{Name: "sasl.password", Label: "SASL password", Kind: "secret", Help: "Write-only."},
		{Name: "tls", Label: "TLS", Kind: "bool", Default: "false", Help: "Connect over TLS (the brokers' certificates verified)."},
	}
}

// Open makes the producer and checks that a broker answers (and accepts
// the credentials) within ctx.
func (kafkaType) Open(ctx context.Context, config json.RawMessage, dial destination.DialFunc) (destination.Publisher, error) {
	norm, err := kafkaType{}.Validate(config)
	if err != nil {
		return nil, destination.Errorf(destination.KindConnect, "kafka config: %v", err)
	}
	c, _ := decode(norm)
	dialer := func(ctx context.Context, network, host string) (net.Conn, error) {
		conn, err := dial(ctx, network, host)
		if err != nil || !c.TLS {
			return conn, err
		}
		name, _, _ := net.SplitHostPort(host)
		tc := tls.Client(conn, &tls.Config{ServerName: name, MinVersion: tls.VersionTLS12})
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, err
		}
		return tc, nil
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(c.Brokers...),
		kgo.DefaultProduceTopic(c.Topic),
		kgo.Dialer(dialer),
		kgo.DialTimeout(dialTimeout),
		kgo.RequiredAcks(kgo.AllISRAcks()), // the idempotent producer's default, said aloud
		kgo.ProducerLinger(0),
		kgo.UnknownTopicRetries(2),
		kgo.ClientID("hookbook"),
	}
	if s := c.SASL; s != nil {
		var m sasl.Mechanism
		switch s.Mechanism {
		case "plain":
			m = plain.Auth{User: s.Username, Pass: s.Password}.AsMechanism()
		case "scram-sha-256":
			m = scram.Auth{User: s.Username, Pass: s.Password}.AsSha256Mechanism()
		default:
			m = scram.Auth{User: s.Username, Pass: s.Password}.AsSha512Mechanism()
		}
		opts = append(opts, kgo.SASL(m))
	}
	client, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, destination.Errorf(destination.KindConnect, "kafka client: %v", err)
	}
	if err := client.Ping(ctx); err != nil {
		client.Close()
		return nil, classify(ctx, "connecting to "+strings.Join(c.Brokers, ","), err)
	}
	return &publisher{client: client, topic: c.Topic}, nil
}

// classify maps a franz-go error to a destination error kind.
func classify(ctx context.Context, what string, err error) error {
	kind := destination.KindConnect
	var ke *kerr.Error
	switch {
	case ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded):
		kind = destination.KindTimeout
	case errors.Is(err, kerr.SaslAuthenticationFailed), errors.Is(err, kerr.IllegalSaslState),
		errors.Is(err, kerr.UnsupportedSaslMechanism), errors.Is(err, kerr.TopicAuthorizationFailed),
		errors.Is(err, kerr.ClusterAuthorizationFailed), errors.Is(err, kerr.TransactionalIDAuthorizationFailed):
		kind = destination.KindAuth
	case errors.Is(err, kerr.UnknownTopicOrPartition):
		kind = destination.KindRejected
		err = fmt.Errorf("the topic does not exist: %w", err)
	case errors.As(err, &ke):
		kind = destination.KindRejected
	case errors.Is(err, kgo.ErrRecordTimeout), errors.Is(err, kgo.ErrRecordRetries):
		kind = destination.KindTimeout
	}
	return &destination.Error{Kind: kind, Err: fmt.Errorf("%s: %w", what, err)}
}

type publisher struct {
	client *kgo.Client
	topic  string
	closed atomic.Bool
}

// Publish produces m (key = its ordering key, headers = its headers) and
// returns on the produce acknowledgement.
func (p *publisher) Publish(ctx context.Context, m *destination.Message) error {
	if p.closed.Load() {
		return destination.Errorf(destination.KindConnect, "kafka: the publisher is closed")
	}
	rec := &kgo.Record{Topic: p.topic, Value: m.Body, Timestamp: m.Timestamp}
	if m.Key != "" {
		rec.Key = []byte(m.Key)
	}
	rec.Headers = make([]kgo.RecordHeader, len(m.Headers))
	for i, h := range m.Headers {
		rec.Headers[i] = kgo.RecordHeader{Key: h.Name, Value: []byte(h.Value)}
	}
	done := make(chan error, 1)
	p.client.Produce(ctx, rec, func(_ *kgo.Record, err error) { done <- err })
	select {
	case err := <-done:
		if err != nil {
			return classify(ctx, "kafka produce to "+p.topic, err)
		}
		return nil
	case <-ctx.Done():
		return destination.Errorf(destination.KindTimeout, "kafka produce to %s: no acknowledgement in time: %v", p.topic, ctx.Err())
	}
}

// Close flushes nothing: what was not acknowledged failed its attempt.
func (p *publisher) Close() error {
	if !p.closed.Swap(true) {
		p.client.Close()
	}
	return nil
}

// Describe implements destination.Describer: the topic and the seed
// brokers (a config holds no credential outside sasl).
func (kafkaType) Describe(config json.RawMessage) string {
	var c Config
	json.Unmarshal(config, &c)
	return "kafka topic " + c.Topic + " at " + strings.Join(c.Brokers, ",")
}
