package hookbook

import "testing"

func TestReservedHeader(t *testing.T) {
	for _, c := range []struct {
		name, prefix string
		want         bool
	}{
		{"Webhook-Signature", "", true},
		{"Content-Type", "X-Hookbook", true},
		{"X-Hookbook-Event", "X-Hookbook", true},
		{"X-Hookbook-Event", "", false},
		{"X-Hookbookish", "X-Hookbook", false},
		{"X-Team", "X-Hookbook", false},
	} {
		if got := ReservedHeader(c.name, c.prefix); got != c.want {
			t.Errorf("ReservedHeader(%q, %q) = %v, want %v", c.name, c.prefix, got, c.want)
		}
	}
}

func TestValidHeaderName(t *testing.T) {
	for name, want := range map[string]bool{"X-Team": true, "": false, "a b": false, "a:b": false, "é": false, "a\x7f": false} {
		if got := ValidHeaderName(name); got != want {
			t.Errorf("ValidHeaderName(%q) = %v, want %v", name, got, want)
		}
	}
}
