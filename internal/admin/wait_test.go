package admin

import (
	"testing"
	"time"
)

// TestWaitWording pins how the sign-in throttle says how long to wait.
func TestWaitWording(t *testing.T) {
	for d, want := range map[time.Duration]string{
		10 * time.Minute:                 "10 minutes",
		9*time.Minute + 58*time.Second:   "10 minutes",
		2 * time.Minute:                  "2 minutes",
		time.Minute + time.Millisecond:   "2 minutes",
		time.Minute:                      "1 minute",
		59*time.Second + time.Nanosecond: "1 minute",
		59 * time.Second:                 "59 seconds",
		45 * time.Second:                 "45 seconds",
		1500 * time.Millisecond:          "2 seconds",
		time.Second:                      "1 second",
		time.Millisecond:                 "1 second",
		0:                                "1 second",
	} {
		if got := waitWording(d); got != want {
			t.Errorf("waitWording(%v) = %q, want %q", d, got, want)
		}
	}
}
