package kafka

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hookbook/hookbook/internal/brokertest"
	"github.com/hookbook/hookbook/internal/destination"
	"github.com/hookbook/hookbook/webhook"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The tests run against kfake, franz-go's in-process Kafka cluster: it
// speaks the real protocol over TCP on 127.0.0.1. No Kafka broker runs here.

func cluster(t testing.TB, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	opts = append([]kfake.Opt{kfake.NumBrokers(1), kfake.SeedTopics(3, "bookings"), kfake.ListenFn(func(network, _ string) (net.Listener, error) {
		return net.Listen(network, "127.0.0.1:0")
	})}, opts...)
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func brokersJSON(c *kfake.Cluster) string {
	b, _ := json.Marshal(c.ListenAddrs())
	return string(b)
}

func open(t testing.TB, config string, dial destination.DialFunc) destination.Publisher {
	t.Helper()
	norm, err := New().Validate(json.RawMessage(config))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, err := New().Open(ctx, norm, dial)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func message(i int, key string, seq int) *destination.Message {
	id := fmt.Sprintf("evt_%05d", i)
	now := time.Now()
	body := []byte(fmt.Sprintf(`{"id":%q,"key":%q,"seq":%d}`, id, key, seq))
	return &destination.Message{
		EventID: id, EventType: "booking.created", Timestamp: now, Key: key, Sequence: int64(seq),
		Body: body,
		Headers: []destination.Header{
			{Name: "webhook-id", Value: id},
			{Name: "webhook-timestamp", Value: fmt.Sprint(now.Unix())},
			{Name: "webhook-signature", Value: sign(id, now, body)},
			{Name: "hookbook-ordering-key", Value: key},
			{Name: "hookbook-sequence", Value: fmt.Sprint(seq)},
		},
	}
}

func publish(p destination.Publisher, m *destination.Message) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return p.Publish(ctx, m)
}

// consume reads n records of topic with an ordinary franz-go consumer.
func consume(t testing.TB, c *kfake.Cluster, topic string, n int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d records: %v", len(out), n, err)
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Fatal(err) })
		out = append(out, fs.Records()...)
	}
	return out
}

// TestKafkaPublishConsume: 5 keys × 40 events, each key's events published
// in order while the keys go concurrently; a consumer finds every record
// with its body, key and headers, each key in one partition, in order.
func TestKafkaPublishConsume(t *testing.T) {
	t.Parallel()
	c := cluster(t)
	p := open(t, fmt.Sprintf(`{"brokers":%s,"topic":"bookings"}`, brokersJSON(c)), brokertest.Dial)
	const keys, per = 5, 40
	sent := map[string]*destination.Message{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, keys*per)
	for k := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := fmt.Sprintf("bkg_%d", k)
			for s := 1; s <= per; s++ {
				m := message(k*per+s, key, s)
				mu.Lock()
				sent[m.EventID] = m
				mu.Unlock()
				if err := publish(p, m); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	recs := consume(t, c, "bookings", keys*per)
	partition := map[string]int32{}
	last := map[string]int64{}
	for _, r := range recs {
		hs := map[string]string{}
		for _, h := range r.Headers {
			hs[h.Key] = string(h.Value)
		}
		m := sent[hs["webhook-id"]]
		if m == nil {
			t.Fatalf("unknown record %s", r.Value)
		}
		if string(r.Value) != string(m.Body) || string(r.Key) != m.Key {
			t.Fatalf("record %s key %s, want %s key %s", r.Value, r.Key, m.Body, m.Key)
		}
		signed := http.Header{}
		for _, h := range m.Headers {
			if hs[h.Name] != h.Value {
				t.Fatalf("header %s = %q, want %q", h.Name, hs[h.Name], h.Value)
			}
			signed.Set(h.Name, hs[h.Name])
		}
		// A consumer verifies the signature from the record's headers as a
		// webhook receiver does from a request's.
		if err := webhook.Verify(testSecret, signed, r.Value); err != nil {
			t.Fatalf("signature: %v", err)
		}
		if p, ok := partition[m.Key]; ok && p != r.Partition {
			t.Fatalf("key %s in partitions %d and %d", m.Key, p, r.Partition)
		}
		partition[m.Key] = r.Partition
		if m.Sequence != last[m.Key]+1 {
			t.Fatalf("key %s: sequence %d after %d", m.Key, m.Sequence, last[m.Key])
		}
		last[m.Key] = m.Sequence
		delete(sent, m.EventID)
	}
	if len(sent) != 0 {
		t.Fatalf("%d records missing", len(sent))
	}
}

// TestKafkaSASL: a cluster with SASL (PLAIN and both SCRAMs) accepts the
// right password and a publish goes through.
func TestKafkaSASL(t *testing.T) {
	t.Parallel()
	for _, mech := range []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"} {
		t.Run(mech, func(t *testing.T) {
			t.Parallel()
			c := cluster(t, kfake.EnableSASL(), kfake.Superuser(mech, "hb", "right"))
			p := open(t, fmt.Sprintf(`{"brokers":%s,"topic":"bookings","sasl":{"mechanism":%q,"username":"hb","password":"right"}}`,
				brokersJSON(c), strings.ToLower(mech)), brokertest.Dial)
			if err := publish(p, message(1, "k", 1)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestKafkaWrongPassword: a wrong SASL password is auth, with no password
// in the error. A Kafka broker answers a failed SaslAuthenticate with
// error code 58 (SASL_AUTHENTICATION_FAILED); kfake closes the connection
// instead, so the test has kfake answer as Kafka does for PLAIN (whose
// request carries the password to compare).
func TestKafkaWrongPassword(t *testing.T) {
	t.Parallel()
	c := cluster(t, kfake.EnableSASL(), kfake.Superuser("PLAIN", "hb", "right"))
	c.ControlKey(int16(kmsg.SASLAuthenticate), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		r := req.(*kmsg.SASLAuthenticateRequest)
		if parts := bytes.Split(r.SASLAuthBytes, []byte{0}); len(parts) == 3 && string(parts[2]) != "right" {
			resp := r.ResponseKind().(*kmsg.SASLAuthenticateResponse)
			resp.ErrorCode = kerr.SaslAuthenticationFailed.Code
			msg := "Authentication failed: Invalid username or password"
			resp.ErrorMessage = &msg
			return resp, nil, true
		}
		return nil, nil, false
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := New().Open(ctx, json.RawMessage(fmt.Sprintf(`{"brokers":%s,"topic":"bookings","sasl":{"mechanism":"plain","username":"hb","password":"wrong-pw"}}`, brokersJSON(c))), brokertest.Dial)
	if destination.KindOf(err) != destination.KindAuth {
		t.Fatalf("err = %v, want auth", err)
	}
	if strings.Contains(err.Error(), "wrong-pw") {
		t.Fatalf("the error shows the password: %v", err)
	}
	p := open(t, fmt.Sprintf(`{"brokers":%s,"topic":"bookings","sasl":{"mechanism":"plain","username":"hb","password":"right"}}`, brokersJSON(c)), brokertest.Dial)
	if err := publish(p, message(1, "k", 1)); err != nil {
		t.Fatal(err)
	}
}

// TestKafkaUnknownTopic: a topic the cluster does not have is publish_rejected.
func TestKafkaUnknownTopic(t *testing.T) {
	t.Parallel()
	c := cluster(t)
	p := open(t, fmt.Sprintf(`{"brokers":%s,"topic":"nosuchtopic"}`, brokersJSON(c)), brokertest.Dial)
	err := publish(p, message(1, "k", 1))
	if destination.KindOf(err) != destination.KindRejected {
		t.Fatalf("err = %v, want publish_rejected", err)
	}
}

// cuttable is a dial the test controls: cut closes every connection it
// made and refuses new ones until restore, as a network outage would.
type cuttable struct {
	mu    sync.Mutex
	cut   bool
	conns []net.Conn
}

func (c *cuttable) dial(ctx context.Context, network, address string) (net.Conn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cut {
		return nil, &net.OpError{Op: "dial", Net: network, Err: syscall.ECONNREFUSED}
	}
	conn, err := brokertest.Dial(ctx, network, address)
	if err == nil {
		c.conns = append(c.conns, conn)
	}
	return conn, err
}

func (c *cuttable) set(cut bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cut = cut
	if cut {
		for _, conn := range c.conns {
			conn.Close()
		}
		c.conns = nil
	}
}

// TestKafkaOutage: the network to the cluster is cut mid-run: publishing
// fails with connect or timeout, resumes once it is back, and every
// acknowledged record is in the topic.
func TestKafkaOutage(t *testing.T) {
	t.Parallel()
	c := cluster(t)
	cut := &cuttable{}
	p := open(t, fmt.Sprintf(`{"brokers":%s,"topic":"bookings"}`, brokersJSON(c)), cut.dial)
	acked := 0
	for i := range 10 {
		if err := publish(p, message(i, "k", i+1)); err != nil {
			t.Fatal(err)
		}
		acked++
	}
	cut.set(true)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	err := p.Publish(ctx, message(10, "k", 11))
	cancel()
	if k := destination.KindOf(err); k != destination.KindConnect && k != destination.KindTimeout {
		t.Fatalf("during the outage: err = %v, want connect or timeout", err)
	}
	cut.set(false)
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := publish(p, message(11, "k", 12))
		if err == nil {
			acked++
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("publishing did not resume: %v", err)
		}
	}
	recs := consume(t, c, "bookings", acked)
	seen := map[string]bool{}
	for _, r := range recs {
		seen[string(r.Value)] = true
	}
	if !seen[string(message(11, "k", 12).Body)] || !seen[string(message(0, "k", 1).Body)] {
		t.Fatal("an acknowledged record is missing")
	}
}

// TestKafkaConnectRefused: no broker at the address: connect, within ctx.
func TestKafkaConnectRefused(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err = New().Open(ctx, json.RawMessage(fmt.Sprintf(`{"brokers":[%q],"topic":"t"}`, addr)), brokertest.Dial)
	if k := destination.KindOf(err); k != destination.KindConnect && k != destination.KindTimeout {
		t.Fatalf("err = %v", err)
	}
	var de *destination.Error
	if !errors.As(err, &de) {
		t.Fatalf("not a destination error: %v", err)
	}
}

// TestKafkaClosed: Publish after Close fails (connect).
func TestKafkaClosed(t *testing.T) {
	t.Parallel()
	c := cluster(t)
	p := open(t, fmt.Sprintf(`{"brokers":%s,"topic":"bookings"}`, brokersJSON(c)), brokertest.Dial)
	p.Close()
	if err := publish(p, message(1, "k", 1)); destination.KindOf(err) != destination.KindConnect {
		t.Fatalf("err = %v", err)
	}
}

const testSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// sign is the webhook-signature header hookbook sends with a delivery.
func sign(id string, at time.Time, body []byte) string {
	sig, err := webhook.Sign(testSecret, id, at, body)
	if err != nil {
		panic(err)
	}
	return sig
}
