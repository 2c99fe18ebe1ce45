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
	"github.com/hookbook/hookbook/internal/queue"
)

// An endpoint's transformation is stored, read back with the endpoint (by
// the queue's loads too), changed, switched off and removed; a connector's
// name stays while its code does.
func TestTransformationStorage(t *testing.T) {
	t.Parallel()
	dbtest.EachBackend(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := setup(t, d)
		events := []string{"*"}
		ep, err := f.svc.CreateEndpoint(ctx, f.org, outbound.EndpointInput{URL: ptr("http://127.0.0.1:9/hook"), Events: &events, Connector: ptr("teams")})
		if err != nil {
			t.Fatal(err)
		}
		got, err := f.svc.Endpoint(ctx, f.org, ep.ID)
		if err != nil || got.Transformation == nil || got.Transformation.Connector != "teams" || !got.Transformation.Enabled ||
			!strings.Contains(got.Transformation.Code, "AdaptiveCard") {
			t.Fatalf("stored %+v, %v", got.Transformation, err)
		}
		update := func(raw string) *hookbook.Endpoint {
			t.Helper()
			e, err := f.svc.UpdateEndpoint(ctx, f.org, ep.ID, outbound.EndpointInput{Transformation: json.RawMessage(raw)})
			if err != nil {
				t.Fatal(err)
			}
			stored, err := f.svc.Endpoint(ctx, f.org, ep.ID)
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
		f.publish(t, "booking.created", "")
		jobs, err := f.q.Claim(ctx, queue.ClaimRequest{Owner: "test-owner", Limit: 10, Lease: time.Minute})
		if err != nil || len(jobs) != 1 || jobs[0].Endpoint.Transformation == nil || jobs[0].Endpoint.Transformation.Code != "function handler(w) { return w; }" {
			t.Fatalf("claimed %d jobs, %v", len(jobs), err)
		}
		if e := update(`null`); e.Transformation != nil {
			t.Fatalf("removed: %+v", e.Transformation)
		}
		_, err = f.svc.UpdateEndpoint(ctx, f.org, ep.ID, outbound.EndpointInput{Transformation: json.RawMessage(`{"code": "function handler( {"}`)})
		if e := hookbook.AsError(err); e == nil || !strings.Contains(e.Details["transformation.code"], "syntax error") {
			t.Fatalf("syntax error: %v", err)
		}
	})
}
