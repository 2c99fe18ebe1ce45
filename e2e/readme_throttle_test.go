package e2e

import (
	"strings"
	"testing"
)

// readmeThrottle runs the throttling block against a running hookbook
// with one endpoint, as a reader would after the quickstart.
func readmeThrottle(t *testing.T, s snippet) {
	in := start(t, nil)
	rc := newReceiver(t, nil)
	ep := in.createEndpoint(rc.URL, []string{"*"}, nil)["id"].(string)
	_, port, _ := strings.Cut(strings.TrimPrefix(in.url, "http://"), ":")
	script := strings.ReplaceAll(s.code, "localhost:8080", "127.0.0.1:"+port)
	out, err := runBash(t, t.TempDir(), script, "EP="+ep, "K=Authorization: Bearer "+in.key)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{`"rate_limit":"10/s","max_in_flight":5`, `"burst":10`, `"throttled":false`, `"pending":0`,
		`"rate_limit":null,"max_in_flight":5`} {
		if !strings.Contains(out, want) {
			t.Errorf("the throttling block's output lacks %s:\n%s", want, out)
		}
	}
	if e := in.must(200, "GET", "/api/v1/webhooks/"+ep, nil); e["rate_limit"] != nil || e["max_in_flight"] != float64(5) {
		t.Errorf("after the block: rate_limit %v, max_in_flight %v", e["rate_limit"], e["max_in_flight"])
	}
}
