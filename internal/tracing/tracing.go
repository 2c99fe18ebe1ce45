// Package tracing is hookbook's OpenTelemetry tracing: the trace provider
// of an instance (OTLP over HTTP, configured by the standard OTEL_*
// variables through internal/config), the names and attributes of its
// spans, and the W3C traceparent that carries a trace across hookbook's
// queue and into each webhook delivery.
//
// With no exporter configured there is no provider: Provider.Tracer
// returns nil, and every helper here is a no-op on a nil tracer, so that
// tracing costs nothing when it is off.
package tracing

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/config"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// Provider is an instance's trace provider; nil when tracing is off.
type Provider struct {
	tp     *sdktrace.TracerProvider
	tracer trace.Tracer
}

// New returns the provider of an instance named instanceID, or nil when
// cfg exports nowhere. Spans are batched and sent to cfg.Endpoint; the
// other OTEL_EXPORTER_OTLP_* variables (headers, timeout, compression)
// are read by the exporter from the process environment as usual.
func New(ctx context.Context, cfg config.Tracing, instanceID string) (*Provider, error) {
	if !cfg.Enabled() {
		return nil, nil
	}
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(cfg.Endpoint))
	if err != nil {
		return nil, fmt.Errorf("tracing: OTLP exporter: %w", err)
	}
	res := resource.NewWithAttributes(semconv.SchemaURL,
		semconv.ServiceName(cfg.ServiceName), semconv.ServiceVersion(hookbook.Version), semconv.ServiceInstanceID(instanceID))
	if env, err := resource.New(ctx, resource.WithFromEnv()); err == nil {
		if merged, err := resource.Merge(res, env); err == nil {
			res = merged
		}
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res), sdktrace.WithSampler(Sampler(cfg)))
	return &Provider{tp: tp, tracer: tp.Tracer("github.com/hookbook/hookbook", trace.WithInstrumentationVersion(hookbook.Version))}, nil
}

// Sampler returns the sampler OTEL_TRACES_SAMPLER names.
func Sampler(cfg config.Tracing) sdktrace.Sampler {
	switch cfg.Sampler {
	case "always_on":
		return sdktrace.AlwaysSample()
	case "always_off":
		return sdktrace.NeverSample()
	case "traceidratio":
		return sdktrace.TraceIDRatioBased(cfg.SamplerArg)
	case "parentbased_always_off":
		return sdktrace.ParentBased(sdktrace.NeverSample())
	case "parentbased_traceidratio":
		return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(cfg.SamplerArg))
	}
	return sdktrace.ParentBased(sdktrace.AlwaysSample())
}

// Tracer returns the tracer of hookbook's spans, nil when p is nil.
func (p *Provider) Tracer() trace.Tracer {
	if p == nil {
		return nil
	}
	return p.tracer
}

// Flush exports the spans that have ended and not been sent yet.
func (p *Provider) Flush(ctx context.Context) error {
	if p == nil {
		return nil
	}
	return p.tp.ForceFlush(ctx)
}

// Shutdown flushes the spans left and stops the exporter.
func (p *Provider) Shutdown(ctx context.Context) error {
	if p == nil {
		return nil
	}
	return p.tp.Shutdown(ctx)
}

// propagator reads and writes the W3C traceparent and tracestate headers.
var propagator = propagation.TraceContext{}

// Extract returns ctx with the remote span context that h's traceparent
// (and tracestate) names as the parent of the spans started in it; ctx
// itself when h has none or a malformed one.
func Extract(ctx context.Context, h http.Header) context.Context {
	if h.Get("traceparent") == "" {
		return ctx
	}
	return propagator.Extract(ctx, propagation.HeaderCarrier(h))
}

// Inject sets h's traceparent (and tracestate) to the span of ctx; it
// leaves h alone when ctx has no valid span context.
func Inject(ctx context.Context, h http.Header) {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return
	}
	propagator.Inject(ctx, propagation.HeaderCarrier(h))
}

// TraceParent returns the traceparent of the span of ctx, as stored with an
// event: "" when ctx has no valid span context.
func TraceParent(ctx context.Context) string {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return ""
	}
	h := http.Header{}
	propagator.Inject(ctx, propagation.HeaderCarrier(h))
	return h.Get("traceparent")
}

// WithTraceParent returns ctx with the span a stored traceparent names as
// the remote parent; ctx when tp is "" or malformed.
func WithTraceParent(ctx context.Context, tp string) context.Context {
	if tp == "" {
		return ctx
	}
	return propagator.Extract(ctx, propagation.HeaderCarrier(http.Header{"Traceparent": {tp}}))
}

// Span names and attributes. Spans carry ids, types, counts, statuses and
// error kinds: never a secret, a URL, a header value or a body.
const (
	AttrOrganization = attribute.Key("hookbook.organization.id")
	AttrEventID      = attribute.Key("hookbook.event.id")
	AttrEventType    = attribute.Key("hookbook.event.type")
	AttrFanout       = attribute.Key("hookbook.fanout.count")
	AttrEndpoint     = attribute.Key("hookbook.endpoint.id")
	AttrEndpointType = attribute.Key("hookbook.endpoint.type")
	AttrDelivery     = attribute.Key("hookbook.delivery.id")
	AttrAttempt      = attribute.Key("hookbook.delivery.attempt")
	AttrOutcome      = attribute.Key("hookbook.outcome")
	AttrErrorKind    = attribute.Key("error.type")
	AttrAction       = attribute.Key("hookbook.command.action")
	AttrStatus       = attribute.Key("http.response.status_code")
	AttrRoute        = attribute.Key("http.route")
	AttrMethod       = attribute.Key("http.request.method")
)

// Start starts a span named name in ctx, or returns ctx and nil when
// tracer is nil (tracing is off).
func Start(ctx context.Context, tracer trace.Tracer, name string, kind trace.SpanKind, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	if tracer == nil {
		return ctx, nil
	}
	return tracer.Start(ctx, name, trace.WithSpanKind(kind), trace.WithAttributes(attrs...))
}

// RequestName is the name of an API request's span: the method and the
// route pattern that served it ("POST /api/v1/events"), never the path
// with its ids.
func RequestName(method, pattern string) string {
	if pattern == "" {
		return method + " (no route)"
	}
	if strings.Contains(pattern, " ") { // the pattern names its method
		return pattern
	}
	return method + " " + pattern
}

// EndRequest ends an API request's span with its route and status; a 5xx
// marks it failed.
func EndRequest(span trace.Span, method, pattern string, status int) {
	if span == nil {
		return
	}
	span.SetName(RequestName(method, pattern))
	route := pattern
	if i := strings.IndexByte(route, ' '); i >= 0 {
		route = route[i+1:]
	}
	span.SetAttributes(AttrMethod.String(method), AttrRoute.String(route), AttrStatus.Int(status))
	if status >= 500 {
		span.SetStatus(codes.Error, http.StatusText(status))
	}
	span.End()
}

// Fail marks span failed with a kind of error (no message: an error's text
// may quote what it failed on).
func Fail(span trace.Span, kind string) {
	if span == nil {
		return
	}
	span.SetAttributes(AttrErrorKind.String(kind))
	span.SetStatus(codes.Error, kind)
}
