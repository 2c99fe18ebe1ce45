package server_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/hookbook/hookbook/internal/hookbooktest"
)

// TestServeWiresEveryPart starts an instance and checks that the API, the
// probes, the metrics, the OpenAPI document and the admin UI answer, and
// that the default organization was created with the configured key.
func TestServeWiresEveryPart(t *testing.T) {
	t.Parallel()
	in := hookbooktest.Start(t, nil)
	for path, want := range map[string]string{
		"/healthz":      `"ok"`,
		"/readyz":       `"ready"`,
		"/openapi.json": `"openapi"`,
		"/metrics":      "hookbook_events_published_total",
		"/login":        "<form",
	} {
		resp, err := http.Get(in.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), want) {
			t.Errorf("GET %s = %d, lacks %q", path, resp.StatusCode, want)
		}
	}
	in.Must(200, "GET", "/api/v1/webhooks", nil)
	if r := in.DoKey("hk_wrong", "GET", "/api/v1/webhooks", nil); r.Status != 401 {
		t.Errorf("a wrong key = %d", r.Status)
	}
}

// TestRestartKeepsTheDatabase starts an instance on a SQLite file, stops it
// and starts another on the same file: the default organization is kept
// and not created again.
func TestRestartKeepsTheDatabase(t *testing.T) {
	t.Parallel()
	url := hookbooktest.SQLiteURL(t)
	a := hookbooktest.Start(t, map[string]string{"HOOKBOOK_DATABASE_URL": url})
	ep := a.CreateEndpoint("http://127.0.0.1:9/x", []string{"*"}, nil)["id"].(string)
	a.Stop()
	b := hookbooktest.Start(t, map[string]string{"HOOKBOOK_DATABASE_URL": url, "HOOKBOOK_BOOTSTRAP_API_KEY": "hk_ignored_key_0123456789abcdef0123456789"})
	if r := b.DoKey(hookbooktest.Key, "GET", "/api/v1/webhooks/"+ep, nil); r.Status != 200 {
		t.Errorf("after a restart the endpoint = %d %s", r.Status, r.Body)
	}
}

// TestReadyzReportsAnUnwritableDatabase breaks the table the readiness
// probe writes: /readyz then answers 503 database_unwritable, and ready
// again once writes work.
func TestReadyzReportsAnUnwritableDatabase(t *testing.T) {
	t.Parallel()
	in := hookbooktest.Start(t, nil)
	readyz := func() (int, string) {
		resp, err := http.Get(in.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if s, b := readyz(); s != 200 {
		t.Fatalf("readyz = %d %s", s, b)
	}
	ctx := context.Background()
	if _, err := in.App.DB.ExecContext(ctx, `ALTER TABLE readiness RENAME TO readiness_away`); err != nil {
		t.Fatal(err)
	}
	if s, b := readyz(); s != 503 || !strings.Contains(b, "database_unwritable") {
		t.Errorf("readyz with writes failing = %d %s", s, b)
	}
	if _, err := in.App.DB.ExecContext(ctx, `ALTER TABLE readiness_away RENAME TO readiness`); err != nil {
		t.Fatal(err)
	}
	if s, b := readyz(); s != 200 {
		t.Errorf("readyz after repair = %d %s", s, b)
	}
}
