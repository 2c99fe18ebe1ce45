package admin

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/hookbook/hookbook"
	outbound "github.com/hookbook/hookbook/internal/outbound"
	uisession "github.com/hookbook/hookbook/internal/session"
)

func TestPortalAllows(t *testing.T) {
	admin := &session{Session: &uisession.Session{}}
	portal := &session{Session: &uisession.Session{Portal: true, EventTypes: []string{"booking.*", "payment.refunded"}}}
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
	if got := strings.Join(portal.outOfScope([]string{"*", "booking.created", "payment.*", "payment.refunded"}), ","); got != "*,payment.*" {
		t.Errorf("a portal may not change %q, want *,payment.*", got)
	}
	if got := admin.outOfScope([]string{"*"}); got != nil {
		t.Errorf("an admin may not change %q", got)
	}
}

func TestChartAndPretty(t *testing.T) {
	vs := make([]outbound.Volume, 24)
	vs[23] = outbound.Volume{Succeeded: 3, Failed: 1}
	vs[0] = outbound.Volume{Pending: 2}
	svg := string(chart(vs, time.Date(2026, 3, 24, 14, 30, 0, 0, time.UTC)))
	if strings.Count(svg, "<rect") != 3 || !strings.Contains(svg, "6 (3 succeeded, 1 failed, 2 pending); success rate 75 %") ||
		!strings.Contains(svg, "2026-03-23 15:00 UTC") || !strings.Contains(svg, "2026-03-24 14:00 UTC (now)") ||
		strings.Contains(svg, `preserveAspectRatio="none"`) || strings.Contains(svg, "<text") {
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

func TestAnswerSaysItOnce(t *testing.T) {
	code, same, other := 503, "HTTP 503", "timeout after 10s"
	for _, c := range []struct {
		code *int
		err  *string
		want reply
	}{
		{&code, &same, reply{"HTTP 503", ""}},
		{&code, nil, reply{"HTTP 503", ""}},
		{nil, &other, reply{"—", "timeout after 10s"}},
		{&code, &other, reply{"HTTP 503", "timeout after 10s"}},
	} {
		if got := answer(c.code, c.err); got != c.want {
			t.Errorf("answer = %+v, want %+v", got, c.want)
		}
	}
}

func TestPreviewCutsBigBodies(t *testing.T) {
	small := `{"a":1}`
	if got, cut := preview(small); cut || got != pretty(small) {
		t.Errorf("preview of a small body = %q, %v", got, cut)
	}
	big := `{"notes":"` + strings.Repeat("é", 20000) + `"}`
	got, cut := preview(big)
	if !cut || len(got) > BodyPreview || len(got) < BodyPreview-3 || !utf8.ValidString(got) {
		t.Errorf("preview of %d bytes: %d bytes, cut %v, valid UTF-8 %v", len(big), len(got), cut, utf8.ValidString(got))
	}
	for n, want := range map[int]string{900: "900 bytes", 16 << 10: "16 KiB", 1_000_000: "976 KiB", 3 << 20: "3.0 MiB"} {
		if got := size(n); got != want {
			t.Errorf("size(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestReplayForm: the form's times are read as it shows them, its errors
// name the field in the form's words, and a portal link replays only its
// own event types.
func TestReplayForm(t *testing.T) {
	f, err := replayForm{Since: "2026-01-31 09:00", Until: "2026-02-01T10:30", Status: "any", Event: "booking.*"}.filter(time.Now())
	if err != nil || f.Since != time.Date(2026, 1, 31, 9, 0, 0, 0, time.UTC) || f.Until != time.Date(2026, 2, 1, 10, 30, 0, 0, time.UTC) || f.Status != "any" {
		t.Fatalf("filter = %+v %v", f, err)
	}
	_, err = replayForm{Since: "yesterday"}.filter(time.Now())
	if err == nil || !strings.Contains(err.Error(), "YYYY-MM-DD HH:MM") {
		t.Errorf("a bad time = %v, want the form's wording", err)
	}
	portal := &session{Session: &uisession.Session{Portal: true, EventTypes: []string{"booking.*"}}}
	for evt, ok := range map[string]bool{"booking.*": true, "booking.created": true, "": false, "payment.*": false} {
		if err := portal.checkReplayEvent(evt); (err == nil) != ok {
			t.Errorf("portal replay of %q = %v", evt, err)
		}
	}
	if err := (&session{Session: &uisession.Session{}}).checkReplayEvent(""); err != nil {
		t.Errorf("an admin's replay of every event = %v", err)
	}
	// An empty Event field means a link's one event type; with several, it asks which.
	if got := portal.replayEvent(""); got != "booking.*" {
		t.Errorf("a one-type link's empty event = %q, want booking.*", got)
	}
	two := &session{Session: &uisession.Session{Portal: true, EventTypes: []string{"booking.*", "payment.refunded"}}}
	if got := two.replayEvent(""); got != "" {
		t.Errorf("a two-type link's empty event = %q, want it left empty", got)
	}
	if e := hookbook.AsError(two.checkReplayEvent("")); e == nil || !strings.Contains(e.Details["event"], "Choose the events to replay") {
		t.Errorf("a two-type link's replay of every event = %v, want it to ask which", e)
	}
	if got := (&session{Session: &uisession.Session{}}).replayEvent(""); got != "" {
		t.Errorf("an admin's empty event = %q, want every event", got)
	}
}
