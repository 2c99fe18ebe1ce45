package outbound_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/db"
	"github.com/hookbook/hookbook/internal/dbtest"
	"github.com/hookbook/hookbook/internal/outbound"
	"github.com/hookbook/hookbook/internal/outboundtest"
)

// filtered creates an endpoint for every event type with a filter.
func filtered(t *testing.T, f outboundtest.Fixture, filter string) *hookbook.RevealedEndpoint {
	t.Helper()
	in := outbound.EndpointInput{URL: outboundtest.Ptr("http://127.0.0.1:9/hook"), Events: &[]string{"*"}}
	if err := json.Unmarshal([]byte(`{"filter":`+filter+`}`), &in); err != nil {
		t.Fatal(err)
	}
	e, err := f.Svc.CreateEndpoint(context.Background(), f.Org, in)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func lead(t *testing.T, f outboundtest.Fixture, data string) *outbound.Published {
	t.Helper()
	p, err := f.Svc.Publish(context.Background(), f.Org, outbound.PublishInput{Event: "lead.qualified", Data: json.RawMessage(data)})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestFilterDecidesFanout(t *testing.T) {
	t.Parallel()
	dbtest.EachBackend(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := outboundtest.New(t, d)
		if _, err := f.Svc.CreateEventType(ctx, f.Org, outbound.EventTypeInput{Name: "lead.qualified", Description: "a lead"}); err != nil {
			t.Fatal(err)
		}
		hot := filtered(t, f, `{"data":{"score":{"$gte":80}}}`)
		none := filtered(t, f, `null`)
		if hot.Filter == nil || string(hot.Filter) != `{"data":{"score":{"$gte":80}}}` || none.Filter != nil {
			t.Fatalf("filters as created: %s and %s", hot.Filter, none.Filter)
		}
		to := func(p *outbound.Published) map[string]bool {
			out := map[string]bool{}
			for _, id := range p.Deliveries {
				dl, err := f.Svc.Delivery(ctx, f.Org, id)
				if err != nil {
					t.Fatal(err)
				}
				out[dl.EndpointID] = true
			}
			return out
		}
		if got := to(lead(t, f, `{"score":87}`)); !got[hot.ID] || !got[none.ID] {
			t.Errorf("score 87 went to %v, want both endpoints", got)
		}
		if got := to(lead(t, f, `{"score":12}`)); got[hot.ID] || !got[none.ID] {
			t.Errorf("score 12 went to %v, want only the endpoint without filter", got)
		}

		// PATCH changes the filter; null clears it; absent keeps it.
		var in outbound.EndpointInput
		json.Unmarshal([]byte(`{"filter":{"data":{"score":{"$lt":20}}}}`), &in)
		if _, err := f.Svc.UpdateEndpoint(ctx, f.Org, hot.ID, in); err != nil {
			t.Fatal(err)
		}
		if got := to(lead(t, f, `{"score":12}`)); !got[hot.ID] {
			t.Errorf("after the change, score 12 went to %v", got)
		}
		kept, err := f.Svc.UpdateEndpoint(ctx, f.Org, hot.ID, outbound.EndpointInput{Description: outboundtest.Ptr("x")})
		if err != nil || string(kept.Filter) != `{"data":{"score":{"$lt":20}}}` {
			t.Fatalf("a PATCH without filter changed it: %s, %v", kept.Filter, err)
		}
		json.Unmarshal([]byte(`{"filter":null}`), &in)
		cleared, err := f.Svc.UpdateEndpoint(ctx, f.Org, hot.ID, in)
		if err != nil || cleared.Filter != nil {
			t.Fatalf("filter null did not clear: %s, %v", cleared.Filter, err)
		}
		if got := to(lead(t, f, `{"score":87}`)); !got[hot.ID] {
			t.Errorf("without filter, score 87 went to %v", got)
		}
		stored, err := f.Svc.Endpoint(ctx, f.Org, hot.ID)
		if err != nil || stored.Filter != nil {
			t.Errorf("stored filter after clearing: %s, %v", stored.Filter, err)
		}
	})
}

func TestFilterRefusedWithItsPath(t *testing.T) {
	t.Parallel()
	dbtest.EachBackend(t, func(t *testing.T, d *db.DB) {
		f := outboundtest.New(t, d)
		var in outbound.EndpointInput
		json.Unmarshal([]byte(`{"url":"http://127.0.0.1:9/x","events":["*"],"filter":{"data":{"participants":{"$gte":{}}}}}`), &in)
		_, err := f.Svc.CreateEndpoint(context.Background(), f.Org, in)
		e := hookbook.AsError(err)
		if e == nil || e.Kind != hookbook.EValidation || e.Details["filter.data.participants.$gte"] == "" {
			t.Fatalf("bad filter: %v", err)
		}
		json.Unmarshal([]byte(`{"filter":[1]}`), &in)
		_, err = f.Svc.CreateEndpoint(context.Background(), f.Org, in)
		if e := hookbook.AsError(err); e == nil || e.Details["filter"] == "" {
			t.Fatalf("filter not an object: %v", err)
		}
	})
}

// A test send goes to its endpoint whatever the filter.
func TestTestSendBypassesFilter(t *testing.T) {
	t.Parallel()
	dbtest.EachBackend(t, func(t *testing.T, d *db.DB) {
		f := outboundtest.New(t, d)
		ep := filtered(t, f, `{"event":"never.this"}`)
		if _, err := f.Svc.SendTest(context.Background(), f.Org, ep.ID); err != nil {
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
