package e2e

import (
	"net/http"
	"strings"
	"testing"
)

// TestIdempotencyKeysOnEveryCreate: a POST repeated with its
// Idempotency-Key gets the first answer and makes nothing twice; the same
// key with another request answers 409; a 201 names its resource in
// Location, which answers GET.
func TestIdempotencyKeysOnEveryCreate(t *testing.T) {
	t.Parallel()
	in := start(t, nil)
	rc := newReceiver(t, nil)
	post := func(path, key string, body any) response {
		h := http.Header{}
		if key != "" {
			h.Set("Idempotency-Key", key)
		}
		return in.DoHeader(in.key, "POST", path, body, h)
	}
	ep := map[string]any{"url": rc.URL, "events": []string{"*"}}
	first := post("/api/v1/webhooks", "ep-1", ep)
	again := post("/api/v1/webhooks", "ep-1", ep)
	if first.Status != 201 || again.Status != 201 || string(again.Body) != string(first.Body) || again.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("repeat = %d %s (replayed %q), first %d %s", again.Status, again.Body, again.Header.Get("Idempotent-Replayed"), first.Status, first.Body)
	}
	loc := first.Header.Get("Location")
	if loc == "" || again.Header.Get("Location") != loc {
		t.Errorf("Location = %q, on the repeat %q", loc, again.Header.Get("Location"))
	}
	if got := in.must(200, "GET", loc, nil)["id"]; got != first.JSON(t)["id"] {
		t.Errorf("GET Location = %v", got)
	}
	if n := len(in.must(200, "GET", "/api/v1/webhooks", nil)["data"].([]any)); n != 1 {
		t.Errorf("%d endpoints after a repeated create, want 1", n)
	}
	if r := post("/api/v1/webhooks", "ep-1", map[string]any{"url": rc.URL, "events": []string{"booking.*"}}); r.Status != 409 || r.ErrorCode(t) != "idempotency_key_reused" {
		t.Errorf("same key, other body = %d %s", r.Status, r.Body)
	}
	// A refused request's answer is kept too: the repeat is refused alike.
	bad := map[string]any{"name": ""}
	if r1, r2 := post("/api/v1/services", "svc-bad", bad), post("/api/v1/services", "svc-bad", bad); r1.Status != 422 || r2.Status != 422 || r2.Header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("invalid create twice = %d, %d", r1.Status, r2.Status)
	}
	// Every create: a domain resource and an event type, with Location.
	svc := post("/api/v1/services", "svc-1", map[string]any{"name": "Tour", "duration_minutes": 60, "price": 100, "currency": "USD", "capacity": 5})
	if svc.Status != 201 || svc.Header.Get("Location") != "/api/v1/services/"+svc.JSON(t)["id"].(string) {
		t.Fatalf("service = %d %s, Location %q", svc.Status, svc.Body, svc.Header.Get("Location"))
	}
	et := post("/api/v1/event-types", "", map[string]any{"name": "invoice.paid", "description": "An invoice was paid."})
	if et.Status != 201 || et.Header.Get("Location") != "/api/v1/event-types/invoice.paid" {
		t.Errorf("event type = %d %s, Location %q", et.Status, et.Body, et.Header.Get("Location"))
	}
	in.must(200, "GET", "/api/v1/event-types/invoice.paid", nil)
	// Keys belong to their organization.
	if r := in.DoHeader(secondOrg(t, in), "POST", "/api/v1/webhooks", ep, http.Header{"Idempotency-Key": {"ep-1"}}); r.Status != 201 || r.Header.Get("Idempotent-Replayed") != "" {
		t.Errorf("another organization's same key = %d %s", r.Status, r.Body)
	}
	// Publications: the same key with other data answers 409, not the first id.
	evt := map[string]any{"event": "booking.created", "data": bookingData(map[string]any{"id": "bkg_1"})}
	p1, p2 := post("/api/v1/events", "evt-1", evt), post("/api/v1/events", "evt-1", evt)
	if p1.Status != 202 || p2.Status != 202 || p2.JSON(t)["id"] != p1.JSON(t)["id"] {
		t.Errorf("publish twice = %d %s, %d %s", p1.Status, p1.Body, p2.Status, p2.Body)
	}
	if r := post("/api/v1/events", "evt-1", map[string]any{"event": "booking.created", "data": bookingData(map[string]any{"id": "bkg_2"})}); r.Status != 409 || r.ErrorCode(t) != "idempotency_key_reused" {
		t.Errorf("same key, other data = %d %s", r.Status, r.Body)
	}
	if r := post("/api/v1/webhooks", strings.Repeat("k", 300), ep); r.Status != 400 || r.ErrorCode(t) != "invalid_header" {
		t.Errorf("an oversized key = %d %s", r.Status, r.Body)
	}
}
