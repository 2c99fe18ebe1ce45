package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	amqp "github.com/rabbitmq/amqp091-go"
	goredis "github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/brokertest"
	"github.com/hookbook/hookbook/internal/delivery"
	"github.com/hookbook/hookbook/internal/hookbooktest"
	"github.com/hookbook/hookbook/internal/netguard"
	"github.com/hookbook/hookbook/internal/queue"
	"github.com/hookbook/hookbook/internal/server"
)

// brokerHeaders are headers the size of those hookbook sends.
var brokerHeaders = map[string]string{
	"webhook-id": "evt_01JBENCH000000000000000000", "webhook-timestamp": "1764979200",
	"webhook-signature": "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=",
	"X-Hookbook-Event":  "test.broker", "X-Hookbook-Delivery-Id": "dlv_01JBENCH000000000000000000",
	"X-Hookbook-Timestamp": "1764979200", "X-Hookbook-Request-Id": "5f0c6f2e-6b1e-4d0e-9a8a-2b7c3c9e4f11",
	"X-Hookbook-Signature": "sha256=5f0c6f2e6b1e4d0e9a8a2b7c3c9e4f115f0c6f2e6b1e4d0e9a8a2b7c3c9e4f11",
	"X-Hookbook-Event-Id":  "evt_01JBENCH000000000000000000", "X-Hookbook-Event-Timestamp": "2026-12-06T10:00:00Z",
	"X-Hookbook-Ordering-Key": "key-1", "X-Hookbook-Sequence": "1",
}

// directPublish publishes n messages of body straight to the broker of bc
// with its own client, from concurrency goroutines each waiting for the
// broker's acknowledgement (as hookbook's attempts do), and returns the
// messages per second.
func directPublish(b *testing.B, bc brokerCase, cfg map[string]any, n, concurrency int, body []byte) float64 {
	var publish func(ctx context.Context) error
	var closers []func()
	switch bc.name {
	case "redis":
		rdb := goredis.NewClient(&goredis.Options{Addr: brokertest.Redis, PoolSize: concurrency})
		closers = append(closers, func() { rdb.Close() })
		values := []any{}
		for k, v := range brokerHeaders {
			values = append(values, k, v)
		}
		values = append(values, "body", body)
		stream := cfg["stream"].(string) + "-direct"
		closers = append(closers, func() { rdb.Del(context.Background(), stream) })
		publish = func(ctx context.Context) error {
			return rdb.XAdd(ctx, &goredis.XAddArgs{Stream: stream, MaxLen: 100000, Approx: true, Values: values}).Err()
		}
	case "rabbitmq":
		conn, err := amqp.Dial("amqp://guest:guest@" + brokertest.RabbitMQ + "/")
		if err != nil {
			b.Fatal(err)
		}
		closers = append(closers, func() { conn.Close() })
		ch, _ := conn.Channel()
		q, err := ch.QueueDeclare("", false, true, true, false, nil)
		if err != nil {
			b.Fatal(err)
		}
		chans := make(chan *amqp.Channel, concurrency)
		for range concurrency {
			c, _ := conn.Channel()
			c.Confirm(false)
			chans <- c
		}
		headers := amqp.Table{}
		for k, v := range brokerHeaders {
			headers[k] = v
		}
		publish = func(ctx context.Context) error {
			c := <-chans
			defer func() { chans <- c }()
			dc, err := c.PublishWithDeferredConfirmWithContext(ctx, "", q.Name, true, false, amqp.Publishing{Headers: headers,
				ContentType: "application/json", DeliveryMode: amqp.Persistent, MessageId: "evt_x", Body: body})
			if err != nil {
				return err
			}
			if ok, err := dc.WaitContext(ctx); !ok || err != nil {
				return fmt.Errorf("not confirmed: %v", err)
			}
			return nil
		}
	case "nats":
		nc, err := natsgo.Connect("nats://" + brokertest.NATS)
		if err != nil {
			b.Fatal(err)
		}
		closers = append(closers, nc.Close)
		js, err := jetstream.New(nc)
		if err != nil {
			b.Fatal(err)
		}
		subject := cfg["subject"].(string) // the endpoint's stream covers it
		var ids atomic.Int64
		publish = func(ctx context.Context) error {
			m := natsgo.NewMsg(subject)
			for k, v := range brokerHeaders {
				m.Header.Set(k, v)
			}
			m.Data = body
			// A fresh id each: the stream must not deduplicate them away.
			_, err := js.PublishMsg(ctx, m, jetstream.WithMsgID(fmt.Sprintf("direct-%d", ids.Add(1))))
			return err
		}
	case "mqtt":
		c := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + brokertest.Mosquitto).
			SetClientID(fmt.Sprintf("hookbook-direct-%d", time.Now().UnixNano())).SetCleanSession(true))
		if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			b.Fatalf("mqtt connect: %v", tok.Error())
		}
		closers = append(closers, func() { c.Disconnect(250) })
		topic := cfg["topic"].(string) // the endpoint's topic, its consumer draining it
		publish = func(ctx context.Context) error {
			tok := c.Publish(topic, 1, false, body) // MQTT 3.1.1: the body alone
			select {
			case <-tok.Done():
				return tok.Error()
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	case "kafka":
		brokers := cfg["brokers"].([]string)
		sasl := cfg["sasl"].(map[string]any)
		cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...),
			kgo.SASL(plain.Auth{User: sasl["username"].(string), Pass: sasl["password"].(string)}.AsMechanism()))
		if err != nil {
			b.Fatal(err)
		}
		closers = append(closers, cl.Close)
		var headers []kgo.RecordHeader
		for k, v := range brokerHeaders {
			headers = append(headers, kgo.RecordHeader{Key: k, Value: []byte(v)})
		}
		topic := cfg["topic"].(string)
		publish = func(ctx context.Context) error {
			return cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Key: []byte("key-1"), Value: body, Headers: headers}).FirstErr()
		}
	default:
		b.Skipf("no direct publisher for %s", bc.name)
	}
	defer func() {
		for _, c := range closers {
			c()
		}
	}()
	var next atomic.Int64
	var wg sync.WaitGroup
	t0 := time.Now()
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				if err := publish(context.Background()); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	return float64(n) / time.Since(t0).Seconds()
}

// BenchmarkBrokers measures, per broker type, the deliveries/s of N events
// published through the API (64 clients, 10 ordering keys, one unordered
// endpoint) beside the same client publishing the same body directly with
// the endpoint's concurrency (16) in the same run (before and after, their
// mean), and publish→consume p50 at 50 events/s.
// HOOKBOOK_BENCH_EVENTS (default 3000) sets N.
func BenchmarkBrokers(b *testing.B) {
	n := benchEnv("HOOKBOOK_BENCH_EVENTS", 3000)
	for _, bc := range brokerCases {
		b.Run(bc.name, func(b *testing.B) {
			addr, config := bc.addr, bc.config
			if bc.start == nil {
				brokertest.Require(b, bc.service, bc.addr)
			}
			for range b.N {
				if bc.start != nil { // a broker of its own (kafka: kfake), reached through its proxy
					proxy, cf := bc.start(b)
					addr, config = proxy.Addr(), cf
				}
				bc := bc
				bc.addr, bc.config = addr, config
				var succeeded atomic.Int64
				in := startBench(b, map[string]string{}, func(a *server.App) {
					next := a.Dispatcher.Hooks.Attempted
					a.Dispatcher.Hooks.Attempted = func(r *queue.Result) {
						if r.Success {
							succeeded.Add(1)
						}
						next(r)
					}
				})
				in.must(201, "POST", "/api/v1/event-types", map[string]any{"name": "test.broker", "description": "bench"})
				cfg, msgs := bc.config(b, bc.addr, bc.secret)
				in.must(201, "POST", "/api/v1/webhooks", map[string]any{"type": bc.name, "config": cfg, "events": []string{"test.broker"}})
				data := map[string]any{"booking_id": "bkg_01JBENCH", "customer": "Ada Lovelace", "starts_at": "2026-12-24T10:00:00Z", "notes": "window seat"}
				body, _ := json.Marshal(map[string]any{"id": "evt_01JBENCH000000000000000000", "event": "test.broker", "timestamp": "2026-12-06T10:00:00Z",
					"organization_id": "org_01JBENCH000000000000000000", "ordering_key": "key-1", "sequence": 1, "data": data})
				go func() { // drain the consumer
					for range msgs {
					}
				}()
				before := directPublish(b, bc, cfg, n, 16, body)
				var next atomic.Int64
				var wg sync.WaitGroup
				t0 := time.Now()
				for range 64 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for i := next.Add(1); i <= int64(n); i = next.Add(1) {
							in.must(202, "POST", "/api/v1/events", map[string]any{"event": "test.broker", "data": data, "ordering_key": fmt.Sprintf("key-%d", i%10)})
						}
					}()
				}
				wg.Wait()
				accepted := float64(n) / time.Since(t0).Seconds()
				hookbooktest.WaitFor(b, 5*time.Minute, "every delivery", func() bool { return succeeded.Load() >= int64(n) })
				rate := float64(n) / time.Since(t0).Seconds()
				after := directPublish(b, bc, cfg, n, 16, body)
				direct := (before + after) / 2
				sender := senderRate(b, in, bc, cfg, n, 16, body)
				drain := brokerDrain(b, in, bc, n, data, &succeeded)
				direct2 := directPublish(b, bc, cfg, n, 16, body)
				p50 := brokerLatency(b, in, bc)
				b.ReportMetric(direct, "direct_msg/s")
				b.ReportMetric(rate, "deliveries/s")
				b.ReportMetric(rate/direct*100, "%_of_direct")
				b.ReportMetric(drain, "backlog_dlv/s")
				b.ReportMetric(drain/((after+direct2)/2)*100, "%_backlog_of_direct")
				b.ReportMetric(float64(p50.Microseconds())/1000, "p50_ms@50/s")
				b.ReportMetric(sender/((before+after)/2)*100, "%_sender_of_direct")
				b.Logf("%s: BrokerSender alone %.0f sends/s (%.0f %% of direct)", bc.name, sender, sender/((before+after)/2)*100)
				b.Logf("%s: %d events; direct %.0f, %.0f, %.0f msg/s; through the API hookbook accepted %.0f events/s and delivered %.0f/s (%.0f %% of direct); a backlog drained at %.0f deliveries/s (%.0f %% of direct); publish→consume p50 at 50 events/s %s",
					bc.name, n, before, after, direct2, accepted, rate, rate/direct*100, drain, drain/((after+direct2)/2)*100, p50)
			}
		})
	}
}

// senderRate measures hookbook's BrokerSender alone (headers, signatures,
// the connection pool, the type's Publisher), with no database: n sends of
// body from concurrency goroutines.
func senderRate(b *testing.B, in *instance, bc brokerCase, cfg map[string]any, n, concurrency int, body []byte) float64 {
	raw, _ := json.Marshal(cfg)
	typ := in.app.Outbound.Destinations[bc.name]
	norm, err := typ.Validate(raw)
	if err != nil {
		b.Fatal(err)
	}
	s := delivery.NewBrokerSender(in.app.Outbound.Destinations, &netguard.Guard{}, delivery.NewWebhookSender(&netguard.Guard{}, "X-Hookbook", 16))
	defer s.Close()
	ep := &hookbook.Endpoint{ID: "ep_bench", Type: bc.name, Config: norm, TimeoutSeconds: 10, Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", Scheme: hookbook.SchemeTimestamped}
	var next atomic.Int64
	var wg sync.WaitGroup
	t0 := time.Now()
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1); i <= int64(n); i = next.Add(1) {
				o := s.Send(context.Background(), &queue.Job{DeliveryID: "dlv_bench", EventID: fmt.Sprintf("evt_%d", i), EventType: "test.broker",
					OrderingKey: "key-1", Attempt: 1, MaxAttempts: 1, Endpoint: ep, Payload: body})
				if !o.Success {
					b.Error(o.Err)
					return
				}
			}
		}()
	}
	wg.Wait()
	return float64(n) / time.Since(t0).Seconds()
}

// brokerDrain measures the delivery path alone: n events wait for a new
// endpoint of bc behind a rate limit of 1/h, which is then lifted; it
// returns the deliveries/s from the lift until the last one succeeded.
func brokerDrain(b *testing.B, in *instance, bc brokerCase, n int, data map[string]any, succeeded *atomic.Int64) float64 {
	cfg, msgs := bc.config(b, bc.addr, bc.secret)
	go func() {
		for range msgs {
		}
	}()
	if r := in.do("POST", "/api/v1/event-types", map[string]any{"name": "test.drain", "description": "drain"}); r.Status != 201 && r.Status != 409 {
		b.Fatalf("event type: %d", r.Status)
	}
	id := in.must(201, "POST", "/api/v1/webhooks", map[string]any{"type": bc.name, "config": cfg, "events": []string{"test.drain"},
		"rate_limit": "1/h"})["id"].(string)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1); i <= int64(n); i = next.Add(1) {
				in.must(202, "POST", "/api/v1/events", map[string]any{"event": "test.drain", "data": data})
			}
		}()
	}
	wg.Wait()
	hookbooktest.WaitFor(b, time.Minute, "the first delivery", func() bool { return succeeded.Load() >= 1 })
	base := succeeded.Load()
	t0 := time.Now()
	in.must(200, "PATCH", "/api/v1/webhooks/"+id, map[string]any{"rate_limit": nil})
	hookbooktest.WaitFor(b, 5*time.Minute, "the backlog", func() bool { return succeeded.Load() >= base+int64(n)-1 })
	return float64(n-1) / time.Since(t0).Seconds()
}

// brokerLatency publishes 250 events at 50/s to a fresh endpoint of bc and
// returns the median time from the publish request to the consumer.
func brokerLatency(b *testing.B, in *instance, bc brokerCase) time.Duration {
	cfg, msgs := bc.config(b, bc.addr, bc.secret)
	if r := in.do("POST", "/api/v1/event-types", map[string]any{"name": "test.lat", "description": "latency"}); r.Status != 201 && r.Status != 409 {
		b.Fatalf("event type: %d", r.Status)
	}
	in.must(201, "POST", "/api/v1/webhooks", map[string]any{"type": bc.name, "config": cfg, "events": []string{"test.lat"}})
	const count = 250
	var mu sync.Mutex
	sent, got := map[string]time.Time{}, map[string]time.Time{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m := range msgs {
			now := time.Now()
			var e struct {
				ID string `json:"id"`
			}
			json.Unmarshal(m.Body, &e)
			mu.Lock()
			if _, ok := got[e.ID]; !ok {
				got[e.ID] = now
			}
			n := len(got)
			mu.Unlock()
			if n == count {
				return
			}
		}
	}()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var wg sync.WaitGroup
	for range count {
		<-tick.C
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.Now()
			id := in.must(202, "POST", "/api/v1/events", map[string]any{"event": "test.lat", "data": map[string]any{"n": 1}})["id"].(string)
			mu.Lock()
			sent[id] = t
			mu.Unlock()
		}()
	}
	wg.Wait()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		b.Fatal("not every latency event was consumed")
	}
	var lat []time.Duration
	for id, t := range sent {
		lat = append(lat, got[id].Sub(t))
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return lat[len(lat)/2]
}
