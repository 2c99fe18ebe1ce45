// Package brokertest gives the tests of broker destinations what they
// share: Require, which skips a test loudly when a broker service does not
// answer (and fails it under CI=true), and Proxy, a TCP proxy in front of a
// broker that a test cuts and restores to simulate an outage without
// touching the shared service. It imports no other hookbook package.
package brokertest

import (
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"
)

// Addresses of the broker services this machine kind runs (see .ci/run).
const (
	RabbitMQ  = "127.0.0.1:5672"
	Redis     = "127.0.0.1:6379"
	NATS      = "127.0.0.1:4222"
	Mosquitto = "127.0.0.1:1883"
)

// Require checks that service answers on addr (a TCP connect within 3 s).
// When it does not, the test is skipped with a loud message, except under
// CI=true, where it fails.
func Require(t testing.TB, service, addr string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 3*time.Second)
	if err == nil {
		c.Close()
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is required under CI=true (%s): %v", service, addr, err)
	}
	t.Skipf("\n\n*** SKIPPED: %s is not reachable at %s (%v).\n*** Start it (see .ci/run) to run this test.\n\n", service, addr, err)
}

// Proxy forwards TCP connections from its own address on 127.0.0.1 to a
// target. Cut closes every connection and refuses new ones (they are
// accepted and closed at once) until Restore. It stops with the test.
type Proxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	cut   bool
	hold  bool // new connections are accepted and never answered
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// NewProxy starts a proxy to target for the length of t.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Cut closes every connection through the proxy and refuses new ones.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for c := range p.conns {
		c.Close()
	}
}

// Hold makes the broker a black hole: every connection through the proxy
// is closed, and new ones are accepted but never answered, until Restore.
func (p *Proxy) Hold() {
	p.Cut()
	p.mu.Lock()
	p.cut, p.hold = false, true
	p.mu.Unlock()
}

// Restore lets connections through again (those held are closed).
func (p *Proxy) Restore() {
	p.mu.Lock()
	p.cut = false
	if p.hold {
		p.hold = false
		for c := range p.conns {
			c.Close()
		}
	}
	p.mu.Unlock()
}

func (p *Proxy) close() {
	p.ln.Close()
	p.Cut()
	p.wg.Wait()
}

// track registers c unless the proxy is cut.
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cut {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	c.Close()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		if !p.track(in) {
			in.Close()
			continue
		}
		p.mu.Lock()
		hold := p.hold
		p.mu.Unlock()
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			defer p.untrack(in)
			if hold {
				io.Copy(io.Discard, in) // until Restore, Cut or the end closes it
				return
			}
			out, err := net.DialTimeout("tcp", p.target, 5*time.Second)
			if err != nil {
				return
			}
			if !p.track(out) {
				out.Close()
				return
			}
			defer p.untrack(out)
			done := make(chan struct{}, 2)
			pipe := func(dst, src net.Conn) {
				io.Copy(dst, src)
				dst.Close()
				src.Close()
				done <- struct{}{}
			}
			go pipe(out, in)
			go pipe(in, out)
			<-done
			<-done
		}()
	}
}
