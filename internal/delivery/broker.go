package delivery

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/hookbook/hookbook/internal/destination"
	"github.com/hookbook/hookbook/internal/netguard"
	"github.com/hookbook/hookbook/internal/queue"
)

// DefaultBrokerIdle is how long a broker connection stays open without
// attempts before it is closed.
const DefaultBrokerIdle = 3 * time.Minute

// BrokerSender publishes deliveries to message brokers: the Sender of every
// broker endpoint type (package destination). Each endpoint has one
// Publisher (one connection or pool) per config, opened at its first
// attempt and reused; it is replaced when the endpoint's config changes or
// when an attempt finds its connection broken (a connect or timeout
// failure), and closed after IdleAfter without attempts (which also ends
// those of deleted endpoints). Opening and publishing are both bounded by
// the endpoint's timeout, so a slow or dead broker holds an attempt no
// longer than a slow receiver would: the engine moves it to the slow
// budget, retries it and opens its circuit as for a webhook.
//
// The message is the envelope a webhook receives; its headers are the
// webhook's (the endpoint's own, the Standard Webhooks signature headers
// and the brand headers) plus the metadata: <prefix>-Event-Id,
// <prefix>-Event-Timestamp, and for an event with an ordering key
// <prefix>-Ordering-Key and <prefix>-Sequence.
type BrokerSender struct {
	Types    destination.Registry
	Webhooks *WebhookSender // signs and names the headers
	Dial     destination.DialFunc
	// IdleAfter is how long an unused connection stays open (0:
	// DefaultBrokerIdle).
	IdleAfter time.Duration

	mu        sync.Mutex
	pubs      map[string]*pooled // by endpoint id
	lastSweep time.Time
	closed    bool
}

// pooled is one endpoint's Publisher for one config.
type pooled struct {
	hash  [32]byte
	ready chan struct{} // closed once Open returned
	pub   destination.Publisher
	err   error
	users int
	last  time.Time
	stale bool // replaced or dropped: closed when its last user is done
}

// NewBrokerSender returns the Sender of types, dialing through guard and
// building headers as webhooks does.
func NewBrokerSender(types destination.Registry, guard *netguard.Guard, webhooks *WebhookSender) *BrokerSender {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	return &BrokerSender{Types: types, Webhooks: webhooks, Dial: guard.DialContext(dialer)}
}

// Kinds are the endpoint kinds s sends to, for Senders.
func (s *BrokerSender) Kinds() []string {
	var out []string
	for n := range s.Types {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Send implements Sender: one publish of j, acknowledged by the broker
// within the endpoint's timeout.
func (s *BrokerSender) Send(ctx context.Context, j *queue.Job) Outcome {
	start := s.Webhooks.Now()
	ep := j.Endpoint
	out := Outcome{StartedAt: start, Target: ep.Type}
	fail := func(err error) Outcome {
		out.Duration = time.Since(start)
		out.Err, out.ErrKind = err.Error(), destination.KindOf(err)
		out.Rejected = out.ErrKind == destination.KindRejected
		return out
	}
	t, ok := s.Types[ep.Type]
	if !ok {
		out.Err, out.ErrKind = fmt.Sprintf("endpoints of type %q are not offered by this instance", ep.Type), "other"
		return out
	}
	out.Target = destination.Describe(t, ep.Config)
	h, err := s.Webhooks.headersOf(j, ep.Headers, j.Payload, start)
	if err != nil {
		out.Err, out.ErrKind = err.Error(), "other"
		return out
	}
	m := s.message(j, h)
	out.Request = recordedHeaders(h, s.Webhooks.HeaderPrefix)
	timeout := time.Duration(ep.TimeoutSeconds) * time.Second
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	p, err := s.acquire(ctx, j.Endpoint.ID, t, ep.Config)
	if err != nil {
		return fail(err)
	}
	err = p.pub.Publish(ctx, m)
	broken := err != nil && (destination.KindOf(err) == destination.KindConnect || destination.KindOf(err) == destination.KindTimeout)
	s.release(ep.ID, p, broken)
	if err != nil {
		return fail(err)
	}
	out.Duration, out.Success = time.Since(start), true
	return out
}

// message is what an attempt publishes: the envelope, the webhook's
// headers less those of HTTP itself, and the metadata headers, sorted by
// name.
func (s *BrokerSender) message(j *queue.Job, h http.Header) *destination.Message {
	var env struct {
		Timestamp time.Time `json:"timestamp"`
		Sequence  int64     `json:"sequence"`
	}
	json.Unmarshal(j.Payload, &env)
	p := s.Webhooks.HeaderPrefix
	h.Del("Content-Type")
	h.Del("User-Agent")
	h.Set(p+"-Event-Id", j.EventID)
	if !env.Timestamp.IsZero() {
		h.Set(p+"-Event-Timestamp", env.Timestamp.UTC().Format(time.RFC3339Nano))
	}
	if j.OrderingKey != "" {
		h.Set(p+"-Ordering-Key", j.OrderingKey)
		h.Set(p+"-Sequence", strconv.FormatInt(env.Sequence, 10))
	}
	m := &destination.Message{EventID: j.EventID, EventType: j.EventType, Timestamp: env.Timestamp,
		Key: j.OrderingKey, Sequence: env.Sequence, Body: j.Payload}
	for k, v := range h {
		if len(v) > 0 {
			m.Headers = append(m.Headers, destination.Header{Name: k, Value: v[0]})
		}
	}
	sort.Slice(m.Headers, func(a, b int) bool { return m.Headers[a].Name < m.Headers[b].Name })
	return m
}

// acquire returns the endpoint's open Publisher for config, opening one
// (bounded by ctx) when it has none or its config changed. Waiting for
// another attempt's Open is bounded by ctx too.
func (s *BrokerSender) acquire(ctx context.Context, id string, t destination.Type, config []byte) (*pooled, error) {
	hash := sha256.Sum256(append([]byte(t.Name()+"\x00"), config...))
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, destination.Errorf(destination.KindConnect, "hookbook is shutting down")
	}
	if s.pubs == nil {
		s.pubs = map[string]*pooled{}
	}
	now := time.Now()
	s.sweepLocked(now)
	p := s.pubs[id]
	if p != nil && p.hash != hash {
		s.dropLocked(id, p) // the endpoint changed
		p = nil
	}
	opener := p == nil
	if opener {
		p = &pooled{hash: hash, ready: make(chan struct{})}
		s.pubs[id] = p
	}
	p.users++
	p.last = now
	s.mu.Unlock()
	if opener {
		pub, err := t.Open(ctx, config, s.Dial)
		s.mu.Lock()
		p.pub, p.err = pub, err
		if err != nil {
			s.dropLocked(id, p) // the next attempt opens again
		}
		s.mu.Unlock()
		close(p.ready)
	} else {
		select {
		case <-p.ready:
		case <-ctx.Done():
			s.release(id, p, false)
			return nil, &destination.Error{Kind: destination.KindTimeout, Err: fmt.Errorf("waiting for the connection to the broker: %w", ctx.Err())}
		}
	}
	if p.err != nil {
		s.release(id, p, false)
		return nil, p.err
	}
	return p, nil
}

// release ends one use of p; broken drops it so that the next attempt
// connects afresh.
func (s *BrokerSender) release(id string, p *pooled, broken bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p.users--
	p.last = time.Now()
	if broken {
		s.dropLocked(id, p)
	}
	s.closeIfDone(p)
}

// dropLocked forgets p as id's Publisher; it is closed once unused.
func (s *BrokerSender) dropLocked(id string, p *pooled) {
	if s.pubs[id] == p {
		delete(s.pubs, id)
	}
	p.stale = true
	s.closeIfDone(p)
}

func (s *BrokerSender) closeIfDone(p *pooled) {
	if p.stale && p.users == 0 && p.pub != nil {
		pub := p.pub
		p.pub = nil
		go pub.Close()
	}
}

// sweepLocked closes the Publishers unused for IdleAfter, at most once a
// second.
func (s *BrokerSender) sweepLocked(now time.Time) {
	if now.Sub(s.lastSweep) < time.Second {
		return
	}
	s.lastSweep = now
	idle := s.IdleAfter
	if idle <= 0 {
		idle = DefaultBrokerIdle
	}
	for id, p := range s.pubs {
		if p.users == 0 && now.Sub(p.last) > idle {
			s.dropLocked(id, p)
		}
	}
}

// Sweep closes the connections unused for IdleAfter; the server calls it
// periodically, so that an endpoint that stopped getting events does not
// keep its connection.
func (s *BrokerSender) Sweep() {
	s.mu.Lock()
	s.lastSweep = time.Time{}
	s.sweepLocked(time.Now())
	s.mu.Unlock()
}

// Forget closes an endpoint's connection (it changed or was deleted).
func (s *BrokerSender) Forget(id string) {
	s.mu.Lock()
	if p := s.pubs[id]; p != nil {
		s.dropLocked(id, p)
	}
	s.mu.Unlock()
}

// Open reports how many endpoints have a Publisher.
func (s *BrokerSender) Open() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pubs)
}

// Close closes every connection; attempts fail afterwards.
func (s *BrokerSender) Close() {
	s.mu.Lock()
	s.closed = true
	for id, p := range s.pubs {
		s.dropLocked(id, p)
	}
	s.mu.Unlock()
}
