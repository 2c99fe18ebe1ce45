package e2e

import (
	"encoding/json"
	"regexp"
	"testing"
)

// TestEveryRouteNeedsAKeyUnlessPublic walks the route table: every route
// not marked Public answers 401 missing_api_key without an API key, and no
// public route asks for one, so a new route cannot forget authentication.
func TestEveryRouteNeedsAKeyUnlessPublic(t *testing.T) {
	t.Parallel()
	in := start(t, nil)
	wildcard := regexp.MustCompile(`\{[^}]+\}`)
	routes := in.app.API.Routes()
	if len(routes) < 20 {
		t.Fatalf("only %d routes registered", len(routes))
	}
	public := 0
	for _, rt := range routes {
		path := wildcard.ReplaceAllString(rt.Pattern, "x")
		var body any
		if rt.Method == "POST" || rt.Method == "PUT" || rt.Method == "PATCH" {
			body = map[string]any{}
		}
		r := in.doKey("", rt.Method, path, body)
		var e struct {
			Error struct{ Code string } `json:"error"`
		}
		json.Unmarshal(r.Body, &e)
		if rt.Public {
			public++
			if e.Error.Code == "missing_api_key" {
				t.Errorf("public %s %s asks for an API key: %d %s", rt.Method, rt.Pattern, r.Status, r.Body)
			}
			continue
		}
		if r.Status != 401 || e.Error.Code != "missing_api_key" {
			t.Errorf("%s %s without a key = %d %s, want 401 missing_api_key", rt.Method, rt.Pattern, r.Status, r.Body)
		}
	}
	if public == 0 || public == len(routes) {
		t.Fatalf("%d of %d routes public", public, len(routes))
	}
}
