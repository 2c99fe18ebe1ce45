package e2e

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hookbook/hookbook/webhook"
)

const inboundSecret = "inbound-secret-0123456789"

// nodeSign computes the signature the way the README's Node example does: "sha256=" + hex(HMAC-SHA256(secret, "<timestamp>.<raw body>")).
func nodeSign(secret, ts string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts + "."))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

type command struct {
	path      string // default: the default organization's URL
	body      []byte
	secret    string
	ts        string
	requestID string
	noSig     bool
}

func (in *instance) command(c command) response {
	in.t.Helper()
	if c.path == "" {
		c.path = "/api/public/webhooks/inbound"
	}
	if c.secret == "" {
		c.secret = inboundSecret
	}
	if c.ts == "" {
		c.ts = strconv.FormatInt(time.Now().Unix(), 10)
	}
	if c.requestID == "" {
		c.requestID = uuid.NewString()
	}
	req, _ := http.NewRequest("POST", in.url+c.path, bytes.NewReader(c.body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Hookbook-Timestamp", c.ts)
	req.Header.Set("X-Hookbook-Request-Id", c.requestID)
	if !c.noSig {
		req.Header.Set("X-Hookbook-Signature", nodeSign(c.secret, c.ts, c.body))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		in.t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return response{Status: resp.StatusCode, Header: resp.Header, Body: b.Bytes()}
}

func cmdBody(action string, params, data map[string]any) []byte {
	b, _ := json.Marshal(map[string]any{"action": action, "params": params, "data": data})
	return b
}

// run sends a command and fails unless it answers want.
func (in *instance) run(want int, action string, params, data map[string]any) map[string]any {
	in.t.Helper()
	r := in.command(command{body: cmdBody(action, params, data)})
	if r.Status != want {
		in.t.Fatalf("%s = %d, want %d: %s", action, r.Status, want, r.Body)
	}
	return r.JSON(in.t)
}

func enableInbound(t *testing.T, in *instance, scopes ...string) {
	t.Helper()
	st := in.must(200, "PUT", "/api/v1/settings/inbound", map[string]any{"enabled": true, "secret": inboundSecret, "scopes": scopes})
	if _, leaked := st["secret"]; leaked || st["secret_set"] != true || st["enabled"] != true {
		t.Fatalf("settings = %v", st)
	}
}

var allScopes = []string{"admin.slots", "admin.appointments", "admin.links", "admin.planner", "admin.community-events",
	"public.booking", "public.appointment", "public.community"}

func TestInboundActions(t *testing.T) {
	t.Parallel()
	in := start(t, nil)
	rc := newCatalogReceiver(t, in)
	seen := map[string]bool{}
	enableInbound(t, in, allScopes...)
	svc := in.must(201, "POST", "/api/v1/services", map[string]any{"name": "Tour", "duration_minutes": 60, "price": 1000, "capacity": 5, "requires_approval": true})["id"].(string)

	res := in.run(200, "admin.slots.create", map[string]any{"service_id": svc, "starts_at": future(30), "ends_at": future(31), "capacity": 4}, nil)
	if res["ok"] != true || res["action"] != "admin.slots.create" {
		t.Fatalf("answer = %v", res)
	}
	slot := res["result"].(map[string]any)["id"].(string)
	rc.expect("slot.created", seen)

	res = in.run(200, "public.booking.create", map[string]any{"slot_id": slot}, map[string]any{"full_name": "Ada Lovelace", "email": "ada@example.com", "participants": 2})
	bkg := res["result"].(map[string]any)["id"].(string)
	rc.expect("customer.created", seen)
	if e := rc.expect("booking.created", seen); e.Data["participants"].(float64) != 2 || e.Data["status"] != "pending" {
		t.Errorf("booking.created = %v", e.Data)
	}
	in.run(200, "admin.appointments.approve", map[string]any{"booking_id": bkg}, nil)
	rc.expect("booking.confirmed", seen)
	// Invalid state: approving again.
	if r := in.command(command{body: cmdBody("admin.appointments.approve", map[string]any{"booking_id": bkg}, nil)}); r.Status != 409 {
		t.Errorf("approve twice = %d", r.Status)
	}
	slot2 := in.run(200, "admin.slots.create", map[string]any{"service_id": svc, "starts_at": future(40), "ends_at": future(41)}, nil)["result"].(map[string]any)["id"].(string)
	rc.expect("slot.created", seen)
	// The public reschedule needs the booking's email.
	if r := in.command(command{body: cmdBody("public.appointment.reschedule", map[string]any{"booking_id": bkg, "slot_id": slot2}, map[string]any{"email": "eve@example.com"})}); r.Status != 403 {
		t.Errorf("reschedule with another email = %d %s", r.Status, r.Body)
	}
	in.run(200, "public.appointment.reschedule", map[string]any{"booking_id": bkg, "slot_id": slot2}, map[string]any{"email": "ADA@example.com"})
	rc.expect("booking.rescheduled", seen)
	in.run(200, "public.appointment.cancel", map[string]any{"booking_id": bkg}, map[string]any{"email": "ada@example.com"})
	rc.expect("booking.cancelled", seen)
	if b := in.must(200, "GET", "/api/v1/bookings/"+bkg, nil); b["status"] != "cancelled" {
		t.Errorf("status = %v", b["status"])
	}

	// Admin reject and cancel.
	b2 := in.run(200, "public.booking.create", map[string]any{"slot_id": slot2}, map[string]any{"full_name": "Bo", "email": "bo@example.com"})["result"].(map[string]any)["id"].(string)
	rc.expect("booking.created", seen)
	in.run(200, "admin.appointments.reject", map[string]any{"booking_id": b2}, map[string]any{"reason": "Full"})
	if e := rc.expect("booking.rejected", seen); e.Data["reason"] != "Full" {
		t.Errorf("rejected = %v", e.Data)
	}
	// A second, identical command within the same second would carry the
	// same signature and be refused as a replay: this one differs.
	b3 := in.run(200, "public.booking.create", map[string]any{"slot_id": slot2}, map[string]any{"full_name": "Bo", "email": "bo@example.com", "participants": 1})["result"].(map[string]any)["id"].(string)
	rc.expect("booking.created", seen)
	in.run(200, "admin.appointments.cancel", map[string]any{"booking_id": b3}, map[string]any{"reason": "Weather"})
	if e := rc.expect("booking.cancelled", seen); e.Data["reason"] != "Weather" {
		t.Errorf("cancelled = %v", e.Data)
	}

	// Links and planner.
	in.run(200, "admin.links.create", map[string]any{"service_id": svc, "slug": "tour"}, nil)
	if l := in.must(200, "GET", "/api/v1/links/tour", nil); l["enabled"] != true {
		t.Errorf("link = %v", l)
	}
	in.run(200, "admin.links.disable", map[string]any{"slug": "tour"}, nil)
	if l := in.must(200, "GET", "/api/v1/links/tour", nil); l["enabled"] != false {
		t.Errorf("link after disable = %v", l)
	}
	blk := in.run(200, "admin.planner.block", map[string]any{"starts_at": future(60), "ends_at": future(62)}, map[string]any{"reason": "Holiday"})["result"].(map[string]any)
	if blk["reason"] != "Holiday" {
		t.Errorf("block = %v", blk)
	}
	in.run(200, "admin.planner.unblock", map[string]any{"block_id": blk["id"]}, nil)
	if l := in.must(200, "GET", "/api/v1/planner/blocks", nil)["data"].([]any); len(l) != 0 {
		t.Errorf("blocks after unblock: %v", l)
	}
	// A slot without bookings can be deleted.
	spare := in.run(200, "admin.slots.create", map[string]any{"service_id": svc, "starts_at": future(80), "ends_at": future(81)}, nil)["result"].(map[string]any)["id"].(string)
	rc.expect("slot.created", seen)
	in.run(200, "admin.slots.delete", map[string]any{"slot_id": spare}, nil)
	if r := in.do("GET", "/api/v1/slots/"+spare, nil); r.Status != 404 {
		t.Errorf("deleted slot = %d", r.Status)
	}

	// Community approvals through both scopes, activation at the threshold.
	in.must(201, "POST", "/api/v1/community-events", map[string]any{"slug": "meetup", "title": "Meetup", "starts_at": future(90), "approvals_required": 2})
	in.run(200, "admin.community-events.approve", map[string]any{"slugId": "meetup"}, map[string]any{"full_name": "Ada Lovelace", "email": "ada@example.com"})
	rc.expect("community_event.approved", seen)
	if r := in.command(command{body: cmdBody("public.community.approve", map[string]any{"slugId": "meetup"}, map[string]any{"full_name": "Ada", "email": "ada@example.com"})}); r.Status != 409 {
		t.Errorf("same person twice = %d %s, want 409", r.Status, r.Body)
	}
	ce := in.run(200, "public.community.approve", map[string]any{"slugId": "meetup"}, map[string]any{"full_name": "Grace Hopper"})["result"].(map[string]any)
	if ce["status"] != "active" {
		t.Errorf("community event = %v", ce)
	}
	rc.expect("community_event.approved", seen)
	rc.expect("community_event.activated", seen)

	// Every command is in the log, without the secret.
	r := in.do("GET", "/api/v1/inbound/commands?limit=500", nil)
	if strings.Contains(string(r.Body), inboundSecret) {
		t.Error("the command log shows the secret")
	}
	cmds := r.JSON(t)["data"].([]any)
	if len(cmds) < 20 {
		t.Errorf("command log has %d entries", len(cmds))
	}
	first := cmds[len(cmds)-1].(map[string]any)
	if first["action"] != "admin.slots.create" || first["status"].(float64) != 200 || first["request_id"] == "" {
		t.Errorf("oldest log entry = %v", first)
	}
}

// stateCount is a fingerprint of the domain's state: events stored.
func stateCount(t *testing.T, in *instance) int {
	return len(stateEvents(t, in))
}

// stateEvents lists the types of the events stored, newest first.
func stateEvents(t *testing.T, in *instance) []string {
	var types []string
	for _, e := range in.must(200, "GET", "/api/v1/events?limit=500", nil)["data"].([]any) {
		types = append(types, e.(map[string]any)["event"].(string))
	}
	return types
}

func TestInboundRefusals(t *testing.T) {
	t.Parallel()
	db := databaseURL(t)
	in := start(t, map[string]string{"HOOKBOOK_DATABASE_URL": db})
	svc := in.must(201, "POST", "/api/v1/services", map[string]any{"name": "Tour", "duration_minutes": 60, "capacity": 5})["id"].(string)
	slot := in.must(201, "POST", "/api/v1/slots", map[string]any{"service_id": svc, "starts_at": future(10), "ends_at": future(11)})["id"].(string)
	bkg := in.must(201, "POST", "/api/v1/bookings", map[string]any{"slot_id": slot, "customer": map[string]any{"name": "A", "email": "a@example.com"}})["id"].(string)
	in.must(200, "POST", "/api/v1/bookings/"+bkg+"/complete", nil)
	valid := cmdBody("admin.slots.create", map[string]any{"service_id": svc, "starts_at": future(20), "ends_at": future(21)}, nil)

	// Disabled (the default).
	if r := in.command(command{body: valid}); r.Status != 403 || r.ErrorCode(t) != "inbound_disabled" {
		t.Fatalf("disabled = %d %s", r.Status, r.Body)
	}
	enableInbound(t, in, "admin.slots", "admin.appointments", "admin.community-events")
	before := stateCount(t, in)
	now := time.Now().Unix()
	reused := uuid.NewString()
	if r := in.command(command{body: cmdBody("admin.appointments.approve", map[string]any{"booking_id": bkg}, nil), requestID: reused}); r.Status != 409 {
		t.Fatalf("setup: approving a completed booking = %d", r.Status)
	}
	cases := []struct {
		name   string
		c      command
		status int
		code   string
		field  string
	}{
		{"missing signature", command{body: valid, noSig: true}, 401, "missing_signature", ""},
		{"bad signature", command{body: valid, secret: "wrong-secret-0123456789"}, 401, "invalid_signature", ""},
		{"signature over another body", command{body: valid, ts: strconv.FormatInt(now, 10), secret: inboundSecret + "x"}, 401, "invalid_signature", ""},
		{"stale timestamp", command{body: valid, ts: strconv.FormatInt(now-360, 10)}, 401, "stale_timestamp", ""},
		{"future timestamp", command{body: valid, ts: strconv.FormatInt(now+360, 10)}, 401, "stale_timestamp", ""},
		{"timestamp not a number", command{body: valid, ts: "yesterday"}, 401, "stale_timestamp", ""},
		{"request id not a UUID", command{body: valid, requestID: "abc"}, 400, "invalid_request_id", ""},
		{"reused request id", command{body: valid, requestID: reused}, 409, "replayed_request", ""},
		{"scope not granted", command{body: cmdBody("admin.links.create", map[string]any{"service_id": svc, "slug": "x"}, nil)}, 403, "scope_not_allowed", ""},
		{"unknown action", command{body: cmdBody("admin.rockets.launch", nil, nil)}, 404, "unknown_action", ""},
		{"missing params", command{body: cmdBody("admin.slots.create", map[string]any{"service_id": svc}, nil)}, 422, "validation_failed", "params.starts_at"},
		{"missing slugId", command{body: cmdBody("admin.community-events.approve", nil, map[string]any{"full_name": "A"})}, 422, "validation_failed", "params.slugId"},
		{"missing full_name", command{body: cmdBody("admin.community-events.approve", map[string]any{"slugId": "x"}, nil)}, 422, "validation_failed", "data.full_name"},
		{"bad email", command{body: cmdBody("admin.community-events.approve", map[string]any{"slugId": "x"}, map[string]any{"full_name": "A", "email": "no"})}, 422, "validation_failed", "data.email"},
		{"wrong type", command{body: cmdBody("admin.slots.create", map[string]any{"service_id": 5, "starts_at": future(1), "ends_at": future(2)}, nil)}, 422, "validation_failed", "params.service_id"},
		{"ends before starts", command{body: cmdBody("admin.slots.create", map[string]any{"service_id": svc, "starts_at": future(5), "ends_at": future(4)}, nil)}, 422, "validation_failed", "params.ends_at"},
		{"unknown slug", command{body: cmdBody("admin.community-events.approve", map[string]any{"slugId": "nope"}, map[string]any{"full_name": "A"})}, 404, "not_found", ""},
		{"unknown booking", command{body: cmdBody("admin.appointments.approve", map[string]any{"booking_id": "bkg_01ARZ3NDEKTSV4RRFFQ69G5FAV"}, nil)}, 404, "not_found", ""},
		{"invalid state", command{body: cmdBody("admin.appointments.cancel", map[string]any{"booking_id": bkg}, nil)}, 409, "invalid_transition", ""},
		{"malformed JSON", command{body: []byte(`{"action":`)}, 400, "invalid_json", ""},
		{"params not an object", command{body: []byte(`{"action":"admin.slots.create","params":[1]}`)}, 422, "validation_failed", "params"},
		{"body over 1 MiB", command{body: []byte(`{"action":"admin.slots.create","data":{"x":"` + strings.Repeat("a", 1<<20) + `"}}`)}, 413, "payload_too_large", ""},
		{"unknown organization", command{body: valid, path: "/api/public/webhooks/inbound/org_01ARZ3NDEKTSV4RRFFQ69G5FAV"}, 404, "not_found", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := in.command(c.c)
			if r.Status != c.status || r.ErrorCode(t) != c.code {
				t.Fatalf("= %d %s, want %d %s", r.Status, r.Body, c.status, c.code)
			}
			if c.field != "" {
				d, _ := r.JSON(t)["error"].(map[string]any)["details"].(map[string]any)
				if d[c.field] == nil {
					t.Fatalf("details %v do not name %s", d, c.field)
				}
			}
		})
	}
	if after := stateEvents(t, in); len(after) != before {
		t.Errorf("refused commands changed state: %d events, was %d: %v", len(after), before, after)
	}
	// The request id is still refused after a restart.
	in.stop()
	in = start(t, map[string]string{"HOOKBOOK_DATABASE_URL": db})
	if r := in.command(command{body: valid, requestID: reused}); r.Status != 409 {
		t.Errorf("reused request id after a restart = %d", r.Status)
	}
	// The organization's own URL works like the default one.
	o, _ := in.app.Orgs.OrganizationByName(t.Context(), "default")
	if r := in.command(command{body: valid, path: "/api/public/webhooks/inbound/" + o.ID}); r.Status != 200 {
		t.Errorf("organization URL = %d %s", r.Status, r.Body)
	}
	// Settings accept only known scopes and long enough secrets.
	if r := in.do("PUT", "/api/v1/settings/inbound", map[string]any{"scopes": []string{"admin.everything"}}); r.Status != 422 {
		t.Errorf("unknown scope = %d", r.Status)
	}
	if r := in.do("PUT", "/api/v1/settings/inbound", map[string]any{"secret": "short"}); r.Status != 422 {
		t.Errorf("short secret = %d", r.Status)
	}
}

func TestInboundSendCommand(t *testing.T) {
	t.Parallel()
	in := start(t, nil)
	enableInbound(t, in, "admin.community-events")
	in.must(201, "POST", "/api/v1/community-events", map[string]any{"slug": "cli", "title": "CLI", "starts_at": future(5), "approvals_required": 1})
	out, err := exec.Command(buildBinary(t), "inbound", "send", "--url", in.url+"/api/public/webhooks/inbound", "--secret", inboundSecret,
		"--action", "admin.community-events.approve", "--params", `{"slugId":"cli"}`, "--data", `{"full_name":"Ada Lovelace"}`).CombinedOutput()
	if err != nil {
		t.Fatalf("inbound send: %v: %s", err, out)
	}
	if !strings.HasPrefix(string(out), "200 ") || !strings.Contains(string(out), `"ok":true`) {
		t.Fatalf("inbound send printed %s", out)
	}
	if ce := in.must(200, "GET", "/api/v1/community-events/cli", nil); ce["status"] != "active" {
		t.Errorf("community event = %v", ce)
	}
	out, err = exec.Command(buildBinary(t), "inbound", "send", "--url", in.url+"/api/public/webhooks/inbound", "--secret", "wrong-secret-000000",
		"--action", "admin.community-events.approve", "--params", `{"slugId":"cli"}`, "--data", `{"full_name":"X"}`).CombinedOutput()
	if err == nil || !strings.HasPrefix(string(out), "401 ") {
		t.Fatalf("wrong secret: %v %s", err, out)
	}
	_ = fmt.Sprint
}

// TestInboundStandardWebhooksHeaders: a command signed the Standard
// Webhooks way (webhook-id, webhook-timestamp, webhook-signature over
// "{id}.{timestamp}.{body}") runs, with the same replay rules: a repeated
// id is refused, and a new id cannot reuse a signature.
func TestInboundStandardWebhooksHeaders(t *testing.T) {
	t.Parallel()
	in := start(t, nil)
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	in.must(200, "PUT", "/api/v1/settings/inbound", map[string]any{"enabled": true, "secret": secret, "scopes": []string{"admin.planner"}})
	body := []byte(`{"action":"admin.planner.block","params":{"starts_at":"2030-01-01T10:00:00Z","ends_at":"2030-01-01T11:00:00Z"}}`)
	send := func(id string, at time.Time, sigID string) response {
		sig, err := webhook.Sign(secret, sigID, at, body)
		if err != nil {
			t.Fatal(err)
		}
		h := http.Header{}
		h.Set("webhook-id", id)
		h.Set("webhook-timestamp", strconv.FormatInt(at.Unix(), 10))
		h.Set("webhook-signature", sig)
		return in.DoHeader("", "POST", "/api/public/webhooks/inbound", body, h)
	}
	now := time.Now()
	if r := send("msg_1", now, "msg_1"); r.Status != 200 {
		t.Fatalf("signed command = %d %s", r.Status, r.Body)
	}
	if r := send("msg_1", now.Add(time.Second), "msg_1"); r.Status != 409 || r.ErrorCode(t) != "replayed_request" {
		t.Errorf("a repeated webhook-id = %d %s", r.Status, r.Body)
	}
	if r := send("msg_2", now, "msg_1"); r.Status != 401 || r.ErrorCode(t) != "invalid_signature" {
		t.Errorf("a new id with the old signature = %d %s", r.Status, r.Body)
	}
	if r := send("msg_3", now.Add(-10*time.Minute), "msg_3"); r.Status != 401 || r.ErrorCode(t) != "stale_timestamp" {
		t.Errorf("a stale timestamp = %d %s", r.Status, r.Body)
	}
	if r := send("msg_4", now, "msg_4"); r.Status != 200 {
		t.Errorf("a second command = %d %s", r.Status, r.Body)
	}
	cmds := in.must(200, "GET", "/api/v1/inbound/commands", nil)["data"].([]any)
	if len(cmds) < 2 {
		t.Errorf("%d commands logged", len(cmds))
	}
}

// TestInboundSecretOnlyThroughReveal: the settings never carry the inbound
// secret, neither before nor after one is set, generated or given; only
// GET /api/v1/settings/inbound/secret shows it.
func TestInboundSecretOnlyThroughReveal(t *testing.T) {
	t.Parallel()
	in := start(t, nil)
	st := in.must(200, "GET", "/api/v1/settings/inbound", nil)
	if _, leaked := st["secret"]; leaked || st["secret_set"] != false {
		t.Fatalf("settings before any secret = %v", st)
	}
	if r := in.do("GET", "/api/v1/settings/inbound/secret", nil); r.Status != 404 || !strings.Contains(string(r.Body), "inbound_secret_not_set") {
		t.Fatalf("reveal before any secret = %d %s", r.Status, r.Body)
	}
	// A generated secret shows only through the reveal.
	put := in.must(200, "PUT", "/api/v1/settings/inbound", map[string]any{"enabled": true, "scopes": []string{"admin.slots"}})
	r := in.do("GET", "/api/v1/settings/inbound/secret", nil)
	if r.Status != 200 || r.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("reveal = %d %v %s", r.Status, r.Header, r.Body)
	}
	generated, _ := r.JSON(t)["secret"].(string)
	if len(generated) < 16 {
		t.Fatalf("generated secret %q", generated)
	}
	got := in.must(200, "GET", "/api/v1/settings/inbound", nil)
	for name, v := range map[string]map[string]any{"PUT": put, "GET": got} {
		if _, leaked := v["secret"]; leaked || v["secret_set"] != true {
			t.Errorf("%s settings = %v", name, v)
		}
	}
	for name, v := range map[string]string{"PUT": fmt.Sprint(put), "GET": fmt.Sprint(got)} {
		if strings.Contains(v, generated) {
			t.Errorf("%s settings carry the secret: %s", name, v)
		}
	}
	// A given secret likewise.
	in.must(200, "PUT", "/api/v1/settings/inbound", map[string]any{"secret": inboundSecret})
	if s := in.must(200, "GET", "/api/v1/settings/inbound/secret", nil)["secret"]; s != inboundSecret {
		t.Fatalf("revealed %v", s)
	}
	// The reveal needs an API key like every other setting.
	if r := in.doKey("", "GET", "/api/v1/settings/inbound/secret", nil); r.Status != 401 {
		t.Fatalf("reveal without a key = %d", r.Status)
	}
}
