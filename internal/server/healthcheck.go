package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/hookbook/hookbook/internal/config"
)

// ProbeURL is the readiness probe (/readyz) of the instance cfg describes,
// as seen from its own host: HOOKBOOK_ADDR with no host or an unspecified
// one (":8080", "0.0.0.0:8080", "[::]:8080") becomes 127.0.0.1; https when
// hookbook serves TLS itself (HOOKBOOK_TLS_CERT_FILE).
func ProbeURL(cfg *config.Config) (string, error) {
	host, port, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return "", fmt.Errorf("HOOKBOOK_ADDR: %w", err)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	scheme := "http"
	if cfg.TLSCertFile != "" {
		scheme = "https"
	}
	return scheme + "://" + net.JoinHostPort(host, port) + "/readyz", nil
}

// CheckReady GETs url (ProbeURL of cfg when url is empty) within timeout
// and returns nil when it answers 200, else an error saying what it
// answered. Over HTTPS, on ProbeURL, the certificate hookbook presents must
// be the one HOOKBOOK_TLS_CERT_FILE holds (it names the public host, not
// the loopback address the probe dials); a url given is verified as any
// other. It is what `hookbook healthcheck` runs: a container image without
// a shell or curl uses it as its HEALTHCHECK.
func CheckReady(ctx context.Context, cfg *config.Config, url string, timeout time.Duration) error {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil // the probe is for this host, never a proxy
	if url == "" {
		var err error
		if url, err = ProbeURL(cfg); err != nil {
			return err
		}
		if cfg.TLSCertFile != "" {
			leaf, err := firstCertificate(cfg.TLSCertFile)
			if err != nil {
				return err
			}
			tr.TLSClientConfig = &tls.Config{
				// Verification is VerifyPeerCertificate's: the served
				// certificate must be the configured one, byte for byte.
				InsecureSkipVerify: true,
				VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
					if len(raw) == 0 || !bytes.Equal(raw[0], leaf) {
						return errors.New("the certificate served is not the one HOOKBOOK_TLS_CERT_FILE holds (restart hookbook after a renewal)")
					}
					return nil
				},
			}
		}
	}
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	resp, err := (&http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}).Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: GET %s answered %d: %s", url, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	return nil
}

// firstCertificate returns the DER bytes of the first certificate in a
// PEM file: the leaf a server presents.
func firstCertificate(file string) ([]byte, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("HOOKBOOK_TLS_CERT_FILE: %w", err)
	}
	for {
		var block *pem.Block
		if block, b = pem.Decode(b); block == nil {
			return nil, fmt.Errorf("HOOKBOOK_TLS_CERT_FILE: %s holds no certificate", file)
		}
		if block.Type == "CERTIFICATE" {
			return block.Bytes, nil
		}
	}
}
