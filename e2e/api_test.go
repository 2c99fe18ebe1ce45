package e2e

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// secondOrg creates another organization through the store and returns its key.
func secondOrg(t *testing.T, in *instance) string {
	t.Helper()
	key := "hk_other_org_key_abcdef0123456789"
	if _, err := in.app.Orgs.CreateOrganization(t.Context(), "other", key); err != nil {
		t.Fatal(err)
	}
	return key
}

func TestTenantIsolation(t *testing.T) {
	t.Parallel()
	in := start(t, nil)
	rc := newReceiver(t, nil)
	ep := in.createEndpoint(rc.URL, []string{"*"}, nil)["id"].(string)
	evt := in.publish("booking.created", map[string]any{"id": "bkg_1"})
	waitFor(t, 5*time.Second, "delivery", func() bool { return rc.Count() == 1 })
	dlv := rc.All()[0].Header.Get("X-Hookbook-Delivery-Id")
	other := secondOrg(t, in)

	for _, c := range []struct{ method, path string }{
		{"GET", "/api/v1/webhooks/" + ep},
		{"PATCH", "/api/v1/webhooks/" + ep},
		{"DELETE", "/api/v1/webhooks/" + ep},
		{"POST", "/api/v1/webhooks/" + ep + "/rotate-secret"},
		{"POST", "/api/v1/webhooks/" + ep + "/test"},
		{"GET", "/api/v1/webhooks/" + ep + "/deliveries"},
		{"POST", "/api/v1/webhooks/" + ep + "/recover"},
		{"GET", "/api/v1/deliveries/" + dlv},
		{"POST", "/api/v1/deliveries/" + dlv + "/redeliver"},
		{"GET", "/api/v1/events/" + evt},
	} {
		var body any
		if c.method == "PATCH" {
			body = map[string]any{"enabled": false}
		}
		if strings.HasSuffix(c.path, "/recover") {
			body = map[string]any{"since": "2020-01-01T00:00:00Z"}
		}
		r := in.doKey(other, c.method, c.path, body)
		if r.Status != 404 || r.ErrorCode(t) != "not_found" {
			t.Errorf("%s %s with another organization's key = %d %s, want 404", c.method, c.path, r.Status, r.Body)
		}
	}
	// Its lists hold nothing of the first organization.
	r := in.doKey(other, "GET", "/api/v1/webhooks", nil)
	if len(r.JSON(t)["data"].([]any)) != 0 {
		t.Errorf("other organization sees endpoints: %s", r.Body)
	}
	// And the first organization's endpoint is untouched.
	if e := in.must(200, "GET", "/api/v1/webhooks/"+ep, nil); e["enabled"] != true {
		t.Errorf("endpoint changed by another organization: %v", e)
	}
	// Publishing in the other organization never reaches the first's endpoint.
	r = in.doKey(other, "POST", "/api/v1/events", map[string]any{"event": "booking.created", "data": bookingData(map[string]any{})})
	if r.Status != 202 {
		t.Fatalf("other publish = %d", r.Status)
	}
	// Fan-out commits with the publication: the endpoint's delivery log
	// is final once the 202 has come.
	if n := len(in.must(200, "GET", "/api/v1/webhooks/"+ep+"/deliveries", nil)["data"].([]any)); n != 1 {
		t.Errorf("another organization's event was queued for this endpoint (%d deliveries)", n)
	}
}

func TestAuthentication(t *testing.T) {
	t.Parallel()
	in := start(t, nil)
	for _, key := range []string{"", "hk_wrong"} {
		r := in.doKey(key, "GET", "/api/v1/webhooks", nil)
		if r.Status != 401 {
			t.Errorf("key %q = %d, want 401", key, r.Status)
		}
	}
	for _, p := range []string{"/healthz", "/readyz", "/openapi.json"} {
		if r := in.doKey("", "GET", p, nil); r.Status != 200 {
			t.Errorf("%s = %d", p, r.Status)
		}
	}
}

// TestBadInput sends malformed and invalid requests: each must get its 4xx
// status and error code, never a 500.
func TestBadInput(t *testing.T) {
	t.Parallel()
	in := start(t, nil)
	rc := newReceiver(t, nil)
	ep := in.createEndpoint(rc.URL, []string{"*"}, nil)["id"].(string)
	big := `{"event":"booking.created","data":{"x":"` + strings.Repeat("a", 1<<20) + `"}}`
	cases := []struct {
		name, method, path string
		body               any
		status             int
		code               string
		field              string
	}{
		{"malformed JSON", "POST", "/api/v1/webhooks", `{"url":`, 400, "invalid_json", ""},
		{"not an object", "POST", "/api/v1/webhooks", `[1,2]`, 400, "invalid_json", ""},
		{"empty body", "POST", "/api/v1/webhooks", ``, 400, "invalid_json", ""},
		{"NUL in a string", "POST", "/api/v1/webhooks", `{"url":"http://x.test","events":["*"],"description":"a\u0000b"}`, 400, "invalid_json", ""},
		{"NUL in a query", "GET", "/api/v1/events?event=%00", nil, 400, "invalid_query", ""},
		{"trailing data", "POST", "/api/v1/events", `{"event":"booking.created","data":{}} {}`, 400, "invalid_json", ""},
		{"url of wrong type", "POST", "/api/v1/webhooks", `{"url":5,"events":["*"]}`, 422, "validation_failed", "url"},
		{"events of wrong type", "POST", "/api/v1/webhooks", `{"url":"http://x.test","events":"*"}`, 422, "validation_failed", "events"},
		{"max_attempts of wrong type", "POST", "/api/v1/webhooks", `{"url":"http://x.test","events":["*"],"max_attempts":"8"}`, 422, "validation_failed", "max_attempts"},
		{"missing url", "POST", "/api/v1/webhooks", `{"events":["*"]}`, 422, "validation_failed", "url"},
		{"invalid url", "POST", "/api/v1/webhooks", `{"url":"not a url","events":["*"]}`, 422, "validation_failed", "url"},
		{"ftp url", "POST", "/api/v1/webhooks", `{"url":"ftp://x.test/","events":["*"]}`, 422, "validation_failed", "url"},
		{"no events", "POST", "/api/v1/webhooks", `{"url":"http://x.test","events":[]}`, 422, "validation_failed", "events"},
		{"unknown event type", "POST", "/api/v1/webhooks", `{"url":"http://x.test","events":["booking.exploded"]}`, 422, "validation_failed", "events"},
		{"bad wildcard", "POST", "/api/v1/webhooks", `{"url":"http://x.test","events":["*.created"]}`, 422, "validation_failed", "events"},
		{"short secret", "POST", "/api/v1/webhooks", `{"url":"http://x.test","events":["*"],"secret":"short"}`, 422, "validation_failed", "secret"},
		{"attempts out of range", "POST", "/api/v1/webhooks", `{"url":"http://x.test","events":["*"],"max_attempts":21}`, 422, "validation_failed", "max_attempts"},
		{"timeout out of range", "POST", "/api/v1/webhooks", `{"url":"http://x.test","events":["*"],"timeout_seconds":0}`, 422, "validation_failed", "timeout_seconds"},
		{"unknown scheme", "POST", "/api/v1/webhooks", `{"url":"http://x.test","events":["*"],"signature_scheme":"md5"}`, 422, "validation_failed", "signature_scheme"},
		{"reserved header", "POST", "/api/v1/webhooks", `{"url":"http://x.test","events":["*"],"headers":{"X-Hookbook-Signature":"x"}}`, 422, "validation_failed", "headers"},
		{"secret in PATCH", "PATCH", "/api/v1/webhooks/" + ep, `{"secret":"0123456789abcdefgh"}`, 422, "validation_failed", "secret"},
		{"unknown event published", "POST", "/api/v1/events", `{"event":"nobody.knows","data":{}}`, 422, "unknown_event_type", "event"},
		{"bad event name", "POST", "/api/v1/events", `{"event":"Bad Name","data":{}}`, 422, "validation_failed", "event"},
		{"data not an object", "POST", "/api/v1/events", `{"event":"booking.created","data":[1]}`, 422, "validation_failed", "data"},
		{"data missing", "POST", "/api/v1/events", `{"event":"booking.created"}`, 422, "validation_failed", "data"},
		{"body over 1 MiB", "POST", "/api/v1/events", big, 413, "payload_too_large", ""},
		{"bad cursor", "GET", "/api/v1/webhooks?cursor=zzz", nil, 400, "invalid_cursor", "cursor"},
		{"cursor of another kind", "GET", "/api/v1/webhooks/" + ep + "/deliveries?cursor=" + ep, nil, 400, "invalid_cursor", "cursor"},
		{"limit too big", "GET", "/api/v1/webhooks?limit=501", nil, 400, "invalid_limit", "limit"},
		{"limit zero", "GET", "/api/v1/webhooks?limit=0", nil, 400, "invalid_limit", "limit"},
		{"limit not a number", "GET", "/api/v1/webhooks?limit=ten", nil, 400, "invalid_limit", "limit"},
		{"unknown status filter", "GET", "/api/v1/webhooks/" + ep + "/deliveries?status=lost", nil, 400, "invalid_status", "status"},
		{"bad event filter", "GET", "/api/v1/webhooks/" + ep + "/deliveries?event=Booking!", nil, 400, "invalid_event", "event"},
		{"bad events filter", "GET", "/api/v1/events?event=booking.%2A.x", nil, 400, "invalid_event", "event"},
		{"recover without since", "POST", "/api/v1/webhooks/" + ep + "/recover", `{}`, 422, "validation_failed", "since"},
		{"recover with bad since", "POST", "/api/v1/webhooks/" + ep + "/recover", `{"since":"yesterday"}`, 422, "validation_failed", "since"},
		{"outbound without enabled", "PUT", "/api/v1/settings/outbound", `{}`, 422, "validation_failed", "enabled"},
		{"outbound of wrong type", "PUT", "/api/v1/settings/outbound", `{"enabled":"yes"}`, 422, "validation_failed", "enabled"},
		{"event type bad name", "POST", "/api/v1/event-types", `{"name":"lead","description":"x"}`, 422, "validation_failed", "name"},
		{"event type without description", "POST", "/api/v1/event-types", `{"name":"lead.found"}`, 422, "validation_failed", "description"},
		{"event type bad schema", "POST", "/api/v1/event-types", `{"name":"lead.lost","description":"x","schema":{"type":12}}`, 422, "validation_failed", "schema"},
		{"built-in event type", "POST", "/api/v1/event-types", `{"name":"booking.created","description":"x"}`, 409, "event_type_exists", ""},
		{"unknown endpoint", "GET", "/api/v1/webhooks/ep_01ARZ3NDEKTSV4RRFFQ69G5FAV", nil, 404, "not_found", ""},
		{"garbage id", "GET", "/api/v1/deliveries/%00%ff", nil, 404, "not_found", ""},
		{"unknown route", "GET", "/api/v1/nothing", nil, 404, "route_not_found", ""},
		{"wrong method", "PUT", "/api/v1/webhooks", `{}`, 405, "method_not_allowed", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := in.do(c.method, c.path, c.body)
			if r.Status != c.status {
				t.Fatalf("status %d, want %d: %s", r.Status, c.status, r.Body)
			}
			var e struct {
				Error struct {
					Code    string            `json:"code"`
					Message string            `json:"message"`
					Details map[string]string `json:"details"`
				} `json:"error"`
			}
			if err := json.Unmarshal(r.Body, &e); err != nil {
				t.Fatalf("error body is not JSON: %s", r.Body)
			}
			if e.Error.Code != c.code || e.Error.Message == "" {
				t.Fatalf("error = %+v, want code %s", e.Error, c.code)
			}
			if c.field != "" && e.Error.Details[c.field] == "" {
				t.Fatalf("details %v do not name %s", e.Error.Details, c.field)
			}
		})
	}
	// Nothing of the above was stored.
	if n := len(in.must(200, "GET", "/api/v1/webhooks", nil)["data"].([]any)); n != 1 {
		t.Errorf("bad input created endpoints: %d", n)
	}
	if n := len(in.must(200, "GET", "/api/v1/events", nil)["data"].([]any)); n != 0 {
		t.Errorf("bad input created events: %d", n)
	}
}

func TestPagination(t *testing.T) {
	t.Parallel()
	in := start(t, nil)
	var made []string
	for i := 0; i < 7; i++ {
		made = append(made, in.createEndpoint("http://127.0.0.1:9/x", []string{"*"}, nil)["id"].(string))
	}
	var seen []string
	cursor := ""
	for pages := 0; ; pages++ {
		path := "/api/v1/webhooks?limit=3"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		r := in.must(200, "GET", path, nil)
		for _, e := range r["data"].([]any) {
			seen = append(seen, e.(map[string]any)["id"].(string))
			if _, ok := e.(map[string]any)["secret"]; ok {
				t.Fatal("list shows secrets")
			}
		}
		if r["next_cursor"] == nil {
			break
		}
		cursor = r["next_cursor"].(string)
		if pages > 5 {
			t.Fatal("pagination does not end")
		}
	}
	if len(seen) != 7 {
		t.Fatalf("saw %d endpoints, want 7", len(seen))
	}
	for i := range seen {
		if seen[i] != made[6-i] {
			t.Fatalf("order %v, want newest first %v", seen, made)
		}
	}
}

func TestRotateSecretAndUpdate(t *testing.T) {
	t.Parallel()
	in := start(t, nil)
	rc := newReceiver(t, nil)
	e := in.createEndpoint(rc.URL, []string{"*"}, nil)
	id, old := e["id"].(string), e["secret"].(string)
	if g := in.must(200, "GET", "/api/v1/webhooks/"+id, nil); g["secret"] != nil {
		t.Fatal("GET shows the secret")
	}
	rot := in.must(200, "POST", "/api/v1/webhooks/"+id+"/rotate-secret", nil)
	if rot["secret"] == old || !strings.HasPrefix(rot["secret"].(string), "whsec_") {
		t.Fatalf("rotation gave %v", rot["secret"])
	}
	up := in.must(200, "PATCH", "/api/v1/webhooks/"+id, map[string]any{"description": "<b>ops</b>", "events": []string{"booking.*"}})
	if up["description"] != "<b>ops</b>" || up["events"].([]any)[0] != "booking.*" || up["url"] != rc.URL {
		t.Fatalf("update = %v", up)
	}
}

func TestOrgCreateCommand(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t)
	db := databaseURL(t)
	cmd := exec.Command(bin, "org", "create", "--name", "Acme")
	cmd.Env = append(cmd.Environ(), "HOOKBOOK_DATABASE_URL="+db)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("org create: %v", err)
	}
	var got map[string]string
	if err := json.Unmarshal(out, &got); err != nil || !strings.HasPrefix(got["organization_id"], "org_") || !strings.HasPrefix(got["api_key"], "hk_") {
		t.Fatalf("org create printed %q", out)
	}
	if strings.Count(strings.TrimSpace(string(out)), "\n") != 0 {
		t.Fatalf("org create printed more than one line: %q", out)
	}
	v, err := exec.Command(bin, "version").Output()
	if err != nil || !strings.HasPrefix(string(v), "hookbook ") {
		t.Fatalf("version = %q, %v", v, err)
	}
	// Keys: create another, list, revoke the first; org list.
	cli := func(args ...string) []byte {
		t.Helper()
		c := exec.Command(bin, args...)
		c.Env = append(c.Environ(), "HOOKBOOK_DATABASE_URL="+db)
		out, err := c.CombinedOutput()
		if err != nil {
			t.Fatalf("hookbook %v: %v: %s", args, err, out)
		}
		return out
	}
	var key struct{ ID, Key, Prefix string }
	json.Unmarshal(cli("key", "create", "--org", got["organization_id"], "--name", "ci"), &key)
	if !strings.HasPrefix(key.Key, key.Prefix) || !strings.HasPrefix(key.ID, "key_") {
		t.Fatalf("key create = %+v", key)
	}
	// Lists have the API's shape, {"data":[…]}.
	var keys struct{ Data []map[string]any }
	json.Unmarshal(cli("key", "list", "--org", got["organization_id"]), &keys)
	if len(keys.Data) != 2 || keys.Data[0]["key"] != nil {
		t.Fatalf("key list = %v", keys)
	}
	cli("key", "revoke", "--org", got["organization_id"], "--id", keys.Data[1]["id"].(string))
	keys.Data = nil
	json.Unmarshal(cli("key", "list", "--org", got["organization_id"]), &keys)
	if len(keys.Data) != 1 || keys.Data[0]["id"] != key.ID {
		t.Errorf("after revoking the first key: %v", keys)
	}
	var orgs struct{ Data []map[string]string }
	json.Unmarshal(cli("org", "list"), &orgs)
	if len(orgs.Data) != 1 || orgs.Data[0]["organization_id"] != got["organization_id"] || orgs.Data[0]["name"] != "Acme" {
		t.Errorf("org list = %v", orgs)
	}
}
