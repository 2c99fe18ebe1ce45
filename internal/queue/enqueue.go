package queue

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/db"
	"github.com/hookbook/hookbook/internal/ids"
)

// Fanout is one event's deliveries, as publication enqueues them.
type Fanout struct {
	OrganizationID string
	EventID        string
	EventType      string
	Payload        []byte // the envelope every attempt sends
	OrderingKey    string // "" when the event has none
	Sequence       int64  // the event's place in its key's order
	Endpoints      []*hookbook.Endpoint
	Now            time.Time
	TraceParent    string // the publication span's traceparent, "" when not traced
}

// enqueueRows is how many deliveries one INSERT of a fan-out holds at
// most: 10 values each, within both databases' bounds on a statement's
// parameters (SQLite 32,766, PostgreSQL 65,535) however many endpoints an
// organization may have. On SQLite the bound is lower: its driver looks up
// each parameter's name by a walk over the statement's names, so binding
// costs the square of a statement's parameters (a 500-row INSERT spent
// more time binding than inserting); 32 rows keep that below a tenth of
// the insert, and every full batch reuses one prepared statement.
const (
	enqueueRows       = 500
	enqueueRowsSQLite = 32
)

// Enqueue inserts an event's deliveries inside tx, one multi-row INSERT
// per enqueueRows deliveries of the fan-out, and returns their ids in the order of
// f.Endpoints. Those the local engine has room for (Engine.Reserve) are
// inserted already leased to it and handed over once the transaction
// commits, without waiting for a claim; the others wait in the queue, and
// the commit wakes the claimers (Notify, and on PostgreSQL every instance).
// To an ordered endpoint, a delivery with an ordering key waits parked
// behind a pending one of the same key. A throttled endpoint's deliveries
// always wait for the claim, which enforces its throttle. A disabled
// endpoint's delivery is inserted skipped: never attempted nor claimed,
// kept for a replay once the endpoint is enabled again.
func (q *Queue) Enqueue(ctx context.Context, tx *db.Tx, f Fanout) ([]string, error) {
	if len(f.Endpoints) == 0 {
		return nil, nil
	}
	var b strings.Builder
	var args []any
	begin := func() {
		b.Reset()
		b.WriteString(`INSERT INTO deliveries (id, organization_id, endpoint_id, event_id, event_type, status,
		max_attempts, next_attempt_at, created_at, updated_at, ordering_key, sequence, lease_owner, lease_until, throttled) VALUES `)
		args = append(args[:0], f.OrganizationID, f.EventID, f.EventType, db.Micros(f.Now))
	}
	flush := func() error {
		if _, err := tx.ExecContext(ctx, b.String(), args...); err != nil {
			return fmt.Errorf("queue deliveries: %w", err)
		}
		return nil
	}
	begin()
	var waiting map[string]bool
	if f.OrderingKey != "" {
		var ordered []string
		for _, ep := range f.Endpoints {
			if ep.Ordered {
				ordered = append(ordered, ep.ID)
			}
		}
		var err error
		if waiting, err = keyPending(ctx, tx, ordered, f.OrderingKey); err != nil {
			return nil, err
		}
	}
	var owner string
	var leaseUntil time.Time
	if q.Engine != nil {
		var lease time.Duration
		owner, lease = q.Engine.LeaseTerms()
		leaseUntil = f.Now.Add(lease)
	}
	var direct []*Job
	idList := make([]string, 0, len(f.Endpoints))
	waits := 0 // deliveries that wait in the queue
	batch := enqueueRows
	if !tx.DB().Shared() {
		batch = enqueueRowsSQLite
	}
	for i, ep := range f.Endpoints {
		id := ids.New("dlv")
		if i > 0 && i%batch == 0 {
			if err := flush(); err != nil {
				return nil, err
			}
			begin()
		} else if i > 0 {
			b.WriteString(", ")
		}
		// An ordered endpoint gets a key's deliveries one at a time:
		// behind a pending one, this one waits parked. Only its
		// deliveries carry the key, so that the ordering index holds
		// nothing else; they always go through the queue.
		next, dkey, dseq, lowner, luntil := any(db.Micros(f.Now)), "", int64(0), "", int64(0)
		status, throttled := hookbook.StatusPending, ep.Throttled()
		switch {
		case !ep.Enabled:
			status, next, throttled = hookbook.StatusSkipped, nil, false
			if ep.Ordered {
				dkey, dseq = f.OrderingKey, f.Sequence // a replay keeps the key's order
			}
		case ep.Ordered && f.OrderingKey != "":
			dkey, dseq = f.OrderingKey, f.Sequence
			if waiting[ep.ID] {
				next = nil
			}
		case ep.Throttled():
			// Only the claim enforces a throttle: never handed over.
		case q.Engine != nil && q.Engine.Reserve(ep.ID):
			lowner, luntil = owner, db.Micros(leaseUntil)
			next = luntil
			direct = append(direct, &Job{DeliveryID: id, OrganizationID: f.OrganizationID, EventID: f.EventID, EventType: f.EventType,
				Attempt: 1, MaxAttempts: ep.MaxAttempts, Endpoint: ep, Payload: f.Payload, Owner: owner, LeaseUntil: leaseUntil, TraceParent: f.TraceParent})
		}
		if status == hookbook.StatusPending && lowner == "" {
			waits++
		}
		n := len(args)
		fmt.Fprintf(&b, "($%d, $1, $%d, $2, $3, $%d, $%d, $%d, $4, $4, $%d, $%d, $%d, $%d, $%d)", n+1, n+2, n+3, n+4, n+5, n+6, n+7, n+8, n+9, n+10)
		args = append(args, id, ep.ID, status, ep.MaxAttempts, next, dkey, dseq, lowner, luntil, throttled)
		idList = append(idList, id)
	}
	if len(direct) > 0 {
		engine := q.Engine
		tx.OnCommit(func() { engine.Take(direct) })
		tx.OnAbort(func() { engine.Cancel(direct) })
	}
	if err := flush(); err != nil {
		return nil, err
	}
	if waits > 0 {
		if err := q.wakeFor(ctx, tx, f, direct); err != nil {
			return nil, err
		}
	}
	return idList, nil
}

// wakeFor arranges the wake-up of claimers for a fan-out's deliveries that
// wait in the queue: at once (DueTx) unless every one of them belongs to a
// throttled endpoint whose rate allows its next attempt only later; then
// this instance's engine is told when (NotifyAt), and a claim, a write,
// is spared for each publication to a throttled endpoint. While this
// instance claims for the endpoint, the time is known without a read.
func (q *Queue) wakeFor(ctx context.Context, tx *db.Tx, f Fanout, direct []*Job) error {
	taken := make(map[string]bool, len(direct))
	for _, j := range direct {
		taken[j.Endpoint.ID] = true
	}
	var throttled []string
	for _, ep := range f.Endpoints {
		if taken[ep.ID] || !ep.Enabled {
			continue
		}
		if !ep.Throttled() {
			return q.DueTx(ctx, tx)
		}
		throttled = append(throttled, ep.ID)
	}
	later, known := q.knownLater(throttled, f.Now)
	if !known {
		var err error
		if later, err = q.allowedLater(ctx, tx, throttled, f.Now); err != nil {
			return err
		}
		if later.IsZero() {
			return q.DueTx(ctx, tx)
		}
	}
	if q.NotifyAt != nil {
		tx.OnCommit(func() { q.NotifyAt(later) })
	}
	return nil
}

// allowedLater returns the earliest time after now at which the rates of
// endpoints allow their next attempt, or the zero time when one of them
// allows one now.
func (q *Queue) allowedLater(ctx context.Context, tx *db.Tx, endpointIDs []string, now time.Time) (time.Time, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id, throttle_next FROM endpoints WHERE id IN (`+db.Placeholders(1, len(endpointIDs))+`)`, db.Args(endpointIDs)...)
	if err != nil {
		return time.Time{}, fmt.Errorf("throttled endpoints: %w", err)
	}
	defer rows.Close()
	var later time.Time
	for rows.Next() {
		var id string
		var next int64
		if err := rows.Scan(&id, &next); err != nil {
			return time.Time{}, err
		}
		t := db.Time(next)
		q.allowedAt(id, t)
		if !t.After(now) {
			return time.Time{}, nil
		}
		if later.IsZero() || t.Before(later) {
			later = t
		}
	}
	return later, rows.Err()
}

// keyPending returns which of the endpoints have a pending delivery of key.
func keyPending(ctx context.Context, tx *db.Tx, endpointIDs []string, key string) (map[string]bool, error) {
	out := map[string]bool{}
	for len(endpointIDs) > enqueueRows {
		if err := keyPendingOf(ctx, tx, endpointIDs[:enqueueRows], key, out); err != nil {
			return nil, err
		}
		endpointIDs = endpointIDs[enqueueRows:]
	}
	if len(endpointIDs) == 0 {
		return out, nil
	}
	return out, keyPendingOf(ctx, tx, endpointIDs, key, out)
}

// keyPendingOf adds to out which of the endpoints have a pending delivery of key.
func keyPendingOf(ctx context.Context, tx *db.Tx, endpointIDs []string, key string, out map[string]bool) error {
	args := append([]any{key}, db.Args(endpointIDs)...)
	rows, err := tx.QueryContext(ctx, `SELECT DISTINCT endpoint_id FROM deliveries
		WHERE ordering_key = $1 AND ordering_key <> '' AND status = 'pending' AND endpoint_id IN (`+db.Placeholders(2, len(endpointIDs))+`)`, args...)
	if err != nil {
		return fmt.Errorf("ordered delivery: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return err
		}
		out[id] = true
	}
	return rows.Err()
}

// notifyChannel is the PostgreSQL channel on which a commit that made
// deliveries due tells every instance to claim.
const notifyChannel = "hookbook_deliveries"

// dueKey marks a transaction that already arranged its wake-up.
const dueKey = "queue.due"

// DueTx records that tx makes deliveries due now: once it commits, this
// instance's workers wake at once (Notify) and, on PostgreSQL, every other
// instance's too (see Listen).
func (q *Queue) DueTx(ctx context.Context, tx *db.Tx) error {
	if _, ok := tx.Value(dueKey); ok {
		return nil
	}
	tx.Remember(dueKey, true)
	if err := tx.Notify(ctx, notifyChannel); err != nil {
		return fmt.Errorf("notify: %w", err)
	}
	tx.OnCommit(func() {
		if q.Notify != nil {
			q.Notify()
		}
	})
	return nil
}

// Listen wakes this instance's workers whenever another instance commits
// due deliveries, until ctx is done (PostgreSQL; on SQLite it returns at once).
func (q *Queue) Listen(ctx context.Context, wake func(), log *slog.Logger) {
	q.DB.Listen(ctx, notifyChannel, wake, log)
}
