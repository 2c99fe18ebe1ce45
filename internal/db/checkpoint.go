package db

import (
	"context"
	"sync/atomic"
	"time"
)

// SQLite's write-ahead log is copied back into the database file by
// checkpoints. Left to SQLite, a checkpoint runs inside whichever commit
// pushes the log past 1,000 pages, and that commit — often an API request
// waiting for its answer — pays for copying the pages and syncing the
// file. hookbook turns the automatic checkpoint off (wal_autocheckpoint=0)
// and runs checkpoints as background turns of the writer (see gate) instead,
// after every checkpointEvery commits and at least once a second while
// commits come: small ones, which a publication waits for only if it
// arrives during one. The log then restarts from its beginning, so its
// size stays bounded by what a few dozen commits write.
const checkpointEvery = 32

type checkpointer struct {
	commits atomic.Int64
	kick    chan struct{}
	stop    context.CancelFunc
	done    chan struct{}
}

// startCheckpoints runs the checkpointer until Close.
func (d *DB) startCheckpoints() {
	ctx, cancel := context.WithCancel(context.Background())
	c := &checkpointer{kick: make(chan struct{}, 1), stop: cancel, done: make(chan struct{})}
	d.ckpt = c
	go func() {
		defer close(c.done)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		last := int64(0)
		for {
			select {
			case <-ctx.Done():
				return
			case <-c.kick:
			case <-tick.C:
			}
			if n := c.commits.Load(); n != last {
				last = n
				d.checkpoint(ctx)
			}
		}
	}()
}

// checkpoint copies the log into the database file, in a background turn
// of the writer: the next write then restarts the log from its beginning.
// An error (disk full, closing) leaves the log to the next try.
func (d *DB) checkpoint(ctx context.Context) {
	release, err := d.write(ctx, true)
	if err != nil {
		return
	}
	defer release()
	d.w.ExecContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`)
}

// committed counts a commit, waking the checkpointer every checkpointEvery.
func (d *DB) committed() {
	if d.ckpt == nil {
		return
	}
	if d.ckpt.commits.Add(1)%checkpointEvery == 0 {
		select {
		case d.ckpt.kick <- struct{}{}:
		default:
		}
	}
}

// stopCheckpoints ends the checkpointer and waits for it.
func (d *DB) stopCheckpoints() {
	if d.ckpt != nil {
		d.ckpt.stop()
		<-d.ckpt.done
	}
}
