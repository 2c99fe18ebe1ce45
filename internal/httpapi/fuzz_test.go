package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hookbook/hookbook/internal/hookbooktest"
)

// FuzzRequestDecoding sends arbitrary bodies to the write routes of the API
// on a real SQLite store: every answer must be a JSON success or a 4xx
// error, never a 500 or a panic.
func FuzzRequestDecoding(f *testing.F) {
	for _, seed := range []string{
		`{"url":"http://127.0.0.1:9/x","events":["*"]}`,
		`{"url":"http://a.test","events":["booking.*"],"secret":"0123456789abcdef","headers":{"X-A":"b"}}`,
		`{"event":"booking.created","data":{"a":1},"idempotency_key":"k"}`,
		`{"name":"lead.qualified","description":"d","schema":{"type":"object"}}`,
		`{"since":"2026-01-01T00:00:00Z"}`, `{"since":"2026-01-01T00:00:00Z","until":"2026-02-01T00:00:00Z","status":"any","event":"booking.*","dry_run":true}`,
		`{"since":"2026-01-01T00:00:00+02:00","status":"pending","event":"*"}`, `{"enabled":true}`, `{"url":5}`, `[`, ``, `null`, `{"events":[null]}`,
		`{"url":"http://127.0.0.1:9/x","events":["*"],"filter":{"$or":[{"data":{"n":{"$gte":2}}},{"event":{"$in":["a.b"]}}]}}`,
		`{"filter":{"data":{"n":{"$gte":2}}},"event":{"n":3}}`, `{"filter":{"$not":{"a":{"$x":1}}},"event":[1]}`,
	} {
		for _, route := range []uint8{0, 1, 2, 3, 4, 5, 6} {
			f.Add(route, seed)
		}
	}
	in := hookbooktest.Start(f, nil)
	ep := in.CreateEndpoint("http://127.0.0.1:9/x", []string{"*"}, nil)["id"].(string)
	h := in.App.Handler()
	routes := []struct{ method, path string }{
		{"POST", "/api/v1/webhooks"},
		{"PATCH", "/api/v1/webhooks/" + ep},
		{"POST", "/api/v1/events"},
		{"POST", "/api/v1/event-types"},
		{"POST", "/api/v1/webhooks/" + ep + "/recover"},
		{"PUT", "/api/v1/settings/outbound"},
		{"POST", "/api/v1/webhooks/" + ep + "/replay"},
		{"POST", "/api/v1/filters/test"},
	}
	f.Fuzz(func(t *testing.T, route uint8, body string) {
		rt := routes[int(route)%len(routes)]
		req := httptest.NewRequest(rt.method, rt.path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+in.Key)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("%s %s with %q answered %d: %s", rt.method, rt.path, body, w.Code, w.Body)
		}
		if w.Code >= 400 && !strings.Contains(w.Body.String(), `"error":{"code":`) {
			t.Fatalf("error answer without the error shape: %s", w.Body)
		}
		if ct := w.Header().Get("Content-Type"); w.Code != http.StatusNoContent && ct != "application/json" {
			t.Fatalf("content type %q", ct)
		}
	})
}

func ptr[T any](v T) *T { return &v }
