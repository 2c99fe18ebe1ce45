package transform

import (
	"context"
	"testing"
)

// BenchmarkRun runs the Slack connector's transformation on a booking, as
// an attempt does.
func BenchmarkRun(b *testing.B) {
	e := New(Limits{}, nil, nil)
	c, _ := LookupConnector("slack")
	in := input()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Run(context.Background(), c.Code, in, at); err != nil {
			b.Fatal(err)
		}
	}
}
