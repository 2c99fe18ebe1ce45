package hookbooktest

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// CA is a certificate authority made for one test.
type CA struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
	PEM  string // its certificate
}

// Issued is a certificate and its key, in PEM and ready for crypto/tls.
type Issued struct {
	CertPEM, KeyPEM string
	Pair            tls.Certificate
}

var serial atomic.Int64

// NewCA makes a certificate authority named name.
func NewCA(t testing.TB, name string) *CA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial.Add(1)), Subject: pkix.Name{CommonName: name, Organization: []string{"hookbook tests"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &CA{Cert: cert, Key: key, PEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))}
}

// Pool returns a pool holding the CA alone.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// Server issues a server certificate for 127.0.0.1 and localhost.
func (ca *CA) Server(t testing.TB) *Issued {
	return ca.issue(t, "localhost", time.Now().Add(24*time.Hour), x509.ExtKeyUsageServerAuth)
}

// Client issues a client certificate named cn, valid until notAfter.
func (ca *CA) Client(t testing.TB, cn string, notAfter time.Time) *Issued {
	return ca.issue(t, cn, notAfter, x509.ExtKeyUsageClientAuth)
}

func (ca *CA) issue(t testing.TB, cn string, notAfter time.Time, usage x509.ExtKeyUsage) *Issued {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial.Add(1)), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
	}
	if usage == x509.ExtKeyUsageServerAuth {
		tmpl.DNSNames = []string{"localhost"}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	is := &Issued{
		CertPEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		KeyPEM:  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb})),
	}
	if is.Pair, err = tls.X509KeyPair([]byte(is.CertPEM), []byte(is.KeyPEM)); err != nil {
		t.Fatal(err)
	}
	return is
}

// Proxy is a forward proxy on 127.0.0.1 that records the destinations it
// was asked for (host:port as asked) and the credentials it was given.
type Proxy struct {
	URL string // http://user:pass@127.0.0.1:port or socks5://…
	ln  net.Listener

	mu      sync.Mutex
	asked   []string
	creds   []string
	reset   atomic.Bool
	resetTo atomic.Value // string: a destination whose tunnels are reset
	refuse  atomic.Int32 // CONNECT answers this status when set
	conns   sync.WaitGroup
	tunnels sync.Map
}

// Asked returns the destinations the proxy was asked for, in order.
func (p *Proxy) Asked() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.asked...)
}

// Credentials returns the user:password pairs the proxy was given.
func (p *Proxy) Credentials() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.creds...)
}

// ResetAll makes the proxy reset every new connection at once (on) or
// serve again (off).
func (p *Proxy) ResetAll(on bool) { p.reset.Store(on) }

// ResetTo makes the proxy reset each connection asked for dest (host:port).
func (p *Proxy) ResetTo(dest string) { p.resetTo.Store(dest) }

// resetIf resets c when it asks for the destination ResetTo named.
func (p *Proxy) resetIf(c net.Conn, dest string) bool {
	if d, _ := p.resetTo.Load().(string); d == "" || d != dest {
		return false
	}
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
	return true
}

// RefuseWith makes an HTTP proxy answer CONNECT with status (0: serve).
func (p *Proxy) RefuseWith(status int) { p.refuse.Store(int32(status)) }

func (p *Proxy) record(dest, cred string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.asked = append(p.asked, dest)
	if cred != "" {
		p.creds = append(p.creds, cred)
	}
}

// StartHTTPProxy starts an HTTP CONNECT proxy that wants user:pass in
// Proxy-Authorization (none when user is "").
func StartHTTPProxy(t testing.TB, user, pass string) *Proxy {
	p := startProxy(t, "http", user, pass)
	go p.serve(func(c net.Conn) {
		br := bufio.NewReader(c)
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		got := ""
		if u, pw, ok := (&http.Request{Header: http.Header{"Authorization": req.Header["Proxy-Authorization"]}}).BasicAuth(); ok {
			got = u + ":" + pw
		}
		p.record(req.Host, got)
		if p.resetIf(c, req.Host) {
			return
		}
		if req.Method != http.MethodConnect {
			io.WriteString(c, "HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
			return
		}
		if user != "" && got != user+":"+pass {
			io.WriteString(c, "HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n")
			return
		}
		if code := p.refuse.Load(); code != 0 {
			io.WriteString(c, "HTTP/1.1 "+strconv.Itoa(int(code))+" "+http.StatusText(int(code))+"\r\nContent-Length: 0\r\n\r\n")
			return
		}
		up, err := net.DialTimeout("tcp", req.Host, 5*time.Second)
		if err != nil {
			io.WriteString(c, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
			return
		}
		io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n")
		p.pipe(c, &bufConn{c, br}, up)
	})
	return p
}

type bufConn struct {
	net.Conn
	r *bufio.Reader
}

func (b *bufConn) Read(p []byte) (int, error) { return b.r.Read(p) }

// StartSOCKS5Proxy starts a SOCKS5 proxy that wants user:pass (RFC 1929;
// no authentication when user is "").
func StartSOCKS5Proxy(t testing.TB, user, pass string) *Proxy {
	p := startProxy(t, "socks5", user, pass)
	go p.serve(func(c net.Conn) {
		var head [2]byte
		if _, err := io.ReadFull(c, head[:]); err != nil || head[0] != 5 {
			return
		}
		methods := make([]byte, head[1])
		if _, err := io.ReadFull(c, methods); err != nil {
			return
		}
		got := ""
		if user != "" {
			c.Write([]byte{5, 2})
			var v [2]byte
			if _, err := io.ReadFull(c, v[:]); err != nil {
				return
			}
			u := make([]byte, v[1])
			io.ReadFull(c, u)
			var n [1]byte
			io.ReadFull(c, n[:])
			pw := make([]byte, n[0])
			io.ReadFull(c, pw)
			got = string(u) + ":" + string(pw)
			if got != user+":"+pass {
				c.Write([]byte{1, 1})
				p.record("", got)
				return
			}
			c.Write([]byte{1, 0})
		} else {
			c.Write([]byte{5, 0})
		}
		var req [4]byte
		if _, err := io.ReadFull(c, req[:]); err != nil {
			return
		}
		var host string
		switch req[3] {
		case 1:
			var a [4]byte
			io.ReadFull(c, a[:])
			host = netip.AddrFrom4(a).String()
		case 4:
			var a [16]byte
			io.ReadFull(c, a[:])
			host = netip.AddrFrom16(a).String()
		case 3:
			var n [1]byte
			io.ReadFull(c, n[:])
			b := make([]byte, n[0])
			io.ReadFull(c, b)
			host = string(b)
		}
		var port [2]byte
		io.ReadFull(c, port[:])
		dest := net.JoinHostPort(host, strconv.Itoa(int(binary.BigEndian.Uint16(port[:]))))
		p.record(dest, got)
		if p.resetIf(c, dest) {
			return
		}
		up, err := net.DialTimeout("tcp", dest, 5*time.Second)
		if err != nil {
			c.Write([]byte{5, 5, 0, 1, 0, 0, 0, 0, 0, 0})
			return
		}
		c.Write([]byte{5, 0, 0, 1, 0, 0, 0, 0, 0, 0})
		p.pipe(c, c, up)
	})
	return p
}

func startProxy(t testing.TB, scheme, user, pass string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{ln: ln, URL: scheme + "://" + ln.Addr().String()}
	if user != "" {
		p.URL = scheme + "://" + user + ":" + pass + "@" + ln.Addr().String()
	}
	t.Cleanup(func() {
		ln.Close()
		p.tunnels.Range(func(k, _ any) bool { k.(net.Conn).Close(); return true })
		p.conns.Wait()
	})
	return p
}

func (p *Proxy) serve(handle func(net.Conn)) {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if p.reset.Load() {
			if tc, ok := c.(*net.TCPConn); ok {
				tc.SetLinger(0) // a reset, not a clean close
			}
			c.Close()
			continue
		}
		p.conns.Add(1)
		p.tunnels.Store(c, true)
		go func() {
			defer p.conns.Done()
			defer p.tunnels.Delete(c)
			defer c.Close()
			c.SetDeadline(time.Now().Add(30 * time.Second))
			handle(c)
		}()
	}
}

// pipe copies both ways between the client (read from r) and up.
func (p *Proxy) pipe(c net.Conn, r io.Reader, up net.Conn) {
	p.tunnels.Store(up, true)
	defer p.tunnels.Delete(up)
	defer up.Close()
	done := make(chan struct{})
	go func() {
		io.Copy(up, r)
		up.Close()
		close(done)
	}()
	io.Copy(c, up)
	c.Close()
	<-done
}
