package admin_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/hookbook/hookbook/internal/hookbooktest"
)

var csrfField = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)

// browser is a signed-in client of the admin UI: page fetches a page and
// returns its CSRF token, post sends a form and returns the status and body.
type browser struct {
	get  func(path string) string
	page func(path string) string
	post func(path string, form url.Values) (int, string)
}

func newBrowser(t *testing.T, in *hookbooktest.Instance) *browser {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	b := &browser{}
	b.get = func(path string) string {
		resp, err := c.Get(in.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return string(body)
	}
	b.page = func(path string) string {
		m := csrfField.FindStringSubmatch(b.get(path))
		if m == nil {
			t.Fatalf("%s has no CSRF token", path)
		}
		return m[1]
	}
	b.post = func(path string, form url.Values) (int, string) {
		resp, err := c.PostForm(in.URL+path, form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if s, _ := b.post("/login", url.Values{"api_key": {in.Key}, "csrf": {b.page("/login")}}); s != 200 {
		t.Fatalf("sign-in = %d", s)
	}
	return b
}

var shownKey = regexp.MustCompile(`id="api-key">(hk_[0-9a-f]+)<`)

// TestAPIKeysPage creates a key in the UI, uses it on the API, and revokes
// it there; the organization's last key cannot be revoked.
func TestAPIKeysPage(t *testing.T) {
	t.Parallel()
	in := hookbooktest.Start(t, nil)
	b := newBrowser(t, in)
	csrf := b.page("/settings/api-keys")
	status, body := b.post("/settings/api-keys", url.Values{"csrf": {csrf}, "name": {"booking backend"}})
	m := shownKey.FindStringSubmatch(body)
	if status != 201 || m == nil {
		t.Fatalf("create = %d, key shown: %v", status, m != nil)
	}
	if r := in.DoKey(m[1], "GET", "/api/v1/webhooks", nil); r.Status != 200 {
		t.Fatalf("the new key = %d", r.Status)
	}
	if status, _ := b.post("/settings/api-keys", url.Values{"csrf": {csrf}, "name": {" "}}); status != 422 {
		t.Errorf("a key without a name = %d", status)
	}
	keys := in.Must(200, "GET", "/api/v1/api-keys", nil)["data"].([]any)
	newID := keys[0].(map[string]any)["id"].(string)
	if status, _ := b.post("/settings/api-keys/"+newID+"/revoke", url.Values{"csrf": {csrf}}); status != 200 {
		t.Errorf("revoke = %d", status)
	}
	if r := in.DoKey(m[1], "GET", "/api/v1/webhooks", nil); r.Status != 401 {
		t.Errorf("the revoked key = %d", r.Status)
	}
	last := keys[1].(map[string]any)["id"].(string)
	if status, _ := b.post("/settings/api-keys/"+last+"/revoke", url.Values{"csrf": {csrf}}); status != 409 {
		t.Errorf("revoking the last key = %d", status)
	}
	if page := b.get("/settings/api-keys"); strings.Contains(page, m[1]) || !strings.Contains(page, "initial") {
		t.Error("the key list shows a key, or lacks the live one")
	}
}

// TestFormsRefuseInvalidText signs in and sends a form whose fields are not
// UTF-8: the answer is 400 on both databases, never a 500.
func TestFormsRefuseInvalidText(t *testing.T) {
	t.Parallel()
	hookbooktest.StartEach(t, func(t *testing.T, in *hookbooktest.Instance) {
		b := newBrowser(t, in)
		page := b.page
		post := func(path string, form url.Values) int { s, _ := b.post(path, form); return s }
		csrf := page("/settings/webhooks/create")
		bad := url.Values{"csrf": {csrf}, "url": {"http://127.0.0.1:9/\xff\xfe"}, "events": {"*"}, "description": {"x\x00y"}}
		if s := post("/settings/webhooks/create", bad); s != 400 {
			t.Errorf("a form with invalid UTF-8 = %d, want 400", s)
		}
		if n := len(in.Must(200, "GET", "/api/v1/webhooks", nil)["data"].([]any)); n != 0 {
			t.Errorf("%d endpoints stored from an invalid form", n)
		}
		good := url.Values{"csrf": {csrf}, "url": {"http://127.0.0.1:9/" + strings.Repeat("a", 3)}, "events": {"*"}, "max_attempts": {"5"}, "timeout_seconds": {"10"}, "signature_scheme": {"timestamped"}}
		if s := post("/settings/webhooks/create", good); s != 200 {
			t.Errorf("a valid form = %d", s)
		}
	})
}

// TestFilterField: the form's payload filter is saved, kept by a form that
// does not carry the field, removed by an empty one; a bad one and a dry
// run's pasted event that is not an object are refused beside their fields,
// on both databases.
func TestFilterField(t *testing.T) {
	t.Parallel()
	hookbooktest.StartEach(t, func(t *testing.T, in *hookbooktest.Instance) {
		b := newBrowser(t, in)
		id := in.CreateEndpoint("http://127.0.0.1:9/x", []string{"*"}, nil)["id"].(string)
		path := "/settings/webhooks/" + id + "/edit"
		form := func(extra url.Values) url.Values {
			v := url.Values{"csrf": {b.page(path)}, "url": {"http://127.0.0.1:9/x"}, "events": {"*"}, "enabled": {"on"},
				"max_attempts": {"8"}, "timeout_seconds": {"10"}, "signature_scheme": {"timestamped"}}
			for k, x := range extra {
				v[k] = x
			}
			return v
		}
		filterOf := func() any { return in.Must(200, "GET", "/api/v1/webhooks/"+id, nil)["filter"] }
		if s, _ := b.post(path, form(url.Values{"payload_filter": {`{"data":{"n":{"$gt":1}}}`}})); s != 200 {
			t.Fatalf("saving a filter = %d", s)
		}
		if filterOf() == nil {
			t.Fatal("the filter was not saved")
		}
		if page := b.get(path); !strings.Contains(page, `&#34;$gt&#34;: 1`) {
			t.Errorf("the edit page does not show the filter laid out")
		}
		if s, _ := b.post(path, form(nil)); s != 200 || filterOf() == nil {
			t.Errorf("a form without the field = %d, filter %v", s, filterOf())
		}
		s, body := b.post(path, form(url.Values{"payload_filter": {`{"data":{"n":{"$gt":[]}}}`}}))
		if s != 422 || !strings.Contains(body, `id="payload_filter-error">filter.data.n.$gt: must be a number or a string`) {
			t.Errorf("a bad filter = %d", s)
		}
		s, body = b.post(path, form(url.Values{"payload_filter": {`{}`}, "filter_event": {`[1]`}, "action": {"test_filter"}}))
		if s != 422 || !strings.Contains(body, `id="filter_event-error"`) {
			t.Errorf("a dry run on an array = %d", s)
		}
		if s, _ := b.post(path, form(url.Values{"payload_filter": {""}})); s != 200 || filterOf() != nil {
			t.Errorf("an empty field = %d, filter %v", s, filterOf())
		}
	})
}
