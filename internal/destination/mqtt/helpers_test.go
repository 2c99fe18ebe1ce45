package mqtt

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// requireTCP skips the test loudly when nothing answers at addr, and fails
// it under CI=true, where every service must run.
func requireTCP(t testing.TB, addr string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required under CI=true: %v", addr, err)
		}
		t.Skipf("SKIPPED LOUDLY: nothing answers at %s (%v); start Mosquitto to run this test", addr, err)
	}
	c.Close()
}

func requireBinary(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required under CI=true", name)
		}
		t.Skipf("SKIPPED LOUDLY: %s is not installed", name)
	}
	return p
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func plainDial(ctx context.Context, network, address string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, network, address)
}

// privateBroker is a mosquitto that only this test uses, with a password
// file, so it can refuse a password and be stopped and started again.
type privateBroker struct {
	t    testing.TB
	bin  string
	conf string
	addr string
	cmd  *exec.Cmd
}

func startPrivateBroker(t testing.TB, user, pass string) *privateBroker {
	t.Helper()
	bin := requireBinary(t, "mosquitto")
	passwd := requireBinary(t, "mosquitto_passwd")
	dir := t.TempDir()
	pwfile := filepath.Join(dir, "passwd")
	if out, err := exec.Command(passwd, "-c", "-b", pwfile, user, pass).CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_passwd: %v: %s", err, out)
	}
	port := freePort(t)
	conf := filepath.Join(dir, "mosquitto.conf")
	body := fmt.Sprintf("user root\nlistener %d 127.0.0.1\nallow_anonymous false\npassword_file %s\npersistence false\n", port, pwfile)
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	b := &privateBroker{t: t, bin: bin, conf: conf, addr: fmt.Sprintf("127.0.0.1:%d", port)}
	b.start()
	t.Cleanup(b.stop)
	return b
}

func (b *privateBroker) start() {
	b.t.Helper()
	b.cmd = exec.Command(b.bin, "-c", b.conf)
	if err := b.cmd.Start(); err != nil {
		b.t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", b.addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("mosquitto did not start at %s: %v", b.addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (b *privateBroker) stop() {
	if b.cmd != nil && b.cmd.Process != nil {
		_ = b.cmd.Process.Kill()
		_ = b.cmd.Wait()
		b.cmd = nil
	}
}

// freezer is a TCP proxy to target that the test can freeze: while frozen
// it forwards nothing (the connections stay open), as a broker that hangs.
type freezer struct {
	l      net.Listener
	target string
	mu     sync.Mutex
	thaw   chan struct{} // nil while flowing; closed on thaw
	conns  []net.Conn
	wg     sync.WaitGroup
}

func startFreezer(t *testing.T, target string) *freezer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &freezer{l: l, target: target}
	f.wg.Add(1)
	go f.accept()
	t.Cleanup(func() {
		l.Close()
		f.setFrozen(false)
		f.mu.Lock()
		for _, c := range f.conns {
			c.Close()
		}
		f.mu.Unlock()
		f.wg.Wait()
	})
	return f
}

func (f *freezer) addr() string { return f.l.Addr().String() }

func (f *freezer) accept() {
	defer f.wg.Done()
	for {
		in, err := f.l.Accept()
		if err != nil {
			return
		}
		out, err := net.DialTimeout("tcp", f.target, 5*time.Second)
		if err != nil {
			in.Close()
			continue
		}
		f.mu.Lock()
		f.conns = append(f.conns, in, out)
		f.mu.Unlock()
		f.wg.Add(2)
		go f.pipe(in, out)
		go f.pipe(out, in)
	}
}

func (f *freezer) pipe(dst, src net.Conn) {
	defer f.wg.Done()
	defer dst.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			f.mu.Lock()
			thaw := f.thaw
			f.mu.Unlock()
			if thaw != nil {
				<-thaw
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (f *freezer) setFrozen(frozen bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case frozen && f.thaw == nil:
		f.thaw = make(chan struct{})
	case !frozen && f.thaw != nil:
		close(f.thaw)
		f.thaw = nil
	}
}
