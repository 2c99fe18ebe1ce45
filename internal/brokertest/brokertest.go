// Package brokertest gives the tests of broker destinations what they
// share: Require and RequireBinary, which skip a test loudly when a broker
// service or program is missing (and fail it under CI=true); Proxy, a TCP
// proxy in front of a broker that a test cuts, holds, freezes and restores
// to simulate an outage without touching the shared service; StartProcess
// and FreePort, for a private broker process a test may stop and start
// again; and Dial, a plain dialer. It imports no other hookbook package.
package brokertest

import (
	"context"
	"io"
	"net"
	"os"
	"os/exec"
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

// RequireBinary returns the path of the program name. When it is not
// installed, the test is skipped with a loud message, except under
// CI=true, where it fails.
func RequireBinary(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is required under CI=true: %v", name, err)
	}
	t.Skipf("\n\n*** SKIPPED: %s is not installed (%v).\n\n", name, err)
	return ""
}

// Dial connects without any guard: the dial a test gives a destination's
// Open when it talks to a broker on 127.0.0.1.
func Dial(ctx context.Context, network, address string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, network, address)
}

// FreePort returns a TCP port of 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Process is a broker process of a test's own (on a port from FreePort),
// which the test may Stop and Start again. It is killed when the test ends.
type Process struct {
	t    testing.TB
	addr string
	bin  string
	args []string
	cmd  *exec.Cmd
}

// StartProcess runs bin with args and waits (up to 20 s) until it answers
// at addr, or fails the test.
func StartProcess(t testing.TB, addr, bin string, args ...string) *Process {
	t.Helper()
	p := &Process{t: t, addr: addr, bin: bin, args: args}
	p.Start()
	t.Cleanup(p.Stop)
	return p
}

// Addr is the host:port the process answers at.
func (p *Process) Addr() string { return p.addr }

// Start runs the process (again) and waits until it answers at Addr.
func (p *Process) Start() {
	p.t.Helper()
	p.cmd = exec.Command(p.bin, p.args...)
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", p.addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s did not start at %s: %v", p.bin, p.addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop kills the process and waits for it; a stopped process stays so.
func (p *Process) Stop() {
	if p.cmd != nil && p.cmd.Process != nil {
		_ = p.cmd.Process.Kill()
		_ = p.cmd.Wait()
		p.cmd = nil
	}
}

// Proxy forwards TCP connections from its own address on 127.0.0.1 to a
// target. Cut closes every connection and refuses new ones (they are
// accepted and closed at once) until Restore; Hold makes it a black hole;
// Freeze stops forwarding bytes on the open connections, as a broker that
// hangs. It stops with the test.
type Proxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	cut   bool
	hold  bool          // new connections are accepted and never answered
	thaw  chan struct{} // non-nil while frozen; closed when the freeze ends
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
	p.unfreeze()
}

// Freeze stops forwarding on every connection, open or new, which stay
// open: the broker seems to hang. Restore (or Cut) ends it.
func (p *Proxy) Freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.thaw == nil {
		p.thaw = make(chan struct{})
	}
}

// unfreeze ends a Freeze; p.mu is held.
func (p *Proxy) unfreeze() {
	if p.thaw != nil {
		close(p.thaw)
		p.thaw = nil
	}
}

// waitThaw blocks while the proxy is frozen.
func (p *Proxy) waitThaw() {
	p.mu.Lock()
	thaw := p.thaw
	p.mu.Unlock()
	if thaw != nil {
		<-thaw
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

// Restore lets connections through again (those held are closed, those
// frozen flow again).
func (p *Proxy) Restore() {
	p.mu.Lock()
	p.cut = false
	p.unfreeze()
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
				buf := make([]byte, 32<<10)
				for {
					n, err := src.Read(buf)
					if n > 0 {
						p.waitThaw()
						if _, werr := dst.Write(buf[:n]); werr != nil {
							break
						}
					}
					if err != nil {
						break
					}
				}
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
