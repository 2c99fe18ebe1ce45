package outbound_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/db"
	"github.com/hookbook/hookbook/internal/dbtest"
	"github.com/hookbook/hookbook/internal/outbound"
	"github.com/hookbook/hookbook/internal/outboundtest"
	"github.com/hookbook/hookbook/internal/queue"
)

// An endpoint's transformation is stored, read back with the endpoint (by
// the queue's loads too), changed, switched off and removed; a connector's
// name stays while its code does.
func TestTransformationStorage(t *testing.T) {
	t.Parallel()
	dbtest.EachBackend(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := outboundtest.New(t, d)
		events := []string{"*"}
		ep, err := f.Svc.CreateEndpoint(ctx, f.Org, outbound.EndpointInput{URL: outboundtest.Ptr("http://127.0.0.1:9/hook"), Events: &events, Connector: outbound.Clear(outboundtest.Ptr("teams"))})
		if err != nil {
			t.Fatal(err)
		}
		got, err := f.Svc.Endpoint(ctx, f.Org, ep.ID)
		if err != nil || got.Transformation == nil || got.Transformation.Connector != "teams" || !got.Transformation.Enabled ||
			!strings.Contains(got.Transformation.Code, "AdaptiveCard") {
			t.Fatalf("stored %+v, %v", got.Transformation, err)
		}
		update := func(raw string) *hookbook.Endpoint {
			t.Helper()
			e, err := f.Svc.UpdateEndpoint(ctx, f.Org, ep.ID, outbound.EndpointInput{Transformation: json.RawMessage(raw)})
			if err != nil {
				t.Fatal(err)
			}
			stored, err := f.Svc.Endpoint(ctx, f.Org, ep.ID)
			if err != nil {
				t.Fatal(err)
			}
			if (e.Transformation == nil) != (stored.Transformation == nil) || (e.Transformation != nil && *e.Transformation != *stored.Transformation) {
				t.Fatalf("answered %+v, stored %+v", e.Transformation, stored.Transformation)
			}
			return stored
		}
		if e := update(`{"enabled": false}`); e.Transformation.Enabled || e.Transformation.Connector != "teams" {
			t.Fatalf("switched off: %+v", e.Transformation)
		}
		if e := update(`{"code": "function handler(w) { return w; }", "enabled": true}`); e.Transformation.Connector != "" || !e.Transformation.Enabled {
			t.Fatalf("own code: %+v", e.Transformation)
		}
		// The queue's view of the endpoint (what an attempt uses) has it too.
		f.Publish(t, "booking.created", "")
		jobs, err := f.Q.Claim(ctx, queue.ClaimRequest{Owner: "test-owner", Limit: 10, Lease: time.Minute})
		if err != nil || len(jobs) != 1 || jobs[0].Endpoint.Transformation == nil || jobs[0].Endpoint.Transformation.Code != "function handler(w) { return w; }" {
			t.Fatalf("claimed %d jobs, %v", len(jobs), err)
		}
		if e := update(`null`); e.Transformation != nil {
			t.Fatalf("removed: %+v", e.Transformation)
		}
		_, err = f.Svc.UpdateEndpoint(ctx, f.Org, ep.ID, outbound.EndpointInput{Transformation: json.RawMessage(`{"code": "function handler( {"}`)})
		if e := hookbook.AsError(err); e == nil || !strings.Contains(e.Details["transformation.code"], "syntax error") {
			t.Fatalf("syntax error: %v", err)
		}
	})
}
