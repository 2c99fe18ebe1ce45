package ids

import (
	"encoding/base64"
	"strings"
	"testing"
)

func TestIdsSortAndValidate(t *testing.T) {
	prev := ""
	for range 1000 {
		id := New("evt")
		if !Valid("evt", id) || Valid("dlv", id) {
			t.Fatalf("%s: Valid is wrong", id)
		}
		if id <= prev {
			t.Fatalf("ids do not increase: %s after %s", id, prev)
		}
		prev = id
	}
	for _, bad := range []string{"", "evt_", "evt_xyz", "evt-01J00000000000000000000000", "evt_01j0000000000000000000000%"} {
		if Valid("evt", bad) {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestTokens(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		k := Token("hk_")
		if !strings.HasPrefix(k, "hk_") || len(k) != 3+2*TokenBytes || seen[k] {
			t.Fatalf("token %q", k)
		}
		seen[k] = true
	}
	s := Secret()
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, "whsec_"))
	if !strings.HasPrefix(s, "whsec_") || err != nil || len(key) != TokenBytes {
		t.Errorf("secret %q: %v", s, err)
	}
	if a, b := Hash("a"), Hash("a"); a != b || a == Hash("b") || len(a) != 64 {
		t.Error("Hash is not a SHA-256 hex digest")
	}
}
