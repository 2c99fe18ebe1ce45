package delivery

import (
	"context"
	"time"

	"github.com/hookbook/hookbook/internal/outbound"
)

// Queue is the work queue the dispatcher drains: the deliveries table,
// implemented by outbound.Service.
type Queue interface {
	// Claim leases due deliveries.
	Claim(ctx context.Context, r outbound.ClaimRequest) ([]*outbound.Job, error)
	// Complete records attempts' outcomes in one transaction.
	Complete(ctx context.Context, results []*outbound.Result) error
	// Release gives claimed deliveries back, unattempted and due at once.
	Release(ctx context.Context, jobs []*outbound.Job) error
	// Postpone gives jobs back and moves an endpoint's due backlog to until.
	Postpone(ctx context.Context, endpointID string, jobs []*outbound.Job, until time.Time) error
	// NextDue tells when the earliest pending delivery is due.
	NextDue(ctx context.Context) (time.Time, bool, error)
}

var _ Queue = (*outbound.Service)(nil)
