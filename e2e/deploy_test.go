package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hookbook/hookbook/internal/hookbooktest"
)

// selfSigned writes a certificate for 127.0.0.1 and its key, and returns
// their paths and a pool trusting the certificate.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "hookbook test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestTLSAndMetricsListener: with a certificate the binary speaks HTTPS
// only, and with HOOKBOOK_METRICS_ADDR /metrics moves to its own listener.
func TestTLSAndMetricsListener(t *testing.T) {
	t.Parallel()
	certFile, keyFile, pool := selfSigned(t)
	addr, metrics := freePort(t), freePort(t)
	bin := buildBinary(t)
	startProcWith(t, bin, addr, map[string]string{"HOOKBOOK_DATABASE_URL": databaseURL(t),
		"HOOKBOOK_TLS_CERT_FILE": certFile, "HOOKBOOK_TLS_KEY_FILE": keyFile, "HOOKBOOK_METRICS_ADDR": metrics}, "https://"+addr, pool)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Get("https://" + addr + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("https /healthz: %v %v", resp, err)
	}
	resp.Body.Close()
	if resp, err := http.Get("http://" + addr + "/healthz"); err == nil && resp.StatusCode == 200 {
		t.Error("plain HTTP answered 200 on the TLS port")
	}
	resp, _ = client.Get("https://" + addr + "/metrics")
	if resp.StatusCode != 404 {
		t.Errorf("/metrics on the public port = %d, want 404", resp.StatusCode)
	}
	resp.Body.Close()
	resp, err = http.Get("http://" + metrics + "/metrics")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("/metrics on its own listener: %v %v", resp, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("/metrics on its own listener: X-Content-Type-Options %q, want nosniff", got)
	}
	if !strings.Contains(string(b), "hookbook_queue_pending") {
		t.Errorf("metrics body: %.300s", b)
	}
	// A certificate that does not load stops the start with a clear message.
	c := startCmd(bin, freePort(t), map[string]string{"HOOKBOOK_DATABASE_URL": databaseURL(t),
		"HOOKBOOK_TLS_CERT_FILE": keyFile, "HOOKBOOK_TLS_KEY_FILE": keyFile})
	if out, err := c.CombinedOutput(); err == nil || !strings.Contains(string(out), "HOOKBOOK_TLS_CERT_FILE") {
		t.Errorf("bad certificate: %v %s", err, out)
	}
}

// TestTrustedProxies: behind a trusted proxy, per-address limits count the
// client named in X-Forwarded-For, not the proxy: one client over its
// limit does not lock out the next.
func TestTrustedProxies(t *testing.T) {
	t.Parallel()
	in := start(t, map[string]string{"HOOKBOOK_TRUSTED_PROXIES": "127.0.0.1/32"})
	in.must(200, "PUT", "/api/v1/settings/inbound", map[string]any{"enabled": true, "secret": inboundSecret, "scopes": []string{"admin.planner"}})
	send := func(client string) int {
		req, _ := http.NewRequest("POST", in.url+"/api/public/webhooks/inbound", strings.NewReader(`{"action":"admin.planner.block"}`))
		req.Header.Set("X-Forwarded-For", client)
		req.Header.Set("X-Hookbook-Timestamp", "1")
		req.Header.Set("X-Hookbook-Signature", "sha256=00")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for i := 0; i < 30; i++ {
		send("198.51.100.7")
	}
	if code := send("198.51.100.7"); code != 429 {
		t.Errorf("the 31st bad command of one client = %d, want 429", code)
	}
	if code := send("198.51.100.8"); code != 401 {
		t.Errorf("another client behind the same proxy = %d, want 401 (not locked out)", code)
	}
}

// unitLines reads deploy/hookbook.service as it ships, and as an operator
// enables it for a root-only certificate: its commented LoadCredential= and
// Environment= lines uncommented.
func unitLines(t *testing.T) (shipped, enabled []string) {
	t.Helper()
	b, err := os.ReadFile("../deploy/hookbook.service")
	if err != nil {
		t.Fatal(err)
	}
	shipped = strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	for _, l := range shipped {
		if strings.HasPrefix(l, "#LoadCredential=") || strings.HasPrefix(l, "#Environment=") {
			l = l[1:]
		}
		enabled = append(enabled, l)
	}
	return shipped, enabled
}

// unitValues returns the values of key= in lines, in order.
func unitValues(lines []string, key string) []string {
	var out []string
	for _, l := range lines {
		if v, ok := strings.CutPrefix(l, key+"="); ok {
			out = append(out, v)
		}
	}
	return out
}

// TestSystemdUnit: deploy/hookbook.service passes systemd-analyze verify
// as shipped and with its certificate lines enabled; its user, made up at
// start, binds a port below 1024 with the capabilities the unit grants (and
// cannot without them); and the environment it gives hookbook, with the
// credentials systemd copies in place, serves HTTPS.
func TestSystemdUnit(t *testing.T) {
	hookbooktest.OncePerSuite(t)
	t.Parallel()
	shipped, enabled := unitLines(t)
	for _, want := range []string{"DynamicUser=yes", "AmbientCapabilities=CAP_NET_BIND_SERVICE", "CapabilityBoundingSet=CAP_NET_BIND_SERVICE",
		"ExecStart=/usr/local/bin/hookbook serve", "Environment=HOOKBOOK_LOG_FORMAT=json"} {
		if !slices.Contains(shipped, want) {
			t.Errorf("the unit lacks %q", want)
		}
	}
	// The certificate lines: each credential is a root-only file, and
	// hookbook's TLS settings name its copy in the credentials directory.
	creds := map[string]string{}
	for _, v := range unitValues(enabled, "LoadCredential") {
		id, path, _ := strings.Cut(v, ":")
		creds[id] = path
		if !strings.HasPrefix(path, "/etc/letsencrypt/live/") {
			t.Errorf("LoadCredential=%s: not a Let's Encrypt path", v)
		}
	}
	env := map[string]string{}
	for _, v := range unitValues(enabled, "Environment") {
		k, val, _ := strings.Cut(v, "=")
		env[k] = val
	}
	for _, k := range []string{"HOOKBOOK_TLS_CERT_FILE", "HOOKBOOK_TLS_KEY_FILE"} {
		id, ok := strings.CutPrefix(env[k], "%d/")
		if !ok || creds[id] == "" {
			t.Errorf("%s=%q is not a credential the unit loads (%v)", k, env[k], creds)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	certFile, keyFile, pool := selfSigned(t)
	bin := buildBinary(t)

	t.Run("systemd-analyze", func(t *testing.T) {
		hookbooktest.RequireTool(t, "systemd-analyze")
		for name, lines := range map[string][]string{"shipped": shipped, "enabled": enabled} {
			dir := t.TempDir()
			text := strings.Join(lines, "\n") + "\n"
			text = strings.ReplaceAll(text, "ExecStart=/usr/local/bin/hookbook", "ExecStart="+bin)
			text = strings.ReplaceAll(text, "tls.crt:"+creds["tls.crt"], "tls.crt:"+certFile)
			text = strings.ReplaceAll(text, "tls.key:"+creds["tls.key"], "tls.key:"+keyFile)
			unit := filepath.Join(dir, "hookbook.service")
			os.WriteFile(unit, []byte(text), 0o644)
			c := exec.Command("systemd-analyze", "verify", unit)
			if out, err := c.CombinedOutput(); err != nil || len(out) > 0 {
				t.Errorf("systemd-analyze verify (%s unit): %v\n%s", name, err, out)
			}
		}
	})

	// What the unit gives hookbook: a user of its own with only the granted
	// capabilities, files it may read, and its environment. setpriv
	// stands in for systemd, which does not run here.
	base, err := os.MkdirTemp("", "hookbook-unit")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	os.Chmod(base, 0o777)
	// The test run's temporary directories are private (0700): the made-up
	// user needs to pass through them to reach base.
	for d := filepath.Dir(base); d != "/" && d != "."; d = filepath.Dir(d) {
		if fi, err := os.Stat(d); err == nil && fi.Mode().Perm()&0o001 == 0 {
			os.Chmod(d, fi.Mode().Perm()|0o011)
		}
	}
	credDir := filepath.Join(base, "credentials")
	os.Mkdir(credDir, 0o755)
	for id, src := range map[string]string{"tls.crt": certFile, "tls.key": keyFile} {
		b, _ := os.ReadFile(src)
		os.WriteFile(filepath.Join(credDir, id), b, 0o644)
	}
	prog := filepath.Join(base, "hookbook")
	if b, err := os.ReadFile(bin); err != nil || os.WriteFile(prog, b, 0o755) != nil {
		t.Fatalf("copy the binary: %v", err)
	}
	unitEnv := map[string]string{}
	for k, v := range env {
		unitEnv[k] = strings.ReplaceAll(v, "%d", credDir)
	}
	unitEnv["HOOKBOOK_DATABASE_URL"] = "sqlite:" + filepath.Join(base, "hookbook.db")

	// The capability means something only where ports below 1024 are
	// privileged (containers may open them to everyone), and can be tried
	// only as root.
	lowest := 1024
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_unprivileged_port_start"); err == nil {
		fmt.Sscan(string(b), &lowest)
	}
	if _, err := exec.LookPath("setpriv"); err != nil || os.Geteuid() != 0 || lowest <= 700 {
		// The environment alone, on an ordinary port.
		addr := freePort(t)
		startProcWith(t, bin, addr, unitEnv, "https://"+addr, pool)
		t.Skipf("\n\n*** SKIPPED (in part): the capability check needs root, setpriv and privileged ports (here from %d).\n\n", lowest)
	}
	port := privilegedFreePort(t)
	caps := ""
	for _, c := range strings.Fields(unitValues(shipped, "CapabilityBoundingSet")[0]) {
		caps += ",+" + strings.ToLower(strings.TrimPrefix(c, "CAP_"))
	}
	ambient := ""
	for _, c := range strings.Fields(unitValues(shipped, "AmbientCapabilities")[0]) {
		ambient += ",+" + strings.ToLower(strings.TrimPrefix(c, "CAP_"))
	}
	// Wrappers that run hookbook as another user with the unit's bounding
	// set, with and without its ambient capabilities.
	user := "setpriv --reuid=65534 --regid=65534 --clear-groups --no-new-privs --bounding-set=-all" + caps
	wrapper := func(name, flags string) string {
		path := filepath.Join(base, name)
		os.WriteFile(path, []byte("#!/bin/sh\nexec "+user+flags+" -- "+prog+" \"$@\"\n"), 0o755)
		return path
	}
	without := wrapper("without-caps", "")
	with := wrapper("with-caps", " --inh-caps=-all"+ambient+" --ambient-caps=-all"+ambient)

	// Without the capability the user cannot bind the port: the check
	// means something here.
	addr := "127.0.0.1:" + port
	if out, err := startCmd(without, addr, unitEnv).CombinedOutput(); err == nil || !strings.Contains(string(out), "permission denied") {
		t.Fatalf("without the unit's capability, %s: %v\n%s", addr, err, out)
	}
	// With it, hookbook serves HTTPS there with the unit's environment.
	startProcWith(t, with, addr, unitEnv, "https://"+addr, pool)
}

// privilegedFreePort returns a port below 1024 that is free on 127.0.0.1.
func privilegedFreePort(t *testing.T) string {
	t.Helper()
	for port := 700; port < 1024; port++ {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			ln.Close()
			return fmt.Sprint(port)
		}
	}
	t.Fatal("no free port below 1024")
	return ""
}

// TestReadmeProduction: the README's production section tells how to serve
// on :443 under the unit, how to give it a root-only certificate, the
// public URL and HSTS; every unit setting it quotes is in the unit.
func TestReadmeProduction(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(b), "\n## Run it in production\n")
	section, _, _ = strings.Cut(section, "\n## ")
	for _, want := range []string{"`HOOKBOOK_ADDR=:443`", "`DynamicUser=yes`", "`AmbientCapabilities=CAP_NET_BIND_SERVICE`",
		"`LoadCredential=`", "/etc/letsencrypt/live/", "`HOOKBOOK_PUBLIC_URL`", "Strict-Transport-Security",
		"`HOOKBOOK_BOOTSTRAP_API_KEY`", "hookbook key create"} {
		if !strings.Contains(section, want) {
			t.Errorf("the production section does not mention %s", want)
		}
	}
	shipped, enabled := unitLines(t)
	for _, m := range regexp.MustCompile("`([A-Z][A-Za-z]+=[^`]+)`").FindAllStringSubmatch(section, -1) {
		setting := m[1]
		if !strings.Contains(setting, "CAP_") && !strings.HasPrefix(setting, "DynamicUser=") {
			continue // a hookbook setting, not the unit's
		}
		if !slices.Contains(shipped, setting) && !slices.Contains(enabled, setting) {
			t.Errorf("the README quotes %s, which the unit does not have", setting)
		}
	}
}
