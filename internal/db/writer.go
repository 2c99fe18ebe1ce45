package db

import (
	"context"
	"fmt"
	"sync"
)

// SQLite has one writer connection, and transactions take turns on it
// through a gate with two classes of work: foreground (API requests waiting
// for their answer, and every write that must be durable when it returns)
// and background (the delivery queue's claims and outcomes, see
// BackgroundTx). When both wait they alternate, so that a publication never
// waits behind more than one background transaction and the queue never
// starves. Without the gate, database/sql hands the connection to a random
// waiter.
type gate struct {
	mu     sync.Mutex
	busy   bool
	fg, bg []chan struct{}
	bgLast bool // the last contested turn went to background
	lazy   bool // the writer commits without fsync (synchronous=NORMAL); owned by the holder
	// durable is the synchronous level of foreground commits: FULL unless
	// the database URL names another.
	durable string
}

// lock waits for the writer. It returns ctx's error, not holding the
// writer, if ctx ends first.
func (g *gate) lock(ctx context.Context, background bool) error {
	g.mu.Lock()
	if !g.busy {
		g.busy = true
		g.mu.Unlock()
		return nil
	}
	ch := make(chan struct{})
	q := &g.fg
	if background {
		q = &g.bg
	}
	*q = append(*q, ch)
	g.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
	}
	g.mu.Lock()
	for i, c := range *q {
		if c == ch {
			*q = append((*q)[:i], (*q)[i+1:]...)
			g.mu.Unlock()
			return ctx.Err()
		}
	}
	g.mu.Unlock()
	// The turn came as ctx ended: pass it on.
	g.unlock()
	return ctx.Err()
}

// unlock gives the writer to the next waiter.
func (g *gate) unlock() {
	g.mu.Lock()
	var next chan struct{}
	take := func(q *[]chan struct{}) {
		next = (*q)[0]
		*q = (*q)[1:]
	}
	switch {
	case len(g.fg) > 0 && len(g.bg) > 0:
		if g.bgLast {
			take(&g.fg)
		} else {
			take(&g.bg)
		}
		g.bgLast = !g.bgLast
	case len(g.fg) > 0:
		take(&g.fg)
	case len(g.bg) > 0:
		take(&g.bg)
	default:
		g.busy = false
	}
	g.mu.Unlock()
	if next != nil {
		close(next)
	}
}

// write takes the writer for one piece of work, foreground or background,
// with the durability its class needs; release gives it back. On
// PostgreSQL, whose connections write concurrently, it does nothing.
func (d *DB) write(ctx context.Context, background bool) (release func(), err error) {
	if d.dialect == postgres {
		return func() {}, nil
	}
	if err := d.gate.lock(ctx, background); err != nil {
		return nil, err
	}
	if d.gate.lazy != background {
		mode := d.gate.durable
		if background {
			mode = "NORMAL"
		}
		if _, err := d.w.ExecContext(ctx, "PRAGMA synchronous = "+mode); err != nil {
			d.gate.unlock()
			return nil, fmt.Errorf("sqlite synchronous=%s: %w", mode, err)
		}
		d.gate.lazy = background
	}
	return d.gate.unlock, nil
}
