package outbound_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/db"
	"github.com/hookbook/hookbook/internal/dbtest"
	"github.com/hookbook/hookbook/internal/outbound"
)

// filtered creates an endpoint for every event type with a filter.
func (f fixture) filtered(t *testing.T, filter string) *hookbook.RevealedEndpoint {
	t.Helper()
	in := outbound.EndpointInput{URL: ptr("http://127.0.0.1:9/hook"), Events: &[]string{"*"}}
	if err := json.Unmarshal([]byte(`{"filter":`+filter+`}`), &in); err != nil {
		t.Fatal(err)
	}
	e, err := f.svc.CreateEndpoint(context.Background(), f.org, in)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func (f fixture) lead(t *testing.T, data string) *outbound.Published {
	t.Helper()
	p, err := f.svc.Publish(context.Background(), f.org, outbound.PublishInput{Event: "lead.qualified", Data: json.RawMessage(data)})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestFilterDecidesFanout(t *testing.T) {
	t.Parallel()
	dbtest.EachBackend(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := setup(t, d)
		if _, err := f.svc.CreateEventType(ctx, f.org, outbound.EventTypeInput{Name: "lead.qualified", Description: "a lead"}); err != nil {
			t.Fatal(err)
		}
		hot := f.filtered(t, `{"data":{"score":{"$gte":80}}}`)
		none := f.filtered(t, `null`)
		if hot.Filter == nil || string(hot.Filter) != `{"data":{"score":{"$gte":80}}}` || none.Filter != nil {
			t.Fatalf("filters as created: %s and %s", hot.Filter, none.Filter)
		}
		to := func(p *outbound.Published) map[string]bool {
			out := map[string]bool{}
			for _, id := range p.Deliveries {
				dl, err := f.svc.Delivery(ctx, f.org, id)
				if err != nil {
					t.Fatal(err)
				}
				out[dl.EndpointID] = true
			}
			return out
		}
		if got := to(f.lead(t, `{"score":87}`)); !got[hot.ID] || !got[none.ID] {
			t.Errorf("score 87 went to %v, want both endpoints", got)
		}
		if got := to(f.lead(t, `{"score":12}`)); got[hot.ID] || !got[none.ID] {
			t.Errorf("score 12 went to %v, want only the endpoint without filter", got)
		}

		// PATCH changes the filter; null clears it; absent keeps it.
		var in outbound.EndpointInput
		json.Unmarshal([]byte(`{"filter":{"data":{"score":{"$lt":20}}}}`), &in)
		if _, err := f.svc.UpdateEndpoint(ctx, f.org, hot.ID, in); err != nil {
			t.Fatal(err)
		}
		if got := to(f.lead(t, `{"score":12}`)); !got[hot.ID] {
			t.Errorf("after the change, score 12 went to %v", got)
		}
		kept, err := f.svc.UpdateEndpoint(ctx, f.org, hot.ID, outbound.EndpointInput{Description: ptr("x")})
		if err != nil || string(kept.Filter) != `{"data":{"score":{"$lt":20}}}` {
			t.Fatalf("a PATCH without filter changed it: %s, %v", kept.Filter, err)
		}
		json.Unmarshal([]byte(`{"filter":null}`), &in)
		cleared, err := f.svc.UpdateEndpoint(ctx, f.org, hot.ID, in)
		if err != nil || cleared.Filter != nil {
			t.Fatalf("filter null did not clear: %s, %v", cleared.Filter, err)
		}
		if got := to(f.lead(t, `{"score":87}`)); !got[hot.ID] {
			t.Errorf("without filter, score 87 went to %v", got)
		}
		stored, err := f.svc.Endpoint(ctx, f.org, hot.ID)
		if err != nil || stored.Filter != nil {
			t.Errorf("stored filter after clearing: %s, %v", stored.Filter, err)
		}
	})
}

func TestFilterRefusedWithItsPath(t *testing.T) {
	t.Parallel()
	dbtest.EachBackend(t, func(t *testing.T, d *db.DB) {
		f := setup(t, d)
		var in outbound.EndpointInput
		json.Unmarshal([]byte(`{"url":"http://127.0.0.1:9/x","events":["*"],"filter":{"data":{"participants":{"$gte":{}}}}}`), &in)
		_, err := f.svc.CreateEndpoint(context.Background(), f.org, in)
		e := hookbook.AsError(err)
		if e == nil || e.Kind != hookbook.EValidation || e.Details["filter.data.participants.$gte"] == "" {
			t.Fatalf("bad filter: %v", err)
		}
		json.Unmarshal([]byte(`{"filter":[1]}`), &in)
		_, err = f.svc.CreateEndpoint(context.Background(), f.org, in)
		if e := hookbook.AsError(err); e == nil || e.Details["filter"] == "" {
			t.Fatalf("filter not an object: %v", err)
		}
	})
}

// A test send goes to its endpoint whatever the filter.
func TestTestSendBypassesFilter(t *testing.T) {
	t.Parallel()
	dbtest.EachBackend(t, func(t *testing.T, d *db.DB) {
		f := setup(t, d)
		ep := f.filtered(t, `{"event":"never.this"}`)
		if _, err := f.svc.SendTest(context.Background(), f.org, ep.ID); err != nil {
			t.Fatalf("test send to a filtered endpoint: %v", err)
		}
	})
}

func TestTestFilter(t *testing.T) {
	t.Parallel()
	svc := &outbound.Service{}
	cases := []struct {
		filter, event string
		want          bool
		field         string
	}{
		{`{"data":{"n":{"$gt":1}}}`, `{"n":2}`, true, ""},
		{`{"data":{"n":{"$gt":1}}}`, `{"event":"x.y","data":{"n":2}}`, true, ""},
		{`{"event":"x.y"}`, `{"event":"x.y","data":{}}`, true, ""},
		{`{"event":"x.y"}`, `{"event":"x.y"}`, false, ""}, // data alone: its "event" is a data field
		{`{"data":{"n":{"$gt":1}}}`, `{"n":0}`, false, ""},
		{`null`, `{}`, false, "filter"},
		{`{"a":{"$x":1}}`, `{}`, false, "filter.a.$x"},
		{`{}`, `null`, false, "event"},
		{`{}`, `[1]`, false, "event"},
	}
	for _, c := range cases {
		got, err := svc.TestFilter(outbound.FilterTestInput{Filter: json.RawMessage(c.filter), Event: json.RawMessage(c.event)})
		if c.field != "" {
			if e := hookbook.AsError(err); e == nil || e.Kind != hookbook.EValidation || e.Details[c.field] == "" {
				t.Errorf("TestFilter(%s, %s) = %v, want 422 naming %s", c.filter, c.event, err, c.field)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("TestFilter(%s, %s) = %v, %v; want %v", c.filter, c.event, got, err, c.want)
		}
	}
}
