package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hookbook/hookbook/internal/hookbooktest"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	"google.golang.org/protobuf/proto"
)

// otlpSpan is one span an OTLP receiver decoded.
type otlpSpan struct {
	Name, TraceID, SpanID, Parent, Service string
	Kind                                   string
	Attrs                                  map[string]string
	Error                                  bool
	Start                                  time.Time
	Duration                               time.Duration
}

// otlpReceiver is a real OTLP/HTTP trace receiver on 127.0.0.1: it decodes
// each export (protobuf, gzip or not) and keeps the spans.
type otlpReceiver struct {
	*httptest.Server
	mu    sync.Mutex
	spans []otlpSpan
}

func newOTLPReceiver(t testing.TB) *otlpReceiver {
	rc := &otlpReceiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != "POST" || r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" {
			http.Error(w, "want a POST of application/x-protobuf to /v1/traces", 400)
			return
		}
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), 400)
				return
			}
			body = zr
		}
		raw, err := io.ReadAll(body)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		var req coltracepb.ExportTraceServiceRequest
		if err := proto.Unmarshal(raw, &req); err != nil {
			http.Error(w, "not an ExportTraceServiceRequest: "+err.Error(), 400)
			return
		}
		var got []otlpSpan
		for _, rs := range req.ResourceSpans {
			service := ""
			for _, kv := range rs.GetResource().GetAttributes() {
				if kv.Key == "service.name" {
					service = anyValue(kv.Value)
				}
			}
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					sp := otlpSpan{Name: s.Name, TraceID: hex.EncodeToString(s.TraceId), SpanID: hex.EncodeToString(s.SpanId),
						Parent: hex.EncodeToString(s.ParentSpanId), Service: service, Kind: s.Kind.String(), Attrs: map[string]string{},
						Error: s.GetStatus().GetCode() == 2, Start: time.Unix(0, int64(s.StartTimeUnixNano)),
						Duration: time.Duration(s.EndTimeUnixNano - s.StartTimeUnixNano)}
					for _, kv := range s.Attributes {
						sp.Attrs[kv.Key] = anyValue(kv.Value)
					}
					got = append(got, sp)
				}
			}
		}
		rc.mu.Lock()
		rc.spans = append(rc.spans, got...)
		rc.mu.Unlock()
		out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.Write(out)
	}))
	t.Cleanup(rc.Server.Close)
	return rc
}

func anyValue(v *commonpb.AnyValue) string {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_IntValue:
		return strconv.FormatInt(x.IntValue, 10)
	case *commonpb.AnyValue_BoolValue:
		return strconv.FormatBool(x.BoolValue)
	case *commonpb.AnyValue_DoubleValue:
		return strconv.FormatFloat(x.DoubleValue, 'g', -1, 64)
	}
	return v.String()
}

// trace returns the spans of one trace.
func (rc *otlpReceiver) trace(id string) []otlpSpan {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []otlpSpan
	for _, s := range rc.spans {
		if s.TraceID == id {
			out = append(out, s)
		}
	}
	return out
}

// named returns the spans of a trace with a name.
func named(spans []otlpSpan, name string) []otlpSpan {
	var out []otlpSpan
	for _, s := range spans {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out
}

// renderTrace draws a trace as a tree: each span with its duration and
// attributes, children under their parent in start order.
func renderTrace(spans []otlpSpan, root string) string {
	children := map[string][]otlpSpan{}
	ids := map[string]bool{}
	for _, s := range spans {
		ids[s.SpanID] = true
	}
	var roots []otlpSpan
	for _, s := range spans {
		if ids[s.Parent] {
			children[s.Parent] = append(children[s.Parent], s)
		} else {
			roots = append(roots, s)
		}
	}
	var b strings.Builder
	var draw func(s otlpSpan, prefix, branch, next string)
	draw = func(s otlpSpan, prefix, branch, next string) {
		keys := make([]string, 0, len(s.Attrs))
		for k := range s.Attrs {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var attrs []string
		for _, k := range keys {
			attrs = append(attrs, k+"="+s.Attrs[k])
		}
		status := ""
		if s.Error {
			status = " ERROR"
		}
		head := fmt.Sprintf("%s span %s, %s", strings.TrimPrefix(s.Kind, "SPAN_KIND_"), s.SpanID, s.Duration.Round(100*time.Microsecond))
		if s.SpanID == "—" {
			head = "what the receiver got"
		}
		fmt.Fprintf(&b, "%s%s%s [%s]%s\n%s%s    %s\n", prefix, branch, s.Name, head, status, prefix, next, strings.Join(attrs, " "))
		kids := children[s.SpanID]
		sort.Slice(kids, func(i, j int) bool { return kids[i].Start.Before(kids[j].Start) })
		for i, c := range kids {
			if i == len(kids)-1 {
				draw(c, prefix+next, "└─ ", "   ")
			} else {
				draw(c, prefix+next, "├─ ", "│  ")
			}
		}
	}
	fmt.Fprintf(&b, "trace %s (parent span %s from the client's traceparent)\n", spans[0].TraceID, root)
	for _, r := range roots {
		draw(r, "", "", "")
	}
	return b.String()
}

// waitSpans flushes the instance's spans until cond holds of the trace.
func waitSpans(t *testing.T, in *instance, rc *otlpReceiver, traceID string, what string, cond func([]otlpSpan) bool) []otlpSpan {
	t.Helper()
	hookbooktest.WaitFor(t, time.Minute, what, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := in.App.Tracing.Flush(ctx); err != nil {
			t.Logf("flush: %v", err)
		}
		return cond(rc.trace(traceID))
	})
	return rc.trace(traceID)
}

// newTraceParent returns a client's traceparent and its trace and span ids.
func newTraceParent() (tp, traceID, spanID string) {
	u1, u2 := uuid.New(), uuid.New()
	traceID, spanID = hex.EncodeToString(u1[:]), hex.EncodeToString(u2[:8])
	return "00-" + traceID + "-" + spanID + "-01", traceID, spanID
}

// One booking, traced from the client's request through its publication to
// three receivers: the client's traceparent is the root's parent, the
// publication a child of the request, each attempt a child of the
// publication, and each receiver gets the traceparent of its attempt.
func TestTraceOfABookingFromPublishToThreeReceipts(t *testing.T) {
	t.Parallel()
	otlp := newOTLPReceiver(t)
	in := start(t, map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": otlp.URL, "OTEL_SERVICE_NAME": "hookbook-e2e"})
	var receivers []*hookbooktest.Receiver
	var endpoints []string
	for range 3 {
		rc := hookbooktest.NewReceiver(t, nil)
		receivers = append(receivers, rc)
		endpoints = append(endpoints, in.createEndpoint(rc.URL, []string{"booking.created"}, nil)["id"].(string))
	}
	_, slot := bookingFixture(t, in, false, 10)
	tp, traceID, clientSpan := newTraceParent()
	r := in.DoHeader(in.Key, "POST", "/api/v1/bookings", map[string]any{"slot_id": slot, "participants": 2,
		"customer": map[string]any{"name": "Jane Doe", "email": "jane@example.com"}}, http.Header{"Traceparent": {tp}})
	if r.Status != 201 {
		t.Fatalf("booking = %d %s", r.Status, r.Body)
	}
	for _, rc := range receivers {
		hookbooktest.WaitFor(t, time.Minute, "the booking.created delivery", func() bool { return rc.Count() >= 1 })
	}
	spans := waitSpans(t, in, otlp, traceID, "the request, publication and three attempt spans", func(s []otlpSpan) bool {
		return len(named(s, "POST /api/v1/bookings")) == 1 && len(named(s, "publish booking.created")) == 1 && len(named(s, "deliver booking.created")) == 3
	})
	req := named(spans, "POST /api/v1/bookings")[0]
	if req.Parent != clientSpan || req.Kind != "SPAN_KIND_SERVER" || req.Attrs["http.response.status_code"] != "201" ||
		req.Attrs["http.route"] != "/api/v1/bookings" || req.Service != "hookbook-e2e" {
		t.Errorf("request span = %+v; want the client's span as parent, route and status", req)
	}
	pub := named(spans, "publish booking.created")[0]
	if pub.Parent != req.SpanID || pub.Attrs["hookbook.fanout.count"] != "3" || pub.Attrs["hookbook.event.type"] != "booking.created" {
		t.Errorf("publication span = %+v; want a child of the request with a fan-out of 3", pub)
	}
	seen := map[string]bool{}
	for _, a := range named(spans, "deliver booking.created") {
		if a.Parent != pub.SpanID || a.Attrs["hookbook.delivery.attempt"] != "1" || a.Attrs["http.response.status_code"] != "200" ||
			a.Attrs["hookbook.outcome"] != "succeeded" || a.Attrs["hookbook.event.id"] != pub.Attrs["hookbook.event.id"] || a.Error {
			t.Errorf("attempt span = %+v; want a successful first attempt, child of the publication", a)
		}
		seen[a.Attrs["hookbook.endpoint.id"]] = true
		for k, v := range a.Attrs {
			if strings.Contains(v, "127.0.0.1") || strings.Contains(strings.ToLower(k), "secret") || strings.Contains(k, "url") {
				t.Errorf("attempt span attribute %s=%s: no URL or secret belongs in a span", k, v)
			}
		}
	}
	for _, ep := range endpoints {
		if !seen[ep] {
			t.Errorf("no attempt span for endpoint %s", ep)
		}
	}
	// Each receiver continues the trace of its own attempt.
	attemptOf := map[string]string{}
	for _, a := range named(spans, "deliver booking.created") {
		attemptOf[a.Attrs["hookbook.endpoint.id"]] = a.SpanID
	}
	for i, rc := range receivers {
		var got string
		for _, d := range rc.All() {
			if d.Header.Get("X-Hookbook-Event") == "booking.created" {
				got = d.Header.Get("Traceparent")
			}
		}
		if want := "00-" + traceID + "-" + attemptOf[endpoints[i]] + "-01"; got != want {
			t.Errorf("receiver %d got traceparent %q, want %q (its attempt's span)", i, got, want)
		}
	}
	// The receipts, drawn under the attempt whose traceparent each got.
	for i, rc := range receivers {
		d := rc.All()[0]
		spans = append(spans, otlpSpan{Name: fmt.Sprintf("receipt at receiver %d (HTTP 200)", i+1), TraceID: traceID, SpanID: "—",
			Parent: attemptOf[endpoints[i]], Kind: "RECEIVED", Start: d.At,
			Attrs: map[string]string{"traceparent": d.Header.Get("Traceparent"), "webhook-id": d.Header.Get("Webhook-Id")}})
	}
	t.Logf("the trace of one booking:\n%s", renderTrace(spans, clientSpan))
}

// A delivery retried from the queue (its event's traceparent read back from
// the database) stays in the publication's trace; an event published with a
// traceparent is a child of it.
func TestTraceOfARetriedDeliveryAndAnInboundCommand(t *testing.T) {
	t.Parallel()
	otlp := newOTLPReceiver(t)
	in := start(t, map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": otlp.URL})
	rc := hookbooktest.NewReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 1 {
			w.WriteHeader(503)
			return
		}
		w.WriteHeader(204)
	})
	in.must(201, "POST", "/api/v1/event-types", map[string]any{"name": "lead.qualified", "description": "A lead is ready for sales"})
	ep := in.createEndpoint(rc.URL, []string{"lead.qualified"}, nil)["id"].(string)
	tp, traceID, clientSpan := newTraceParent()
	r := in.DoHeader(in.Key, "POST", "/api/v1/events", map[string]any{"event": "lead.qualified", "data": map[string]any{"lead_id": "l1"}},
		http.Header{"Traceparent": {tp}})
	if r.Status != 202 {
		t.Fatalf("publish = %d %s", r.Status, r.Body)
	}
	hookbooktest.WaitFor(t, time.Minute, "the second attempt", func() bool { return rc.Count() >= 2 })
	spans := waitSpans(t, in, otlp, traceID, "two attempt spans", func(s []otlpSpan) bool {
		return len(named(s, "deliver lead.qualified")) == 2 && len(named(s, "publish lead.qualified")) == 1
	})
	req, pub := named(spans, "POST /api/v1/events"), named(spans, "publish lead.qualified")[0]
	if len(req) != 1 || req[0].Parent != clientSpan || pub.Parent != req[0].SpanID {
		t.Fatalf("request %+v and publication %+v: want client → request → publication", req, pub)
	}
	byAttempt := map[string]otlpSpan{}
	for _, a := range named(spans, "deliver lead.qualified") {
		byAttempt[a.Attrs["hookbook.delivery.attempt"]] = a
		if a.Parent != pub.SpanID || a.Attrs["hookbook.endpoint.id"] != ep {
			t.Errorf("attempt span %+v: want a child of the publication", a)
		}
	}
	if a := byAttempt["1"]; !a.Error || a.Attrs["error.type"] != "http_status" || a.Attrs["http.response.status_code"] != "503" || a.Attrs["hookbook.outcome"] != "retrying" {
		t.Errorf("first attempt = %+v; want a failed one with its error kind", a)
	}
	if a := byAttempt["2"]; a.Error || a.Attrs["hookbook.outcome"] != "succeeded" {
		t.Errorf("second attempt = %+v", a)
	}
	got := rc.All()
	for i, d := range got[:2] {
		if want := "00-" + traceID + "-" + byAttempt[strconv.Itoa(i+1)].SpanID + "-01"; d.Header.Get("Traceparent") != want {
			t.Errorf("attempt %d sent traceparent %q, want %q", i+1, d.Header.Get("Traceparent"), want)
		}
	}

	// An inbound command with a traceparent: its span and the publication
	// of what it did are in the caller's trace.
	enableInbound(t, in, "admin.slots")
	svc := in.must(201, "POST", "/api/v1/services", map[string]any{"name": "Tour", "duration_minutes": 60, "price": 1000, "capacity": 5})["id"].(string)
	body := cmdBody("admin.slots.create", map[string]any{"service_id": svc, "starts_at": future(30), "ends_at": future(31)}, nil)
	tp, traceID, clientSpan = newTraceParent()
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	req2, _ := http.NewRequest("POST", in.url+"/api/public/webhooks/inbound", bytes.NewReader(body))
	req2.Header = http.Header{"Content-Type": {"application/json"}, "X-Hookbook-Timestamp": {ts}, "X-Hookbook-Request-Id": {uuid.NewString()},
		"X-Hookbook-Signature": {nodeSign(inboundSecret, ts, body)}, "Traceparent": {tp}}
	resp, err := http.DefaultClient.Do(req2)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("command = %d", resp.StatusCode)
	}
	spans = waitSpans(t, in, otlp, traceID, "the command's spans", func(s []otlpSpan) bool {
		return len(named(s, "inbound admin.slots.create")) == 1 && len(named(s, "publish slot.created")) == 1
	})
	http1, cmd, pub := named(spans, "POST /api/public/webhooks/inbound"), named(spans, "inbound admin.slots.create")[0], named(spans, "publish slot.created")[0]
	if len(http1) != 1 || http1[0].Parent != clientSpan || cmd.Parent != http1[0].SpanID || pub.Parent != cmd.SpanID ||
		cmd.Attrs["hookbook.outcome"] != "ok" || pub.Attrs["hookbook.fanout.count"] != "0" {
		t.Errorf("command trace:\n%s", renderTrace(spans, clientSpan))
	}
}

// With no OTEL_* exporter there are no spans and deliveries carry no
// traceparent, not even a client's.
func TestTracingOffSendsNoTraceparent(t *testing.T) {
	t.Parallel()
	in := start(t, nil)
	if in.App.Tracing != nil {
		t.Fatal("tracing is on without an exporter")
	}
	rc := hookbooktest.NewReceiver(t, nil)
	in.must(201, "POST", "/api/v1/event-types", map[string]any{"name": "lead.qualified", "description": "A lead is ready for sales"})
	in.createEndpoint(rc.URL, []string{"lead.qualified"}, nil)
	tp, _, _ := newTraceParent()
	r := in.DoHeader(in.Key, "POST", "/api/v1/events", map[string]any{"event": "lead.qualified", "data": map[string]any{}}, http.Header{"Traceparent": {tp}})
	if r.Status != 202 {
		t.Fatalf("publish = %d", r.Status)
	}
	hookbooktest.WaitFor(t, time.Minute, "the delivery", func() bool { return rc.Count() == 1 })
	if got := rc.All()[0].Header.Get("Traceparent"); got != "" {
		t.Errorf("traceparent %q sent with tracing off", got)
	}
}

// BenchmarkTracing runs the engine benchmark three times in one sitting:
// tracing off, every span exported to a local OTLP receiver, and off again
// (the two runs without bracket the machine's drift); it reports the
// deliveries/s and CPU per delivery with tracing as shares of the mean
// without. Run:
//
//	go test ./e2e -run '^$' -bench Tracing -benchtime 1x
func BenchmarkTracing(b *testing.B) {
	events := benchEnv("HOOKBOOK_BENCH_EVENTS", 1000)
	endpoints := benchEnv("HOOKBOOK_BENCH_ENDPOINTS", 10)
	for i := 0; i < b.N; i++ {
		off1 := runEngineBench(b, events, endpoints, 16, nil)
		otlp := newOTLPReceiver(b)
		on := runEngineBench(b, events, endpoints, 16, map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": otlp.URL})

		off2 := runEngineBench(b, events, endpoints, 16, nil)
		offRate := (off1.deliveriesPerSec + off2.deliveriesPerSec) / 2
		offCPU := (off1.cpuPerDelivery + off2.cpuPerDelivery) / 2
		b.ReportMetric(on.deliveriesPerSec/offRate*100, "%_deliveries/s_of_off")
		b.ReportMetric(float64(on.cpuPerDelivery)/float64(offCPU)*100, "%_cpu/delivery_of_off")
		b.Logf("tracing off %.0f and %.0f deliveries/s (CPU %s, %s per delivery); on %.0f deliveries/s (CPU %s per delivery): %.0f %% of the rate, %.0f %% of the CPU",
			off1.deliveriesPerSec, off2.deliveriesPerSec, off1.cpuPerDelivery, off2.cpuPerDelivery, on.deliveriesPerSec, on.cpuPerDelivery,
			on.deliveriesPerSec/offRate*100, float64(on.cpuPerDelivery)/float64(offCPU)*100)
	}
}
