package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hookbook/hookbook/internal/hookbooktest"
)

// TestReverseProxyCaddy runs the README's Caddyfile in front of hookbook
// with the settings the README gives: the site on a port of the test's
// own (an IP address, which Caddy serves with its internal certificate
// authority rather than Let's Encrypt's), Caddy's admin API, trust store
// and plain-HTTP port kept to the test. Through it the API answers over
// https, with HSTS, and a portal link starts with the public URL.
func TestReverseProxyCaddy(t *testing.T) {
	hookbooktest.OncePerSuite(t)
	t.Parallel()
	hookbooktest.RequireTool(t, "caddy")
	caddyfile := readmeSnippets(t)["caddyfile"].code
	const site, upstream = "hooks.example.com", "127.0.0.1:8080"
	if !strings.HasPrefix(caddyfile, site+" {") || !strings.Contains(caddyfile, "reverse_proxy "+upstream) {
		t.Fatalf("the Caddyfile changed; update this test:\n%s", caddyfile)
	}
	addr := freePort(t)
	p := startProc(t, addr, map[string]string{"HOOKBOOK_DATABASE_URL": databaseURL(t),
		"HOOKBOOK_TRUSTED_PROXIES": "127.0.0.1/32", "HOOKBOOK_PUBLIC_URL": "https://" + site})

	dir := t.TempDir()
	public, plain := freePort(t), freePort(t)
	_, httpsPort, _ := net.SplitHostPort(public)
	_, httpPort, _ := net.SplitHostPort(plain)
	global := "{\n\tadmin off\n\tskip_install_trust\n\thttp_port " + httpPort + "\n\thttps_port " + httpsPort + "\n}\n"
	text := strings.Replace(strings.Replace(caddyfile, site, public, 1), upstream, addr, 1)
	file := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(file, []byte(global+text), 0o644); err != nil {
		t.Fatal(err)
	}
	c := hookbooktest.Command(t, "caddy", "run", "--config", file, "--adapter", "caddyfile")
	c.Dir = dir
	c.Env = append(os.Environ(), "XDG_DATA_HOME="+filepath.Join(dir, "data"), "XDG_CONFIG_HOME="+filepath.Join(dir, "config"), "HOME="+dir)
	logs := startLogged(t, c)
	t.Cleanup(func() { hookbooktest.KillGroup(c); c.Wait() })

	// Caddy's internal authority, once it made it: the client trusts it alone.
	root := filepath.Join(dir, "data", "caddy", "pki", "authorities", "local", "root.crt")
	var client *http.Client
	waitFor(t, 2*time.Minute, "Caddy to serve https", func() bool {
		pem, err := os.ReadFile(root)
		if err != nil {
			return false
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(pem)
		client = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
		resp, err := client.Get("https://" + public + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	t.Cleanup(client.CloseIdleConnections)

	req, _ := http.NewRequest("POST", "https://"+public+"/api/v1/portal/sessions", strings.NewReader(`{}`))
	req.Header.Set("Authorization", "Bearer "+p.key)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("through Caddy: %v\n%s", err, logs())
	}
	defer resp.Body.Close()
	var link struct{ URL string }
	json.NewDecoder(resp.Body).Decode(&link)
	if resp.StatusCode != 201 || !strings.HasPrefix(link.URL, "https://"+site+"/") {
		t.Errorf("a portal link through Caddy: %d %q", resp.StatusCode, link.URL)
	}
	if hsts := resp.Header.Get("Strict-Transport-Security"); hsts != "max-age=31536000" {
		t.Errorf("Strict-Transport-Security through Caddy = %q", hsts)
	}
}
