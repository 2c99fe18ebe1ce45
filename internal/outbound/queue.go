package outbound

import (
	"context"

	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/db"
	"github.com/hookbook/hookbook/internal/queue"
)

// The delivery queue itself lives in internal/queue; the Service is what
// the queue knows of endpoints (queue.Endpoints).

var _ queue.Endpoints = (*Service)(nil)

// queue returns the Service's delivery queue, making one over DB with no
// engine when none was given.
func (s *Service) queue() *queue.Queue {
	s.queueOnce.Do(func() {
		if s.Queue == nil {
			s.Queue = &queue.Queue{DB: s.DB, Endpoints: s}
		}
	})
	return s.Queue
}

// EndpointsByID implements queue.Endpoints: endpoints, deleted ones
// included (disabled, with the reason "endpoint deleted"), keyed by id.
func (s *Service) EndpointsByID(ctx context.Context, q db.Queryer, ids []string) (map[string]*hookbook.Endpoint, error) {
	return endpointsByID(ctx, q, ids)
}

// EndpointGone implements queue.Endpoints: it disables an endpoint for
// reason inside tx, fails its pending deliveries and publishes
// endpoint.disabled, as DisableEndpoint does.
func (s *Service) EndpointGone(ctx context.Context, tx *db.Tx, id, reason string) error {
	_, err := s.disableEndpoint(ctx, tx, id, reason)
	return err
}
