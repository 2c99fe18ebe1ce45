package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	amqp "github.com/rabbitmq/amqp091-go"
	goredis "github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/hookbook/hookbook/internal/brokertest"
	"github.com/hookbook/hookbook/internal/hookbooktest"
	"github.com/hookbook/hookbook/internal/queue"
	"github.com/hookbook/hookbook/internal/server"
	"github.com/hookbook/hookbook/webhook"
)

// brokerMessage is what a consumer got: the body and the headers.
type brokerMessage struct {
	Body    []byte
	Headers http.Header
}

// brokerCase is one broker type of the end-to-end suite. A new type is one
// more row of brokerCases.
type brokerCase struct {
	name, service, addr string
	// config returns an endpoint config that reaches the broker at addr
	// (hookbook's side goes through a proxy), the password replaced by
	// password, and starts a consumer of what it publishes, with the
	// broker's ordinary client, that stops with the test.
	config configFunc
	// secret is the password of the broker's test account.
	secret string
	// start, when set, starts a broker that only this test uses (kafka: a
	// kfake cluster) behind a proxy and returns the proxy and the config
	// function bound to that broker; addr and service are then unused.
	start func(t testing.TB) (*brokertest.Proxy, configFunc)
	// auth, when set, returns a config with a wrong password for a broker
	// that checks passwords (the shared service does not), started for
	// the test alone; without it the wrong-password check uses config.
	auth func(t testing.TB) map[string]any
	// noHeaders: the protocol has no headers (MQTT 3.1.1), so the consumer
	// gets the body only: no signature to verify, no metadata headers to
	// compare; deduplication by the envelope's id and order by its
	// sequence still hold.
	noHeaders bool
}

// configFunc returns an endpoint config that reaches the broker at addr,
// the password replaced by password, and starts a consumer of what it
// publishes, with the broker's ordinary client, that stops with the test.
type configFunc func(t testing.TB, addr, password string) (map[string]any, <-chan brokerMessage)

var brokerCases = []brokerCase{
	{name: "rabbitmq", service: "RabbitMQ", addr: brokertest.RabbitMQ, secret: "guest", config: rabbitmqCase},
	{name: "redis", service: "Redis", addr: brokertest.Redis, secret: "", config: redisCase},
	{name: "nats", service: "NATS", addr: brokertest.NATS, secret: "", config: natsCase, auth: natsAuthCase},
	// MQTT 3.1.1 carries no headers: the signature is not sent, so it is
	// not verified here; the consumer deduplicates by the envelope's id
	// and checks order by its sequence.
	// Its broker is a Mosquitto of the test's own: the shared one keeps at
	// most 1,000 queued messages per subscriber and drops the rest, which
	// a consumer slowed by a loaded machine met (hookbook had its PUBACKs).
	{name: "mqtt", secret: "", start: mqttStart, auth: mqttAuthCase, noHeaders: true},
	{name: "kafka", secret: kafkaPassword, start: kafkaStart},
}

func rabbitmqCase(t testing.TB, addr, password string) (map[string]any, <-chan brokerMessage) {
	conn, err := amqp.Dial("amqp://guest:guest@" + brokertest.RabbitMQ + "/")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	q, err := ch.QueueDeclare(fmt.Sprintf("hookbook-e2e-%d", time.Now().UnixNano()), false, true, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	deliveries, err := ch.Consume(q.Name, "", true, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := make(chan brokerMessage, 4096)
	go func() {
		for d := range deliveries {
			h := http.Header{}
			for k, v := range d.Headers {
				h[k] = []string{fmt.Sprint(v)}
			}
			out <- brokerMessage{Body: d.Body, Headers: h}
		}
	}()
	user := "guest"
	if password != "guest" {
		user = "nobody"
	}
	return map[string]any{"url": fmt.Sprintf("amqp://%s:%s@%s/", user, password, addr), "exchange": "", "routing_key": q.Name}, out
}

func redisCase(t testing.TB, addr, password string) (map[string]any, <-chan brokerMessage) {
	stream := fmt.Sprintf("hookbook-e2e-%d", time.Now().UnixNano())
	rdb := goredis.NewClient(&goredis.Options{Addr: brokertest.Redis})
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan brokerMessage, 4096)
	done := make(chan struct{})
	go func() {
		defer close(done)
		last := "0"
		for ctx.Err() == nil {
			res, err := rdb.XRead(ctx, &goredis.XReadArgs{Streams: []string{stream, last}, Count: 500, Block: 200 * time.Millisecond}).Result()
			if err != nil {
				continue
			}
			for _, s := range res {
				for _, m := range s.Messages {
					last = m.ID
					h := http.Header{}
					var body []byte
					for k, v := range m.Values {
						if k == "body" {
							body = []byte(fmt.Sprint(v))
						} else {
							h[k] = []string{fmt.Sprint(v)}
						}
					}
					out <- brokerMessage{Body: body, Headers: h}
				}
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		rdb.Del(context.Background(), stream)
		rdb.Close()
	})
	user := ""
	if password != "" {
		user = "nobody:" + password + "@"
	}
	return map[string]any{"url": fmt.Sprintf("redis://%s%s/0", user, addr), "stream": stream, "max_len": 100000}, out
}

// TestBrokerDestinations sends events through a real instance to each real
// broker: a consumer with the broker's own client receives every event,
// exactly once after deduplicating by event id, verifies its signature
// from the headers, and sees per-key order on an ordered endpoint, through
// an outage of the broker's connection mid-run; a wrong password shows
// auth in the delivery log. 1,000 events on SQLite, 200 on PostgreSQL.
func TestBrokerDestinations(t *testing.T) {
	t.Parallel()
	for _, bc := range brokerCases {
		t.Run(bc.name, func(t *testing.T) {
			t.Parallel()
			if bc.start == nil {
				brokertest.Require(t, bc.service, bc.addr)
			}
			// Enough for an outage in the middle of ten keys' streams.
			n := 300
			if hookbooktest.Backend() == "postgres" {
				n = 150
			}
			runBrokerCase(t, bc, n)
		})
	}
}

func runBrokerCase(t *testing.T, bc brokerCase, n int) {
	config, authAddr := bc.config, bc.addr
	var proxy *brokertest.Proxy
	if bc.start != nil {
		proxy, config = bc.start(t)
		authAddr = proxy.Addr()
	} else {
		proxy = brokertest.NewProxy(t, bc.addr)
	}
	var failed atomic.Int64
	in := start(t, map[string]string{"HOOKBOOK_RETRY_SCHEDULE": "100ms,200ms,400ms", "HOOKBOOK_BREAKER_COOLDOWN": "200ms"},
		func(a *server.App) {
			next := a.Dispatcher.Hooks.Attempted
			a.Dispatcher.Hooks.Attempted = func(r *queue.Result) {
				if !r.Success {
					failed.Add(1)
				}
				next(r)
			}
		})
	in.must(201, "POST", "/api/v1/event-types", map[string]any{"name": "test.broker", "description": "broker test"})
	cfg, msgs := config(t, proxy.Addr(), bc.secret)
	ep := in.must(201, "POST", "/api/v1/webhooks", map[string]any{"type": bc.name, "config": cfg, "events": []string{"test.broker"},
		"ordered": true, "max_attempts": 20, "timeout_seconds": 2})
	secret := ep["secret"].(string)
	shown, _ := json.Marshal(ep["config"])
	leak := bc.secret // a password shown anywhere
	if bc.secret == "guest" {
		leak = ":guest@" // RabbitMQ's guest is its user name too
	}
	if bc.secret != "" && strings.Contains(string(shown), leak) {
		t.Fatalf("the answer shows the password: %s", shown)
	}
	if ep["type"] != bc.name {
		t.Fatalf("type %v", ep["type"])
	}

	const keys = 10
	var published atomic.Int64
	var (
		idsMu sync.Mutex
		ids   []string // the events published, for the account of a missing one
	)
	var wg sync.WaitGroup
	for k := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := k; i < n; i += keys {
				evt := in.must(202, "POST", "/api/v1/events", map[string]any{"event": "test.broker", "data": map[string]any{"i": i},
					"ordering_key": fmt.Sprintf("key-%d", k)})
				idsMu.Lock()
				ids = append(ids, evt["id"].(string))
				idsMu.Unlock()
				published.Add(1)
			}
		}()
	}
	hookbooktest.WaitFor(t, time.Minute, "a third published", func() bool { return published.Load() >= int64(n/3) })
	cutAt := time.Now()
	proxy.Cut()
	hookbooktest.WaitFor(t, time.Minute, "an attempt failing during the outage", func() bool { return failed.Load() > 0 })
	proxy.Restore()
	wg.Wait()

	type env struct {
		ID          string `json:"id"`
		OrderingKey string `json:"ordering_key"`
		Sequence    int64  `json:"sequence"`
	}
	seen := map[string]bool{}
	last := map[string]int64{}
	received := 0
	defer func() {
		// Whose loss: what hookbook's delivery log says of the endpoint's
		// deliveries (succeeded: the broker acknowledged them).
		if !t.Failed() {
			return
		}
		counts := map[string]string{}
		for _, st := range []string{"pending", "succeeded", "failed"} {
			r := in.do("GET", "/api/v1/webhooks/"+ep["id"].(string)+"/deliveries?limit=100&status="+st, nil)
			var page struct {
				Data    []any `json:"data"`
				HasMore bool  `json:"has_more"`
			}
			json.Unmarshal(r.Body, &page)
			counts[st] = fmt.Sprint(len(page.Data)) + map[bool]string{true: "+", false: ""}[page.HasMore]
		}
		t.Logf("%s: %d of %d events consumed (%d messages); hookbook's delivery log: %v; the outage began at %s", bc.name, len(seen), n, received, counts,
			cutAt.UTC().Format(time.StampMicro))
		shown := 0
		for _, id := range ids {
			if seen[id] || shown == 3 {
				continue
			}
			shown++
			evt := in.do("GET", "/api/v1/events/"+id, nil).JSON(t)
			for _, d := range evt["deliveries"].([]any) {
				dlv := in.do("GET", "/api/v1/deliveries/"+d.(map[string]any)["id"].(string), nil)
				t.Logf("not consumed: %s, whose delivery is %s", id, dlv.Body)
			}
		}
	}()
	hookbooktest.WaitFor(t, 3*time.Minute, fmt.Sprintf("%d events consumed", n), func() bool {
		for {
			select {
			case m := <-msgs:
				received++
				var e env
				if err := json.Unmarshal(m.Body, &e); err != nil {
					t.Fatalf("body %q: %v", m.Body, err)
				}
				if bc.noHeaders {
					// Nothing to verify or compare: the body alone came.
				} else if err := webhook.Verify(secret, m.Headers, m.Body); err != nil {
					t.Fatalf("signature of %s: %v (headers %v)", e.ID, err, m.Headers)
				}
				if !bc.noHeaders && (m.Headers.Get("X-Hookbook-Event-Id") != e.ID || m.Headers.Get("X-Hookbook-Ordering-Key") != e.OrderingKey ||
					m.Headers.Get("X-Hookbook-Sequence") != fmt.Sprint(e.Sequence)) {
					t.Fatalf("metadata headers %v of %+v", m.Headers, e)
				}
				if seen[e.ID] {
					continue // a redelivery: deduplicated by id
				}
				seen[e.ID] = true
				if e.Sequence <= last[e.OrderingKey] {
					t.Fatalf("key %s: sequence %d after %d", e.OrderingKey, e.Sequence, last[e.OrderingKey])
				}
				last[e.OrderingKey] = e.Sequence
			default:
				return len(seen) == n
			}
		}
	})
	t.Logf("%s: %d events, %d messages consumed, %d failed attempts during the outage", bc.name, n, received, failed.Load())

	// A wrong password: the delivery log says auth.
	var bad map[string]any
	if bc.auth != nil {
		bad = bc.auth(t)
	} else {
		bad, _ = config(t, authAddr, "wrong-password")
	}
	ep2 := in.must(201, "POST", "/api/v1/webhooks", map[string]any{"type": bc.name, "config": bad, "events": []string{"test.broker"}})
	dlv := in.must(202, "POST", "/api/v1/webhooks/"+ep2["id"].(string)+"/test", nil)["delivery_id"].(string)
	hookbooktest.WaitFor(t, time.Minute, "an auth failure in the delivery log", func() bool {
		d := in.must(200, "GET", "/api/v1/deliveries/"+dlv, nil)
		if m := d["request"].(map[string]any)["method"]; m != "PUBLISH" {
			t.Fatalf("a broker delivery's request method is %v, want PUBLISH", m)
		}
		attempts, _ := d["attempts"].([]any)
		for _, a := range attempts {
			if e, _ := a.(map[string]any)["error"].(string); strings.HasPrefix(e, "auth: ") {
				if strings.Contains(e, "wrong-password") {
					t.Fatalf("the log shows the password: %s", e)
				}
				return true
			}
		}
		return false
	})
}

// TestBrokerEndpointAPI: a broker endpoint's config is validated by its
// type (422 naming config.<field>), types not offered are refused, the
// password never answers, an update that sends back "***" keeps it, and an
// update persists type and config.
func TestBrokerEndpointAPI(t *testing.T) {
	t.Parallel()
	in := start(t, map[string]string{"HOOKBOOK_DESTINATION_TYPES": "rabbitmq,redis,nats"})
	post := func(body map[string]any) response { return in.do("POST", "/api/v1/webhooks", body) }
	fieldOf := func(r response) string {
		var e struct {
			Error struct {
				Details map[string]any `json:"details"`
			} `json:"error"`
		}
		json.Unmarshal(r.Body, &e)
		for k := range e.Error.Details {
			return k
		}
		return string(r.Body)
	}
	for _, c := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"type": "rabbitmq", "config": map[string]any{"url": "http://x"}, "events": []string{"*"}}, "config.url"},
		{map[string]any{"type": "redis", "config": map[string]any{"url": "redis://h:6379", "stream": ""}, "events": []string{"*"}}, "config.stream"},
		{map[string]any{"type": "redis", "config": map[string]any{"url": "redis://h", "stream": "s", "bogus": 1}, "events": []string{"*"}}, "config.bogus"},
		{map[string]any{"type": "redis", "events": []string{"*"}}, "config"},
		{map[string]any{"type": "mqtt", "config": map[string]any{}, "events": []string{"*"}}, "type"},
		{map[string]any{"type": "carrier-pigeon", "config": map[string]any{}, "events": []string{"*"}}, "type"},
		{map[string]any{"type": "listen", "url": "https://example.com/h", "events": []string{"*"}}, "type"},
		{map[string]any{"type": "redis", "url": "https://example.com", "config": map[string]any{"url": "redis://h", "stream": "s"}, "events": []string{"*"}}, "url"},
		{map[string]any{"type": "redis", "config": map[string]any{"url": "redis://h", "stream": "s"}, "events": []string{"*"},
			"transformation": map[string]any{"code": "function handler(w) { return w }", "enabled": true}}, "transformation"},
		{map[string]any{"url": "https://example.com/h", "config": map[string]any{"url": "redis://h"}, "events": []string{"*"}}, "config"},
	} {
		r := post(c.body)
		if r.Status != 422 || fieldOf(r) != c.field {
			t.Errorf("%v: %d %s, want 422 naming %s", c.body, r.Status, r.Body, c.field)
		}
	}
	ep := in.must(201, "POST", "/api/v1/webhooks", map[string]any{"type": "rabbitmq", "events": []string{"*"},
		"config": map[string]any{"url": "amqp://hb:s3cret-pw@mq.example.com:5672/vh", "exchange": "bookings"}})
	id := ep["id"].(string)
	for _, r := range []response{in.do("GET", "/api/v1/webhooks/"+id, nil), in.do("GET", "/api/v1/webhooks", nil)} {
		if strings.Contains(string(r.Body), "s3cret-pw") || !strings.Contains(string(r.Body), "amqp://hb:***@mq.example.com:5672/vh") {
			t.Fatalf("answer: %s", r.Body)
		}
	}
	if ep["url"] != "rabbitmq exchange bookings at amqp://hb:***@mq.example.com:5672/vh" {
		t.Fatalf("url %v", ep["url"])
	}
	// What the answer showed, sent back with a change: the password stays.
	cfg := ep["config"].(map[string]any)
	cfg["routing_key"] = "all"
	up := in.must(200, "PATCH", "/api/v1/webhooks/"+id, map[string]any{"config": cfg})
	if up["config"].(map[string]any)["routing_key"] != "all" {
		t.Fatalf("update: %v", up)
	}
	e, err := in.App.Outbound.Endpoint(context.Background(), ep["organization_id"].(string), id)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(e.Config), "amqp://hb:s3cret-pw@mq.example.com:5672/vh") || !strings.Contains(string(e.Config), `"routing_key":"all"`) {
		t.Fatalf("stored config %s", e.Config)
	}
	// The stored password goes nowhere else: "***" with another host (or
	// port) is refused, and nothing is stored.
	for _, other := range []string{"amqp://hb:***@attacker.example:5672/vh", "amqp://hb:***@mq.example.com:5673/vh"} {
		cfg["url"] = other
		if r := in.do("PATCH", "/api/v1/webhooks/"+id, map[string]any{"config": cfg}); r.Status != 422 || fieldOf(r) != "config.url" {
			t.Errorf("*** to %s: %d %s, want 422 naming config.url", other, r.Status, r.Body)
		}
	}
	if e, _ := in.App.Outbound.Endpoint(context.Background(), ep["organization_id"].(string), id); !strings.Contains(string(e.Config), "@mq.example.com:5672/vh") {
		t.Fatalf("stored config after refused moves %s", e.Config)
	}
	// A new password replaces it; a switch of type persists.
	in.must(200, "PATCH", "/api/v1/webhooks/"+id, map[string]any{"config": map[string]any{"url": "amqp://hb:new-pw@mq.example.com/vh"}})
	e, _ = in.App.Outbound.Endpoint(context.Background(), ep["organization_id"].(string), id)
	if !strings.Contains(string(e.Config), "new-pw") {
		t.Fatalf("stored config %s", e.Config)
	}
	sw := in.must(200, "PATCH", "/api/v1/webhooks/"+id, map[string]any{"type": "redis", "config": map[string]any{"url": "redis://h", "stream": "s"}})
	if sw["type"] != "redis" || in.must(200, "GET", "/api/v1/webhooks/"+id, nil)["type"] != "redis" {
		t.Fatalf("switch: %v", sw)
	}
	if r := in.do("PATCH", "/api/v1/webhooks/"+id, map[string]any{"type": "webhook"}); r.Status != 422 || fieldOf(r) != "url" {
		t.Fatalf("to webhook without url: %d %s", r.Status, r.Body)
	}
	back := in.must(200, "PATCH", "/api/v1/webhooks/"+id, map[string]any{"type": "webhook", "url": "https://example.com/h"})
	if back["config"] != nil || back["url"] != "https://example.com/h" {
		t.Fatalf("back to a webhook: %v", back)
	}
	// A webhook's auth and tls do not become a broker's: the change of
	// type names their removal, or is refused and changes nothing.
	ca := hookbooktest.NewCA(t, "clinic CA")
	in.must(200, "PATCH", "/api/v1/webhooks/"+id, map[string]any{"auth": map[string]any{"type": "bearer", "token": "tok-never-shown"},
		"tls": map[string]any{"ca_certificates": ca.PEM}})
	toRedis := map[string]any{"type": "redis", "config": map[string]any{"url": "redis://h", "stream": "s"}}
	for _, c := range []struct {
		remove, field string
	}{{"tls", "auth"}, {"auth", "tls"}} {
		body := map[string]any{c.remove: nil}
		for k, v := range toRedis {
			body[k] = v
		}
		if r := in.do("PATCH", "/api/v1/webhooks/"+id, body); r.Status != 422 || fieldOf(r) != c.field {
			t.Fatalf("to redis keeping %s: %d %s, want 422 naming it", c.field, r.Status, r.Body)
		}
	}
	if got := in.must(200, "GET", "/api/v1/webhooks/"+id, nil); got["type"] != "webhook" || got["auth"] == nil || got["tls"] == nil {
		t.Fatalf("a refused change of type changed the endpoint: %v", got)
	}
	toRedis["auth"], toRedis["tls"] = nil, nil
	if sw := in.must(200, "PATCH", "/api/v1/webhooks/"+id, toRedis); sw["type"] != "redis" || sw["auth"] != nil || sw["tls"] != nil {
		t.Fatalf("to redis removing auth and tls: %v", sw)
	}
	if e, _ := in.App.Outbound.Endpoint(context.Background(), ep["organization_id"].(string), id); e.Auth != nil || e.TLS != nil {
		t.Fatalf("a broker endpoint kept a webhook's security: %+v %+v", e.Auth, e.TLS)
	}
	// A broker endpoint takes neither; the change back to a webhook may
	// set them with it.
	if r := in.do("PATCH", "/api/v1/webhooks/"+id, map[string]any{"auth": map[string]any{"type": "bearer", "token": "t"}}); r.Status != 422 || fieldOf(r) != "auth" {
		t.Fatalf("auth on a broker endpoint: %d %s", r.Status, r.Body)
	}
	back = in.must(200, "PATCH", "/api/v1/webhooks/"+id, map[string]any{"type": "webhook", "url": "https://example.com/h",
		"auth": map[string]any{"type": "bearer", "token": "tok-never-shown"}})
	if a, _ := back["auth"].(map[string]any); back["type"] != "webhook" || a["type"] != "bearer" {
		t.Fatalf("back to a webhook with auth: %v", back)
	}
}

// TestBrokerRedactedWithoutStored: a "***" with no stored credential to
// keep is refused rather than stored as the password.
func TestBrokerRedactedWithoutStored(t *testing.T) {
	t.Parallel()
	in := start(t, nil)
	r := in.do("POST", "/api/v1/webhooks", map[string]any{"type": "redis", "events": []string{"*"},
		"config": map[string]any{"url": "redis://u:***@h:6379/0", "stream": "s"}})
	if r.Status != 422 || !strings.Contains(string(r.Body), `"config"`) {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
}

// sendOrStop hands m to out unless ctx ends first (a consumer nobody
// reads any more must not block its stop).
func sendOrStop(ctx context.Context, out chan<- brokerMessage, m brokerMessage) {
	select {
	case out <- m:
	case <-ctx.Done():
	}
}

// natsCase makes a JetStream stream of its own for a unique subject on the
// shared NATS (deleted with the test) and consumes it with nats.go's
// jetstream API, headers and body.
func natsCase(t testing.TB, addr, password string) (map[string]any, <-chan brokerMessage) {
	id := time.Now().UnixNano()
	subject, stream := fmt.Sprintf("hookbook-e2e.%d", id), fmt.Sprintf("hookbook-e2e-%d", id)
	nc, err := natsgo.Connect("nats://" + brokertest.NATS)
	if err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: stream, Subjects: []string{subject}, Storage: jetstream.MemoryStorage})
	if err != nil {
		t.Fatal(err)
	}
	cons, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	out := make(chan brokerMessage, 4096)
	cc, err := cons.Consume(func(m jetstream.Msg) {
		h := http.Header{}
		for k, vs := range m.Headers() {
			for _, v := range vs {
				h.Add(k, v)
			}
		}
		sendOrStop(ctx, out, brokerMessage{Body: m.Data(), Headers: h})
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		cc.Stop()
		dctx, dcancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer dcancel()
		js.DeleteStream(dctx, stream)
		nc.Close()
	})
	url := "nats://" + addr
	if password != "" {
		url = "nats://hookbook:" + password + "@" + addr
	}
	return map[string]any{"url": url, "subject": subject}, out
}

// natsAuthCase: the shared NATS takes any password, so the wrong one is
// tried on a nats-server of the test's own that checks it.
func natsAuthCase(t testing.TB) map[string]any {
	addr := privateBroker(t, "nats-server", func(dir, addr string) string {
		return fmt.Sprintf("listen: %q\nauthorization { user: \"hookbook\", password: \"right-password\" }\n", addr)
	})
	return map[string]any{"url": "nats://hookbook:wrong-password@" + addr, "subject": "hookbook-e2e.auth"}
}

// mqttCase subscribes with paho to a unique topic on the shared Mosquitto,
// at QoS 1. MQTT 3.1.1 has no headers: the messages are bodies alone.
// mqttStart runs a Mosquitto for the test alone, without a bound on the
// messages it queues for a subscriber, behind a proxy; its configs consume
// with a client that connects to it directly.
func mqttStart(t testing.TB) (*brokertest.Proxy, configFunc) {
	broker := privateBroker(t, "mosquitto", func(dir, addr string) string {
		_, port, _ := net.SplitHostPort(addr)
		return fmt.Sprintf("user root\nlistener %s 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 0\n", port)
	})
	return brokertest.NewProxy(t, broker), func(t testing.TB, addr, password string) (map[string]any, <-chan brokerMessage) {
		return mqttCase(t, broker, addr, password)
	}
}

// mqttCase returns a config that publishes to addr and a consumer that
// subscribes at broker.
func mqttCase(t testing.TB, broker, addr, password string) (map[string]any, <-chan brokerMessage) {
	id := time.Now().UnixNano()
	topic := fmt.Sprintf("hookbook-e2e/%d", id)
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan brokerMessage, 4096)
	// A persistent session, resumed on reconnect: on a loaded machine the
	// consumer's own connection may drop (a missed keepalive), and a clean
	// session would lose its subscription and what was published meanwhile.
	// It reconnects within a second, not after paho's backoff (which grows
	// to 10 minutes), and waits long for a PINGRESP.
	c := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + broker).
		SetClientID(fmt.Sprintf("hookbook-e2e-%d", id)).SetCleanSession(false).SetResumeSubs(true).
		SetAutoReconnect(true).SetMaxReconnectInterval(time.Second).SetConnectTimeout(10 * time.Second).
		SetKeepAlive(time.Minute).SetPingTimeout(30 * time.Second).SetOrderMatters(true).
		SetConnectionLostHandler(func(_ paho.Client, err error) {
			if ctx.Err() == nil {
				t.Logf("the test's MQTT consumer lost its connection: %v", err)
			}
		}))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("mqtt connect: %v", tok.Error())
	}
	tok := c.Subscribe(topic, 1, func(_ paho.Client, m paho.Message) {
		sendOrStop(ctx, out, brokerMessage{Body: m.Payload(), Headers: http.Header{}})
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("mqtt subscribe: %v", tok.Error())
	}
	t.Cleanup(func() {
		cancel()
		c.Disconnect(250)
	})
	url := "tcp://" + addr
	if password != "" {
		url = "tcp://hookbook:" + password + "@" + addr
	}
	return map[string]any{"url": url, "topic": topic, "qos": 1}, out
}

// mqttAuthCase: the shared Mosquitto allows anonymous clients, so the
// wrong password is tried on a mosquitto of the test's own with a
// password file.
func mqttAuthCase(t testing.TB) map[string]any {
	passwd := requireTool(t, "mosquitto_passwd")
	addr := privateBroker(t, "mosquitto", func(dir, addr string) string {
		pwfile := filepath.Join(dir, "passwd")
		if out, err := exec.Command(passwd, "-c", "-b", pwfile, "hookbook", "right-password").CombinedOutput(); err != nil {
			t.Fatalf("mosquitto_passwd: %v: %s", err, out)
		}
		_, port, _ := net.SplitHostPort(addr)
		return fmt.Sprintf("user root\nlistener %s 127.0.0.1\nallow_anonymous false\npassword_file %s\npersistence false\n", port, pwfile)
	})
	return map[string]any{"url": "tcp://hookbook:wrong-password@" + addr, "topic": "hookbook-e2e/auth", "qos": 1}
}

// requireTool finds a broker's binary, skipping loudly without it (failing
// under CI=true).
func requireTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required under CI=true", name)
		}
		t.Skipf("\n\n*** SKIPPED: %s is not installed (see .ci/run).\n\n", name)
	}
	return p
}

// privateBroker runs bin -c <config> for the test alone, the config being
// conf(dir, addr) for a free address on 127.0.0.1, and returns the address
// once it answers; the process stops with the test.
func privateBroker(t testing.TB, bin string, conf func(dir, addr string) string) string {
	t.Helper()
	path := requireTool(t, bin)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	dir := t.TempDir()
	file := filepath.Join(dir, "broker.conf")
	if err := os.WriteFile(file, []byte(conf(dir, addr)), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := hookbooktest.Command(t, path, "-c", file)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		hookbooktest.KillGroup(cmd)
		cmd.Wait()
	})
	hookbooktest.WaitFor(t, 20*time.Second, bin+" answering at "+addr, func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return addr
}

// kafkaPassword is the SASL/PLAIN password of the kfake cluster's user.
const kafkaPassword = "kafka-e2e-pw"

// advertisedListener makes kfake tell its clients to connect to addr (the
// proxy in front of it): a Kafka client connects to the brokers the
// cluster advertises, not to its seed, so a proxy only in front of the
// seed would see the first connection alone.
type advertisedListener struct {
	net.Listener
	addr net.Addr
}

func (l advertisedListener) Addr() net.Addr { return l.addr }

// kafkaStart starts a kfake cluster (franz-go's in-process Kafka, speaking
// the real protocol over TCP; no Kafka broker runs here) with SASL/PLAIN,
// behind a proxy it advertises. Its configs make a topic of their own and
// consume it with a franz-go client that dials the cluster directly (so
// the outage is hookbook's alone), record headers and value.
func kafkaStart(t testing.TB) (*brokertest.Proxy, configFunc) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	direct := ln.Addr().String()
	proxy := brokertest.NewProxy(t, direct)
	padv, err := net.ResolveTCPAddr("tcp", proxy.Addr())
	if err != nil {
		t.Fatal(err)
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(), kfake.Superuser("PLAIN", "hookbook", kafkaPassword),
		kfake.ListenFn(func(string, string) (net.Listener, error) { return advertisedListener{ln, padv}, nil }))
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	// kfake closes the connection on a wrong password, where a Kafka broker
	// answers SaslAuthenticate with SASL_AUTHENTICATION_FAILED (58): this
	// makes kfake answer as Kafka does (as internal/destination/kafka's
	// TestKafkaWrongPassword does).
	c.ControlKey(int16(kmsg.SASLAuthenticate), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		r := req.(*kmsg.SASLAuthenticateRequest)
		if parts := bytes.Split(r.SASLAuthBytes, []byte{0}); len(parts) == 3 && string(parts[2]) != kafkaPassword {
			resp := r.ResponseKind().(*kmsg.SASLAuthenticateResponse)
			resp.ErrorCode = kerr.SaslAuthenticationFailed.Code
			msg := "Authentication failed: Invalid username or password"
			resp.ErrorMessage = &msg
			return resp, nil, true
		}
		return nil, nil, false
	})
	var topics atomic.Int64
	config := func(t testing.TB, addr, password string) (map[string]any, <-chan brokerMessage) {
		topic := fmt.Sprintf("hookbook-e2e-%d", topics.Add(1))
		var d net.Dialer
		cl, err := kgo.NewClient(kgo.SeedBrokers(direct), kgo.SASL(plain.Auth{User: "hookbook", Pass: kafkaPassword}.AsMechanism()),
			kgo.Dialer(func(ctx context.Context, network, _ string) (net.Conn, error) {
				return d.DialContext(ctx, network, direct)
			}),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		req := kmsg.NewPtrCreateTopicsRequest()
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, 3, 1
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl)
		if err == nil {
			err = kerr.ErrorForCode(resp.Topics[0].ErrorCode)
		}
		if err != nil {
			cancel()
			cl.Close()
			t.Fatalf("create topic %s: %v", topic, err)
		}
		cl.AddConsumeTopics(topic)
		out := make(chan brokerMessage, 4096)
		done := make(chan struct{})
		partitionOf := map[string]int32{}
		go func() {
			defer close(done)
			for ctx.Err() == nil {
				fs := cl.PollFetches(ctx)
				fs.EachRecord(func(r *kgo.Record) {
					// One key, one partition: that is where Kafka's order holds.
					// (An event without an ordering key has no record key.)
					if p, ok := partitionOf[string(r.Key)]; ok && p != r.Partition && len(r.Key) > 0 {
						t.Errorf("key %s in partitions %d and %d", r.Key, p, r.Partition)
					}
					partitionOf[string(r.Key)] = r.Partition
					h := http.Header{}
					for _, rh := range r.Headers {
						h.Add(rh.Key, string(rh.Value))
					}
					sendOrStop(ctx, out, brokerMessage{Body: r.Value, Headers: h})
				})
			}
		}()
		t.Cleanup(func() {
			cancel()
			<-done
			cl.Close()
		})
		return map[string]any{"brokers": []string{addr}, "topic": topic,
			"sasl": map[string]any{"mechanism": "plain", "username": "hookbook", "password": password}}, out
	}
	return proxy, config
}
