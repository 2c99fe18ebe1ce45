package outbound

import (
	"context"
	"sync"

	"github.com/hookbook/hookbook/internal/db"
)

// Publications arriving while a commit is under way are written together in
// the next transaction (group commit): on SQLite one fsync then serves many
// API requests, and each request still answers only after its event is
// durably stored.

type publishReq struct {
	ctx   context.Context
	p     Publication
	reply chan publishReply
}

type publishReply struct {
	out *Published
	err error
}

type batcher struct {
	once sync.Once
	reqs chan publishReq
}

// maxBatch bounds how many publications share one transaction.
const maxBatch = 128

// publishBatched is publish through the group commit. Its result is the same
// as Publish's; only the transaction is shared with concurrent callers.
func (s *Service) publishBatched(ctx context.Context, p Publication) (*Published, error) {
	s.batch.once.Do(func() {
		s.batch.reqs = make(chan publishReq)
		go s.runBatches()
	})
	r := publishReq{ctx: ctx, p: p, reply: make(chan publishReply, 1)}
	select {
	case s.batch.reqs <- r:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	rep := <-r.reply
	return rep.out, rep.err
}

func (s *Service) runBatches() {
	for first := range s.batch.reqs {
		batch := []publishReq{first}
	collect:
		for len(batch) < maxBatch {
			select {
			case r := <-s.batch.reqs:
				batch = append(batch, r)
			default:
				break collect
			}
		}
		s.commitBatch(batch)
	}
}

func (s *Service) commitBatch(batch []publishReq) {
	if len(batch) == 1 {
		out, err := s.publish(batch[0].ctx, batch[0].p)
		batch[0].reply <- publishReply{out, err}
		return
	}
	outs := make([]*Published, len(batch))
	err := s.DB.Tx(context.Background(), func(tx *db.Tx) error {
		for i, r := range batch {
			out, err := s.PublishTx(r.ctx, tx, r.p)
			if err != nil {
				return err
			}
			outs[i] = out
		}
		return nil
	})
	if err != nil {
		// One publication failed the shared transaction: give each its own,
		// so only the faulty one fails.
		for _, r := range batch {
			out, err := s.publish(r.ctx, r.p)
			r.reply <- publishReply{out, err}
		}
		return
	}
	for i, r := range batch {
		r.reply <- publishReply{outs[i], nil}
	}
}
