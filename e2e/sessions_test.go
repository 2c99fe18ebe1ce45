package e2e

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"testing"

	"github.com/hookbook/hookbook/internal/ids"
)

// uiSession signs in to the admin UI of base with key and returns a client
// that carries the session cookie (redirects are not followed).
func uiSession(t *testing.T, base, key string) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(base + "/login")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`).FindStringSubmatch(string(b))
	if m == nil {
		t.Fatalf("no CSRF token on the sign-in page: %s", b)
	}
	resp, err = c.PostForm(base+"/login", url.Values{"api_key": {key}, "csrf": {m[1]}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/settings/webhooks" {
		t.Fatalf("sign-in = %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	return c
}

// pageStatus is the status of GET base+path with the client's session.
func pageStatus(t *testing.T, c *http.Client, base, path string) int {
	t.Helper()
	resp, err := c.Get(base + path)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestRevokedKeyEndsUISessions: revoking an API key (through the API or
// the CLI) ends the admin UI sessions signed in with it at once, on every
// instance of the database; sessions of other keys go on.
func TestRevokedKeyEndsUISessions(t *testing.T) {
	t.Parallel()
	dbURL := databaseURL(t)
	in := start(t, map[string]string{"HOOKBOOK_DATABASE_URL": dbURL})
	bases := []string{in.url}
	if backend() == "postgres" {
		// A second instance on the same database sees the revocation too.
		other := start(t, map[string]string{"HOOKBOOK_DATABASE_URL": dbURL})
		bases = append(bases, other.url)
	}
	newKey := func(name string) (id, key string) {
		k := in.must(201, "POST", "/api/v1/api-keys", map[string]any{"name": name})
		return k["id"].(string), k["key"].(string)
	}
	caller, err := in.app.Orgs.Authenticate(context.Background(), in.key)
	if err != nil {
		t.Fatal(err)
	}
	orgID := caller.Organization.ID

	kept := uiSession(t, in.url, in.key)
	apiID, apiKey := newKey("ui via api")
	cliID, cliKey := newKey("ui via cli")
	var viaAPI, viaCLI []*http.Client
	for _, b := range bases {
		viaAPI = append(viaAPI, uiSession(t, b, apiKey))
		viaCLI = append(viaCLI, uiSession(t, b, cliKey))
	}
	for i, b := range bases {
		for _, c := range []*http.Client{viaAPI[i], viaCLI[i]} {
			if code := pageStatus(t, c, b, "/settings/webhooks"); code != 200 {
				t.Fatalf("%s: signed-in page = %d", b, code)
			}
		}
	}

	if r := in.do("DELETE", "/api/v1/api-keys/"+apiID, nil); r.Status != 204 {
		t.Fatalf("revoke = %d %s", r.Status, r.Body)
	}
	for i, b := range bases {
		if code := pageStatus(t, viaAPI[i], b, "/settings/webhooks"); code != http.StatusSeeOther {
			t.Errorf("%s: a session of the key revoked through the API = %d, want 303 to sign-in", b, code)
		}
		if code := pageStatus(t, viaCLI[i], b, "/settings/webhooks"); code != 200 {
			t.Errorf("%s: a session of another key = %d after the revocation", b, code)
		}
	}

	c := exec.Command(buildBinary(t), "key", "revoke", "--org", orgID, "--id", cliID)
	c.Env = append(os.Environ(), "HOOKBOOK_DATABASE_URL="+dbURL)
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("hookbook key revoke: %v %s", err, out)
	}
	for i, b := range bases {
		if code := pageStatus(t, viaCLI[i], b, "/settings/webhooks"); code != http.StatusSeeOther {
			t.Errorf("%s: a session of the key revoked through the CLI = %d, want 303 to sign-in", b, code)
		}
	}
	if code := pageStatus(t, kept, in.url, "/settings/webhooks"); code != 200 {
		t.Errorf("the session of the key still live = %d", code)
	}

	// A session whose key is revoked is refused even if its row remained
	// (one signed in before keys were recorded has none at all).
	for _, keyID := range []string{apiID, ""} {
		token := "leftover-" + keyID
		if _, err := in.app.DB.ExecContext(context.Background(),
			`INSERT INTO ui_sessions (token_hash, organization_id, csrf_token, created_at, expires_at, api_key_id) VALUES ($1, $2, 'x', 0, $3, $4)`,
			ids.Hash(token), orgID, int64(1)<<60, keyID); err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest("GET", in.url+"/settings/webhooks", nil)
		req.AddCookie(&http.Cookie{Name: "hookbook_session", Value: token})
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther {
			t.Errorf("a leftover session of key %q = %d, want 303 to sign-in", keyID, resp.StatusCode)
		}
	}
}

// TestSignInThrottleWording: the sign-in throttle says how long to wait
// in words ("Try again in 10 minutes."), not as a Go duration.
func TestSignInThrottleWording(t *testing.T) {
	t.Parallel()
	in := start(t, nil)
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	csrf := regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)
	var last string
	for i := 0; i < 11; i++ {
		resp, err := c.Get(in.url + "/login")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		resp, err = c.PostForm(in.url+"/login", url.Values{"api_key": {"hk_wrong"}, "csrf": {csrf.FindStringSubmatch(string(b))[1]}})
		if err != nil {
			t.Fatal(err)
		}
		b, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if i == 10 && resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("the 11th wrong sign-in = %d, want 429", resp.StatusCode)
		}
		last = string(b)
	}
	// Ten minutes from the first failure, rounded up: 10 unless this
	// machine took over a minute for the eleven attempts.
	if !regexp.MustCompile(`Try again in (10|[1-9]) minutes?\.`).MatchString(last) {
		t.Errorf("the throttled sign-in page lacks \"Try again in 10 minutes.\":\n%s", last)
	}
}
