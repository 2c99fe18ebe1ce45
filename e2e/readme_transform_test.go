package e2e

import (
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// readmeTransform saves the README's transformation on an endpoint: a
// booking arrives as the PUT it describes, a test event is cancelled, and
// the test route answers the same request.
func readmeTransform(t *testing.T, s snippet) {
	in := start(t, nil)
	rc := newReceiver(t, nil)
	ep := in.createEndpoint(rc.URL, []string{"booking.created", "webhook.test"}, map[string]any{
		"transformation": map[string]any{"code": s.code, "enabled": true}})["id"].(string)
	in.publish("booking.created", nil)
	in.must(202, "POST", "/api/v1/webhooks/"+ep+"/test", nil)
	waitFor(t, time.Minute, "both deliveries", func() bool {
		list := in.must(200, "GET", "/api/v1/webhooks/"+ep+"/deliveries", nil)["data"].([]any)
		done := 0
		for _, d := range list {
			if d.(map[string]any)["status"] == "succeeded" {
				done++
			}
		}
		return done == 2
	})
	got := rc.All()
	if len(got) != 1 || got[0].Header.Get("X-Booking") != "bkg_01JQ2Z8Y5V4N6T7R8S9A0B1C2D" ||
		string(got[0].Body) != `{"booking":"bkg_01JQ2Z8Y5V4N6T7R8S9A0B1C2D","customer":"Jane Doe","starts_at":"2026-03-25T14:00:00Z"}` {
		t.Fatalf("receiver got %d requests: %v", len(got), got)
	}
	r := in.must(200, "POST", "/api/v1/transformations/test", map[string]any{"code": s.code, "event": "booking.created"})
	if r["method"] != "PUT" || r["payload"].(map[string]any)["customer"] != "Jane Doe" {
		t.Fatalf("test route: %v", r)
	}
	if r := in.must(200, "POST", "/api/v1/transformations/test", map[string]any{"code": s.code, "event": "webhook.test"}); r["cancel"] != true {
		t.Fatalf("test route on webhook.test: %v", r)
	}
}

// readmeConnector runs the README's connector commands against an instance,
// with a Slack-shaped receiver in place of Slack: a booking arrives as the
// line the README quotes.
func readmeConnector(t *testing.T, s snippet) {
	in := start(t, nil)
	slack := newSlackReceiver(t)
	const slackURL = "https://hooks.slack.com/services/T000/B000/XXXX"
	if !strings.Contains(s.code, slackURL) || !strings.Contains(s.code, "localhost:8080") {
		t.Fatalf("the connector example changed; update this test:\n%s", s.code)
	}
	script := strings.NewReplacer("localhost:8080", strings.TrimPrefix(in.url, "http://"), slackURL, slack.URL+"/services/T000/B000/XXXX").Replace(s.code)
	out, err := runBash(t, t.TempDir(), script, "K=Authorization: Bearer "+in.key)
	if err != nil || !strings.Contains(out, `"connector":"slack"`) || !strings.Contains(out, `"name":"discord"`) {
		t.Fatalf("%v:\n%s", err, out)
	}
	// The README quotes the line a booking of the example arrives as: the
	// one the connectors list printed shows, and the one Slack gets.
	readme, _ := os.ReadFile("../README.md")
	m := regexp.MustCompile("A booking then arrives as `([^`]+)`").FindStringSubmatch(strings.Join(strings.Fields(string(readme)), " "))
	if m == nil {
		t.Fatal("the README quotes no line a booking arrives as")
	}
	if !strings.Contains(out, `"text":"`+m[1]+`"`) {
		t.Fatalf("the printed connectors do not show the README's line %q:\n%s", m[1], out)
	}
	in.publish("booking.created", nil)
	waitFor(t, time.Minute, "the message in Slack", func() bool {
		slack.mu.Lock()
		defer slack.mu.Unlock()
		return len(slack.texts) == 1
	})
	if got := slack.texts[0]; got != m[1] {
		t.Fatalf("Slack got %q; the README quotes %q", got, m[1])
	}
}
