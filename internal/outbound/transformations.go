package outbound

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/event"
	"github.com/hookbook/hookbook/internal/transform"
)

// transformationInput is the "transformation" field of an endpoint create
// or update: null removes it; an update may give only enabled. Connector
// is accepted so that what GET returned can be sent back: it keeps the
// connector's name when Code is that connector's code, and is otherwise
// ignored. Unknown keys are ignored, as everywhere in the API.
type transformationInput struct {
	Code      *string `json:"code"`
	Enabled   *bool   `json:"enabled"`
	Connector *string `json:"connector"`
}

// applyTransformation validates the transformation and connector fields
// and sets them on e: a connector sets its code, enabled; a null
// connector removes the transformation of a connector (an endpoint with
// code of its own is told to send "transformation": null).
func applyTransformation(e *hookbook.Endpoint, raw json.RawMessage, connector Clearable[string], f hookbook.Fields) {
	given := len(raw) > 0
	if connector.Set && connector.Value == nil && !given {
		switch {
		case e.Transformation == nil:
		case e.Transformation.Connector != "":
			e.Transformation = nil
		default:
			f.Add("connector", `the endpoint's transformation is its own code, not a connector's; send "transformation": null to remove it`)
		}
		return
	}
	if connector.Value != nil {
		if given {
			f.Add("connector", "give either connector or transformation, not both")
			return
		}
		c, ok := transform.LookupConnector(*connector.Value)
		if !ok {
			f.Add("connector", fmt.Sprintf("must be one of %s", connectorNames()))
			return
		}
		e.Transformation = &hookbook.Transformation{Code: c.Code, Enabled: true, Connector: c.Name}
		return
	}
	if !given {
		return
	}
	if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		e.Transformation = nil
		return
	}
	in, ok := decodeTransformation(raw, f)
	if !ok {
		return
	}
	t := hookbook.Transformation{Enabled: true}
	if e.Transformation != nil {
		t = *e.Transformation
	}
	switch {
	case in.Code != nil:
		if err := transform.Check(*in.Code); err != nil {
			f.Add("transformation.code", err.Error())
		}
		t.Code = *in.Code
	case e.Transformation == nil:
		f.Add("transformation.code", "is required")
	}
	if in.Connector != nil {
		t.Connector = *in.Connector
	}
	if c, ok := transform.LookupConnector(t.Connector); !ok || c.Code != t.Code {
		t.Connector = ""
	}
	if in.Enabled != nil {
		t.Enabled = *in.Enabled
	}
	e.Transformation = &t
}

// decodeTransformation reads a transformation object, adding a field error
// that names the key of a value of the wrong type.
func decodeTransformation(raw json.RawMessage, f hookbook.Fields) (transformationInput, bool) {
	var in transformationInput
	err := json.Unmarshal(raw, &in)
	if err == nil {
		return in, true
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		want := map[string]string{"code": "must be a string", "enabled": "must be true or false",
			"connector": "must be a string or null"}[te.Field]
		if want == "" {
			want = "has the wrong type"
		}
		f.Add("transformation."+te.Field, want)
		return in, false
	}
	f.Add("transformation", `must be null or an object {"code": "…", "enabled": true}`)
	return in, false
}

func connectorNames() string {
	var names []string
	for _, c := range transform.Connectors() {
		names = append(names, fmt.Sprintf("%q", c.Name))
	}
	return strings.Join(names, ", ")
}

// TransformationTest is what POST /api/v1/transformations/test runs: code
// (or, with no code, the named chat connector's) on an event (a type's example when Data is empty) sent to URL (TestURL
// when empty; another must pass the network guard).
type TransformationTest struct {
	Code      string          `json:"code"`
	Connector string          `json:"connector"`
	Event     string          `json:"event"`
	Data      json.RawMessage `json:"data"`
	URL       string          `json:"url"`
}

// TestURL is where a transformation test's request goes unless it names a URL.
const TestURL = "https://example.com/webhooks"

// TestedRequest is the request a transformation made of a test event.
type TestedRequest struct {
	Cancel  bool              `json:"cancel"`
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers"`
	Payload json.RawMessage   `json:"payload"`
}

// TestTransformation runs a transformation on a test event of the
// organization's catalog and returns the request it makes. A code that
// does not compile is a 422 naming code; one that fails when run is a 422
// transformation_error with its message.
func (s *Service) TestTransformation(ctx context.Context, orgID string, in TransformationTest) (*TestedRequest, error) {
	f := hookbook.Fields{}
	if in.Code == "" && in.Connector != "" {
		if c, ok := transform.LookupConnector(in.Connector); ok {
			in.Code = c.Code
		} else {
			f.Add("connector", fmt.Sprintf("must be one of %s", connectorNames()))
		}
	}
	if err := transform.Check(in.Code); err != nil && f["connector"] == "" {
		f.Add("code", err.Error())
	}
	if in.URL == "" {
		in.URL = TestURL
	} else if len(in.URL) > MaxURLLength {
		f.Add("url", fmt.Sprintf("must be at most %d characters", MaxURLLength))
	} else if err := s.Guard.CheckURL(ctx, in.URL); err != nil {
		f.Add("url", err.Error())
	}
	var et *hookbook.EventType
	if !event.ValidName(in.Event) {
		f.Add("event", "must name an event type of the catalog")
	} else if t, err := s.EventType(ctx, orgID, in.Event); err != nil {
		if !hookbook.IsKind(err, hookbook.ENotFound) {
			return nil, err
		}
		f.Add("event", fmt.Sprintf("unknown event type %q", in.Event))
	} else {
		et = t
	}
	if err := f.Err(); err != nil {
		return nil, err
	}
	data := in.Data
	if isNull(data) {
		data = et.Example
	}
	if len(data) == 0 {
		data = json.RawMessage(`{}`)
	}
	if d := s.Limits.TransformTests.Take(orgID, time.Now()); !d.Allowed {
		e := hookbook.Errorf(hookbook.ETooMany, "transformation_test_limit", "an organization may run %s transformation tests; retry in %s",
			s.Limits.TransformTests.Rate().Human(), max(d.RetryAfter.Round(time.Second), time.Second))
		e.RetryAfter = d.RetryAfter
		return nil, e
	}
	now := time.Now().UTC()
	body, err := event.Envelope("evt_test", orgID, in.Event, now, "", 0, data)
	if err != nil {
		return nil, &hookbook.Error{Kind: hookbook.EValidation, Code: "validation_failed", Message: "the request has invalid fields",
			Details: map[string]string{"data": strings.TrimPrefix(err.Error(), "encode envelope data: ")}}
	}
	s.transforms()
	out, err := s.testEngine.Run(ctx, in.Code, &transform.Webhook{EventType: in.Event, Payload: body, URL: in.URL,
		Method: "POST", Headers: map[string]string{}}, now)
	if err != nil {
		if transform.IsError(err) {
			return nil, &hookbook.Error{Kind: hookbook.EValidation, Code: "transformation_error", Message: err.Error(),
				Details: map[string]string{"code": err.Error()}}
		}
		return nil, err
	}
	return &TestedRequest{Cancel: out.Cancel, Method: out.Method, URL: out.URL, Headers: out.Headers, Payload: out.Payload}, nil
}

// ConnectorInfo is a chat connector as GET /api/v1/connectors lists it,
// with the message it makes of the example booking.created event.
type ConnectorInfo struct {
	Name        string          `json:"name"`
	Title       string          `json:"title"`
	Description string          `json:"description"`
	ExampleFor  string          `json:"example_event"`
	Example     json.RawMessage `json:"example"`
}

// ConnectorExampleEvent is the event the connectors' examples show.
const ConnectorExampleEvent = event.BookingCreated

// Connectors lists the chat connectors, each with its example message
// (made once).
func (s *Service) Connectors(ctx context.Context) ([]ConnectorInfo, error) {
	s.examplesOnce.Do(func() { s.examples, s.examplesErr = s.connectorExamples(context.WithoutCancel(ctx)) })
	return s.examples, s.examplesErr
}

func (s *Service) connectorExamples(ctx context.Context) ([]ConnectorInfo, error) {
	et, _ := event.LookupBuiltin(ConnectorExampleEvent)
	at := time.Date(2026, 3, 24, 14, 30, 0, 0, time.UTC)
	body, err := event.Envelope("evt_example", "org_example", et.Name, at, "", 0, et.Example)
	if err != nil {
		return nil, fmt.Errorf("connector example: %w", err)
	}
	s.transforms()
	var out []ConnectorInfo
	for _, c := range transform.Connectors() {
		w, err := s.testEngine.Run(ctx, c.Code, &transform.Webhook{EventType: et.Name, Payload: body, URL: TestURL, Method: "POST",
			Headers: map[string]string{}}, at)
		if err != nil {
			return nil, fmt.Errorf("connector %s example: %w", c.Name, err)
		}
		out = append(out, ConnectorInfo{Name: c.Name, Title: c.Title, Description: c.Description, ExampleFor: et.Name, Example: w.Payload})
	}
	return out, nil
}

// TransformEngine returns the engine that runs endpoints' transformations
// at attempt time (Service.Transforms, or one with the default limits, the
// network guard and the brand headers reserved). Tests and examples run on
// another, one at a time.
func (s *Service) TransformEngine() *transform.Engine { return s.transforms() }

func (s *Service) transforms() *transform.Engine {
	s.transformOnce.Do(func() {
		if s.Transforms == nil {
			s.Transforms = transform.New(transform.Limits{Timeout: s.TransformTimeout}, s.Guard.CheckURL, s.brandHeader)
		}
		// Tests run one at a time on an engine of their own: however
		// many come, the deliveries' runs never wait for them.
		s.testEngine = transform.New(transform.Limits{Timeout: s.Transforms.Limits().Timeout, Concurrency: 1}, s.Guard.CheckURL, s.brandHeader)
	})
	return s.Transforms
}

// brandHeader reports whether a (canonical) header name is one of
// hookbook's brand headers, which transformations may not set.
func (s *Service) brandHeader(name string) bool {
	return hookbook.ReservedHeader(name, s.HeaderPrefix)
}
