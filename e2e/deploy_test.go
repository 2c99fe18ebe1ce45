package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
