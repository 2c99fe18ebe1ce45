package e2e

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"testing"
)

// The headers every API answer carries, gzip when asked, an endpoint's
// ETag with If-Match, and has_more beside next_cursor.
func TestAnswerHeadersGzipETagAndHasMore(t *testing.T) {
	t.Parallel()
	in := start(t, nil)
	rc := newReceiver(t, nil)
	ep := in.createEndpoint(rc.URL, []string{"*"}, map[string]any{"description": "first"})["id"].(string)
	in.createEndpoint(rc.URL+"/2", []string{"*"}, nil)

	// nosniff on answers of every kind; WWW-Authenticate on 401.
	for _, r := range []response{in.do("GET", "/api/v1/webhooks", nil), in.doKey("", "GET", "/healthz", nil),
		in.do("GET", "/api/v1/nothing-here", nil), in.doKey("", "GET", "/openapi.json", nil)} {
		if r.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("answer %d without nosniff: %v", r.Status, r.Header)
		}
	}
	if r := in.doKey("", "GET", "/api/v1/webhooks", nil); r.Status != 401 || r.Header.Get("WWW-Authenticate") != `Bearer realm="hookbook"` {
		t.Errorf("401 = %d, WWW-Authenticate %q", r.Status, r.Header.Get("WWW-Authenticate"))
	}
	if r := in.doKey("hk_wrong_key_0123456789abcdef0123456789", "GET", "/api/v1/webhooks", nil); r.Status != 401 || r.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("unknown key = %d, WWW-Authenticate %q", r.Status, r.Header.Get("WWW-Authenticate"))
	}
	enableInbound(t, in, "admin.slots")
	if r := in.command(command{body: cmdBody("admin.slots.create", nil, nil), secret: "not-the-secret-at-all"}); r.Status != 401 ||
		r.Header.Get("WWW-Authenticate") != `HMAC-SHA256 realm="hookbook inbound commands"` {
		t.Errorf("badly signed command = %d, WWW-Authenticate %q", r.Status, r.Header.Get("WWW-Authenticate"))
	}

	// gzip: a large JSON answer when asked, never when not asked or small.
	get := func(path, accept string) (*http.Response, []byte) {
		req, _ := http.NewRequest("GET", in.url+path, nil)
		req.Header.Set("Authorization", "Bearer "+in.Key)
		if accept != "" {
			req.Header.Set("Accept-Encoding", accept)
		}
		// A Transport of its own that does not decompress by itself.
		resp, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	plain, plainBody := get("/openapi.json", "")
	zipped, zippedBody := get("/openapi.json", "br, gzip;q=0.8")
	if plain.Header.Get("Content-Encoding") != "" || zipped.Header.Get("Content-Encoding") != "gzip" || zipped.Header.Get("Vary") != "Accept-Encoding" {
		t.Fatalf("Content-Encoding %q without asking, %q when asked (Vary %q)", plain.Header.Get("Content-Encoding"), zipped.Header.Get("Content-Encoding"), zipped.Header.Get("Vary"))
	}
	zr, err := gzip.NewReader(bytes.NewReader(zippedBody))
	if err != nil {
		t.Fatal(err)
	}
	unzipped, err := io.ReadAll(zr)
	if err != nil || !bytes.Equal(unzipped, plainBody) || len(zippedBody) >= len(plainBody) {
		t.Errorf("gzip answer: %d bytes for %d, same content %v, %v", len(zippedBody), len(plainBody), bytes.Equal(unzipped, plainBody), err)
	}
	if small, _ := get("/healthz", "gzip"); small.Header.Get("Content-Encoding") != "" {
		t.Errorf("a small answer was compressed")
	}
	if refused, _ := get("/openapi.json", "gzip;q=0"); refused.Header.Get("Content-Encoding") != "" {
		t.Errorf("gzip;q=0 got gzip")
	}

	// ETag and If-Match on an endpoint.
	r := in.do("GET", "/api/v1/webhooks/"+ep, nil)
	etag := r.Header.Get("ETag")
	if r.Status != 200 || len(etag) < 3 || etag[0] != '"' {
		t.Fatalf("GET endpoint = %d, ETag %q", r.Status, etag)
	}
	if again := in.do("GET", "/api/v1/webhooks/"+ep, nil).Header.Get("ETag"); again != etag {
		t.Errorf("ETag changed without a change: %q then %q", etag, again)
	}
	patch := func(ifMatch string, body map[string]any) response {
		h := http.Header{}
		if ifMatch != "" {
			h.Set("If-Match", ifMatch)
		}
		return in.DoHeader(in.Key, "PATCH", "/api/v1/webhooks/"+ep, body, h)
	}
	first := patch(etag, map[string]any{"description": "second"})
	if first.Status != 200 || first.Header.Get("ETag") == etag || first.Header.Get("ETag") == "" {
		t.Fatalf("PATCH with the current ETag = %d, new ETag %q", first.Status, first.Header.Get("ETag"))
	}
	stale := patch(etag, map[string]any{"description": "lost update"})
	if stale.Status != 412 || stale.ErrorCode(t) != "precondition_failed" {
		t.Errorf("PATCH with a stale ETag = %d %s", stale.Status, stale.Body)
	}
	if d := in.must(200, "GET", "/api/v1/webhooks/"+ep, nil)["description"]; d != "second" {
		t.Errorf("description = %v after a refused update", d)
	}
	if r := patch("*", map[string]any{"description": "third"}); r.Status != 200 {
		t.Errorf("If-Match: * = %d", r.Status)
	}
	if r := patch("", map[string]any{"description": "fourth"}); r.Status != 200 {
		t.Errorf("no If-Match = %d", r.Status)
	}
	if r := patch(`"nope", `+in.do("GET", "/api/v1/webhooks/"+ep, nil).Header.Get("ETag"), map[string]any{"description": "fifth"}); r.Status != 200 {
		t.Errorf("If-Match list with the current ETag = %d %s", r.Status, r.Body)
	}

	// has_more beside next_cursor.
	var page struct {
		Data       []any   `json:"data"`
		NextCursor *string `json:"next_cursor"`
		HasMore    *bool   `json:"has_more"`
	}
	json.Unmarshal(in.do("GET", "/api/v1/webhooks?limit=1", nil).Body, &page)
	if page.HasMore == nil || !*page.HasMore || page.NextCursor == nil {
		t.Fatalf("first page: has_more %v, next_cursor %v", page.HasMore, page.NextCursor)
	}
	page.HasMore, page.NextCursor = nil, nil
	json.Unmarshal(in.do("GET", "/api/v1/webhooks?limit=10", nil).Body, &page)
	if page.HasMore == nil || *page.HasMore || page.NextCursor != nil {
		t.Errorf("last page: has_more %v, next_cursor %v", page.HasMore, page.NextCursor)
	}
}
