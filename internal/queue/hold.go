package queue

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/hookbook/hookbook/internal/db"
)

// Claims that write nothing. A SQLite database belongs to one hookbook
// server (it locks the file, see db.DB.Own), so that server's engine is
// the only claimer: the leases of the deliveries it claims from the queue
// live in memory ("held") instead of in the rows. Such a claim reads due
// rows in the writer's turn and skips those held; it writes nothing, so
// it costs neither the row's rewrite nor the moves in the due indexes nor
// a commit's log pages. A process that dies loses its holds with it, and
// its deliveries are due again at the next start.
//
// What keeps it safe:
//   - Reading in the writer's turn: every write goes through that one
//     connection, and a hold is dropped right after the commit of its
//     outcome, before the writer is given back (Tx.OnCommitLocked). A
//     claim sees every outcome committed before it, and never a finished
//     row still held.
//   - Every query that asks whether a delivery is in flight counts held
//     ones as leased: the throttled claim (which leaves held rows alone
//     and counts them against max_in_flight), the queue's depth (Stats,
//     EndpointState) and the delivery log's in_flight.
//   - A held outcome is recorded only on the row as it was claimed: its
//     updated_at is the hold's version. A row that was finished meanwhile
//     (its endpoint disabled) and queued again (redelivered, recovered,
//     replayed) keeps its new state; the attempt is still logged. A
//     redelivery asked for while the row is held leaves it to its worker.
//   - A hold whose outcome could not be recorded, or whose postpone
//     failed, goes when its lease would have ended, as a lease in a row
//     would, and the claimers are woken then.
//
// PostgreSQL, shared by instances, keeps its leases in the rows; so do the
// claims of throttled endpoints (their in-flight bound counts leases over
// all instances) and deliveries handed over at publication, whose row is
// written then anyway.
type holds struct {
	mu   sync.Mutex
	ids  map[string]held // delivery id → its hold
	next uint64
}

// held is one delivery's hold.
type held struct {
	token    uint64 // which claim holds it
	endpoint string
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

// outcomeRetries is longer than the engine keeps retrying the record of an
// outcome that failed (internal/delivery: completer.go, about 3 s).
const outcomeRetries = 10 * time.Second

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// maxHeldInQuery bounds the held ids a read leaves out by name; past it
// (far beyond the default workers) the queue's depth counts them as due.
const maxHeldInQuery = 5000

// heldIDs returns the ids of the deliveries held, of one endpoint when
// endpointID is not "", at most maxHeldInQuery of them (none where the
// queue does not hold leases in memory).
func (q *Queue) heldIDs(endpointID string) []string {
	q.held.mu.Lock()
	defer q.held.mu.Unlock()
	var out []string
	for id, h := range q.held.ids {
		if endpointID == "" || h.endpoint == endpointID {
			out = append(out, id)
			if len(out) == maxHeldInQuery {
				break
			}
		}
	}
	return out
}

// notHeld returns the condition that leaves out the held ids ("" when
// there are none), numbering its placeholders from first, and their args.
func notHeld(ids []string, first int) (string, []any) {
	if len(ids) == 0 {
		return "", nil
	}
	return ` AND id NOT IN (` + db.Placeholders(first, len(ids)) + `)`, db.Args(ids)
}

// hold claims up to r.Limit due deliveries of endpoints that are not
// throttled, in memory, inside tx (the writer's turn): oldest due first,
// skipping those already held. A rollback of tx lets them go.
func (q *Queue) hold(ctx context.Context, tx *db.Tx, r ClaimRequest, now time.Time) ([]*Job, map[*Job]string, error) {
	q.held.mu.Lock()
	skip := len(q.held.ids)
	q.held.mu.Unlock()
	args := []any{db.Micros(now), r.Limit + skip}
	exclude := ""
	if len(r.Exclude) > 0 {
		exclude = ` AND endpoint_id NOT IN (` + db.Placeholders(3, len(r.Exclude)) + `)`
		args = append(args, db.Args(r.Exclude)...)
	}
	rows, err := tx.QueryContext(ctx, `SELECT `+leasedColumns+`, updated_at FROM deliveries
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
		q.held.ids = map[string]held{}
	}
	for rows.Next() && len(jobs) < r.Limit {
		j := &Job{Owner: r.Owner, LeaseUntil: until}
		var epID string
		if err := rows.Scan(&j.DeliveryID, &j.OrganizationID, &epID, &j.EventID, &j.EventType, &j.Attempt, &j.MaxAttempts, &j.OrderingKey,
			&j.version); err != nil {
			return nil, nil, err
		}
		if _, ok := q.held.ids[j.DeliveryID]; ok {
			continue
		}
		q.held.next++
		j.hold = q.held.next
		q.held.ids[j.DeliveryID] = held{token: j.hold, endpoint: epID}
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
		if h, ok := q.held.ids[j.DeliveryID]; ok && j.hold != 0 && h.token == j.hold {
			delete(q.held.ids, j.DeliveryID)
		}
	}
}

// unholdLater lets the holds of jobs go when their leases end, as a lease
// in a row would (and not before outcomeRetries from now), and wakes the
// claimers then: their outcome could not be recorded (or their postpone
// failed), and the attempt is repeated after the lease, not at once.
func (q *Queue) unholdLater(jobs []*Job) {
	var hs []*Job
	var until time.Time
	for _, j := range jobs {
		if j.hold != 0 {
			hs = append(hs, j)
			until = later(until, j.LeaseUntil)
		}
	}
	if len(hs) == 0 {
		return
	}
	// Not before the engine has stopped retrying the outcome either: a
	// retry that records it finds the hold gone only after the delivery
	// could be claimed again.
	until = later(until, time.Now().Add(outcomeRetries))
	time.AfterFunc(time.Until(until), func() {
		q.unhold(hs)
		if q.Notify != nil {
			q.Notify()
		}
	})
}

// stillClaimed is the condition that j's row is as j's claim left it, on
// placeholder p, and its argument: a lease in the row is checked by its
// owner, a held one by the row's version (its updated_at when claimed).
func stillClaimed(j *Job, p string) (cond string, arg any) {
	if j.hold != 0 {
		return "updated_at = " + p, j.version
	}
	return "lease_owner = " + p, j.Owner
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

// staleHeld returns, inside tx, the held jobs among results whose row
// changed since they were claimed (finished, or finished and queued
// again: its updated_at moved): their outcome must not overwrite it.
func staleHeld(ctx context.Context, tx *db.Tx, results []*Result) (map[*Job]bool, error) {
	version := map[string]*Job{}
	var idList []string
	for _, r := range results {
		if j := r.Job; j.hold != 0 {
			version[j.DeliveryID] = j
			idList = append(idList, j.DeliveryID)
		}
	}
	if len(idList) == 0 {
		return nil, nil
	}
	stale := map[*Job]bool{}
	for _, j := range version {
		stale[j] = true
	}
	rows, err := tx.QueryContext(ctx, `SELECT id, updated_at FROM deliveries WHERE status = 'pending' AND id IN (`+db.Placeholders(1, len(idList))+`)`, db.Args(idList)...)
	if err != nil {
		return nil, fmt.Errorf("held deliveries: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var updated int64
		if err := rows.Scan(&id, &updated); err != nil {
			return nil, err
		}
		if j := version[id]; j != nil && j.version == updated {
			delete(stale, j)
		}
	}
	return stale, rows.Err()
}
