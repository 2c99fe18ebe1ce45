package delivery

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hookbook/hookbook/internal/netguard"
)

// ErrKindProxy is the error kind of an attempt whose forward proxy failed:
// refused or reset the connection, answered CONNECT with a non-2xx, or
// refused the SOCKS5 request.
const ErrKindProxy = "proxy"

// ProxyError is a failure of the forward proxy, not of the receiver.
type ProxyError struct {
	Proxy string // the proxy's URL without its password
	Err   error
}

func (e *ProxyError) Error() string { return "proxy " + e.Proxy + ": " + e.Err.Error() }
func (e *ProxyError) Unwrap() error { return e.Err }

// Egress is the way out of every delivery and token request: the network
// guard checks the destination (its name and resolved address), then the
// connection goes straight to it or through a tunnel of the forward proxy
// (HTTP CONNECT over http:// or https://, or SOCKS5), which is asked for
// the address the guard checked, never for a refused one.
type Egress struct {
	Guard  *netguard.Guard
	Dialer *net.Dialer
	// Proxy is the forward proxy (http, https or socks5 URL, with
	// credentials), nil for none.
	Proxy *url.URL
	// NoProxy lists the destinations reached without the proxy: host
	// names (a leading dot or none: the name and its subdomains), IP
	// addresses, CIDRs, or "*" for all.
	NoProxy []string
}

// ParseNoProxy reads a comma- or space-separated NO_PROXY list.
func ParseNoProxy(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		out = append(out, strings.ToLower(strings.TrimSpace(f)))
	}
	return out
}

// bypass reports whether host is reached without the proxy.
func (e *Egress) bypass(host string) bool {
	host = strings.ToLower(strings.Trim(host, "[]"))
	addr, addrErr := netip.ParseAddr(host)
	for _, p := range e.NoProxy {
		switch {
		case p == "*":
			return true
		case strings.Contains(p, "/"):
			if pre, err := netip.ParsePrefix(p); err == nil && addrErr == nil && pre.Contains(addr.Unmap()) {
				return true
			}
		default:
			p = strings.TrimPrefix(p, ".")
			if h, _, err := net.SplitHostPort(p); err == nil {
				p = h
			}
			if host == p || strings.HasSuffix(host, "."+p) {
				return true
			}
		}
	}
	return false
}

// DialContext connects to address (host:port) as Egress says.
func (e *Egress) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	if e.Proxy == nil {
		return e.Guard.DialContext(e.Dialer)(ctx, network, address)
	}
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	if e.bypass(host) {
		return e.Guard.DialContext(e.Dialer)(ctx, network, address)
	}
	dest, err := e.Guard.Destination(ctx, host)
	if err != nil {
		return nil, err
	}
	return e.tunnel(ctx, net.JoinHostPort(dest, port))
}

// tunnel opens a connection to target through the proxy.
func (e *Egress) tunnel(ctx context.Context, target string) (_ net.Conn, err error) {
	p := e.Proxy
	fail := func(err error) error { return &ProxyError{Proxy: p.Redacted(), Err: err} }
	proxyAddr := p.Host
	if p.Port() == "" {
		proxyAddr = net.JoinHostPort(p.Hostname(), map[string]string{"http": "80", "https": "443", "socks5": "1080", "socks5h": "1080"}[p.Scheme])
	}
	raw, err := e.Dialer.DialContext(ctx, "tcp", proxyAddr)
	if err != nil {
		return nil, fail(err)
	}
	var conn net.Conn = raw
	// The handshake with the proxy ends with ctx, as the dial does.
	if d, ok := ctx.Deadline(); ok {
		conn.SetDeadline(d)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer func() {
		stopped := stop()
		if !stopped && err == nil {
			err = errors.New("closed when the attempt ended")
		}
		if err != nil {
			raw.Close()
			if !stopped || ctx.Err() != nil {
				err = fmt.Errorf("%w (%v)", context.Cause(ctx), err)
			}
			err = fail(err)
			return
		}
		raw.SetDeadline(time.Time{})
	}()
	switch p.Scheme {
	case "https":
		tc := tls.Client(conn, &tls.Config{ServerName: p.Hostname(), MinVersion: tls.VersionTLS12})
		if err := tc.HandshakeContext(ctx); err != nil {
			return nil, err
		}
		conn = tc
		return httpConnect(conn, target, p)
	case "http":
		return httpConnect(conn, target, p)
	case "socks5", "socks5h":
		if err := socks5Connect(conn, target, p); err != nil {
			return nil, err
		}
		return conn, nil
	}
	return nil, fmt.Errorf("unsupported proxy scheme %q", p.Scheme)
}

// httpConnect asks an HTTP proxy on conn for a tunnel to target.
func httpConnect(conn net.Conn, target string, p *url.URL) (net.Conn, error) {
	req := "CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\n"
	if p.User != nil {
		pass, _ := p.User.Password()
		req += "Proxy-Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(p.User.Username()+":"+pass)) + "\r\n"
	}
	if _, err := io.WriteString(conn, req+"\r\n"); err != nil {
		return nil, err
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil {
		return nil, err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		resp.Body.Close()
		return nil, fmt.Errorf("CONNECT %s answered %s", target, resp.Status)
	}
	if br.Buffered() > 0 {
		return &bufferedConn{Conn: conn, r: br}, nil
	}
	return conn, nil
}

// bufferedConn is a connection whose first bytes were read ahead.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(b []byte) (int, error) { return c.r.Read(b) }

// socks5Replies names the SOCKS5 reply codes (RFC 1928).
var socks5Replies = map[byte]string{
	1: "general failure", 2: "connection not allowed by ruleset", 3: "network unreachable",
	4: "host unreachable", 5: "connection refused", 6: "TTL expired", 7: "command not supported",
	8: "address type not supported",
}

// socks5Connect asks a SOCKS5 proxy on conn for a connection to target,
// with username and password authentication (RFC 1929) when p has them.
func socks5Connect(conn net.Conn, target string, p *url.URL) error {
	host, portText, err := net.SplitHostPort(target)
	if err != nil {
		return err
	}
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil {
		return fmt.Errorf("bad port %q", portText)
	}
	methods := []byte{0}
	if p.User != nil {
		methods = []byte{2}
	}
	if _, err := conn.Write(append([]byte{5, byte(len(methods))}, methods...)); err != nil {
		return err
	}
	var reply [2]byte
	if _, err := io.ReadFull(conn, reply[:]); err != nil {
		return fmt.Errorf("SOCKS5 greeting: %w", err)
	}
	switch {
	case reply[0] != 5:
		return fmt.Errorf("not a SOCKS5 proxy (version %d)", reply[0])
	case reply[1] == 0xff:
		return errors.New("SOCKS5 proxy accepts none of the offered authentication methods")
	case reply[1] == 2:
		user := p.User.Username()
		pass, _ := p.User.Password()
		if len(user) > 255 || len(pass) > 255 {
			return errors.New("SOCKS5 username and password must be at most 255 bytes")
		}
		msg := append(append(append([]byte{1, byte(len(user))}, user...), byte(len(pass))), pass...)
		if _, err := conn.Write(msg); err != nil {
			return err
		}
		if _, err := io.ReadFull(conn, reply[:]); err != nil {
			return fmt.Errorf("SOCKS5 authentication: %w", err)
		}
		if reply[1] != 0 {
			return errors.New("SOCKS5 proxy refused the username and password")
		}
	case reply[1] != 0:
		return fmt.Errorf("SOCKS5 proxy chose unsupported method %d", reply[1])
	}
	req := []byte{5, 1, 0}
	if a, err := netip.ParseAddr(host); err == nil {
		if a.Is4() || a.Is4In6() {
			b := a.Unmap().As4()
			req = append(append(req, 1), b[:]...)
		} else {
			b := a.As16()
			req = append(append(req, 4), b[:]...)
		}
	} else {
		if len(host) > 255 {
			return errors.New("host name too long for SOCKS5")
		}
		req = append(append(req, 3, byte(len(host))), host...)
	}
	req = binary.BigEndian.AppendUint16(req, uint16(port))
	if _, err := conn.Write(req); err != nil {
		return err
	}
	var head [4]byte
	if _, err := io.ReadFull(conn, head[:]); err != nil {
		return fmt.Errorf("SOCKS5 connect: %w", err)
	}
	if head[1] != 0 {
		reason := socks5Replies[head[1]]
		if reason == "" {
			reason = fmt.Sprintf("reply %d", head[1])
		}
		return fmt.Errorf("SOCKS5 proxy could not connect to %s: %s", target, reason)
	}
	var skip int
	switch head[3] {
	case 1:
		skip = 4
	case 4:
		skip = 16
	case 3:
		var n [1]byte
		if _, err := io.ReadFull(conn, n[:]); err != nil {
			return err
		}
		skip = int(n[0])
	default:
		return fmt.Errorf("SOCKS5 reply with address type %d", head[3])
	}
	if _, err := io.ReadFull(conn, make([]byte, skip+2)); err != nil {
		return fmt.Errorf("SOCKS5 connect: %w", err)
	}
	return nil
}
