package cli

import (
	"encoding/json"
	"testing"
)

func TestParseForward(t *testing.T) {
	routes, err := ParseForward([]string{"http://localhost:3000/hooks", "booking.cancelled=http://localhost:3000/cancel", "payment.*=https://127.0.0.1:4000/p"})
	if err != nil {
		t.Fatal(err)
	}
	l := &Listen{Routes: routes}
	for typ, want := range map[string]string{
		"booking.cancelled": "http://localhost:3000/cancel", "booking.created": "http://localhost:3000/hooks",
		"payment.failed": "https://127.0.0.1:4000/p",
	} {
		if got := l.route(typ); got != want {
			t.Errorf("%s goes to %s, want %s", typ, got, want)
		}
	}
	for _, bad := range [][]string{nil, {"ftp://x"}, {"http://a", "http://b"}, {"Not A Type=http://x"}, {"booking.created=localhost:3000"}} {
		if _, err := ParseForward(bad); err == nil {
			t.Errorf("ParseForward(%q) accepted", bad)
		}
	}
	only, _ := ParseForward([]string{"booking.created=http://localhost:1/x"})
	if got := (&Listen{Routes: only}).route("payment.failed"); got != "" {
		t.Errorf("an event no route names went to %q", got)
	}
}

func TestMerge(t *testing.T) {
	var base, over map[string]any
	decodeObject([]byte(`{"a":1,"c":{"x":1,"y":2},"big":9007199254740993}`), &base)
	decodeObject([]byte(`{"b":2,"c":{"y":3}}`), &over)
	b, _ := json.Marshal(Merge(base, over))
	if want := `{"a":1,"b":2,"big":9007199254740993,"c":{"x":1,"y":3}}`; string(b) != want {
		t.Errorf("Merge = %s, want %s", b, want)
	}
}

func TestAPICheck(t *testing.T) {
	t.Setenv("HOOKBOOK_API_KEY", "")
	for _, a := range []API{{URL: "", Key: "hk_x"}, {URL: "localhost:8080", Key: "hk_x"}, {URL: "http://localhost:8080"}} {
		if err := a.Check(); err == nil {
			t.Errorf("Check(%+v) passed", a)
		}
	}
	t.Setenv("HOOKBOOK_API_KEY", "hk_env")
	a := API{URL: "http://localhost:8080"}
	if err := a.Check(); err != nil || a.Key != "hk_env" {
		t.Errorf("Check with HOOKBOOK_API_KEY: %v %q", err, a.Key)
	}
}
