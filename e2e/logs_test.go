package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestJSONLogs runs the binary with JSON logs and checks that every line is
// JSON, that requests, delivery attempts (succeeded and failed) and inbound
// commands each get one line with their ids, and that no key or secret
// appears anywhere.
func TestJSONLogs(t *testing.T) {
	t.Parallel()
	good := newReceiver(t, nil)
	bad := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) { w.WriteHeader(500) })
	p := startProc(t, freePort(t), map[string]string{"HOOKBOOK_DATABASE_URL": databaseURL(t),
		"HOOKBOOK_LOG_FORMAT": "json", "HOOKBOOK_RETRY_SCHEDULE": "100ms"})
	var secrets []string
	for _, u := range []string{good.URL, bad.URL} {
		code, body, err := p.post("/api/v1/webhooks", map[string]any{"url": u, "events": []string{"*"}, "max_attempts": 2})
		if err != nil || code != 201 {
			t.Fatalf("create endpoint = %d %s %v", code, body, err)
		}
		var ep struct{ Secret string }
		json.Unmarshal(body, &ep)
		secrets = append(secrets, ep.Secret)
	}
	// A request with the client's own request id, echoed and logged.
	req, _ := http.NewRequest("POST", p.url+"/api/v1/events", bytes.NewReader(mustJSON(map[string]any{"event": "booking.created", "data": bookingData(nil)})))
	req.Header.Set("Authorization", "Bearer "+p.key)
	req.Header.Set("X-Request-Id", "client-req-42")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var evt struct{ ID string }
	json.NewDecoder(resp.Body).Decode(&evt)
	resp.Body.Close()
	if resp.StatusCode != 202 || resp.Header.Get("X-Request-Id") != "client-req-42" {
		t.Fatalf("publish = %d, X-Request-Id %q", resp.StatusCode, resp.Header.Get("X-Request-Id"))
	}
	// An answer without a client id gets a fresh one; so does an error.
	resp, _ = http.Get(p.url + "/api/v1/webhooks")
	resp.Body.Close()
	if resp.StatusCode != 401 || len(resp.Header.Get("X-Request-Id")) != 36 {
		t.Errorf("unauthenticated: %d, X-Request-Id %q", resp.StatusCode, resp.Header.Get("X-Request-Id"))
	}
	// An inbound command.
	code, body, _ := p.do("PUT", "/api/v1/settings/inbound", strings.NewReader(`{"enabled":true,"secret":"`+inboundSecret+`","scopes":["admin.planner"]}`))
	if code != 200 {
		t.Fatalf("enable inbound = %d %s", code, body)
	}
	cmd := []byte(`{"action":"admin.planner.block","params":{"starts_at":"2030-01-01T10:00:00Z","ends_at":"2030-01-01T11:00:00Z"}}`)
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	req, _ = http.NewRequest("POST", p.url+"/api/public/webhooks/inbound", bytes.NewReader(cmd))
	req.Header.Set("X-Hookbook-Timestamp", ts)
	req.Header.Set("X-Hookbook-Request-Id", "0b6f1d2e-8a4c-4c47-9d1e-2f3a4b5c6d7e")
	req.Header.Set("X-Hookbook-Signature", nodeSign(inboundSecret, ts, cmd))
	resp, err = http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("inbound command = %v %v", resp.StatusCode, err)
	}
	resp.Body.Close()
	waitFor(t, 10*time.Second, "both deliveries to end", func() bool { return good.Count() >= 1 && bad.Count() >= 2 })
	p.cmd.Process.Signal(syscall.SIGTERM)
	<-p.done

	var lines []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(p.logs.Bytes()))
	for sc.Scan() {
		var l map[string]any
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Errorf("not a JSON line: %s", sc.Text())
			continue
		}
		lines = append(lines, l)
	}
	find := func(msg string, match map[string]any) map[string]any {
		for _, l := range lines {
			if l["msg"] != msg {
				continue
			}
			ok := true
			for k, v := range match {
				if l[k] != v {
					ok = false
				}
			}
			if ok {
				return l
			}
		}
		t.Errorf("no %q line with %v in:\n%s", msg, match, p.logs)
		return nil
	}
	if l := find("request", map[string]any{"route": "POST /api/v1/events", "request_id": "client-req-42"}); l != nil {
		if l["status"] != float64(202) || l["duration_ms"] == nil || l["method"] != "POST" {
			t.Errorf("request line: %v", l)
		}
	}
	find("request", map[string]any{"route": "GET /api/v1/webhooks", "status": float64(401)})
	find("delivery attempt", map[string]any{"event_id": evt.ID, "outcome": "succeeded", "status_code": float64(200), "attempt": float64(1)})
	find("delivery attempt", map[string]any{"event_id": evt.ID, "outcome": "retrying", "status_code": float64(500), "attempt": float64(1), "level": "WARN"})
	if l := find("delivery attempt", map[string]any{"event_id": evt.ID, "outcome": "failed", "attempt": float64(2)}); l != nil {
		for _, k := range []string{"organization_id", "endpoint_id", "delivery_id", "event_type", "error", "duration_ms"} {
			if l[k] == nil || l[k] == "" {
				t.Errorf("failed attempt line lacks %s: %v", k, l)
			}
		}
	}
	find("inbound command", map[string]any{"action": "admin.planner.block", "outcome": "ok", "status": float64(200)})
	for _, s := range append(secrets, p.key, inboundSecret) {
		if bytes.Contains(p.logs.Bytes(), []byte(s)) {
			t.Errorf("a secret or key is in the logs: %s…", s[:8])
		}
	}
	t.Logf("a failed and a succeeded attempt:\n%s", attemptLines(p.logs.Bytes()))
}

// attemptLines returns the log's delivery attempt lines.
func attemptLines(logs []byte) string {
	var out []string
	for _, l := range strings.Split(string(logs), "\n") {
		if strings.Contains(l, `"msg":"delivery attempt"`) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
