package delivery_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/brokertest"
	"github.com/hookbook/hookbook/internal/delivery"
	"github.com/hookbook/hookbook/internal/destination"
	"github.com/hookbook/hookbook/internal/destination/redis"
	"github.com/hookbook/hookbook/internal/netguard"
	"github.com/hookbook/hookbook/internal/queue"
	"github.com/hookbook/hookbook/webhook"
)

func brokerEndpoint(t *testing.T, id, addr, stream string) *hookbook.Endpoint {
	t.Helper()
	cfg, err := redis.New().Validate(json.RawMessage(fmt.Sprintf(`{"url":"redis://%s/0","stream":%q}`, addr, stream)))
	if err != nil {
		t.Fatal(err)
	}
	return &hookbook.Endpoint{ID: id, Type: "redis", Config: cfg, TimeoutSeconds: 1, Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
		Scheme: hookbook.SchemeTimestamped, Headers: map[string]string{"X-Team": "bookings"}}
}

func brokerJob(ep *hookbook.Endpoint, i int) *queue.Job {
	body := fmt.Sprintf(`{"id":"evt_%d","event":"booking.created","timestamp":"2026-12-06T10:00:00Z","organization_id":"org_1","ordering_key":"bkg_1","sequence":%d,"data":{}}`, i, i)
	return &queue.Job{DeliveryID: fmt.Sprintf("dlv_%d", i), EventID: fmt.Sprintf("evt_%d", i), EventType: "booking.created",
		OrderingKey: "bkg_1", Attempt: 1, MaxAttempts: 3, Endpoint: ep, Payload: []byte(body)}
}

// TestBrokerSender: an attempt publishes the envelope with the webhook's
// signature headers and the metadata, reusing one connection per endpoint
// and config (a new config opens another); a broker that never answers
// fails its attempts as timeouts within the endpoint's timeout while
// another endpoint's attempts go on.
func TestBrokerSender(t *testing.T) {
	t.Parallel()
	brokertest.Require(t, "Redis", brokertest.Redis)
	stream := fmt.Sprintf("hookbook-sender-%d", time.Now().UnixNano())
	rdb := goredis.NewClient(&goredis.Options{Addr: brokertest.Redis})
	t.Cleanup(func() { rdb.Del(context.Background(), stream); rdb.Close() })
	guard := &netguard.Guard{}
	s := delivery.NewBrokerSender(destination.Registry{"redis": redis.New()}, guard, delivery.NewWebhookSender(guard, "X-Hookbook", 4))
	t.Cleanup(s.Close)

	ep := brokerEndpoint(t, "ep_good", brokertest.Redis, stream)
	o := s.Send(context.Background(), brokerJob(ep, 1))
	if !o.Success || !strings.HasPrefix(o.Target, "redis stream "+stream) || o.Request["Webhook-Signature"] == "" && o.Request["webhook-signature"] == "" {
		t.Fatalf("outcome %+v", o)
	}
	entries, err := rdb.XRange(context.Background(), stream, "-", "+").Result()
	if err != nil || len(entries) != 1 {
		t.Fatalf("%v %v", entries, err)
	}
	v := entries[0].Values
	h := map[string][]string{}
	for k, x := range v {
		if k != "body" {
			h[k] = []string{x.(string)}
		}
	}
	if err := webhook.Verify(ep.Secret, h, []byte(v["body"].(string))); err != nil {
		t.Fatalf("signature: %v (%v)", err, v)
	}
	for k, want := range map[string]string{"X-Hookbook-Event-Id": "evt_1", "X-Hookbook-Ordering-Key": "bkg_1", "X-Hookbook-Sequence": "1",
		"X-Hookbook-Event-Timestamp": "2026-12-06T10:00:00Z", "X-Team": "bookings", "X-Hookbook-Event": "booking.created"} {
		if v[k] != want {
			t.Errorf("%s = %v, want %s", k, v[k], want)
		}
	}
	if _, ok := v["Content-Type"]; ok {
		t.Error("HTTP's own headers travel too")
	}
	for i := 2; i <= 5; i++ {
		if o := s.Send(context.Background(), brokerJob(ep, i)); !o.Success {
			t.Fatal(o.Err)
		}
	}
	if s.Open() != 1 {
		t.Fatalf("%d publishers open", s.Open())
	}
	changed := *ep
	changed.Config = json.RawMessage(strings.Replace(string(ep.Config), `"max_len":100000`, `"max_len":5000`, 1))
	if o := s.Send(context.Background(), brokerJob(&changed, 6)); !o.Success || s.Open() != 1 {
		t.Fatalf("after a change: %+v, %d open", o, s.Open())
	}

	// A black hole: the attempts of its endpoint time out, the others' go on.
	proxy := brokertest.NewProxy(t, brokertest.Redis)
	proxy.Hold()
	dead := brokerEndpoint(t, "ep_dead", proxy.Addr(), stream)
	var wg sync.WaitGroup
	outcomes := make([]delivery.Outcome, 4)
	for i := range outcomes {
		wg.Add(1)
		go func() { defer wg.Done(); outcomes[i] = s.Send(context.Background(), brokerJob(dead, 100+i)) }()
	}
	for i := 7; i < 20; i++ {
		if o := s.Send(context.Background(), brokerJob(ep, i)); !o.Success {
			t.Fatalf("the good endpoint during the other's outage: %s", o.Err)
		}
	}
	wg.Wait()
	for _, o := range outcomes {
		if o.Success || o.ErrKind != destination.KindTimeout || o.Duration > 10*time.Second {
			t.Fatalf("black hole: %+v", o)
		}
	}
	proxy.Restore()
	if o := s.Send(context.Background(), brokerJob(dead, 200)); !o.Success {
		t.Fatalf("after the outage: %s", o.Err)
	}
	s.Forget("ep_dead")
	if s.Open() != 1 {
		t.Fatalf("%d open after Forget", s.Open())
	}
}
