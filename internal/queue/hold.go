package queue

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/hookbook/hookbook/internal/db"
)

// Claims that write nothing. A SQLite database belongs to one hookbook
// process (the server takes the file for itself, see db.DB.Own), so that
// process's engine is the only claimer: the leases of the deliveries it
// claims from the queue live in memory ("held") instead of in the rows.
// Such a claim reads due rows on the writer connection, in the writer's
// turn, and skips those held; it writes nothing, so it costs neither the
// row's rewrite nor the moves in the due indexes nor a commit's log pages.
// The outcome's commit lets the hold go; a process that dies loses its
// holds with it, and its deliveries are due again at the next start.
//
// Reading in the writer's turn is what makes this safe: every write goes
// through that one connection, so a claim sees every outcome committed
// before it, and a hold is dropped only after its outcome committed. A
// claim that comes between the commit and the drop sees the row finished
// (or due later) or skips it as still held; the drop happens before the
// wake-ups the commit sends, so the next claim sees it free.
//
// PostgreSQL, shared by instances, keeps its leases in the rows; so do the
// claims of throttled endpoints everywhere (their in-flight bound counts
// leases over all instances) and deliveries handed over at publication,
// whose row is written then anyway.
type holds struct {
	mu   sync.Mutex
	ids  map[string]uint64 // delivery id → the token of its hold
	next uint64
}

// holdsLocally reports whether the queue's claims hold their leases in
// memory: on a database no other process uses.
func (q *Queue) holdsLocally() bool { return !q.DB.Shared() }

// Holds reports whether this process holds a delivery's lease in memory:
// it was claimed and its outcome is not recorded yet (it is in flight).
func (q *Queue) Holds(deliveryID string) bool {
	q.held.mu.Lock()
	defer q.held.mu.Unlock()
	_, ok := q.held.ids[deliveryID]
	return ok
}

// heldCount returns how many deliveries are held.
func (q *Queue) heldCount() int {
	q.held.mu.Lock()
	defer q.held.mu.Unlock()
	return len(q.held.ids)
}

// hold claims up to r.Limit due deliveries of endpoints that are not
// throttled, in memory, inside tx (the writer's turn): oldest due first,
// skipping those already held. A rollback of tx lets them go.
func (q *Queue) hold(ctx context.Context, tx *db.Tx, r ClaimRequest, now time.Time) ([]*Job, map[*Job]string, error) {
	skip := q.heldCount()
	args := []any{db.Micros(now), r.Limit + skip}
	exclude := ""
	if len(r.Exclude) > 0 {
		exclude = ` AND endpoint_id NOT IN (` + db.Placeholders(3, len(r.Exclude)) + `)`
		args = append(args, db.Args(r.Exclude)...)
	}
	rows, err := tx.QueryContext(ctx, `SELECT `+leasedColumns+` FROM deliveries
		WHERE status = 'pending' AND NOT throttled AND next_attempt_at <= $1`+exclude+`
		ORDER BY next_attempt_at LIMIT $2`, args...)
	if err != nil {
		return nil, nil, fmt.Errorf("claim: %w", err)
	}
	defer rows.Close()
	until := now.Add(r.Lease)
	var jobs []*Job
	endpointOf := map[*Job]string{}
	q.held.mu.Lock()
	defer q.held.mu.Unlock()
	if q.held.ids == nil {
		q.held.ids = map[string]uint64{}
	}
	for rows.Next() && len(jobs) < r.Limit {
		j := &Job{Owner: r.Owner, LeaseUntil: until}
		var epID string
		if err := rows.Scan(&j.DeliveryID, &j.OrganizationID, &epID, &j.EventID, &j.EventType, &j.Attempt, &j.MaxAttempts, &j.OrderingKey); err != nil {
			return nil, nil, err
		}
		if _, held := q.held.ids[j.DeliveryID]; held {
			continue
		}
		q.held.next++
		j.hold = q.held.next
		q.held.ids[j.DeliveryID] = j.hold
		j.Attempt++
		endpointOf[j] = epID
		jobs = append(jobs, j)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	if len(jobs) > 0 {
		taken := jobs
		tx.OnAbort(func() { q.unhold(taken) })
	}
	return jobs, endpointOf, nil
}

// unhold lets the holds of jobs go (those the queue holds in memory).
func (q *Queue) unhold(jobs []*Job) {
	q.held.mu.Lock()
	defer q.held.mu.Unlock()
	for _, j := range jobs {
		if j.hold != 0 && q.held.ids[j.DeliveryID] == j.hold {
			delete(q.held.ids, j.DeliveryID)
		}
	}
}

// unholdAt lets the holds of jobs go when their leases end, as a lease in
// a row would: an outcome that could not be recorded repeats the attempt
// after the lease, not at once.
func (q *Queue) unholdAt(jobs []*Job) {
	var held []*Job
	var until time.Time
	for _, j := range jobs {
		if j.hold != 0 {
			held = append(held, j)
			until = later(until, j.LeaseUntil)
		}
	}
	if len(held) > 0 {
		time.AfterFunc(time.Until(until), func() { q.unhold(held) })
	}
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// leaseOwner is the lease_owner a job's row carries while it is leased:
// its owner, or "" when the lease is held in memory.
func leaseOwner(j *Job) string {
	if j.hold != 0 {
		return ""
	}
	return j.Owner
}

// splitHeld separates jobs held in memory from those leased in their rows.
func splitHeld(jobs []*Job) (held, rows []*Job) {
	for _, j := range jobs {
		if j.hold != 0 {
			held = append(held, j)
		} else {
			rows = append(rows, j)
		}
	}
	return held, rows
}
