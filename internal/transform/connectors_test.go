package transform

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
)

// runConnector runs a connector on an event of type with data and returns
// the message text it makes (Slack's text, Discord's content, the second
// TextBlock of Teams' card).
func runConnector(t *testing.T, name, typ, data string) string {
	t.Helper()
	c, ok := LookupConnector(name)
	if !ok {
		t.Fatalf("no connector %s", name)
	}
	in := input()
	in.EventType = typ
	in.Payload = json.RawMessage(`{"id":"evt_1","event":"` + typ + `","data":` + data + `}`)
	out, err := engine().Run(context.Background(), c.Code, in, at)
	if err != nil {
		t.Fatalf("%s on %s: %v", name, typ, err)
	}
	var p struct {
		Text        string `json:"text"`
		Content     string `json:"content"`
		Attachments []struct {
			Content struct {
				Body []struct {
					Text string `json:"text"`
				} `json:"body"`
			} `json:"content"`
		} `json:"attachments"`
	}
	if err := json.Unmarshal(out.Payload, &p); err != nil {
		t.Fatal(err)
	}
	switch name {
	case "slack":
		return p.Text
	case "discord":
		return p.Content
	}
	return p.Attachments[0].Content.Body[1].Text
}

// A customer's text reaches Discord and Teams with its Markdown escaped
// (no link, emphasis or mention), Slack with &, < and > escaped; hookbook's
// own words are left as they are, and text stays on one line.
func TestConnectorsEscapeCustomerText(t *testing.T) {
	t.Parallel()
	data := `{"name":"<b>Bob</b> & Co <!channel> @everyone [x](https://evil) *b* _i_ ~s~ ` + "`c`" + ` |x|\n# h","email":"a@example.com"}`
	want := map[string]string{
		"slack": "New customer: &lt;b&gt;Bob&lt;/b&gt; &amp; Co &lt;!channel&gt; @everyone [x](https://evil) *b* _i_ ~s~ `c` |x| # h (a@example.com)",
		"discord": `New customer: \<b\>Bob\</b\> \& Co \<!channel\> \@everyone \[x\]\(https://evil\) \*b\* \_i\_ \~s\~ ` + "\\`c\\`" +
			` \|x\| \# h (a\@example.com)`,
	}
	want["teams"] = want["discord"]
	for name, w := range want {
		if got := runConnector(t, name, "customer.created", data); got != w {
			t.Errorf("%s:\n got %s\nwant %s", name, got, w)
		}
	}
}

// Dates carry their year; payments name what their data carries; a custom
// event shows up to 5 of its fields.
func TestConnectorsSummaries(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ typ, data, want string }{
		{"booking.created", `{"service":{"name":"City Walking Tour"},"customer":{"name":"Jane Doe"},"starts_at":"2030-03-25T14:00:00Z","participants":2}`,
			"New booking: City Walking Tour, Mon 25 Mar 2030 14:00, 2 participants — Jane Doe"},
		{"booking.created", `{"starts_at":"2026-02-15T14:00:00Z","participants":1}`,
			"New booking: a service, Sun 15 Feb 2026 14:00, 1 participant"},
		{"payment.succeeded", `{"id":"pay_1","booking_id":"bkg_1","amount":9000,"currency":"USD","method":"card"}`,
			"Payment received: 90.00 USD by card for booking bkg_1, payment pay_1"},
		{"payment.refunded", `{"id":"pay_1","booking_id":"bkg_1","refund_amount":500,"currency":"EUR","service":{"name":"Tour"},"customer":{"name":"Jane"}}`,
			"Refund: 5.00 EUR for booking bkg_1 (Tour, Jane), payment pay_1"},
		{"payment.failed", `{"booking":{"id":"bkg_2","customer":{"name":"Ann"}},"amount":100,"currency":"USD","error_message":"declined"}`,
			"Payment failed: 1.00 USD for booking bkg_2 (Ann) — declined"},
		{"lead.qualified", `{"name":"Bob","score":5,"tags":["a","b"],"owner":{"id":1},"note":null,"x":true,"y":2}`,
			"Event lead.qualified: name=Bob, score=5, tags=[2 items], owner={…}, note=null, +2 more"},
		{"lead.qualified", `{"text":"` + strings.Repeat("z", 100) + `"}`,
			"Event lead.qualified: text=" + strings.Repeat("z", 59) + "…"},
		{"lead.lost", `{}`, "Event lead.lost"},
		{"lead.lost", `[1,2]`, "Event lead.lost"},
	} {
		if got := runConnector(t, "slack", c.typ, c.data); got != c.want {
			t.Errorf("%s %s:\n got %s\nwant %s", c.typ, c.data, got, c.want)
		}
	}
}
