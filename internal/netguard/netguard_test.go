package netguard

import "testing"

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
