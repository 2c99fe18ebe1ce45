package admin

import (
	"strings"
	"testing"
	"time"

	outbound "github.com/hookbook/hookbook/internal/outbound"
)

func TestHuman(t *testing.T) {
	for d, want := range map[time.Duration]string{
		24 * time.Hour: "24 hours", time.Hour: "1 hour", 90 * time.Minute: "90 minutes",
		45 * time.Second: "45 seconds", time.Second: "1 second", 1500 * time.Millisecond: "1 second", 0: "0s",
	} {
		if got := human(d); got != want {
			t.Errorf("human(%s) = %q, want %q", d, got, want)
		}
	}
}

func TestPortalAllows(t *testing.T) {
	admin := &session{Session: &Session{}}
	portal := &session{Session: &Session{Portal: true, EventTypes: []string{"booking.*", "payment.refunded"}}}
	for pattern, want := range map[string]bool{
		"booking.*": true, "booking.created": true, "payment.refunded": true,
		"payment.*": false, "payment.succeeded": false, "*": false, "bookingx.created": false,
	} {
		if got := portal.allows(pattern); got != want {
			t.Errorf("portal allows %q = %v", pattern, got)
		}
		if !admin.allows(pattern) {
			t.Errorf("an admin may not choose %q", pattern)
		}
	}
	if err := portal.checkEvents([]string{"booking.created", "*"}); err == nil || !strings.Contains(err.Error(), "not allowed") {
		t.Errorf("checkEvents = %v", err)
	}
}

func TestChartAndPretty(t *testing.T) {
	vs := make([]outbound.Volume, 24)
	vs[23] = outbound.Volume{Succeeded: 3, Failed: 1}
	vs[0] = outbound.Volume{Pending: 2}
	svg := string(chart(vs, time.Date(2026, 3, 24, 14, 30, 0, 0, time.UTC)))
	if strings.Count(svg, "<rect") != 3 || !strings.Contains(svg, "6 (3 succeeded, 1 failed, 2 pending); success rate 75 %") ||
		!strings.Contains(svg, "15:00 UTC") {
		t.Errorf("chart = %s", svg)
	}
	if got := pretty(`{"a":[1,{"b":"<x>"}]}`); got != "{\n  \"a\": [\n    1,\n    {\n      \"b\": \"<x>\"\n    }\n  ]\n}" {
		t.Errorf("pretty = %q", got)
	}
	for _, s := range []string{"plain text", "{broken", ""} {
		if pretty(s) != s {
			t.Errorf("pretty(%q) changed it", s)
		}
	}
}
