package delivery

import (
	"context"
	"time"

	"github.com/hookbook/hookbook/internal/queue"
)

// The completer: outcomes are recorded in group commits, whatever arrived
// while the last commit ran going into the next one.

// writer records outcomes in batches: whatever has arrived while the last
// commit ran goes into the next one.
func (d *Dispatcher) writer() {
	batch := make([]*queue.Result, 0, 256)
	for r := range d.results {
		batch = append(batch[:0], r)
	drain:
		for len(batch) < cap(batch) {
			select {
			case r, ok := <-d.results:
				if !ok {
					break drain
				}
				batch = append(batch, r)
			default:
				break drain
			}
		}
		d.record(batch)
	}
}

func (d *Dispatcher) record(batch []*queue.Result) {
	for try := 0; ; try++ {
		err := d.Queue.Complete(context.Background(), batch)
		if err == nil {
			break
		}
		// The attempts happened; losing their outcome would only repeat
		// them after the lease, but keep trying for a while first.
		d.Log.Error("record attempts", "err", err, "count", len(batch), "try", try)
		if try >= 5 {
			break
		}
		time.Sleep(time.Duration(try+1) * 200 * time.Millisecond)
	}
	d.mu.Lock()
	d.inflight -= len(batch)
	for _, r := range batch {
		if !r.NextAttemptAt.IsZero() {
			d.rearm = true // a retry may be due before the claim loop's timer
			break
		}
	}
	d.mu.Unlock()
	d.signalFreed()
}
