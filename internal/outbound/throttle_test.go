package outbound_test

import (
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/hookbook/hookbook/internal/outbound"
)

// TestSecondsToMillis: ages print as whole milliseconds.
func TestSecondsToMillis(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{1644 * time.Millisecond: "1.644", 1644400 * time.Microsecond: "1.644",
		1644600 * time.Microsecond: "1.645", 0: "0", 90 * time.Second: "90"} {
		if got := strconv.FormatFloat(outbound.SecondsToMillis(d), 'f', -1, 64); got != want {
			t.Errorf("SecondsToMillis(%s) = %s, want %s", d, got, want)
		}
	}
}

// TestClearableIntegral: a clearable integer reads 1e3 as 1000 and still
// refuses fractions.
func TestClearableIntegral(t *testing.T) {
	t.Parallel()
	var in outbound.EndpointInput
	if err := json.Unmarshal([]byte(`{"max_in_flight":1e3}`), &in); err != nil || *in.MaxInFlight.Value != 1000 {
		t.Fatalf("1e3 = %v, %v", in.MaxInFlight.Value, err)
	}
	if err := json.Unmarshal([]byte(`{"max_in_flight":1.5}`), &in); err == nil {
		t.Fatal("1.5 accepted")
	}
}
