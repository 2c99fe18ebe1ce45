package hookbook

import "testing"

func TestStorable(t *testing.T) {
	for text, want := range map[string]bool{
		"":                   true,
		"Zoë's booking ✓":    true,
		"a\x00b":             false,
		"\x00":               false,
		"bad \xff utf-8":     false,
		"cut \xe2\x9c":       false,
		"tab\tand newline\n": true,
	} {
		if got := Storable(text); got != want {
			t.Errorf("Storable(%q) = %v, want %v", text, got, want)
		}
	}
}

func TestStorableValues(t *testing.T) {
	if bad, ok := StorableValues(map[string][]string{"name": {"Zoë", "x"}, "note": nil}); !ok || bad != "" {
		t.Errorf("text values refused: %q %v", bad, ok)
	}
	if bad, ok := StorableValues(map[string][]string{"name": {"ok"}, "note": {"a", "b\x00"}}); ok || bad != "note" {
		t.Errorf("a NUL in a value: got %q %v, want note false", bad, ok)
	}
	if bad, ok := StorableValues(map[string][]string{"n\xffame": {"ok"}}); ok || bad != "n\xffame" {
		t.Errorf("invalid UTF-8 in a name: got %q %v", bad, ok)
	}
}
