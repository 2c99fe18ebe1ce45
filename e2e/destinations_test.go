package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	goredis "github.com/redis/go-redis/v9"

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
	config func(t testing.TB, addr, password string) (map[string]any, <-chan brokerMessage)
	// secret is the password of the broker's test account.
	secret string
}

var brokerCases = []brokerCase{
	{name: "rabbitmq", service: "RabbitMQ", addr: brokertest.RabbitMQ, secret: "guest", config: rabbitmqCase},
	{name: "redis", service: "Redis", addr: brokertest.Redis, secret: "", config: redisCase},
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
			brokertest.Require(t, bc.service, bc.addr)
			n := 1000
			if hookbooktest.Backend() == "postgres" {
				n = 200
			}
			runBrokerCase(t, bc, n)
		})
	}
}

func runBrokerCase(t *testing.T, bc brokerCase, n int) {
	proxy := brokertest.NewProxy(t, bc.addr)
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
	cfg, msgs := bc.config(t, proxy.Addr(), bc.secret)
	ep := in.must(201, "POST", "/api/v1/webhooks", map[string]any{"type": bc.name, "config": cfg, "events": []string{"test.broker"},
		"ordered": true, "max_attempts": 20, "timeout_seconds": 2})
	secret := ep["secret"].(string)
	shown, _ := json.Marshal(ep["config"])
	if bc.secret != "" && strings.Contains(string(shown), ":"+bc.secret+"@") {
		t.Fatalf("the answer shows the password: %s", shown)
	}
	if ep["type"] != bc.name {
		t.Fatalf("type %v", ep["type"])
	}

	const keys = 10
	var published atomic.Int64
	var wg sync.WaitGroup
	for k := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := k; i < n; i += keys {
				in.must(202, "POST", "/api/v1/events", map[string]any{"event": "test.broker", "data": map[string]any{"i": i},
					"ordering_key": fmt.Sprintf("key-%d", k)})
				published.Add(1)
			}
		}()
	}
	hookbooktest.WaitFor(t, time.Minute, "a third published", func() bool { return published.Load() >= int64(n/3) })
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
	hookbooktest.WaitFor(t, 3*time.Minute, fmt.Sprintf("%d events consumed", n), func() bool {
		for {
			select {
			case m := <-msgs:
				received++
				var e env
				if err := json.Unmarshal(m.Body, &e); err != nil {
					t.Fatalf("body %q: %v", m.Body, err)
				}
				if err := webhook.Verify(secret, m.Headers, m.Body); err != nil {
					t.Fatalf("signature of %s: %v (headers %v)", e.ID, err, m.Headers)
				}
				if m.Headers.Get("X-Hookbook-Event-Id") != e.ID || m.Headers.Get("X-Hookbook-Ordering-Key") != e.OrderingKey ||
					m.Headers.Get("X-Hookbook-Sequence") != fmt.Sprint(e.Sequence) {
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
	bad, _ := bc.config(t, bc.addr, "wrong-password")
	ep2 := in.must(201, "POST", "/api/v1/webhooks", map[string]any{"type": bc.name, "config": bad, "events": []string{"test.broker"}})
	dlv := in.must(202, "POST", "/api/v1/webhooks/"+ep2["id"].(string)+"/test", nil)["delivery_id"].(string)
	hookbooktest.WaitFor(t, time.Minute, "an auth failure in the delivery log", func() bool {
		d := in.must(200, "GET", "/api/v1/deliveries/"+dlv, nil)
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
