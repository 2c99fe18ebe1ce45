package admin

import (
	"fmt"
	"time"
)

// waitWording says how long someone must wait, as people say it: "10
// minutes", "1 minute", "45 seconds". It rounds up, so that whoever comes
// back after that long is let in.
func waitWording(d time.Duration) string {
	unit := func(n int64, one string) string {
		if n == 1 {
			return "1 " + one
		}
		return fmt.Sprintf("%d %ss", n, one)
	}
	secs := max(1, int64((d+time.Second-1)/time.Second))
	if secs >= 60 {
		return unit((secs+59)/60, "minute")
	}
	return unit(secs, "second")
}
