package server

import (
	"net/http/httptest"
	"testing"

	"github.com/hookbook/hookbook/internal/config"
)

func TestClientAddress(t *testing.T) {
	trusted, _ := config.ParseNetworks("10.0.0.0/8, 127.0.0.1")
	for _, c := range []struct{ peer, xff, want string }{
		{"203.0.113.9:5000", "198.51.100.1", "203.0.113.9"},                  // not a proxy: its header is ignored
		{"10.0.0.2:5000", "198.51.100.1", "198.51.100.1"},                    // a trusted proxy: its client
		{"10.0.0.2:5000", "6.6.6.6, 198.51.100.1, 10.0.0.3", "198.51.100.1"}, // the rightmost untrusted hop; 6.6.6.6 may be forged
		{"127.0.0.1:5000", "", "127.0.0.1"},                                  // no header
		{"10.0.0.2:5000", "garbage, 198.51.100.1", "198.51.100.1"},
		{"10.0.0.2:5000", "198.51.100.1, garbage", "10.0.0.2"}, // a malformed hop next to the proxy: believe nothing
		{"[::ffff:10.0.0.2]:5000", "2001:db8::1", "2001:db8::1"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = c.peer
		if c.xff != "" {
			r.Header.Set("X-Forwarded-For", c.xff)
		}
		if got := clientAddress(r, trusted); got != c.want {
			t.Errorf("peer %s, X-Forwarded-For %q: %s, want %s", c.peer, c.xff, got, c.want)
		}
	}
}

func TestRequestID(t *testing.T) {
	for in, keep := range map[string]bool{"abc-123": true, "a b": false, "": false, "x\n": false, string(make([]byte, 129)): false, "trace:01.2_x": true} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("X-Request-Id", in)
		got := RequestID(r)
		if (got == in) != keep || got == "" {
			t.Errorf("X-Request-Id %q → %q, kept %v, want kept %v", in, got, got == in, keep)
		}
	}
}
