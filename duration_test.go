package hookbook

import (
	"testing"
	"time"
)

func TestHumanDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		24 * time.Hour: "24 hours", time.Hour: "1 hour", 90 * time.Minute: "90 minutes",
		45 * time.Second: "45 seconds", time.Second: "1 second", 1500 * time.Millisecond: "1 second", 0: "0s",
	} {
		if got := HumanDuration(d); got != want {
			t.Errorf("HumanDuration(%s) = %q, want %q", d, got, want)
		}
	}
}

func TestHumanWait(t *testing.T) {
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
		if got := HumanWait(d); got != want {
			t.Errorf("HumanWait(%v) = %q, want %q", d, got, want)
		}
	}
}
