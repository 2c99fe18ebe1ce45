package httpapi_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/hookbook/hookbook/internal/hookbooktest"
)

func send(t *testing.T, in *hookbooktest.Instance, method, path, body string, header map[string]string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, in.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+in.Key)
	for k, v := range header {
		req.Header[k] = []string{v}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestHostileEdges: invalid UTF-8, broken query strings and empty PATCH
// bodies answer a JSON 400 on both databases, never a 500.
func TestHostileEdges(t *testing.T) {
	t.Parallel()
	hookbooktest.StartEach(t, func(t *testing.T, in *hookbooktest.Instance) {
		svc := in.Must(201, "POST", "/api/v1/services", map[string]any{"name": "Tour", "duration_minutes": 30})["id"].(string)
		cases := []struct {
			name, method, path, body string
			header                   map[string]string
			code                     string
		}{
			{"idempotency key not UTF-8", "POST", "/api/v1/events", `{"event":"booking.created","data":{}}`, map[string]string{"Idempotency-Key": "k\xff\xfe"}, "invalid_header"},
			{"broken query", "GET", "/api/v1/webhooks?cursor=%%%", "", nil, "invalid_query"},
			{"empty PATCH of a service", "PATCH", "/api/v1/services/" + svc, "", nil, "invalid_json"},
			{"compressed body", "POST", "/api/v1/events", "\x1f\x8b\x08\x00", map[string]string{"Content-Encoding": "gzip"}, "unsupported_content_encoding"},
		}
		for _, c := range cases {
			status, body := send(t, in, c.method, c.path, c.body, c.header)
			if status != 400 || !strings.Contains(body, `"code":"`+c.code+`"`) {
				t.Errorf("%s: %d %s, want 400 %s", c.name, status, body, c.code)
			}
		}
		// A second Content-Encoding field counts too, on a route that keeps
		// idempotent answers; nothing is created.
		req, _ := http.NewRequest("POST", in.URL+"/api/v1/webhooks", strings.NewReader(`{"url":"http://127.0.0.1:9/x","events":["*"]}`))
		req.Header.Set("Authorization", "Bearer "+in.Key)
		req.Header.Set("Idempotency-Key", "compressed-1")
		req.Header["Content-Encoding"] = []string{"identity", "gzip"}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 || !strings.Contains(string(b), `"code":"unsupported_content_encoding"`) {
			t.Errorf("identity then gzip: %d %s", resp.StatusCode, b)
		}
		if eps := in.Must(200, "GET", "/api/v1/webhooks", nil)["data"].([]any); len(eps) != 0 {
			t.Errorf("a refused request created %d endpoints", len(eps))
		}
		// The inbound route reads bodies as sent, before its own checks: a
		// compressed one to an organization whose inbound is off is refused
		// as any unsigned request there, and nothing is logged.
		if status, body := send(t, in, "POST", "/api/public/webhooks/inbound", "\x1f\x8b", map[string]string{"Content-Encoding": "gzip"}); status != 403 {
			t.Errorf("compressed inbound, inbound off: %d %s, want 403", status, body)
		}
		if cmds := in.Must(200, "GET", "/api/v1/inbound/commands", nil)["data"].([]any); len(cmds) != 0 {
			t.Errorf("%d commands logged for a request to an inbound that is off", len(cmds))
		}
		// An inbound request id that is not UTF-8 is refused and still logged.
		in.Must(200, "PUT", "/api/v1/settings/inbound", map[string]any{"enabled": true, "secret": "inbound-secret-0123456789", "scopes": []string{"admin.planner"}})
		status, body := send(t, in, "POST", "/api/public/webhooks/inbound", `{}`, map[string]string{"X-Hookbook-Request-Id": "id\xff" + uuid.NewString()})
		if status != 401 {
			t.Errorf("unsigned inbound with a broken request id = %d %s", status, body)
		}
		if cmds := in.Must(200, "GET", "/api/v1/inbound/commands", nil)["data"].([]any); len(cmds) != 1 {
			t.Errorf("%d commands logged, want the refused one", len(cmds))
		}
	})
}

// TestEventTypesPage pages through the catalog with limit and cursor.
func TestEventTypesPage(t *testing.T) {
	t.Parallel()
	in := hookbooktest.Start(t, nil)
	in.Must(201, "POST", "/api/v1/event-types", map[string]any{"name": "lead.qualified", "description": "A lead qualified"})
	seen, cursor := map[string]bool{}, ""
	for pages := 1; ; pages++ {
		path := "/api/v1/event-types?limit=7"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		page := in.Must(200, "GET", path, nil)
		data := page["data"].([]any)
		if len(data) > 7 {
			t.Fatalf("page of %d with limit 7", len(data))
		}
		for _, x := range data {
			seen[x.(map[string]any)["name"].(string)] = true
		}
		next, _ := page["next_cursor"].(string)
		if next == "" {
			if pages != 4 {
				t.Errorf("%d pages, want 4", pages)
			}
			break
		}
		cursor = next
	}
	if len(seen) != 27 || !seen["lead.qualified"] || !seen["booking.created"] {
		t.Errorf("paged through %d types", len(seen))
	}
	for _, q := range []string{"limit=0", "limit=x", "cursor=nope.nothing"} {
		if r := in.Do("GET", "/api/v1/event-types?"+q, nil); r.Status != 400 {
			t.Errorf("?%s = %d", q, r.Status)
		}
	}
}

// TestAPIKeysOverHTTP creates, uses and revokes a key through the API; the
// revocation holds at once on another instance sharing the database.
func TestAPIKeysOverHTTP(t *testing.T) {
	t.Parallel()
	url := hookbooktest.PostgresURL(t)
	a := hookbooktest.Start(t, map[string]string{"HOOKBOOK_DATABASE_URL": url})
	b := hookbooktest.Start(t, map[string]string{"HOOKBOOK_DATABASE_URL": url})
	created := a.Must(201, "POST", "/api/v1/api-keys", map[string]any{"name": "deploy bot"})
	key, id := created["key"].(string), created["id"].(string)
	if r := b.DoKey(key, "GET", "/api/v1/webhooks", nil); r.Status != 200 {
		t.Fatalf("the new key on another instance = %d", r.Status)
	}
	list := a.Must(200, "GET", "/api/v1/api-keys", nil)["data"].([]any)
	if len(list) != 2 || strings.Contains(fmt.Sprint(list), key) {
		t.Errorf("key list = %v", list)
	}
	a.Must(204, "DELETE", "/api/v1/api-keys/"+id, nil)
	if r := b.DoKey(key, "GET", "/api/v1/webhooks", nil); r.Status != 401 {
		t.Errorf("a revoked key on another instance = %d", r.Status)
	}
	if r := a.Do("DELETE", "/api/v1/api-keys/"+id, nil); r.Status != 404 {
		t.Errorf("revoking twice = %d", r.Status)
	}
}
