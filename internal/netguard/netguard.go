// Package netguard keeps deliveries away from internal networks (SSRF): it
// checks endpoint URLs when they are saved and every address when a
// connection is made.
package netguard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Guard keeps deliveries away from internal networks (SSRF). When enabled it
// refuses endpoint URLs that are not https or whose host resolves to a
// loopback, private, link-local, CGNAT, unspecified or multicast address,
// and it checks the address again when connecting, so a name that changes
// its answer after creation (DNS rebinding) is refused too.
type Guard struct {
	Enabled bool
	// Allowed ranges are exempt from the guard.
	Allowed []netip.Prefix
	// LookupIP resolves a host name; nil means net.DefaultResolver.
	LookupIP func(ctx context.Context, host string) ([]netip.Addr, error)
}

var blockedRanges = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),      // "this" network, unspecified
	netip.MustParsePrefix("10.0.0.0/8"),     // private
	netip.MustParsePrefix("100.64.0.0/10"),  // CGNAT
	netip.MustParsePrefix("127.0.0.0/8"),    // loopback
	netip.MustParsePrefix("169.254.0.0/16"), // link-local, cloud metadata
	netip.MustParsePrefix("172.16.0.0/12"),  // private
	netip.MustParsePrefix("192.0.0.0/24"),   // IETF protocol assignments
	netip.MustParsePrefix("192.168.0.0/16"), // private
	netip.MustParsePrefix("198.18.0.0/15"),  // benchmarking
	netip.MustParsePrefix("224.0.0.0/4"),    // multicast
	netip.MustParsePrefix("240.0.0.0/4"),    // reserved, broadcast
	netip.MustParsePrefix("::/128"),         // unspecified
	netip.MustParsePrefix("::1/128"),        // loopback
	netip.MustParsePrefix("fc00::/7"),       // unique local
	netip.MustParsePrefix("fe80::/10"),      // link-local
	netip.MustParsePrefix("ff00::/8"),       // multicast
	netip.MustParsePrefix("64:ff9b::/96"),   // NAT64 (embeds IPv4)
	netip.MustParsePrefix("2002::/16"),      // 6to4 (embeds IPv4)
}

// BlockedError is a connection the guard refused: host resolved to an
// internal address.
type BlockedError struct {
	Host string
	Addr netip.Addr
}

func (e *BlockedError) Error() string {
	return fmt.Sprintf("network guard: %s resolves to %s, an internal address", e.Host, e.Addr)
}

// Blocked reports whether the guard refuses addr. A zone does not change
// the address (fe80::1%eth0 is link-local), and an invalid address is
// refused.
func (g *Guard) Blocked(addr netip.Addr) bool {
	addr = addr.Unmap().WithZone("")
	if !addr.IsValid() {
		return true
	}
	for _, p := range g.Allowed {
		if p.Contains(addr) {
			return false
		}
	}
	for _, p := range blockedRanges {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// CheckURL validates an endpoint URL. Every environment requires an absolute
// http(s) URL with a host; with the guard enabled it must be https and its
// host must not resolve to a refused address.
func (g *Guard) CheckURL(ctx context.Context, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return errors.New("must be an absolute http or https URL")
	}
	if u.User != nil {
		return errors.New("must not carry credentials; use the headers field")
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return errors.New("has an invalid port")
		}
	}
	if !g.Enabled {
		return nil
	}
	if u.Scheme != "https" {
		return errors.New("must use https in production")
	}
	addrs, err := g.resolve(ctx, u.Hostname())
	if err != nil {
		var dnsErr *net.DNSError
		if errors.As(err, &dnsErr) {
			return fmt.Errorf("host %s %s", dnsErr.Name, dnsErr.Err)
		}
		return err
	}
	for _, a := range addrs {
		if g.Blocked(a) {
			return fmt.Errorf("resolves to %s, an internal address", a)
		}
	}
	return nil
}

// resolve returns the addresses of host: a literal address in any notation
// a resolver might accept (including 2130706433 and 0x7f000001), or the
// answers of DNS.
func (g *Guard) resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	if a, ok := parseLooseIPv4(host); ok {
		return []netip.Addr{a}, nil
	}
	if a, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		return []netip.Addr{a.WithZone("")}, nil
	}
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
	}
	lookup := g.LookupIP
	if lookup == nil {
		lookup = func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	addrs, err := lookup(ctx, host)
	if err != nil {
		return nil, &net.DNSError{Err: "does not resolve", Name: host, IsNotFound: true}
	}
	if len(addrs) == 0 {
		return nil, &net.DNSError{Err: "has no address", Name: host, IsNotFound: true}
	}
	return addrs, nil
}

// parseLooseIPv4 reads the IPv4 notations of inet_aton: one to four parts,
// each decimal, octal (leading 0) or hex (0x), the last part filling the
// remaining bytes.
func parseLooseIPv4(s string) (netip.Addr, bool) {
	parts := strings.Split(s, ".")
	if len(parts) > 4 || s == "" {
		return netip.Addr{}, false
	}
	vals := make([]uint64, len(parts))
	for i, p := range parts {
		if p == "" {
			return netip.Addr{}, false
		}
		base := 10
		switch {
		case strings.HasPrefix(p, "0x") || strings.HasPrefix(p, "0X"):
			base, p = 16, p[2:]
			if p == "" {
				p = "0"
			}
		case len(p) > 1 && p[0] == '0':
			base, p = 8, p[1:]
		}
		v, err := strconv.ParseUint(p, base, 32)
		if err != nil {
			return netip.Addr{}, false
		}
		vals[i] = v
	}
	var n uint64
	for i, v := range vals[:len(vals)-1] {
		if v > 255 {
			return netip.Addr{}, false
		}
		n |= v << (24 - 8*i)
	}
	last := vals[len(vals)-1]
	if last >= 1<<(8*(5-len(vals))) && len(vals) > 1 {
		return netip.Addr{}, false
	}
	n |= last
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}), true
}

// Destination returns the address a connection to host may go to: host
// itself with the guard disabled, else the first of its addresses the
// guard does not refuse (a *BlockedError when it refuses them all). A
// connection through a forward proxy asks the proxy for this address, so
// the proxy is never asked for a refused one.
func (g *Guard) Destination(ctx context.Context, host string) (string, error) {
	if !g.Enabled {
		return host, nil
	}
	addrs, err := g.resolve(ctx, host)
	if err != nil {
		return "", err
	}
	for _, a := range addrs {
		if !g.Blocked(a) {
			return a.String(), nil
		}
	}
	return "", &BlockedError{Host: host, Addr: addrs[0]}
}

// DialContext resolves and dials like net.Dialer, refusing guarded addresses
// at connect time.
func (g *Guard) DialContext(d *net.Dialer) func(ctx context.Context, network, address string) (net.Conn, error) {
	return func(ctx context.Context, network, address string) (net.Conn, error) {
		if !g.Enabled {
			return d.DialContext(ctx, network, address)
		}
		host, port, err := net.SplitHostPort(address)
		if err != nil {
			return nil, err
		}
		addrs, err := g.resolve(ctx, host)
		if err != nil {
			return nil, err
		}
		var firstErr error
		for _, a := range addrs {
			if g.Blocked(a) {
				if firstErr == nil {
					firstErr = &BlockedError{Host: host, Addr: a}
				}
				continue
			}
			c, err := d.DialContext(ctx, network, net.JoinHostPort(a.String(), port))
			if err == nil {
				return c, nil
			}
			if firstErr == nil {
				firstErr = err
			}
		}
		return nil, firstErr
	}
}

// CheckAddress validates a broker's host:port address as CheckURL does a
// URL's host: with the guard enabled, the host must not resolve to a
// refused address (no scheme rule applies).
func (g *Guard) CheckAddress(ctx context.Context, address string) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil || host == "" {
		return fmt.Errorf("%s is not a host:port address", address)
	}
	if !g.Enabled {
		return nil
	}
	addrs, err := g.resolve(ctx, host)
	if err != nil {
		var dnsErr *net.DNSError
		if errors.As(err, &dnsErr) {
			return fmt.Errorf("host %s %s", dnsErr.Name, dnsErr.Err)
		}
		return err
	}
	for _, a := range addrs {
		if g.Blocked(a) {
			return fmt.Errorf("%s resolves to %s, an internal address", host, a)
		}
	}
	return nil
}
