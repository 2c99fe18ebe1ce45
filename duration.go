package hookbook

import (
	"fmt"
	"time"
)

// HumanDuration writes a duration as people say it, in its largest whole
// unit: "24 hours", "90 minutes", "45 seconds" (below a second, Go's
// notation). Messages and pages that name a setting's length use it.
func HumanDuration(d time.Duration) string {
	switch {
	case d >= time.Hour && d%time.Hour == 0:
		return units(int64(d/time.Hour), "hour")
	case d >= time.Minute && d%time.Minute == 0:
		return units(int64(d/time.Minute), "minute")
	case d >= time.Second:
		return units(int64(d/time.Second), "second")
	}
	return d.String()
}

// HumanWait says how long someone must wait, as people say it: "10
// minutes", "1 minute", "45 seconds". It rounds up (to at least a second),
// so that whoever comes back after that long is let in.
func HumanWait(d time.Duration) string {
	secs := max(1, int64((d+time.Second-1)/time.Second))
	if secs >= 60 {
		return units((secs+59)/60, "minute")
	}
	return units(secs, "second")
}

// units is "1 hour" or "n hours".
func units(n int64, one string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %ss", n, one)
}
