package netguard

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestLooseIPv4(t *testing.T) {
	cases := map[string]string{
		"2130706433": "127.0.0.1", "0x7f000001": "127.0.0.1", "0177.0.0.1": "127.0.0.1", "127.1": "127.0.0.1",
		"10.1": "10.0.0.1", "192.168.1.1": "192.168.1.1",
	}
	for in, want := range cases {
		a, ok := parseLooseIPv4(in)
		if !ok || a.String() != want {
			t.Errorf("%s = %v %v, want %s", in, a, ok, want)
		}
	}
	for _, in := range []string{"example.com", "1.2.3.4.5", "256.1.1.1", "", "1..2"} {
		if _, ok := parseLooseIPv4(in); ok {
			t.Errorf("%q parsed as an address", in)
		}
	}
}

// TestBlockedRanges: every refused range at its edges and just outside,
// in IPv4, IPv6 and IPv4-mapped IPv6, and the ranges an operator allows.
func TestBlockedRanges(t *testing.T) {
	t.Parallel()
	g := &Guard{Enabled: true}
	blocked := []string{
		"0.0.0.0", "0.255.255.255", // "this" network
		"10.0.0.0", "10.255.255.255", // private
		"100.64.0.0", "100.127.255.255", // CGNAT
		"127.0.0.1", "127.255.255.255", // loopback
		"169.254.0.0", "169.254.169.254", "169.254.255.255", // link-local, cloud metadata
		"172.16.0.0", "172.31.255.255", // private
		"192.0.0.0", "192.0.0.255", // IETF protocol assignments
		"192.168.0.0", "192.168.255.255", // private
		"198.18.0.0", "198.19.255.255", // benchmarking
		"224.0.0.0", "239.255.255.255", // multicast
		"240.0.0.0", "255.255.255.255", // reserved, broadcast
		"::", "::1", // unspecified, loopback
		"fc00::", "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", // unique local
		"fe80::", "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", // link-local
		"ff00::", "ff02::1", // multicast
		"64:ff9b::7f00:1", "64:ff9b::808:808", // NAT64
		"2002::", "2002:7f00:1::", // 6to4
		"::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", "::ffff:0.0.0.0", // IPv4-mapped
		"fe80::1%eth0", "ff02::1%1", // with a zone
	}
	allowed := []string{
		"1.0.0.1", "8.8.8.8", "9.255.255.255", "11.0.0.0", "100.63.255.255", "100.128.0.0",
		"126.255.255.255", "128.0.0.0", "169.253.255.255", "169.255.0.0", "172.15.255.255", "172.32.0.0",
		"192.0.1.0", "192.167.255.255", "192.169.0.0", "198.17.255.255", "198.20.0.0", "223.255.255.255",
		"::2", "fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "fe00::", "fec0::", "2001:4860:4860::8888", "2003::",
		"::ffff:8.8.8.8",
	}
	for _, s := range blocked {
		if a := netip.MustParseAddr(s); !g.Blocked(a) {
			t.Errorf("%s is not blocked", s)
		}
	}
	for _, s := range allowed {
		if a := netip.MustParseAddr(s); g.Blocked(a) {
			t.Errorf("%s is blocked", s)
		}
	}
	if !g.Blocked(netip.Addr{}) {
		t.Errorf("the invalid address is not blocked")
	}
	// Allowed ranges are exempt, in either notation, and nothing else is.
	g.Allowed = []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16"), netip.MustParsePrefix("fd00::/64")}
	for s, want := range map[string]bool{
		"10.1.2.3": false, "::ffff:10.1.2.3": false, "fd00::5": false,
		"10.2.0.1": true, "fd00:0:0:1::5": true, "127.0.0.1": true,
	} {
		if got := g.Blocked(netip.MustParseAddr(s)); got != want {
			t.Errorf("with allowed ranges, Blocked(%s) = %v, want %v", s, got, want)
		}
	}
}

// lookup answers names from a table, as a resolver the test controls.
func lookup(answers map[string][]string) func(context.Context, string) ([]netip.Addr, error) {
	return func(_ context.Context, host string) ([]netip.Addr, error) {
		list, ok := answers[host]
		if !ok {
			return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
		}
		var out []netip.Addr
		for _, s := range list {
			out = append(out, netip.MustParseAddr(s))
		}
		return out, nil
	}
}

// TestCheckURL: with the guard on, a URL is refused when any answer for
// its host is internal (a name that mixes public and internal answers
// too), in every address notation; off, only its shape is checked.
func TestCheckURL(t *testing.T) {
	t.Parallel()
	g := &Guard{Enabled: true, LookupIP: lookup(map[string][]string{
		"public.example":   {"93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"},
		"mixed.example":    {"93.184.216.34", "10.0.0.7"},
		"mixed6.example":   {"2606:2800:220:1:248:1893:25c8:1946", "::ffff:127.0.0.1"},
		"metadata.example": {"169.254.169.254"},
		"zoned.example":    {"fe80::1%eth0"},
		"empty.example":    {},
	})}
	ctx := context.Background()
	for raw, want := range map[string]string{
		"https://public.example/hooks":       "",
		"https://public.example:8443/hooks":  "",
		"https://93.184.216.34/":             "",
		"https://mixed.example/":             "resolves to 10.0.0.7, an internal address",
		"https://mixed6.example/":            "resolves to ::ffff:127.0.0.1, an internal address",
		"https://metadata.example/":          "resolves to 169.254.169.254",
		"https://zoned.example/":             "resolves to fe80::1%eth0",
		"https://empty.example/":             "host empty.example has no address",
		"https://unknown.example/":           "host unknown.example does not resolve",
		"http://public.example/":             "must use https in production",
		"https://127.0.0.1/":                 "resolves to 127.0.0.1",
		"https://2130706433/":                "resolves to 127.0.0.1",
		"https://0x7f000001/":                "resolves to 127.0.0.1",
		"https://[::1]/":                     "resolves to ::1",
		"https://[::ffff:127.0.0.1]/":        "resolves to ::ffff:127.0.0.1",
		"https://[::ffff:a9fe:a9fe]/":        "resolves to ::ffff:169.254.169.254",
		"https://[fe80::1%25eth0]/":          "resolves to fe80::1",
		"https://localhost/":                 "resolves to 127.0.0.1",
		"https://api.localhost/":             "resolves to 127.0.0.1",
		"https://user:pw@public.example/":    "must not carry credentials",
		"https://public.example:99999/":      "has an invalid port",
		"ftp://public.example/":              "must be an absolute http or https URL",
		"/relative":                          "must be an absolute http or https URL",
		"https://mixed.example:443/?x=1#top": "resolves to 10.0.0.7",
	} {
		err := g.CheckURL(ctx, raw)
		switch {
		case want == "" && err != nil:
			t.Errorf("%s: %v, want it accepted", raw, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("%s: %v, want %q", raw, err, want)
		}
	}
	off := &Guard{LookupIP: g.LookupIP}
	for _, raw := range []string{"http://127.0.0.1:8080/hooks", "http://mixed.example/", "https://unknown.example/"} {
		if err := off.CheckURL(ctx, raw); err != nil {
			t.Errorf("guard off: %s: %v", raw, err)
		}
	}
}

// TestDialChecksAtConnect: the dialer checks every address when it
// connects (a name that changed its answer since the URL was checked is
// refused), dials only the allowed answers of a mixed one, and reaches a
// real listener on 127.0.0.1 only when that range is allowed or the guard
// is off. A refused dial never reaches the listener.
func TestDialChecksAtConnect(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var accepted atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	answers := map[string][]string{
		"rebound.example":  {"127.0.0.1"},
		"mixed.example":    {"10.255.255.1", "127.0.0.1"},
		"internal.example": {"10.255.255.1", "192.168.255.1"},
	}
	loopback := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	ctx := context.Background()
	dialer := &net.Dialer{Timeout: 10 * time.Second}
	for _, c := range []struct {
		name    string
		guard   *Guard
		host    string
		blocked string // the address a refusal names; "" means the dial connects
	}{
		{"a literal loopback address", &Guard{Enabled: true}, "127.0.0.1", "127.0.0.1"},
		{"a mapped loopback address", &Guard{Enabled: true}, "::ffff:127.0.0.1", "::ffff:127.0.0.1"},
		{"a name rebound to loopback", &Guard{Enabled: true, LookupIP: lookup(answers)}, "rebound.example", "127.0.0.1"},
		{"a name with only internal answers", &Guard{Enabled: true, LookupIP: lookup(answers)}, "internal.example", "10.255.255.1"},
		{"localhost", &Guard{Enabled: true}, "localhost", "127.0.0.1"},
		{"loopback allowed", &Guard{Enabled: true, Allowed: loopback}, "127.0.0.1", ""},
		{"a rebound name, loopback allowed", &Guard{Enabled: true, Allowed: loopback, LookupIP: lookup(answers)}, "rebound.example", ""},
		{"a mixed name: only its allowed answer is dialled", &Guard{Enabled: true, Allowed: loopback, LookupIP: lookup(answers)}, "mixed.example", ""},
		{"guard off", &Guard{}, "127.0.0.1", ""},
	} {
		before := accepted.Load()
		conn, err := c.guard.DialContext(dialer)(ctx, "tcp", net.JoinHostPort(c.host, port))
		if c.blocked == "" {
			if err != nil {
				t.Errorf("%s: %v, want a connection", c.name, err)
				continue
			}
			conn.Close()
			waitFor(t, c.name, func() bool { return accepted.Load() == before+1 })
			continue
		}
		var be *BlockedError
		if conn != nil {
			conn.Close()
		}
		if !errors.As(err, &be) || be.Addr.String() != c.blocked || be.Host != c.host {
			t.Errorf("%s: %v, want a BlockedError naming %s", c.name, err, c.blocked)
		}
		if n := accepted.Load(); n != before {
			t.Errorf("%s: the refused dial reached the listener", c.name)
		}
	}
	if _, err := (&Guard{Enabled: true, LookupIP: lookup(answers)}).DialContext(dialer)(ctx, "tcp", "unknown.example:443"); err == nil || !strings.Contains(err.Error(), "does not resolve") {
		t.Errorf("an unknown name: %v", err)
	}
}

// waitFor polls cond every 5 ms until it holds, failing after a
// generous deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: timed out waiting for the listener", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
