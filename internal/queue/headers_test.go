package queue

import (
	"encoding/json"
	"testing"
)

func checkHeadersJSON(t *testing.T, h map[string]string) {
	t.Helper()
	want, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	if h == nil {
		want = []byte("{}")
	}
	if got := headersJSON(h); got != string(want) {
		t.Errorf("headersJSON(%q) = %s, want %s", h, got, want)
	}
}

func TestHeadersJSONIsWhatEncodingJSONWrites(t *testing.T) {
	t.Parallel()
	for _, h := range []map[string]string{
		nil,
		{},
		{"Content-Type": "application/json", "X-Hookbook-Signature": "v1,abc+/=", "User-Agent": "hookbook/1.0"},
		{"A": `quote " and backslash \`, "B": "<script>&", "C": "tab\there", "D": "é ünïcode ✓", "E": "\u2028", "F": "\xff"},
		{"": ""},
	} {
		checkHeadersJSON(t, h)
	}
}

func FuzzHeadersJSON(f *testing.F) {
	f.Add("Content-Type", "application/json", "X-Id", "1")
	f.Add("a\"b", "<&>", "\x00", "\xe2\x80\xa8")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		checkHeadersJSON(t, map[string]string{k1: v1, k2: v2})
	})
}
