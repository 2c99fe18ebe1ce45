package outbound_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/hookbook/hookbook/internal/db"
	"github.com/hookbook/hookbook/internal/dbtest"
	"github.com/hookbook/hookbook/internal/netguard"
	"github.com/hookbook/hookbook/internal/org"
	"github.com/hookbook/hookbook/internal/outbound"
	"github.com/hookbook/hookbook/internal/outboundtest"
	"github.com/hookbook/hookbook/internal/queue"
)

// BenchmarkFanout publishes booking.created events, 100 to a transaction
// (as a group commit does), to 10 endpoints, without filters and with the
// same four-condition filter on each (one the events match, so the
// deliveries are the same): what filters add to publication and fan-out,
// storage included. Run on SQLite (HOOKBOOK_TEST_BACKEND=postgres for
// PostgreSQL):
//
//	go test ./internal/outbound -run '^$' -bench Fanout -count 3
func BenchmarkFanout(b *testing.B) {
	data, _ := json.Marshal(outboundtest.Data("booking.created", nil))
	const filter = `{"event":"booking.created","data":{"location":"Main Square","participants":{"$gte":2},` +
		`"status":{"$in":["confirmed","pending"]},"customer":{"email":{"$endsWith":"@example.com"}}}}`
	for _, c := range []struct{ name, filter string }{{"plain", ""}, {"filtered", filter}} {
		b.Run(c.name, func(b *testing.B) {
			d := dbtest.Open(b, dbtest.URL(b))
			ctx := context.Background()
			o, err := (&org.Service{DB: d}).CreateOrganization(ctx, "acme", org.NewAPIKey())
			if err != nil {
				b.Fatal(err)
			}
			svc := &outbound.Service{DB: d, Guard: &netguard.Guard{}, HeaderPrefix: "X-Hookbook", SecretOverlap: time.Hour, Queue: &queue.Queue{DB: d}}
			for range 10 {
				in := outbound.EndpointInput{URL: outboundtest.Ptr("http://127.0.0.1:9/hook"), Events: &[]string{"booking.*"}}
				if c.filter != "" {
					json.Unmarshal([]byte(`{"filter":`+c.filter+`}`), &in)
				}
				if _, err := svc.CreateEndpoint(ctx, o.ID, in); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i += 100 {
				err := d.Tx(ctx, func(tx *db.Tx) error {
					for range min(100, b.N-i) {
						p, err := svc.PublishTx(ctx, tx, outbound.Publication{OrganizationID: o.ID, Type: "booking.created", Data: data, Canonical: true})
						if err != nil {
							return err
						}
						if len(p.Deliveries) != 10 {
							b.Fatalf("%d deliveries", len(p.Deliveries))
						}
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
