package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookbook/hookbook/internal/delivery"
	server "github.com/hookbook/hookbook/internal/server"
	"github.com/hookbook/hookbook/webhook"
)

func TestAutoDisableAfterFailingTooLong(t *testing.T) {
	t.Parallel()
	in := start(t, map[string]string{"HOOKBOOK_DISABLE_AFTER": "2s", "HOOKBOOK_RETRY_SCHEDULE": "100ms"})
	dead := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) { w.WriteHeader(500) })
	watcher := newReceiver(t, nil)
	deadID := in.createEndpoint(dead.URL, []string{"booking.*"}, map[string]any{"max_attempts": 20})["id"].(string)
	in.createEndpoint(watcher.URL, []string{"endpoint.disabled"}, nil)
	// No failure can come before the first publication.
	start := time.Now()
	for i := 0; i < 3; i++ {
		in.publish("booking.created", map[string]any{"n": i})
	}
	var ep map[string]any
	waitFor(t, 10*time.Second, "auto-disable", func() bool {
		ep = in.must(200, "GET", "/api/v1/webhooks/"+deadID, nil)
		return ep["enabled"] == false
	})
	if took := time.Since(start); took < 2*time.Second {
		t.Fatalf("disabled after %s, before HOOKBOOK_DISABLE_AFTER=2s", took)
	}
	if reason, _ := ep["disabled_reason"].(string); !strings.Contains(reason, "2s") {
		t.Errorf("disabled_reason = %v", ep["disabled_reason"])
	}
	// Its pending deliveries failed.
	waitFor(t, 2*time.Second, "no pending deliveries", func() bool {
		return len(in.must(200, "GET", "/api/v1/webhooks/"+deadID+"/deliveries?status=pending", nil)["data"].([]any)) == 0
	})
	if n := len(in.must(200, "GET", "/api/v1/webhooks/"+deadID+"/deliveries?status=failed", nil)["data"].([]any)); n != 3 {
		t.Errorf("%d failed deliveries, want 3", n)
	}
	// The other subscribed endpoint was told.
	waitFor(t, 5*time.Second, "endpoint.disabled event", func() bool { return watcher.Count() == 1 })
	var env struct {
		Event string
		Data  map[string]any
	}
	json.Unmarshal(watcher.All()[0].Body, &env)
	if env.Event != "endpoint.disabled" || env.Data["endpoint_id"] != deadID || env.Data["reason"] == "" {
		t.Errorf("endpoint.disabled envelope = %s", watcher.All()[0].Body)
	}
	// New events are no longer attempted: they are kept skipped.
	after := in.publish("booking.created", map[string]any{"n": "after"})
	for _, d := range in.must(200, "GET", "/api/v1/events/"+after, nil)["deliveries"].([]any) {
		if d := d.(map[string]any); d["endpoint_id"] == deadID && (d["status"] != "skipped" || d["attempts"] != 0.0) {
			t.Errorf("a disabled endpoint's delivery = %v, want skipped, never attempted", d)
		}
	}
	// Re-enabling resets its health.
	ep = in.must(200, "PATCH", "/api/v1/webhooks/"+deadID, map[string]any{"enabled": true})
	if ep["enabled"] != true || ep["disabled_reason"] != nil || ep["consecutive_failures"].(float64) != 0 {
		t.Errorf("re-enabled endpoint = %v", ep)
	}
}

func TestGoneDisablesAtOnce(t *testing.T) {
	t.Parallel()
	in := start(t, nil)
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) { w.WriteHeader(http.StatusGone) })
	watcher := newReceiver(t, nil)
	id := in.createEndpoint(rc.URL, []string{"payment.*"}, nil)["id"].(string)
	in.createEndpoint(watcher.URL, []string{"*"}, nil)
	in.publish("payment.succeeded", map[string]any{"id": "pay_1"})
	waitFor(t, 5*time.Second, "disable on 410", func() bool {
		return in.must(200, "GET", "/api/v1/webhooks/"+id, nil)["enabled"] == false
	})
	ep := in.must(200, "GET", "/api/v1/webhooks/"+id, nil)
	if !strings.Contains(ep["disabled_reason"].(string), "410") {
		t.Errorf("reason = %v", ep["disabled_reason"])
	}
	if rc.Count() != 1 {
		t.Errorf("a 410 endpoint was retried: %d requests", rc.Count())
	}
	waitFor(t, 5*time.Second, "endpoint.disabled to the other endpoint", func() bool {
		for _, r := range watcher.All() {
			if r.Header.Get("X-Hookbook-Event") == "endpoint.disabled" {
				return true
			}
		}
		return false
	})
}

// fakeDNS answers names from a table that a test may change.
type fakeDNS struct {
	mu    sync.Mutex
	names map[string]string
}

func (f *fakeDNS) set(name, addr string) {
	f.mu.Lock()
	f.names[name] = addr
	f.mu.Unlock()
}

func (f *fakeDNS) lookup(ctx context.Context, host string) ([]netip.Addr, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, ok := f.names[host]
	if !ok {
		return nil, fmt.Errorf("no such host %s", host)
	}
	return []netip.Addr{netip.MustParseAddr(a)}, nil
}

func withDNS(dns *fakeDNS) func(*server.App) {
	return func(a *server.App) { a.Guard.LookupIP = dns.lookup }
}

func TestNetworkGuardAtCreate(t *testing.T) {
	t.Parallel()
	dns := &fakeDNS{names: map[string]string{"private.example": "10.1.2.3", "public.example": "93.184.216.34", "meta.example": "169.254.169.254"}}
	in := start(t, map[string]string{"HOOKBOOK_ENV": "production"}, withDNS(dns))
	refused := []string{
		"https://127.0.0.1/", "https://localhost/", "https://10.0.0.1/", "https://172.16.0.1/", "https://192.168.1.1/",
		"https://169.254.169.254/latest/meta-data", "https://[::1]/", "https://[fc00::1]/", "https://[fe80::1]/",
		"https://100.64.0.1/", "https://0.0.0.0/", "https://[::ffff:127.0.0.1]/", "https://2130706433/",
		"https://0x7f000001/", "https://0177.0.0.1/", "https://127.1/", "https://private.example/hook",
		"https://meta.example/", "https://[ff02::1]/", "https://224.0.0.1/", "https://nowhere.example/",
		"http://public.example/hook", // https only in production
	}
	for _, u := range refused {
		r := in.do("POST", "/api/v1/webhooks", map[string]any{"url": u, "events": []string{"*"}})
		if r.Status != 422 || r.ErrorCode(t) != "validation_failed" {
			t.Errorf("%s: %d %s, want 422", u, r.Status, r.Body)
		}
	}
	// Broker addresses too; the answer names the field that holds them.
	for _, c := range []struct {
		typ    string
		config map[string]any
		field  string
	}{
		{"redis", map[string]any{"url": "redis://meta.example:6379", "stream": "s"}, "config.url"},
		{"redis", map[string]any{"url": "redis://10.0.0.1:6379", "stream": "s"}, "config.url"},
		{"kafka", map[string]any{"brokers": []string{"public.example:9092", "10.0.0.1:9092"}, "topic": "t"}, "config.brokers"},
	} {
		r := in.do("POST", "/api/v1/webhooks", map[string]any{"type": c.typ, "config": c.config, "events": []string{"*"}})
		var e struct {
			Error struct{ Details map[string]string } `json:"error"`
		}
		json.Unmarshal(r.Body, &e)
		if msg, ok := e.Error.Details[c.field]; r.Status != 422 || !ok || !strings.Contains(msg, "address") {
			t.Errorf("%v: %d %s, want 422 naming %s", c.config, r.Status, r.Body, c.field)
		}
	}
	ep := in.createEndpoint("https://public.example/hook", []string{"*"}, nil)["id"].(string)
	// Update is checked too.
	if r := in.do("PATCH", "/api/v1/webhooks/"+ep, map[string]any{"url": "https://10.0.0.1/"}); r.Status != 422 {
		t.Errorf("update to a private address = %d", r.Status)
	}
}

func TestNetworkGuardAtConnect(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, nil)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(rc.URL, "http://"))
	dns := &fakeDNS{names: map[string]string{"rebind.example": "93.184.216.34"}}
	in := start(t, map[string]string{"HOOKBOOK_ENV": "production", "HOOKBOOK_RETRY_SCHEDULE": "50ms"}, withDNS(dns))
	ep := in.createEndpoint("https://rebind.example:"+port+"/", []string{"*"}, map[string]any{"max_attempts": 1})["id"].(string)
	dns.set("rebind.example", "127.0.0.1") // DNS rebinding after the check
	in.publish("customer.created", map[string]any{"id": "cus_1"})
	var d map[string]any
	waitFor(t, 5*time.Second, "refused attempt", func() bool {
		l := in.must(200, "GET", "/api/v1/webhooks/"+ep+"/deliveries", nil)["data"].([]any)
		if len(l) == 1 {
			d = l[0].(map[string]any)
		}
		return d != nil && d["status"] == "failed"
	})
	if msg, _ := d["last_error"].(string); !strings.Contains(msg, "network guard") {
		t.Errorf("last_error = %v, want the network guard's refusal", d["last_error"])
	}
	if rc.Count() != 0 {
		t.Errorf("the loopback receiver was reached")
	}
}

func TestAllowedNetworks(t *testing.T) {
	t.Parallel()
	in := start(t, map[string]string{"HOOKBOOK_ENV": "production", "HOOKBOOK_ALLOWED_NETWORKS": "127.0.0.0/8, 10.9.0.0/16"})
	in.createEndpoint("https://127.0.0.1:8443/", []string{"*"}, nil)
	in.createEndpoint("https://10.9.1.1/", []string{"*"}, nil)
	if r := in.do("POST", "/api/v1/webhooks", map[string]any{"url": "https://10.8.1.1/", "events": []string{"*"}}); r.Status != 422 {
		t.Errorf("outside the allowed ranges = %d", r.Status)
	}
}

// TestSecretRotationOverlap: a rotated-out secret signs beside the new one
// while its overlap lasts, and no longer once it ended. The overlap's end
// comes by the sender's clock (the time a message is signed), moved past
// it rather than waited for.
func TestSecretRotationOverlap(t *testing.T) {
	t.Parallel()
	var skew atomic.Int64
	in := start(t, map[string]string{"HOOKBOOK_SECRET_OVERLAP": "1m"}, func(a *server.App) {
		sender := a.Dispatcher.Senders[delivery.KindWebhook].(*delivery.WebhookSender)
		sender.Now = func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	})
	rc := newReceiver(t, nil)
	e := in.createEndpoint(rc.URL, []string{"*"}, nil)
	id, oldSecret := e["id"].(string), e["secret"].(string)
	newSecret := in.must(200, "POST", "/api/v1/webhooks/"+id+"/rotate-secret", nil)["secret"].(string)
	in.publish("slot.created", map[string]any{"id": "slot_1"})
	waitFor(t, 5*time.Second, "delivery during the overlap", func() bool { return rc.Count() == 1 })
	got := rc.All()[0]
	if n := len(strings.Fields(got.Header.Get("Webhook-Signature"))); n != 2 {
		t.Fatalf("during the overlap webhook-signature has %d signatures, want 2", n)
	}
	for _, s := range []string{oldSecret, newSecret} {
		if err := webhook.Verify(s, got.Header, got.Body); err != nil {
			t.Errorf("during the overlap a secret does not verify: %v", err)
		}
	}
	ts := got.Header.Get("X-Hookbook-Timestamp")
	if err := webhook.VerifyHMAC(newSecret, got.Header.Get("X-Hookbook-Signature"), ts, got.Body, 0, time.Now()); err != nil {
		t.Errorf("brand signature is not the newest secret's: %v", err)
	}
	// A minute and a second later by the sender's clock; within the
	// receivers' tolerance of 5 minutes.
	skew.Store(int64(time.Minute + time.Second))
	in.publish("slot.created", map[string]any{"id": "slot_2"})
	waitFor(t, 5*time.Second, "delivery after the overlap", func() bool { return rc.Count() == 2 })
	got = rc.All()[1]
	if n := len(strings.Fields(got.Header.Get("Webhook-Signature"))); n != 1 {
		t.Fatalf("after the overlap webhook-signature has %d signatures, want 1", n)
	}
	if err := webhook.Verify(newSecret, got.Header, got.Body); err != nil {
		t.Errorf("new secret: %v", err)
	}
	if err := webhook.Verify(oldSecret, got.Header, got.Body); err == nil {
		t.Errorf("the old secret still verifies after the overlap")
	}
}

// TestChaos: a receiver that answers 500 to 30 % of requests, hangs past the
// timeout on 10 % and resets 5 %; with a fast schedule every delivery ends
// succeeded and none stays pending.
func TestChaos(t *testing.T) {
	t.Parallel()
	// A short breaker pause: on a loaded machine hangs may come ten in a row.
	in := start(t, map[string]string{"HOOKBOOK_RETRY_SCHEDULE": "20ms,50ms,100ms", "HOOKBOOK_BREAKER_COOLDOWN": "200ms"})
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(1, 2))
	stop := make(chan struct{})
	defer close(stop)
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		mu.Lock()
		x := rng.Float64()
		mu.Unlock()
		switch {
		case x < 0.30:
			w.WriteHeader(500)
		case x < 0.40:
			select {
			case <-r.Context().Done():
			case <-stop:
			}
		case x < 0.45:
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.(*net.TCPConn).SetLinger(0)
				conn.Close()
			}
		default:
			w.WriteHeader(200)
		}
	})
	ep := in.createEndpoint(rc.URL, []string{"*"}, map[string]any{"max_attempts": 20, "timeout_seconds": 1})["id"].(string)
	const n = 150
	for i := 0; i < n; i++ {
		in.publish("booking.created", map[string]any{"n": i})
	}
	waitFor(t, 120*time.Second, "every delivery to succeed", func() bool {
		l := in.must(200, "GET", "/api/v1/webhooks/"+ep+"/deliveries?status=succeeded&limit=500", nil)["data"].([]any)
		return len(l) == n
	})
	for _, s := range []string{"pending", "failed"} {
		if l := in.must(200, "GET", "/api/v1/webhooks/"+ep+"/deliveries?status="+s, nil)["data"].([]any); len(l) != 0 {
			t.Errorf("%d deliveries %s", len(l), s)
		}
	}
	t.Logf("%d deliveries took %d requests", n, rc.Count())
}

func TestRetentionPurge(t *testing.T) {
	t.Parallel()
	in := start(t, map[string]string{"HOOKBOOK_RETENTION": "1s", "HOOKBOOK_RETRY_SCHEDULE": "1h"})
	ok := newReceiver(t, nil)
	down := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) { w.WriteHeader(500) })
	in.createEndpoint(ok.URL, []string{"booking.created"}, nil)
	in.createEndpoint(down.URL, []string{"booking.cancelled"}, nil)
	done := in.publish("booking.created", map[string]any{"n": 1})
	waiting := in.publish("booking.cancelled", map[string]any{"n": 2})
	waitFor(t, 5*time.Second, "deliveries", func() bool { return ok.Count() == 1 && down.Count() == 1 })
	dlv := ok.All()[0].Header.Get("X-Hookbook-Delivery-Id")
	waitFor(t, 5*time.Second, "the purge", func() bool {
		return in.do("GET", "/api/v1/events/"+done, nil).Status == 404
	})
	if r := in.do("GET", "/api/v1/deliveries/"+dlv, nil); r.Status != 404 {
		t.Errorf("purged delivery = %d", r.Status)
	}
	// A delivery still pending is kept, and so is its event.
	if r := in.do("GET", "/api/v1/events/"+waiting, nil); r.Status != 200 {
		t.Errorf("event with a pending delivery was purged: %d", r.Status)
	}
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	in := start(t, nil)
	rc := newReceiver(t, nil)
	in.createEndpoint(rc.URL, []string{"*"}, nil)
	in.publish("booking.created", map[string]any{})
	waitFor(t, 5*time.Second, "delivery", func() bool { return rc.Count() == 1 })
	wants := []string{
		`hookbook_delivery_attempts_total{outcome="succeeded"} 1`,
		`hookbook_events_published_total{type="booking.created"} 1`,
		`hookbook_attempt_duration_seconds_count 1`,
		`hookbook_queue_pending 0`, `hookbook_queue_due 0`, `hookbook_queue_oldest_due_age_seconds 0`,
		`hookbook_endpoints_circuit_open 0`,
	}
	var body string
	waitFor(t, 5*time.Second, "the outcome in the metrics", func() bool {
		body = string(in.doKey("", "GET", "/metrics", nil).Body)
		return strings.Contains(body, wants[0]) && strings.Contains(body, "hookbook_queue_pending 0")
	})
	for _, want := range wants {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// TestBadReceiversNeverHoldWorkers: one organization's receiver hanging
// on real HTTP connections, with enough attempts to take every worker of
// the instance, must not delay another organization's prompt receiver:
// attempts still running after a moment move to the slow budget. The
// budgets' rules (several hanging endpoints beyond the workers, each within
// its own slots) are internal/delivery's tests.
func TestBadReceiversNeverHoldWorkers(t *testing.T) {
	t.Parallel()
	in := start(t, map[string]string{"HOOKBOOK_WORKERS": "2", "HOOKBOOK_ENDPOINT_CONCURRENCY": "2"})
	release := make(chan struct{})
	var inFlight atomic.Int64
	bad := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		inFlight.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	t.Cleanup(func() { close(release) }) // before the receiver closes
	key := "hb_hanging_org_" + testKey
	if _, err := in.app.Orgs.CreateOrganization(t.Context(), "hanging", key); err != nil {
		t.Fatal(err)
	}
	body := map[string]any{"url": bad.URL, "events": []string{"*"}, "timeout_seconds": 30}
	if r := in.doKey(key, "POST", "/api/v1/webhooks", body); r.Status != 201 {
		t.Fatalf("create endpoint = %d: %s", r.Status, r.Body)
	}
	for i := 0; i < 4; i++ {
		if r := in.doKey(key, "POST", "/api/v1/events", map[string]any{"event": "booking.created", "data": bookingData(map[string]any{"i": i})}); r.Status != 202 {
			t.Fatalf("publish = %d: %s", r.Status, r.Body)
		}
	}
	// Its two slots hang: as many attempts as the instance has workers.
	waitFor(t, 10*time.Second, "2 hanging attempts", func() bool { return inFlight.Load() >= 2 })

	good := newReceiver(t, nil)
	in.createEndpoint(good.URL, []string{"*"}, nil)
	published := time.Now()
	for i := 0; i < 5; i++ {
		in.publish("booking.created", map[string]any{"i": i})
	}
	// The hanging attempts end only after 30 s: the prompt receiver must
	// get its 5 events long before.
	waitFor(t, 10*time.Second, "5 deliveries to the prompt receiver", func() bool { return good.Count() >= 5 })
	t.Logf("5 deliveries in %s beside %d hanging attempts", time.Since(published).Round(time.Millisecond), inFlight.Load())
	if n := bad.Count(); n > 2 {
		t.Errorf("the hanging endpoint got %d attempts at once, more than its concurrency (2)", n)
	}
}

// TestRotationKeepsEveryLiveSecret: each secret rotated out keeps signing
// in webhook-signature while its overlap lasts, not only the last one; at
// most 10 of them.
func TestRotationKeepsEveryLiveSecret(t *testing.T) {
	t.Parallel()
	in := start(t, map[string]string{"HOOKBOOK_SECRET_OVERLAP": "1h"})
	rc := newReceiver(t, nil)
	e := in.createEndpoint(rc.URL, []string{"*"}, nil)
	id := e["id"].(string)
	secrets := []string{e["secret"].(string)}
	for i := 0; i < 3; i++ {
		secrets = append(secrets, in.must(200, "POST", "/api/v1/webhooks/"+id+"/rotate-secret", nil)["secret"].(string))
	}
	in.publish("slot.created", map[string]any{"id": "slot_1"})
	waitFor(t, 5*time.Second, "a delivery", func() bool { return rc.Count() == 1 })
	got := rc.All()[0]
	if n := len(strings.Fields(got.Header.Get("Webhook-Signature"))); n != 4 {
		t.Errorf("after 3 rotations webhook-signature has %d signatures, want 4", n)
	}
	for i, s := range secrets {
		if err := webhook.Verify(s, got.Header, got.Body); err != nil {
			t.Errorf("secret %d does not verify: %v", i, err)
		}
	}
	for i := 0; i < 12; i++ {
		secrets = append(secrets, in.must(200, "POST", "/api/v1/webhooks/"+id+"/rotate-secret", nil)["secret"].(string))
	}
	in.publish("slot.created", map[string]any{"id": "slot_2"})
	waitFor(t, 5*time.Second, "a second delivery", func() bool { return rc.Count() == 2 })
	got = rc.All()[1]
	if n := len(strings.Fields(got.Header.Get("Webhook-Signature"))); n != 11 {
		t.Errorf("after 15 rotations webhook-signature has %d signatures, want 11 (the newest and 10 previous)", n)
	}
	if err := webhook.Verify(secrets[len(secrets)-11], got.Header, got.Body); err != nil {
		t.Errorf("the tenth previous secret does not verify: %v", err)
	}
	if err := webhook.Verify(secrets[len(secrets)-12], got.Header, got.Body); err == nil {
		t.Error("an eleventh previous secret still signs")
	}
}
