package api_test

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/hookbook/hookbook/api"
)

// TestEveryRouteIsDocumented checks the hand-written OpenAPI document
// against the routes the server really registers, both ways.
func TestEveryRouteIsDocumented(t *testing.T) {
	var doc struct {
		OpenAPI string                               `json:"openapi"`
		Paths   map[string]map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(api.OpenAPI(), &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi version %q", doc.OpenAPI)
	}
	srv := &api.Server{}
	srv.Handler()
	registered := map[string]bool{}
	for _, rt := range srv.Routes() {
		key := strings.ToLower(rt.Method) + " " + rt.Pattern
		registered[key] = true
		op, ok := doc.Paths[rt.Pattern][strings.ToLower(rt.Method)]
		if !ok {
			t.Errorf("%s %s is not documented", rt.Method, rt.Pattern)
			continue
		}
		if op["summary"] == "" || op["responses"] == nil {
			t.Errorf("%s %s lacks a summary or responses", rt.Method, rt.Pattern)
		}
		for _, p := range regexp.MustCompile(`\{(\w+)\}`).FindAllStringSubmatch(rt.Pattern, -1) {
			if !strings.Contains(string(mustJSON(op["parameters"])), `"name":"`+p[1]+`"`) {
				t.Errorf("%s %s does not document path parameter %s", rt.Method, rt.Pattern, p[1])
			}
		}
	}
	for path, ops := range doc.Paths {
		for method := range ops {
			if !registered[method+" "+path] {
				t.Errorf("documented %s %s is not served", method, path)
			}
		}
	}
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}
