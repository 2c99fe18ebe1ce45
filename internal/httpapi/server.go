// Package httpapi serves hookbook's JSON REST API under /api/v1, the health
// probes and the OpenAPI document. Every answer is JSON; every error has the
// shape {"error":{"code","message","details"}}.
package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/db"
	"github.com/hookbook/hookbook/internal/idempotency"
	"github.com/hookbook/hookbook/internal/org"
	outbound "github.com/hookbook/hookbook/internal/outbound"
	"github.com/hookbook/hookbook/internal/ratelimit"
)

// MaxBody is the largest request body accepted.
const MaxBody = 1 << 20

// Server is the HTTP API.
type Server struct {
	Outbound *outbound.Service
	Orgs     *org.Service
	// Ready reports whether the database answers and stores writes (GET /readyz).
	Ready func(context.Context) error
	Log   *slog.Logger
	// Idempotency stores the answers of POSTs sent with an Idempotency-Key.
	Idempotency *idempotency.Store
	// RateLimit bounds the requests of each API key (nil: no limit).
	RateLimit *ratelimit.Buckets
	// HeaderPrefix names hookbook's own delivery headers (X-Hookbook):
	// a request carrying one of this hookbook's delivery ids is refused.
	HeaderPrefix string
	// MaxRetention is the operator's HOOKBOOK_RETENTION: the longest an
	// organization may keep its events and deliveries.
	MaxRetention time.Duration
	// Extra routes added by other parts of hookbook (booking domain,
	// inbound commands, metrics); they are documented in the OpenAPI too.
	Extra []Route

	mux     *http.ServeMux
	routes  []Route
	once    sync.Once
	handler http.Handler
}

// Route is one method and path pattern of the API.
type Route struct {
	Method  string
	Pattern string // net/http pattern path, e.g. /api/v1/webhooks/{id}
	Handler http.Handler
	// Public routes need no API key; the router wraps every other route
	// with API key authentication (guard).
	Public bool
	// Unbuffered POSTs answer straight away, without post's Location and
	// stored Idempotency-Key answers (event publication keeps its key
	// beside the event).
	Unbuffered bool
}

// OrgHandler is a handler for an authenticated organization.
type OrgHandler func(w http.ResponseWriter, r *http.Request, org *hookbook.Organization) error

// Handler returns the API's http.Handler, built on the first call.
func (s *Server) Handler() http.Handler {
	s.once.Do(func() { s.handler = s.build() })
	return s.handler
}

func (s *Server) build() http.Handler {
	if s.Log == nil {
		s.Log = slog.Default()
	}
	s.mux = http.NewServeMux()
	s.routes = append(s.builtinRoutes(), s.Extra...)
	methods := map[string][]string{}
	var order []string
	for _, rt := range s.routes {
		h := rt.Handler
		if !rt.Public {
			h = s.guard(rt, h)
		}
		s.mux.Handle(rt.Method+" "+rt.Pattern, h)
		if _, ok := methods[rt.Pattern]; !ok {
			order = append(order, rt.Pattern)
		}
		methods[rt.Pattern] = append(methods[rt.Pattern], rt.Method)
	}
	for _, p := range order {
		allow := strings.Join(methods[p], ", ")
		s.mux.HandleFunc(p, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allow)
			WriteError(w, hookbook.Errorf(hookbook.EInvalid, "method_not_allowed", "%s is not allowed here; use %s", r.Method, allow), http.StatusMethodNotAllowed)
		})
	}
	s.mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		WriteError(w, hookbook.Errorf(hookbook.ENotFound, "route_not_found", "no route %s %s", r.Method, r.URL.Path), 0)
	})
	return answers(s.recoverer(s.mux))
}

// Routes returns every route the server registered, building the handler
// first if no request did yet.
func (s *Server) Routes() []Route {
	s.Handler()
	return s.routes
}

// guard authenticates every request of a non-public route with its API
// key, applies the key's rate limit and the delivery-loop check, and hands
// the caller to the route's handler in the request's context. The router
// wraps every route not marked Public with it, so a route cannot forget it.
func (s *Server) guard(rt Route, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		caller, err := s.authenticate(r)
		if err == nil {
			err = s.admit(w, r, caller)
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		ctx := context.WithValue(r.Context(), callerKey{}, &authenticated{caller: caller, unbuffered: rt.Unbuffered})
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

type callerKey struct{}

// authenticated is what guard learned about a request.
type authenticated struct {
	caller     *org.Caller
	unbuffered bool
}

// Adapt turns an OrgHandler into the handler of a non-public route: it is
// given the organization the router authenticated, its error is written as
// JSON, and a POST runs through post (Location, Idempotency-Key) unless the
// route is Unbuffered. Used on a Public route it answers 401.
func (s *Server) Adapt(h OrgHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, ok := r.Context().Value(callerKey{}).(*authenticated)
		if !ok {
			s.fail(w, r, hookbook.Errorf(hookbook.EUnauthorized, "missing_api_key", "send your API key as Authorization: Bearer hk_…"))
			return
		}
		if r.Method == http.MethodPost && !a.unbuffered {
			s.post(w, r, a.caller.Organization, h)
			return
		}
		if err := h(w, r, a.caller.Organization); err != nil {
			s.fail(w, r, err)
		}
	})
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	if hookbook.AsError(err) == nil {
		if errors.Is(err, context.Canceled) {
			return
		}
		s.Log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	WriteError(w, err, 0)
}

func (s *Server) authenticate(r *http.Request) (*org.Caller, error) {
	auth := r.Header.Get("Authorization")
	key, ok := strings.CutPrefix(auth, "Bearer ")
	key = strings.TrimSpace(key)
	if !ok || key == "" {
		return nil, hookbook.Errorf(hookbook.EUnauthorized, "missing_api_key", "send your API key as Authorization: Bearer hk_…")
	}
	return s.Orgs.Authenticate(r.Context(), key)
}

// admit applies the per-key rate limit, announcing it in the RateLimit
// headers of every answer, and refuses hookbook's own deliveries coming back.
func (s *Server) admit(w http.ResponseWriter, r *http.Request, c *org.Caller) error {
	if q := s.RateLimit.Rate(); !q.Off() {
		d := s.RateLimit.Take(c.KeyID, time.Now())
		w.Header().Set("RateLimit-Policy", fmt.Sprintf(`"api-key";q=%d;w=%d`, q.N, ceilSeconds(q.Per)))
		w.Header().Set("RateLimit", fmt.Sprintf(`"api-key";r=%d;t=%d`, d.Remaining, ceilSeconds(d.Reset)))
		if !d.Allowed {
			e := hookbook.Errorf(hookbook.ETooMany, "rate_limited", "this API key may send %s requests; retry in %d s",
				q.Human(), ceilSeconds(d.RetryAfter))
			e.RetryAfter = time.Duration(ceilSeconds(d.RetryAfter)) * time.Second
			return e
		}
	}
	if s.HeaderPrefix != "" {
		if id := r.Header.Get(s.HeaderPrefix + "-Delivery-Id"); id != "" {
			own, err := s.Outbound.IsDelivery(r.Context(), id)
			if err != nil {
				return err
			}
			if own {
				return hookbook.Errorf(hookbook.EForbidden, "delivery_loop",
					"this request is hookbook's own delivery %s: an endpoint points back at this API, and accepting it would loop; point the endpoint elsewhere", id)
			}
		}
	}
	return nil
}

// ceilSeconds rounds d up to whole seconds, at least 1 for any wait.
func ceilSeconds(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	return int(math.Ceil(d.Seconds()))
}

func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !hookbook.Storable(r.URL.Path) {
			WriteError(w, hookbook.Errorf(hookbook.ENotFound, "not_found", "no resource has this path"), 0)
			return
		}
		query, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			WriteError(w, &hookbook.Error{Kind: hookbook.EInvalid, Code: "invalid_query",
				Message: "the query string is not valid URL encoding", Details: map[string]string{"query": "invalid encoding"}}, 0)
			return
		}
		if k, ok := hookbook.StorableValues(query); !ok {
			WriteError(w, &hookbook.Error{Kind: hookbook.EInvalid, Code: "invalid_query",
				Message: "query parameters must be UTF-8 text without NUL characters", Details: map[string]string{k: "invalid text"}}, 0)
			return
		}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.Log.Error("panic serving request", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(v))
				WriteError(w, errors.New("internal error"), 0)
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// WriteError writes err as the JSON error answer. A status of 0 takes the
// status of err's kind; errors that are not *hookbook.Error answer 500
// without revealing their text.
func WriteError(w http.ResponseWriter, err error, status int) {
	e := hookbook.AsError(err)
	if e == nil {
		e = &hookbook.Error{Kind: hookbook.EInternal, Code: "internal_error", Message: "an internal error occurred"}
	}
	if status == 0 {
		status = hookbook.StatusOf(e.Kind)
	}
	if status == http.StatusUnauthorized && w.Header().Get("WWW-Authenticate") == "" {
		w.Header().Set("WWW-Authenticate", WWWAuthenticate)
	}
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(e.RetryAfter.Seconds()))))
	}
	body := map[string]any{"code": e.Code, "message": e.Message}
	if len(e.Details) > 0 {
		body["details"] = e.Details
	}
	WriteJSON(w, status, map[string]any{"error": body})
}

// WriteJSON writes v as JSON with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

// Decode reads a JSON object of at most MaxBody bytes into dst. Syntax
// errors answer 400, values of the wrong type 422 naming the field, an
// oversized body 413.
func Decode(w http.ResponseWriter, r *http.Request, dst any) error {
	body, err := readJSON(w, r)
	if err != nil {
		return err
	}
	return DecodeBytes(body, dst)
}

// readJSON is ReadBody for a JSON request: a compressed body (a
// Content-Encoding other than identity) answers 400 rather than being
// refused as JSON that is not valid. Bodies are read as sent.
func readJSON(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if err := plainBody(r.Header); err != nil {
		return nil, err
	}
	return ReadBody(w, r)
}

// plainBody refuses a Content-Encoding other than identity, in any of the
// header's fields or list items.
func plainBody(h http.Header) error {
	for _, v := range h.Values("Content-Encoding") {
		for _, c := range strings.Split(v, ",") {
			if c = strings.TrimSpace(c); c != "" && !strings.EqualFold(c, "identity") {
				return hookbook.Errorf(hookbook.EInvalid, "unsupported_content_encoding",
					"the request body must not be compressed (Content-Encoding: %.40q); send it as plain JSON", c)
			}
		}
	}
	return nil
}

// ReadBody reads at most MaxBody bytes, as sent; a larger body answers 413.
func ReadBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, hookbook.Errorf(hookbook.ETooLarge, "payload_too_large", "the request body is larger than %d bytes", MaxBody)
		}
		return nil, hookbook.Errorf(hookbook.EInvalid, "invalid_body", "could not read the request body: %v", err)
	}
	return body, nil
}

// DecodeBytes is Decode for a body already read.
func DecodeBytes(body []byte, dst any) error {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return hookbook.Errorf(hookbook.EInvalid, "invalid_json", "the request body is empty; send a JSON object")
	}
	if trimmed[0] != '{' {
		return hookbook.Errorf(hookbook.EInvalid, "invalid_json", "the request body must be a JSON object")
	}
	if err := CheckText(trimmed); err != nil {
		return err
	}
	dec, err := decodeIntegral(trimmed, dst)
	if err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			field := typeErr.Field
			if field == "" {
				field = "body"
			}
			return &hookbook.Error{Kind: hookbook.EValidation, Code: "validation_failed", Message: "the request has invalid fields",
				Details: map[string]string{field: "must be " + article(typeErr.Type.String())}}
		}
		return hookbook.Errorf(hookbook.EInvalid, "invalid_json", "the request body is not valid JSON: %v", err)
	}
	if dec.More() {
		return hookbook.Errorf(hookbook.EInvalid, "invalid_json", "the request body has data after the JSON object")
	}
	return nil
}

// maxIntegralRewrites bounds how many integer fields of one body
// decodeIntegral rewrites.
const maxIntegralRewrites = 64

// decodeIntegral decodes body into dst; an integer field given as an
// integral number in another form (1e3, 1E3, 1000.0) reads as that
// integer, as JSON Schema's "integer" does. Only the literals an integer
// field refused are rewritten; everything else is decoded as sent.
func decodeIntegral(body []byte, dst any) (*json.Decoder, error) {
	for i := 0; ; i++ {
		dec := json.NewDecoder(bytes.NewReader(body))
		err := dec.Decode(dst)
		var typeErr *json.UnmarshalTypeError
		if err == nil || i == maxIntegralRewrites || !errors.As(err, &typeErr) {
			return dec, err
		}
		fixed, ok := integralLiteral(body, typeErr)
		if !ok {
			return dec, err
		}
		body = fixed
	}
}

// integralLiteral returns body with the number literal an integer field
// refused (typeErr) written as a plain integer (hookbook.IntegralNumber).
func integralLiteral(body []byte, typeErr *json.UnmarshalTypeError) ([]byte, bool) {
	lit, isNum := strings.CutPrefix(typeErr.Value, "number ")
	k := typeErr.Type.Kind()
	end := int(typeErr.Offset)
	start := end - len(lit)
	if !isNum || k < reflect.Int || k > reflect.Uint64 || start < 0 || end > len(body) || string(body[start:end]) != lit {
		return nil, false
	}
	plain, ok := hookbook.IntegralNumber(lit)
	if !ok {
		return nil, false
	}
	return append(append(append(make([]byte, 0, len(body)), body[:start]...), plain...), body[end:]...), true
}

// CheckText refuses a JSON body whose strings could not be stored: the
// NUL character (\u0000) and invalid UTF-8.
func CheckText(body []byte) error {
	if bytes.Contains(body, []byte(`\u0000`)) || !utf8.Valid(body) {
		return hookbook.Errorf(hookbook.EInvalid, "invalid_json", "JSON strings must be UTF-8 text without NUL characters (\\u0000)")
	}
	return nil
}

// article describes a Go type of a JSON field in words.
func article(goType string) string {
	t := strings.TrimLeft(goType, "*")
	switch {
	case t == "string":
		return "a string"
	case t == "bool":
		return "a boolean"
	case strings.HasPrefix(t, "int"), strings.HasPrefix(t, "uint"):
		return "an integer"
	case strings.HasPrefix(t, "float"):
		return "a number"
	case strings.HasPrefix(t, "[]"):
		return "an array"
	case strings.HasPrefix(t, "map["), strings.HasPrefix(t, "struct"):
		return "an object"
	case t == "json.RawMessage":
		return "JSON"
	}
	return "of type " + t
}

// ParsePage reads ?limit and ?cursor; a cursor must be an id with prefix.
func ParsePage(r *http.Request, prefix string) (db.Page, error) {
	q := r.URL.Query()
	return db.ParsePage(q.Get("limit"), q.Get("cursor"), prefix)
}

// List is the answer of every list: newest first, next_cursor null and
// has_more false on the last page.
type List[T any] struct {
	Data       []T     `json:"data"`
	NextCursor *string `json:"next_cursor"`
	HasMore    bool    `json:"has_more"`
}

// NewList builds a List, turning nil into [] and "" into null.
func NewList[T any](items []T, next string) List[T] {
	if items == nil {
		items = []T{}
	}
	l := List[T]{Data: items}
	if next != "" {
		l.NextCursor, l.HasMore = &next, true
	}
	return l
}
