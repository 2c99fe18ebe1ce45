package outbound

import (
	"context"
	"sync"

	"github.com/hookbook/hookbook/internal/db"
)

// Publications arriving while a commit is under way are written together in
// the next transaction (group commit): on SQLite one fsync then serves many
// API requests, and each request still answers only after its event is
// durably stored. There is no committing goroutine of its own: the request
// that finds no commit under way commits, itself and whoever joined it, and
// then hands the turn to the first request that arrived meanwhile. An idle
// hub thus commits a lone publication without a hand-off between goroutines.

type publishReq struct {
	ctx   context.Context
	p     Publication
	reply chan publishReply
}

type publishReply struct {
	out  *Published
	err  error
	lead bool // no result: commit the waiting publications, this one first
}

type batcher struct {
	mu      sync.Mutex
	waiting []publishReq
	busy    bool // a request is committing
}

// maxBatch bounds how many publications share one transaction.
const maxBatch = 128

// publishBatched is publish through the group commit. Its result is the same
// as Publish's; only the transaction is shared with concurrent callers.
func (s *Service) publishBatched(ctx context.Context, p Publication) (*Published, error) {
	r := publishReq{ctx: ctx, p: p, reply: make(chan publishReply, 1)}
	b := &s.batch
	b.mu.Lock()
	b.waiting = append(b.waiting, r)
	lead := !b.busy
	b.busy = true
	b.mu.Unlock()
	if !lead {
		rep := <-r.reply
		if !rep.lead {
			return rep.out, rep.err
		}
	}
	// This request's turn: commit it with those waiting behind it.
	b.mu.Lock()
	n := min(len(b.waiting), maxBatch)
	batch := append([]publishReq(nil), b.waiting[:n]...)
	b.waiting = append(b.waiting[:0], b.waiting[n:]...)
	b.mu.Unlock()
	s.commitBatch(batch)
	b.mu.Lock()
	if len(b.waiting) > 0 {
		b.waiting[0].reply <- publishReply{lead: true}
	} else {
		b.busy = false
	}
	b.mu.Unlock()
	rep := <-r.reply
	return rep.out, rep.err
}

func (s *Service) commitBatch(batch []publishReq) {
	if len(batch) == 1 {
		out, err := s.publish(batch[0].ctx, batch[0].p)
		batch[0].reply <- publishReply{out: out, err: err}
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
			r.reply <- publishReply{out: out, err: err}
		}
		return
	}
	for i, r := range batch {
		r.reply <- publishReply{out: outs[i]}
	}
}
