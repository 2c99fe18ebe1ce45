package tracing

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/hookbook/hookbook/internal/config"
	"go.opentelemetry.io/otel/trace"
)

func TestOffIsNil(t *testing.T) {
	p, err := New(context.Background(), config.Tracing{ServiceName: "hookbook"}, "ins_1")
	if err != nil || p != nil || p.Tracer() != nil || p.Flush(context.Background()) != nil || p.Shutdown(context.Background()) != nil {
		t.Fatalf("off: %v, %v", p, err)
	}
	ctx, span := Start(context.Background(), nil, "x", trace.SpanKindInternal)
	if span != nil || TraceParent(ctx) != "" {
		t.Errorf("a span without a tracer")
	}
	EndRequest(nil, "GET", "GET /x", 200) // no-ops on a nil span
	Fail(nil, "timeout")
}

func TestTraceParentTravels(t *testing.T) {
	const tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	ctx := WithTraceParent(context.Background(), tp)
	if got := TraceParent(ctx); got != tp {
		t.Errorf("stored and read back: %q, want %q", got, tp)
	}
	h := http.Header{}
	Inject(ctx, h)
	if h.Get("Traceparent") != tp {
		t.Errorf("injected %v", h)
	}
	if got := TraceParent(Extract(context.Background(), h)); got != tp {
		t.Errorf("extracted %q", got)
	}
	for _, bad := range []string{"", "00-zz-11-01", "00-00000000000000000000000000000000-b7ad6b7169203331-01", strings.Repeat("x", 300)} {
		if got := TraceParent(WithTraceParent(context.Background(), bad)); got != "" {
			t.Errorf("%q gave parent %q", bad, got)
		}
	}
	empty := http.Header{}
	Inject(context.Background(), empty)
	if len(empty) != 0 {
		t.Errorf("no span context, yet headers %v", empty)
	}
}

func TestNamesAndSamplers(t *testing.T) {
	for _, c := range [][3]string{{"POST", "POST /api/v1/events", "POST /api/v1/events"}, {"GET", "/api/v1/x", "GET /api/v1/x"}, {"GET", "", "GET (no route)"}} {
		if got := RequestName(c[0], c[1]); got != c[2] {
			t.Errorf("RequestName(%q, %q) = %q, want %q", c[0], c[1], got, c[2])
		}
	}
	for _, name := range config.Samplers {
		s := Sampler(config.Tracing{Sampler: name, SamplerArg: 0.5})
		if d := s.Description(); d == "" {
			t.Errorf("%s: no sampler", name)
		}
	}
	if d := Sampler(config.Tracing{Sampler: "traceidratio", SamplerArg: 0.25}).Description(); !strings.Contains(d, "0.25") {
		t.Errorf("ratio sampler = %s", d)
	}
}
