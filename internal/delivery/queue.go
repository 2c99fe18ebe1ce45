package delivery

import (
	"context"
	"time"

	"github.com/hookbook/hookbook/internal/queue"
)

// Queue is the work queue the dispatcher drains: the deliveries table,
// implemented by queue.Queue.
type Queue interface {
	// Claim leases due deliveries.
	Claim(ctx context.Context, r queue.ClaimRequest) ([]*queue.Job, error)
	// Complete records attempts' outcomes in one transaction.
	Complete(ctx context.Context, results []*queue.Result) error
	// Release gives claimed deliveries back, unattempted and due at once.
	Release(ctx context.Context, jobs []*queue.Job) error
	// Postpone gives jobs back and moves an endpoint's due backlog to until.
	Postpone(ctx context.Context, endpointID string, jobs []*queue.Job, until time.Time) error
	// NextDue tells when the earliest pending delivery is due.
	NextDue(ctx context.Context) (time.Time, bool, error)
	// NextAllowed tells when the rate of a throttled endpoint with a due
	// backlog next allows an attempt.
	NextAllowed(ctx context.Context, since time.Time) (time.Time, bool, error)
}

var _ Queue = (*queue.Queue)(nil)
