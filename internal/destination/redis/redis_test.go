package redis_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/hookbook/hookbook/internal/brokertest"
	"github.com/hookbook/hookbook/internal/destination"
	"github.com/hookbook/hookbook/internal/destination/redis"
)

func config(url, stream string) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"url":%q,"stream":%q,"max_len":1000}`, url, stream))
}

func TestRedisValidate(t *testing.T) {
	t.Parallel()
	typ := redis.New()
	got, err := typ.Validate(json.RawMessage(`{"url":"redis://u:pw@example.com/2","stream":"s"}`))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != `{"url":"redis://u:pw@example.com/2","stream":"s","max_len":100000}` {
		t.Fatalf("normal form: %s", got)
	}
	if r := typ.Redact(got); strings.Contains(string(r), "pw") || !strings.Contains(string(r), "redis://u:***@example.com/2") {
		t.Fatalf("redacted: %s", r)
	}
	if a, _ := typ.Addresses(got); len(a) != 1 || a[0] != "example.com:6379" {
		t.Fatalf("addresses: %v", a)
	}
	for _, c := range []struct{ config, field string }{
		{`{"url":"http://x","stream":"s"}`, "url"},
		{`{"url":"redis://x","stream":""}`, "stream"},
		{`{"url":"redis://x","stream":"s","max_len":-1}`, "max_len"},
		{`{"url":"redis://x","stream":"s","max_len":0}`, "max_len"},
		{`{"url":"redis://x","stream":"s","max_len":"7"}`, "max_len"},
		{`{"url":"redis://x","stream":"s","extra":1}`, "extra"},
		{`{"url":"redis://x:99999","stream":"s"}`, "url"},
	} {
		_, err := typ.Validate(json.RawMessage(c.config))
		var fe *destination.FieldError
		if !errors.As(err, &fe) || fe.Field != c.field {
			t.Errorf("%s: got %v, want a field error on %s", c.config, err, c.field)
		}
	}
}

func TestRedisPublish(t *testing.T) {
	t.Parallel()
	brokertest.Require(t, "Redis", brokertest.Redis)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	stream := fmt.Sprintf("hookbook-test-%d", time.Now().UnixNano())
	rdb := goredis.NewClient(&goredis.Options{Addr: brokertest.Redis})
	t.Cleanup(func() { rdb.Del(context.Background(), stream); rdb.Close() })

	pub, err := redis.New().Open(ctx, config("redis://"+brokertest.Redis+"/0", stream), brokertest.Dial)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	m := &destination.Message{EventID: "evt_1", EventType: "booking.created", Body: []byte(`{"id":"evt_1"}`),
		Headers: []destination.Header{{Name: "webhook-id", Value: "evt_1"}, {Name: "X-Hookbook-Event", Value: "booking.created"}}}
	if err := pub.Publish(ctx, m); err != nil {
		t.Fatal(err)
	}
	entries, err := rdb.XRange(ctx, stream, "-", "+").Result()
	if err != nil || len(entries) != 1 {
		t.Fatalf("entries %v, %v", entries, err)
	}
	v := entries[0].Values
	if v["body"] != `{"id":"evt_1"}` || v["webhook-id"] != "evt_1" || v["X-Hookbook-Event"] != "booking.created" {
		t.Fatalf("entry: %v", v)
	}
}

func TestRedisWrongPassword(t *testing.T) {
	t.Parallel()
	brokertest.Require(t, "Redis", brokertest.Redis)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := redis.New().Open(ctx, config("redis://nobody:wrong@"+brokertest.Redis+"/0", "s"), brokertest.Dial)
	if kind := destination.KindOf(err); err == nil || kind != destination.KindAuth {
		t.Fatalf("got %v (kind %s), want auth", err, kind)
	}
}

func TestRedisOutage(t *testing.T) {
	t.Parallel()
	brokertest.Require(t, "Redis", brokertest.Redis)
	proxy := brokertest.NewProxy(t, brokertest.Redis)
	stream := fmt.Sprintf("hookbook-test-%d", time.Now().UnixNano())
	rdb := goredis.NewClient(&goredis.Options{Addr: brokertest.Redis})
	t.Cleanup(func() { rdb.Del(context.Background(), stream); rdb.Close() })
	cfg := config("redis://"+proxy.Addr()+"/0", stream)
	m := &destination.Message{EventID: "evt_1", EventType: "t", Body: []byte(`{}`)}
	attempt := func(pub destination.Publisher) error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		return pub.Publish(ctx, m)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	pub, err := redis.New().Open(ctx, cfg, brokertest.Dial)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	if err := attempt(pub); err != nil {
		t.Fatal(err)
	}
	proxy.Cut()
	err = attempt(pub)
	if kind := destination.KindOf(err); err == nil || (kind != destination.KindConnect && kind != destination.KindTimeout) {
		t.Fatalf("during the outage: %v (kind %s), want connect or timeout", err, kind)
	}
	if _, err := redis.New().Open(ctx, cfg, brokertest.Dial); err == nil || (destination.KindOf(err) != destination.KindConnect && destination.KindOf(err) != destination.KindTimeout) {
		t.Fatalf("open during the outage: %v", err)
	}
	proxy.Restore()
	// The client's pool reconnects by itself.
	if err := attempt(pub); err != nil {
		t.Fatalf("after the outage: %v", err)
	}
	if n, _ := rdb.XLen(context.Background(), stream).Result(); n != 2 {
		t.Fatalf("%d entries, want 2", n)
	}
}
