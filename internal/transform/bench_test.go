package transform

import (
	"context"
	"encoding/json"
	"testing"
	"time"
)

// BenchmarkRun runs the Slack connector's transformation on a booking, as
// an attempt does.
func BenchmarkRun(b *testing.B) {
	c, _ := LookupConnector("slack")
	benchmarkRun(b, c.Code)
}

// BenchmarkRunPassThrough runs a transformation that changes a header and
// returns the booking as it came: its cost is reading the payload in and
// writing it out.
func BenchmarkRunPassThrough(b *testing.B) {
	benchmarkRun(b, `function handler(webhook) { webhook.headers["X-Kind"] = webhook.eventType; return webhook; }`)
}

func benchmarkRun(b *testing.B, code string) {
	e := New(Limits{Timeout: 10 * time.Second}, nil, nil) // its cost, not the machine's stalls
	in := input()
	in.Payload = json.RawMessage(`{"id":"evt_01JQ2Z8Y5V4N6T7R8S9A0B1C2X","event":"booking.created","timestamp":"2026-03-24T14:30:00Z","organization_id":"org_x","data":{"id":"bkg_01JQ2Z8Y5V4N6T7R8S9A0B1C2D","status":"confirmed","service":{"id":"svc_01JQ2Z8Y5V4N6T7R8S9A0B1C2E","name":"City Walking Tour"},"slot_id":"slot_01JQ2Z8Y5V4N6T7R8S9A0B1C2F","customer":{"id":"cus_01JQ2Z8Y5V4N6T7R8S9A0B1C2G","name":"Jane Doe","email":"jane@example.com"},"starts_at":"2026-03-25T14:00:00Z","ends_at":"2026-03-25T15:30:00Z","participants":2,"notes":"Window seat, please","location":"Main Square","total_amount":9000,"currency":"USD","created_at":"2026-03-24T14:30:00Z","updated_at":"2026-03-24T14:30:00Z"}}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Run(context.Background(), code, in, at); err != nil {
			b.Fatal(err)
		}
	}
}
