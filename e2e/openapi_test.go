package e2e

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

// TestEveryRouteIsDocumented checks the hand-written OpenAPI document served
// at /openapi.json against every route the running instance registered
// (the API's own and those other parts add), both ways.
func TestEveryRouteIsDocumented(t *testing.T) {
	t.Parallel()
	in := start(t, nil)
	r := in.doKey("", "GET", "/openapi.json", nil)
	var doc struct {
		OpenAPI string                               `json:"openapi"`
		Paths   map[string]map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(r.Body, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi version %q", doc.OpenAPI)
	}
	registered := map[string]bool{}
	routes := in.app.API.Routes()
	if len(routes) < 20 {
		t.Fatalf("only %d routes registered", len(routes))
	}
	for _, rt := range routes {
		method := strings.ToLower(rt.Method)
		registered[method+" "+rt.Pattern] = true
		op, ok := doc.Paths[rt.Pattern][method]
		if !ok {
			t.Errorf("%s %s is not documented", rt.Method, rt.Pattern)
			continue
		}
		if op["summary"] == "" || op["responses"] == nil {
			t.Errorf("%s %s lacks a summary or responses", rt.Method, rt.Pattern)
		}
		params, _ := json.Marshal(op["parameters"])
		for _, p := range regexp.MustCompile(`\{(\w+)\}`).FindAllStringSubmatch(rt.Pattern, -1) {
			if !strings.Contains(string(params), `"name":"`+p[1]+`"`) {
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
