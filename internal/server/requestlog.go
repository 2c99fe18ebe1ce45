package server

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/hookbook/hookbook/internal/ratelimit"
	"github.com/hookbook/hookbook/internal/tracing"
	"go.opentelemetry.io/otel/trace"
)

// maxRequestID bounds a client's own X-Request-Id.
const maxRequestID = 128

// RequestID returns the client's X-Request-Id when it is sane (1 to 128
// characters of letters, digits and "-_.:"), else a new UUID.
func RequestID(r *http.Request) string {
	id := r.Header.Get("X-Request-Id")
	if id == "" || len(id) > maxRequestID {
		return uuid.NewString()
	}
	for _, c := range []byte(id) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':') {
			return uuid.NewString()
		}
	}
	return id
}

// quietPaths are probes and scrapes: logged at debug level only, so that
// they do not drown the requests people make.
var quietPaths = map[string]bool{"/healthz": true, "/readyz": true, "/metrics": true}

// logRequests gives every answer an X-Request-Id and writes one log line
// per request: method, route pattern, status, duration, bytes, request id.
// The line carries the route pattern, never the query (which may hold a
// cursor or a search) nor any header.
//
// With a tracer, every request but probes and scrapes gets a span named by
// its method and route pattern, with its status; the client's traceparent,
// if any, is its parent.
//
// observe, when set, is told of each request (the metrics).
func logRequests(log *slog.Logger, trusted []netip.Prefix, tracer trace.Tracer, observe func(method, pattern string, status int, d time.Duration), next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		if len(trusted) > 0 {
			// Everything downstream (throttles, limits, logs) sees the client.
			r.RemoteAddr = net.JoinHostPort(clientAddress(r, trusted), "0")
		}
		id := RequestID(r)
		r.Header.Set("X-Request-Id", id) // handlers down the line see the id in use
		w.Header().Set("X-Request-Id", id)
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		var span trace.Span
		if tracer != nil && !quietPaths[r.URL.Path] {
			var ctx context.Context
			ctx, span = tracing.Start(tracing.Extract(r.Context(), r.Header), tracer, "HTTP "+r.Method, trace.SpanKindServer)
			r = r.WithContext(ctx)
		}
		next.ServeHTTP(rec, r)
		tracing.EndRequest(span, r.Method, r.Pattern, rec.status)
		if observe != nil {
			observe(r.Method, r.Pattern, rec.status, time.Since(start))
		}
		level := slog.LevelInfo
		switch {
		case rec.status >= 500:
			level = slog.LevelError
		case quietPaths[r.URL.Path]:
			level = slog.LevelDebug
		}
		route := r.Pattern
		if route == "" {
			route = "(none)"
		}
		log.LogAttrs(r.Context(), level, "request",
			slog.String("method", r.Method), slog.String("route", route), slog.Int("status", rec.status),
			slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
			slog.Int64("bytes", rec.bytes), slog.String("request_id", id), slog.String("client", ratelimit.ClientAddr(r)))
	})
}

// statusRecorder remembers the status and size of an answer.
type statusRecorder struct {
	http.ResponseWriter
	status  int
	bytes   int64
	written bool
}

func (s *statusRecorder) WriteHeader(code int) {
	if !s.written {
		s.status, s.written = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	s.written = true
	n, err := s.ResponseWriter.Write(b)
	s.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// clientAddress is the address of the client: the socket's peer or, when
// the peer is a trusted proxy, the rightmost X-Forwarded-For address that
// is not a trusted proxy itself (the ones left of it could be forged).
func clientAddress(r *http.Request, trusted []netip.Prefix) string {
	peer := ratelimit.ClientAddr(r)
	isTrusted := func(s string) bool {
		a, err := netip.ParseAddr(strings.TrimSpace(s))
		if err != nil {
			return false
		}
		a = a.Unmap()
		for _, p := range trusted {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	if !isTrusted(peer) {
		return peer
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop := strings.TrimSpace(hops[i])
		if _, err := netip.ParseAddr(hop); err != nil {
			return peer // a malformed hop: believe nothing beyond it
		}
		if !isTrusted(hop) {
			return hop
		}
	}
	return peer
}
