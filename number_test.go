package hookbook_test

import (
	"testing"

	"github.com/hookbook/hookbook"
)

// TestIntegralNumber: integral numbers in exponent or decimal form read
// as integers; others do not.
func TestIntegralNumber(t *testing.T) {
	t.Parallel()
	for lit, want := range map[string]string{"1e3": "1000", "1E3": "1000", "1000.0": "1000", "-2e1": "-20", "1.5e1": "15",
		"1.5": "", "1e400": "", "1e-3": "", "1000": "", "1e20": "", "0.10000000000000000001e1": ""} {
		got, ok := hookbook.IntegralNumber(lit)
		if got != want || ok != (want != "") {
			t.Errorf("IntegralNumber(%q) = %q, %v; want %q", lit, got, ok, want)
		}
	}
}
