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

// TestFormsRefuseInvalidText signs in and sends a form whose fields are not
// UTF-8: the answer is 400 on both databases, never a 500.
func TestFormsRefuseInvalidText(t *testing.T) {
	t.Parallel()
	for name, dbURL := range map[string]func(testing.TB) string{"sqlite": hookbooktest.SQLiteURL, "postgres": hookbooktest.PostgresURL} {
		t.Run(name, func(t *testing.T) {
			in := hookbooktest.Start(t, map[string]string{"HOOKBOOK_DATABASE_URL": dbURL(t)})
			jar, _ := cookiejar.New(nil)
			c := &http.Client{Jar: jar}
			page := func(path string) string {
				resp, err := c.Get(in.URL + path)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				m := csrfField.FindStringSubmatch(string(b))
				if m == nil {
					t.Fatalf("%s has no CSRF token: %d", path, resp.StatusCode)
				}
				return m[1]
			}
			post := func(path string, form url.Values) int {
				resp, err := c.PostForm(in.URL+path, form)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				return resp.StatusCode
			}
			if s := post("/login", url.Values{"api_key": {in.Key}, "csrf": {page("/login")}}); s != 200 {
				t.Fatalf("sign-in = %d", s)
			}
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
}
