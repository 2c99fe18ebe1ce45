package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/hookbook/hookbook/internal/hookbooktest"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// TestMain runs the suite, then checks every JSON answer the tests received
// against the response schema the OpenAPI document declares for its
// operation and status: the document must describe the real answers, as
// generated clients trust it.
func TestMain(m *testing.M) {
	code := hookbooktest.RunMain(m) // temporary files under one directory, removed at the end; no process outlives the run
	if code == 0 {
		if problems := checkAnswers(hookbooktest.Answers.All()); len(problems) > 0 {
			fmt.Fprintf(os.Stderr, "FAIL: %d answers do not match the OpenAPI document:\n%s\n", len(problems), strings.Join(problems, "\n"))
			code = 1
		}
	}
	os.Exit(code)
}

// checkAnswers validates answers against ../internal/httpapi/openapi.json.
func checkAnswers(answers []hookbooktest.Answer) []string {
	raw, err := os.ReadFile("../internal/httpapi/openapi.json")
	if err != nil {
		return []string{err.Error()}
	}
	var doc struct {
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			Responses map[string]json.RawMessage `json:"responses"`
		} `json:"components"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return []string{err.Error()}
	}
	whole, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return []string{err.Error()}
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource("openapi.json", whole); err != nil {
		return []string{err.Error()}
	}
	type route struct {
		re       *regexp.Regexp
		template string
	}
	var routes []route
	for p := range doc.Paths {
		re := "^" + regexp.MustCompile(`\\\{[^}]+\\\}`).ReplaceAllString(regexp.QuoteMeta(p), `[^/]+`) + "$"
		routes = append(routes, route{regexp.MustCompile(re), p})
	}
	// Literal paths before templated ones: /api/v1/x/new before /api/v1/x/{id}.
	sort.Slice(routes, func(i, j int) bool {
		return strings.Count(routes[i].template, "{") < strings.Count(routes[j].template, "{")
	})
	pointer := func(parts ...string) string {
		for i, s := range parts {
			parts[i] = strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
		}
		return "openapi.json#/" + strings.Join(parts, "/")
	}
	schemas := map[string]*jsonschema.Schema{}
	var problems []string
	checked := 0
	for _, a := range answers {
		if !strings.HasPrefix(a.ContentType, "application/json") || len(a.Body) == 0 {
			continue
		}
		var tmpl string
		for _, r := range routes {
			if r.re.MatchString(a.Path) {
				tmpl = r.template
				break
			}
		}
		method := strings.ToLower(a.Method)
		if tmpl == "" || doc.Paths[tmpl][method] == nil {
			continue // an unknown route: its 404/405 is checked elsewhere
		}
		var op struct {
			Responses map[string]struct {
				Ref     string                     `json:"$ref"`
				Content map[string]json.RawMessage `json:"content"`
			} `json:"responses"`
		}
		json.Unmarshal(doc.Paths[tmpl][method], &op)
		status := strconv.Itoa(a.Status)
		resp, ok := op.Responses[status]
		if !ok {
			resp, ok = op.Responses["default"]
		}
		if !ok {
			problems = append(problems, fmt.Sprintf("%s %s: status %d is not documented (%s)", a.Method, tmpl, a.Status, short(a.Body)))
			continue
		}
		loc := pointer("paths", tmpl, method, "responses", status, "content", "application/json", "schema")
		if resp.Ref != "" {
			name := strings.TrimPrefix(resp.Ref, "#/components/responses/")
			var shared struct {
				Content map[string]json.RawMessage `json:"content"`
			}
			json.Unmarshal(doc.Components.Responses[name], &shared)
			resp.Content = shared.Content
			loc = pointer("components", "responses", name, "content", "application/json", "schema")
		}
		if _, ok := resp.Content["application/json"]; !ok {
			problems = append(problems, fmt.Sprintf("%s %s %d: a JSON answer where the document declares none", a.Method, tmpl, a.Status))
			continue
		}
		sch := schemas[loc]
		if sch == nil {
			if sch, err = c.Compile(loc); err != nil {
				problems = append(problems, fmt.Sprintf("%s %s %d: schema: %v", a.Method, tmpl, a.Status, err))
				continue
			}
			schemas[loc] = sch
		}
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(a.Body))
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s %s %d: not JSON: %s", a.Method, tmpl, a.Status, short(a.Body)))
			continue
		}
		checked++
		if err := sch.Validate(v); err != nil {
			problems = append(problems, fmt.Sprintf("%s %s %d: %v\n  answer: %s", a.Method, tmpl, a.Status, err, short(a.Body)))
		}
	}
	if checked == 0 && len(answers) > 50 {
		problems = append(problems, "no answer was checked")
	}
	fmt.Fprintf(os.Stderr, "openapi: checked %d answers against the document\n", checked)
	return problems
}

func short(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}
