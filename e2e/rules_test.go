package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hookbook/hookbook/internal/config"
)

// TestEndpointTimeoutHasOneBound: the longest endpoint timeout the API
// accepts is config.MaxEndpointTimeout, the bound the production lease
// check relies on: an endpoint may have exactly that timeout and not a
// second more, and a production lease of that length is refused while one
// a second longer is taken.
func TestEndpointTimeoutHasOneBound(t *testing.T) {
	t.Parallel()
	most := int(config.MaxEndpointTimeout / time.Second)
	in := start(t, nil)
	rc := newReceiver(t, nil)
	ep := in.createEndpoint(rc.URL, []string{"*"}, map[string]any{"timeout_seconds": most})
	if ep["timeout_seconds"] != float64(most) {
		t.Errorf("timeout_seconds = %v, want %d", ep["timeout_seconds"], most)
	}
	for _, r := range []response{
		in.do("POST", "/api/v1/webhooks", map[string]any{"url": rc.URL, "events": []string{"*"}, "timeout_seconds": most + 1}),
		in.do("PATCH", "/api/v1/webhooks/"+ep["id"].(string), map[string]any{"timeout_seconds": most + 1}),
	} {
		msg := fmt.Sprint(r.JSON(t)["error"].(map[string]any)["details"].(map[string]any)["timeout_seconds"])
		if r.Status != 422 || msg != fmt.Sprintf("must be between 1 and %d", most) {
			t.Errorf("timeout_seconds %d = %d %s", most+1, r.Status, r.Body)
		}
	}
	env := map[string]string{"HOOKBOOK_ENV": "production", "HOOKBOOK_LEASE": config.MaxEndpointTimeout.String()}
	if _, err := config.Load(func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), "longest endpoint timeout") {
		t.Errorf("a production lease of %s: %v", config.MaxEndpointTimeout, err)
	}
	env["HOOKBOOK_LEASE"] = (config.MaxEndpointTimeout + time.Second).String()
	if _, err := config.Load(func(k string) string { return env[k] }); err != nil && strings.Contains(err.Error(), "HOOKBOOK_LEASE") {
		t.Errorf("a production lease of %s: %v", env["HOOKBOOK_LEASE"], err)
	}
}
