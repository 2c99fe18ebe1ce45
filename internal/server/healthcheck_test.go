package server_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hookbook/hookbook/internal/config"
	"github.com/hookbook/hookbook/internal/hookbooktest"
	"github.com/hookbook/hookbook/internal/server"
)

// TestProbeURL: the probe dials the loopback address when HOOKBOOK_ADDR
// names no host, and https when hookbook serves TLS itself.
func TestProbeURL(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ addr, cert, want string }{
		{":8080", "", "http://127.0.0.1:8080/readyz"},
		{"0.0.0.0:9000", "", "http://127.0.0.1:9000/readyz"},
		{"[::]:9000", "", "http://127.0.0.1:9000/readyz"},
		{"127.0.0.1:8080", "", "http://127.0.0.1:8080/readyz"},
		{"[::1]:8080", "", "http://[::1]:8080/readyz"},
		{"hooks.internal:443", "/c.pem", "https://hooks.internal:443/readyz"},
	} {
		got, err := server.ProbeURL(&config.Config{Addr: c.addr, TLSCertFile: c.cert})
		if err != nil || got != c.want {
			t.Errorf("ProbeURL(%q) = %q, %v; want %q", c.addr, got, err, c.want)
		}
	}
	if _, err := server.ProbeURL(&config.Config{Addr: "8080"}); err == nil || !strings.Contains(err.Error(), "HOOKBOOK_ADDR") {
		t.Errorf("an address without a port: %v", err)
	}
}

// addrOf is the port of a started instance behind an unspecified host, as
// HOOKBOOK_ADDR usually says it.
func addrOf(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return ":" + u.Port()
}

// TestCheckReady: the probe succeeds on a ready instance, and fails with
// what it answered when the database cannot store writes, and when
// nothing listens.
func TestCheckReady(t *testing.T) {
	t.Parallel()
	in := hookbooktest.Start(t, nil)
	cfg := &config.Config{Addr: addrOf(t, in.URL)}
	ctx := context.Background()
	if err := server.CheckReady(ctx, cfg, "", 30*time.Second); err != nil {
		t.Fatalf("a ready instance: %v", err)
	}
	if err := server.CheckReady(ctx, nil, in.URL+"/readyz", 30*time.Second); err != nil {
		t.Errorf("a ready instance, by --url: %v", err)
	}
	if _, err := in.App.DB.ExecContext(ctx, `ALTER TABLE readiness RENAME TO readiness_away`); err != nil {
		t.Fatal(err)
	}
	err := server.CheckReady(ctx, cfg, "", 30*time.Second)
	if err == nil || !strings.Contains(err.Error(), "503") || !strings.Contains(err.Error(), "database_unwritable") {
		t.Errorf("an unwritable database: %v", err)
	}
	if _, err := in.App.DB.ExecContext(ctx, `ALTER TABLE readiness_away RENAME TO readiness`); err != nil {
		t.Fatal(err)
	}
	in.Stop()
	if err := server.CheckReady(ctx, cfg, "", 30*time.Second); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Errorf("nothing listening: %v", err)
	}
}

// TestCheckReadyTLS: when hookbook serves TLS, the probe speaks https to
// the loopback address and accepts the configured certificate only.
func TestCheckReadyTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cert, key := writeCert(t, dir, "a"), filepath.Join(dir, "a.key")
	in := hookbooktest.Start(t, map[string]string{"HOOKBOOK_TLS_CERT_FILE": cert, "HOOKBOOK_TLS_KEY_FILE": key})
	addr := addrOf(t, in.URL)
	ctx := context.Background()
	if err := server.CheckReady(ctx, &config.Config{Addr: addr, TLSCertFile: cert}, "", 30*time.Second); err != nil {
		t.Fatalf("https with the configured certificate: %v", err)
	}
	other := writeCert(t, dir, "b")
	err := server.CheckReady(ctx, &config.Config{Addr: addr, TLSCertFile: other}, "", 30*time.Second)
	if err == nil || !strings.Contains(err.Error(), "not the one HOOKBOOK_TLS_CERT_FILE holds") {
		t.Errorf("another certificate served: %v", err)
	}
	// A URL given is verified as any other: this one is self-signed.
	if err := server.CheckReady(ctx, nil, "https://127.0.0.1"+addr+"/readyz", 30*time.Second); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("--url to a self-signed certificate: %v", err)
	}
	if err := server.CheckReady(ctx, &config.Config{Addr: addr, TLSCertFile: filepath.Join(dir, "missing.pem")}, "", time.Second); err == nil || !strings.Contains(err.Error(), "HOOKBOOK_TLS_CERT_FILE") {
		t.Errorf("a missing certificate file: %v", err)
	}
}

// writeCert writes a self-signed certificate for 127.0.0.1 to dir/name.pem
// and its key to dir/name.key, and returns the certificate's path.
func writeCert(t *testing.T, dir, name string) string {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "hookbook " + name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	cert := filepath.Join(dir, name+".pem")
	if err := os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".key"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return cert
}
