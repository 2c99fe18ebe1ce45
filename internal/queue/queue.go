// Package queue is hookbook's delivery queue: the deliveries table seen as
// work. Publication enqueues an event's deliveries (Enqueue), handing those
// the local engine has room for straight to it; the engine claims the rest
// when they are due (Claim), records outcomes in group commits (Complete),
// and gives back what it cannot start (Release, Postpone). Ordered
// endpoints get a key's deliveries one at a time (parked deliveries,
// Unpark). The stored side of retry scheduling (next_attempt_at), the
// wake-ups of claimers (Notify, Listen) and the retention of finished
// deliveries (Purge) live here too.
//
// The queue knows endpoints only through Endpoints, so that it imports
// neither the domain that owns them nor the engine that sends.
package queue

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/db"
)

// Queue is the delivery queue over one database.
type Queue struct {
	DB *db.DB
	// Endpoints reads the endpoints of claimed deliveries and disables one
	// that answered 410 Gone; required by Claim and Complete.
	Endpoints Endpoints
	// Engine, when set, is this instance's delivery engine: deliveries it
	// has room for are handed to it as their publication commits.
	Engine Engine
	// Notify, when set, is called after a transaction that made deliveries
	// due now has committed, so that idle workers wake at once.
	Notify func()
	// NotifyAt, when set, is called after a transaction that queued
	// deliveries only for throttled endpoints whose rates allow their next
	// attempt later, with when: no claim could take them sooner.
	NotifyAt func(time.Time)
	// Outcomes, when set, is told of each batch of outcomes inside the
	// transaction that records them, before the endpoints' health is
	// updated (operational events and alerts are decided there).
	Outcomes func(ctx context.Context, tx *db.Tx, results []*Result) error

	mu      sync.Mutex
	allowed map[string]time.Time // throttled endpoints' next allowed times, as last seen
	held    holds                // leases held in memory (hold.go)
}

// Endpoints is what the queue needs of the endpoints it delivers to.
type Endpoints interface {
	// EndpointsByID loads endpoints, deleted ones included (as disabled),
	// keyed by id.
	EndpointsByID(ctx context.Context, q db.Queryer, ids []string) (map[string]*hookbook.Endpoint, error)
	// EndpointGone disables an endpoint that answered 410 Gone, inside tx.
	EndpointGone(ctx context.Context, tx *db.Tx, id, reason string) error
}

// Job is a claimed delivery with what its attempt needs.
type Job struct {
	DeliveryID     string
	OrganizationID string
	EventID        string
	EventType      string
	OrderingKey    string // "" when the event has none
	Attempt        int    // number of the attempt about to be made, from 1
	MaxAttempts    int
	Endpoint       *hookbook.Endpoint
	Payload        []byte
	Owner          string
	LeaseUntil     time.Time
	// TraceParent is the W3C traceparent of the event's publication ("" when
	// it was not traced): the parent of each attempt's span.
	TraceParent string
	// hold is the token of the job's lease when the queue holds it in
	// memory (hold.go), 0 when the lease is in the row; version is the
	// row's updated_at when it was claimed.
	hold    uint64
	version int64
}

// Engine is the delivery engine of this instance, as publication sees it.
// A publication asks it for room for each delivery (Reserve) while its
// transaction runs; the deliveries it reserved are inserted already leased
// to it (LeaseTerms) and handed over after the commit (Take), or given back
// after a rollback (Cancel). They then skip the claim: the first attempt
// starts as soon as the event is stored. A delivery the engine has no room
// for waits in the queue, and so does every delivery behind it.
type Engine interface {
	// Reserve reports whether the engine takes a delivery to the endpoint
	// now; each true must be followed by Take or Cancel of its job.
	Reserve(endpointID string) bool
	// Take starts the jobs reserved for, once their transaction committed.
	Take(jobs []*Job)
	// Cancel gives back the reservations of jobs whose transaction failed.
	Cancel(jobs []*Job)
	// LeaseTerms returns the lease owner and length the jobs are inserted with.
	LeaseTerms() (owner string, d time.Duration)
}

// ClaimRequest says which due deliveries a worker pool wants.
type ClaimRequest struct {
	Owner   string        // who holds the lease (instance id)
	Limit   int           // at most this many
	Lease   time.Duration // how long the claim lasts unless completed
	Exclude []string      // endpoint ids not to claim for (saturated or circuit open)
	// PerEndpoint bounds the attempts in flight, over all instances, of a
	// throttled endpoint without max_in_flight (0: no bound).
	PerEndpoint int
}

// Claim leases up to r.Limit pending deliveries whose time has come, oldest
// due first, a throttled endpoint's within its allowance (throttle.go).
// Two claimers never get the same delivery while its lease lasts;
// a delivery whose lease ran out (its worker died) is claimed again.
// Deliveries of endpoints that were disabled or deleted meanwhile are marked
// failed instead of returned.
func (q *Queue) Claim(ctx context.Context, r ClaimRequest) ([]*Job, error) {
	if q.Endpoints == nil {
		return nil, errors.New("claim deliveries: the queue has no Endpoints")
	}
	var jobs []*Job
	err := q.DB.BackgroundTx(ctx, func(tx *db.Tx) error {
		now := q.DB.Now()
		// Throttled endpoints first: each takes at most its allowance.
		leased, endpointOf, err := q.leaseThrottled(ctx, tx, r, r.Limit, now)
		if err != nil {
			return err
		}
		if room := r.Limit - len(leased); room > 0 {
			take := lease
			if q.holdsLocally() {
				take = q.hold
			}
			open, openOf, err := take(ctx, tx, ClaimRequest{Owner: r.Owner, Limit: room, Lease: r.Lease, Exclude: r.Exclude}, now)
			if err != nil {
				return err
			}
			leased = append(leased, open...)
			for j, ep := range openOf {
				endpointOf[j] = ep
			}
		}
		if len(leased) == 0 {
			return nil
		}
		jobs, err = q.fill(ctx, tx, leased, endpointOf, now)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", err)
	}
	return jobs, nil
}

// lease sets the lease of up to r.Limit due deliveries of endpoints that
// are not throttled and returns them, without endpoint or payload yet,
// with the endpoint id of each.
func lease(ctx context.Context, tx *db.Tx, r ClaimRequest, now time.Time) ([]*Job, map[*Job]string, error) {
	until := now.Add(r.Lease)
	args := []any{r.Owner, db.Micros(until), db.Micros(now), r.Limit}
	exclude := ""
	if len(r.Exclude) > 0 {
		exclude = ` AND endpoint_id NOT IN (` + db.Placeholders(5, len(r.Exclude)) + `)`
		args = append(args, db.Args(r.Exclude)...)
	}
	// The lease moves next_attempt_at to its end: claimed rows leave the
	// due range of the index at once, and come back by themselves when
	// a worker dies and its lease runs out.
	return leaseRows(ctx, tx, `UPDATE deliveries SET lease_owner = $1, lease_until = $2, next_attempt_at = $2
		WHERE id IN (SELECT id FROM deliveries WHERE status = 'pending' AND NOT throttled AND next_attempt_at <= $3`+exclude+`
			ORDER BY next_attempt_at LIMIT $4`+tx.SkipLocked()+`)
		RETURNING `+leasedColumns, r.Owner, until, args)
}

// leasedColumns are what a leasing UPDATE returns, as leaseRows reads them.
const leasedColumns = `id, organization_id, endpoint_id, event_id, event_type, attempts, max_attempts, ordering_key`

// leaseRows runs a leasing UPDATE … RETURNING leasedColumns and reads its
// jobs, with the endpoint id of each.
func leaseRows(ctx context.Context, tx *db.Tx, query, owner string, until time.Time, args []any) ([]*Job, map[*Job]string, error) {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, nil, fmt.Errorf("claim: %w", err)
	}
	defer rows.Close()
	var jobs []*Job
	endpointOf := map[*Job]string{}
	for rows.Next() {
		j := &Job{Owner: owner, LeaseUntil: until}
		var epID string
		if err := rows.Scan(&j.DeliveryID, &j.OrganizationID, &epID, &j.EventID, &j.EventType, &j.Attempt, &j.MaxAttempts, &j.OrderingKey); err != nil {
			return nil, nil, err
		}
		j.Attempt++
		endpointOf[j] = epID
		jobs = append(jobs, j)
	}
	return jobs, endpointOf, rows.Err()
}

// fill gives leased jobs their endpoint and payload, and fails those whose
// endpoint was disabled or deleted meanwhile instead of returning them.
func (q *Queue) fill(ctx context.Context, tx *db.Tx, jobs []*Job, endpointOf map[*Job]string, now time.Time) ([]*Job, error) {
	var endpointIDs, eventIDs []string
	seenEP, seenEvt := map[string]bool{}, map[string]bool{}
	for _, j := range jobs {
		if ep := endpointOf[j]; !seenEP[ep] {
			seenEP[ep] = true
			endpointIDs = append(endpointIDs, ep)
		}
		if !seenEvt[j.EventID] {
			seenEvt[j.EventID] = true
			eventIDs = append(eventIDs, j.EventID)
		}
	}
	endpoints, err := q.Endpoints.EndpointsByID(ctx, tx, endpointIDs)
	if err != nil {
		return nil, fmt.Errorf("claim endpoints: %w", err)
	}
	payloads, err := payloadsByID(ctx, tx, eventIDs)
	if err != nil {
		return nil, fmt.Errorf("claim payloads: %w", err)
	}
	kept := jobs[:0]
	for _, j := range jobs {
		ep := endpoints[endpointOf[j]]
		if ep == nil || !ep.Enabled {
			if err := q.failDisabled(ctx, tx, j, ep, now); err != nil {
				return nil, err
			}
			continue
		}
		j.Endpoint = ep
		j.Payload, j.TraceParent = payloads[j.EventID].payload, payloads[j.EventID].traceparent
		kept = append(kept, j)
	}
	return kept, nil
}

// failDisabled marks a claimed delivery of a disabled or deleted endpoint
// failed, and lets the next one of its ordering key go.
func (q *Queue) failDisabled(ctx context.Context, tx *db.Tx, j *Job, ep *hookbook.Endpoint, now time.Time) error {
	reason := "endpoint disabled"
	if ep != nil && ep.DisabledReason != nil {
		reason = *ep.DisabledReason
	}
	if _, err := tx.ExecContext(ctx, `UPDATE deliveries SET status = 'failed', next_attempt_at = NULL, last_error = $1,
		lease_owner = '', lease_until = 0, updated_at = `+db.Touched("$2")+` WHERE id = $3`, reason, db.Micros(now), j.DeliveryID); err != nil {
		return err
	}
	q.unhold([]*Job{j}) // finished: no claim can take it again
	if ep != nil && ep.Ordered && j.OrderingKey != "" {
		return q.UnparkTx(ctx, tx, []string{ep.ID}, []string{j.OrderingKey}, now)
	}
	return nil
}

// stored is what an attempt needs of its event: the envelope it sends and
// the traceparent of its publication.
type stored struct {
	payload     []byte
	traceparent string
}

func payloadsByID(ctx context.Context, q db.Queryer, idList []string) (map[string]stored, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, payload, traceparent FROM events WHERE id IN (`+db.Placeholders(1, len(idList))+`)`, db.Args(idList)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make(map[string]stored, len(idList))
	for rows.Next() {
		var id, payload, tp string
		if err := rows.Scan(&id, &payload, &tp); err != nil {
			return nil, err
		}
		out[id] = stored{[]byte(payload), tp}
	}
	return out, rows.Err()
}

// NextDue returns when the earliest pending delivery not yet due comes
// due (for one leased in its row, when its lease ends), and false when
// none waits for a later time. Deliveries due already are the claims' and
// the freed slots' business.
func (q *Queue) NextDue(ctx context.Context) (time.Time, bool, error) {
	var next int64
	err := q.DB.QueryRowContext(ctx, `SELECT next_attempt_at FROM deliveries WHERE status = 'pending' AND next_attempt_at > $1
		ORDER BY next_attempt_at LIMIT 1`, db.Micros(q.DB.Now())).Scan(&next)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, err
	}
	return db.Time(next), true, nil
}

// Release gives claimed deliveries back to the queue unattempted, due at
// once. Those held in memory are due already: their holds just go.
func (q *Queue) Release(ctx context.Context, jobs []*Job) error {
	held, leased := splitHeld(jobs)
	q.unhold(held)
	if len(leased) == 0 {
		return nil
	}
	err := q.DB.BackgroundTx(ctx, func(tx *db.Tx) error {
		return q.giveBack(ctx, tx, leased, q.DB.Now())
	})
	if err != nil {
		return fmt.Errorf("release deliveries: %w", err)
	}
	return nil
}

// giveBack ends the leases of jobs, due again at until; the holds of
// those held in memory go once tx commits.
func (q *Queue) giveBack(ctx context.Context, tx *db.Tx, jobs []*Job, until time.Time) error {
	for _, j := range jobs {
		claimed, lease := stillClaimed(j, "$2")
		if _, err := tx.ExecContext(ctx, `UPDATE deliveries SET lease_owner = '', lease_until = 0, next_attempt_at = $3
			WHERE id = $1 AND status = 'pending' AND `+claimed, j.DeliveryID, lease, db.Micros(until)); err != nil {
			return err
		}
	}
	if held, _ := splitHeld(jobs); len(held) > 0 {
		tx.OnCommitLocked(func() { q.unhold(held) })
	}
	return nil
}

// ReleaseAllLeases gives every claimed delivery back to the queue. A
// single-instance SQLite hub calls it at start: no other process can hold a
// lease, so deliveries claimed by a process that died resume at once.
func (q *Queue) ReleaseAllLeases(ctx context.Context) error {
	_, err := q.DB.ExecContext(ctx, `UPDATE deliveries SET lease_owner = '', lease_until = 0, next_attempt_at = $1
		WHERE status = 'pending' AND lease_until > 0`, db.Micros(q.DB.Now()))
	return err
}

// Postpone gives claimed jobs back and moves them and every due pending
// delivery of an endpoint to until, without spending an attempt: its
// circuit is open or it stalls.
func (q *Queue) Postpone(ctx context.Context, endpointID string, jobs []*Job, until time.Time) error {
	err := q.DB.BackgroundTx(ctx, func(tx *db.Tx) error {
		if err := q.giveBack(ctx, tx, jobs, until); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE deliveries SET next_attempt_at = $1
			WHERE endpoint_id = $2 AND status = 'pending' AND next_attempt_at < $1 AND lease_until <= $3`,
			db.Micros(until), endpointID, db.Micros(q.DB.Now()))
		return err
	})
	if err != nil {
		q.unholdLater(jobs)
		return fmt.Errorf("postpone deliveries: %w", err)
	}
	return nil
}

// Hasten makes an endpoint's pending deliveries that wait for a retry due
// now (those in flight and those parked behind an earlier one of their
// key stay as they are), and wakes the claimers: its destination, away
// until now, is back (a listener reconnected). It returns how many.
func (q *Queue) Hasten(ctx context.Context, endpointID string) (int, error) {
	var n int64
	err := q.DB.BackgroundTx(ctx, func(tx *db.Tx) error {
		now := db.Micros(q.DB.Now())
		res, err := tx.ExecContext(ctx, `UPDATE deliveries SET next_attempt_at = $1
			WHERE endpoint_id = $2 AND status = 'pending' AND next_attempt_at > $1 AND lease_until <= $1`, now, endpointID)
		if err != nil {
			return err
		}
		if n, _ = res.RowsAffected(); n > 0 {
			return q.DueTx(ctx, tx)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("hasten deliveries: %w", err)
	}
	return int(n), nil
}
