package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/hookbook/hookbook"
)

// Job is a claimed delivery with what its attempt needs.
type Job struct {
	DeliveryID     string
	OrganizationID string
	EventID        string
	EventType      string
	Attempt        int // number of the attempt about to be made, from 1
	MaxAttempts    int
	Endpoint       *hookbook.Endpoint
	Payload        []byte
	Owner          string
	LeaseUntil     time.Time
}

// ClaimRequest says which due deliveries a worker pool wants.
type ClaimRequest struct {
	Owner   string        // who holds the lease (instance id)
	Limit   int           // at most this many
	Lease   time.Duration // how long the claim lasts unless completed
	Exclude []string      // endpoint ids not to claim for (saturated or circuit open)
}

// Claim leases up to r.Limit pending deliveries whose time has come, oldest
// due first. Two claimers never get the same delivery while its lease lasts;
// a delivery whose lease ran out (its worker died) is claimed again.
// Deliveries of endpoints that were disabled or deleted meanwhile are marked
// failed instead of returned.
func (s *Store) Claim(ctx context.Context, r ClaimRequest) ([]*Job, error) {
	var jobs []*Job
	err := s.Tx(ctx, func(tx *Tx) error {
		now := s.Now()
		lease := now.Add(r.Lease)
		args := []any{r.Owner, us(lease), us(now), r.Limit}
		exclude := ""
		if len(r.Exclude) > 0 {
			exclude = ` AND endpoint_id NOT IN (` + placeholders(5, len(r.Exclude)) + `)`
			for _, id := range r.Exclude {
				args = append(args, id)
			}
		}
		// The lease moves next_attempt_at to its end: claimed rows leave the
		// due range of the index at once, and come back by themselves when
		// a worker dies and its lease runs out.
		rows, err := tx.QueryContext(ctx, `UPDATE deliveries SET lease_owner = $1, lease_until = $2, next_attempt_at = $2
			WHERE id IN (SELECT id FROM deliveries WHERE status = 'pending' AND next_attempt_at <= $3`+exclude+`
				ORDER BY next_attempt_at LIMIT $4`+s.skipLocked()+`)
			RETURNING id, organization_id, endpoint_id, event_id, event_type, attempts, max_attempts`, args...)
		if err != nil {
			return fmt.Errorf("claim: %w", err)
		}
		var endpointIDs, eventIDs []string
		seenEP, seenEvt := map[string]bool{}, map[string]bool{}
		epOf := map[*Job]string{}
		for rows.Next() {
			j := &Job{Owner: r.Owner, LeaseUntil: lease}
			var epID string
			if err := rows.Scan(&j.DeliveryID, &j.OrganizationID, &epID, &j.EventID, &j.EventType, &j.Attempt, &j.MaxAttempts); err != nil {
				rows.Close()
				return err
			}
			j.Attempt++
			epOf[j] = epID
			if !seenEP[epID] {
				seenEP[epID] = true
				endpointIDs = append(endpointIDs, epID)
			}
			if !seenEvt[j.EventID] {
				seenEvt[j.EventID] = true
				eventIDs = append(eventIDs, j.EventID)
			}
			jobs = append(jobs, j)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(jobs) == 0 {
			return nil
		}
		endpoints, err := endpointsByID(ctx, tx, endpointIDs)
		if err != nil {
			return fmt.Errorf("claim endpoints: %w", err)
		}
		payloads, err := payloadsByID(ctx, tx, eventIDs)
		if err != nil {
			return fmt.Errorf("claim payloads: %w", err)
		}
		kept := jobs[:0]
		for _, j := range jobs {
			ep := endpoints[epOf[j]]
			if ep == nil || !ep.Enabled {
				reason := "endpoint disabled"
				if ep != nil && ep.DisabledReason != nil {
					reason = *ep.DisabledReason
				}
				if _, err := tx.ExecContext(ctx, `UPDATE deliveries SET status = 'failed', next_attempt_at = NULL, last_error = $1,
					lease_owner = '', lease_until = 0, updated_at = $2 WHERE id = $3`, reason, us(now), j.DeliveryID); err != nil {
					return err
				}
				continue
			}
			j.Endpoint = ep
			j.Payload = payloads[j.EventID]
			kept = append(kept, j)
		}
		jobs = kept
		return nil
	})
	if err != nil {
		return nil, err
	}
	return jobs, nil
}

func payloadsByID(ctx context.Context, q queryer, idList []string) (map[string][]byte, error) {
	args := make([]any, len(idList))
	for i, id := range idList {
		args[i] = id
	}
	rows, err := q.QueryContext(ctx, `SELECT id, payload FROM events WHERE id IN (`+placeholders(1, len(idList))+`)`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make(map[string][]byte, len(idList))
	for rows.Next() {
		var id, payload string
		if err := rows.Scan(&id, &payload); err != nil {
			return nil, err
		}
		out[id] = []byte(payload)
	}
	return out, rows.Err()
}

// NextDue returns when the earliest pending delivery is due (for a claimed
// one, when its lease ends), and false when none is pending.
func (s *Store) NextDue(ctx context.Context) (time.Time, bool, error) {
	var next int64
	err := s.rdb.QueryRowContext(ctx, `SELECT next_attempt_at FROM deliveries WHERE status = 'pending'
		ORDER BY next_attempt_at LIMIT 1`).Scan(&next)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, err
	}
	return fromUS(next), true, nil
}

// Result is the outcome of one attempt, to be recorded by Complete.
type Result struct {
	Job            *Job
	StartedAt      time.Time
	Duration       time.Duration
	StatusCode     int    // 0 when no response came
	Error          string // "" on success
	ResponseBody   string
	RequestURL     string
	RequestHeaders map[string]string
	Success        bool
	Gone           bool // the endpoint answered 410 Gone
	// NextAttemptAt is when to try again after a failure; zero means the
	// delivery has failed for good.
	NextAttemptAt time.Time
}

// Complete records the outcomes of attempts in one transaction (group
// commit): each attempt row, the delivery's new state and the endpoint's
// health. A delivery whose lease was lost meanwhile (another worker took it
// over) keeps the other worker's state; its attempt is still logged.
func (s *Store) Complete(ctx context.Context, results []*Result) error {
	if len(results) == 0 {
		return nil
	}
	return s.Tx(ctx, func(tx *Tx) error {
		now := s.Now()
		type health struct {
			success, failure      time.Time
			failsAfterSuccess     int
			firstFailAfterSuccess time.Time
			anySuccess            bool
		}
		byEndpoint := map[string]*health{}
		var order []string
		if err := recordAttempts(ctx, tx, results, now); err != nil {
			return err
		}
		for _, r := range results {
			epID := r.Job.Endpoint.ID
			h := byEndpoint[epID]
			if h == nil {
				h = &health{}
				byEndpoint[epID] = h
				order = append(order, epID)
			}
			end := r.StartedAt.Add(r.Duration)
			if r.Success {
				h.anySuccess, h.success = true, end
				h.failsAfterSuccess, h.firstFailAfterSuccess = 0, time.Time{}
			} else {
				h.failure = end
				if h.failsAfterSuccess == 0 {
					h.firstFailAfterSuccess = r.StartedAt
				}
				h.failsAfterSuccess++
			}
		}
		for _, r := range results {
			if r.Gone {
				if _, err := tx.disableEndpoint(ctx, r.Job.Endpoint.ID, "the endpoint answered 410 Gone"); err != nil {
					return err
				}
			}
		}
		// A fixed order keeps concurrent instances from deadlocking on
		// endpoint rows.
		sort.Strings(order)
		for _, epID := range order {
			h := byEndpoint[epID]
			var err error
			switch {
			case h.anySuccess && h.failure.IsZero():
				// All well: touch the row only when its health changes or its
				// last success is older than HealthResolution, so that busy
				// endpoints do not serialize every commit on their row.
				_, err = tx.ExecContext(ctx, `UPDATE endpoints SET last_success_at = $1, consecutive_failures = 0, failing_since = NULL
					WHERE id = $2 AND (consecutive_failures <> 0 OR last_success_at IS NULL OR last_success_at < $3)`,
					us(h.success), epID, us(h.success.Add(-HealthResolution)))
			case h.anySuccess:
				var failing any
				if h.failsAfterSuccess > 0 {
					failing = us(h.firstFailAfterSuccess)
				}
				_, err = tx.ExecContext(ctx, `UPDATE endpoints SET last_success_at = $1, consecutive_failures = $2, failing_since = $3,
					last_failure_at = $4 WHERE id = $5`,
					us(h.success), h.failsAfterSuccess, failing, us(h.failure), epID)
			default:
				_, err = tx.ExecContext(ctx, `UPDATE endpoints SET last_failure_at = $1, consecutive_failures = consecutive_failures + $2,
					failing_since = COALESCE(failing_since, $3) WHERE id = $4`,
					us(h.failure), h.failsAfterSuccess, us(h.firstFailAfterSuccess), epID)
			}
			if err != nil {
				return fmt.Errorf("endpoint health: %w", err)
			}
		}
		return nil
	})
}

// HealthResolution is how stale an endpoint's last_success_at may be while
// all its attempts succeed.
const HealthResolution = time.Second

func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return us(t)
}

const updateDeliverySQL = `UPDATE deliveries SET status = $1, attempts = $2, last_status_code = $3, last_error = $4,
	next_attempt_at = $5, lease_owner = '', lease_until = 0, updated_at = $6
	WHERE id = $7 AND lease_owner = $8 AND status = 'pending'`

const insertAttemptSQL = `INSERT INTO attempts (delivery_id, attempt, started_at, duration_ms, status_code, error,
	response_body, request_url, request_headers, worker) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
	ON CONFLICT (delivery_id, attempt) DO NOTHING`

// insertAttempts writes the attempt rows. SQLite runs a prepared single-row
// INSERT per row (parsing a large statement costs it more than the rows);
// PostgreSQL gets multi-row INSERTs, saving a round trip per row.
func insertAttempts(ctx context.Context, tx *Tx, results []*Result) error {
	row := func(r *Result) []any {
		headers, _ := json.Marshal(r.RequestHeaders)
		return []any{r.Job.DeliveryID, r.Job.Attempt, us(r.StartedAt), r.Duration.Milliseconds(),
			nullInt(r.StatusCode), nullText(r.Error), r.ResponseBody, r.RequestURL, string(headers), r.Job.Owner}
	}
	if tx.s.dialect != Postgres {
		for _, r := range results {
			if _, err := tx.exec(ctx, insertAttemptSQL, row(r)...); err != nil {
				return fmt.Errorf("record attempt: %w", err)
			}
		}
		return nil
	}
	const perInsert = 500 // 10 values a row, far below the parameter limit
	for start := 0; start < len(results); start += perInsert {
		chunk := results[start:min(start+perInsert, len(results))]
		var q strings.Builder
		q.WriteString(`INSERT INTO attempts (delivery_id, attempt, started_at, duration_ms, status_code, error,
			response_body, request_url, request_headers, worker) VALUES `)
		args := make([]any, 0, 10*len(chunk))
		for i, r := range chunk {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString("(" + placeholders(len(args)+1, 10) + ")")
			args = append(args, row(r)...)
		}
		q.WriteString(" ON CONFLICT (delivery_id, attempt) DO NOTHING")
		if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
			return fmt.Errorf("record attempts: %w", err)
		}
	}
	return nil
}

// recordAttempts writes the attempt rows, the
// successes' new state in one UPDATE per owner and status code, and each
// failure's own schedule with a prepared UPDATE.
func recordAttempts(ctx context.Context, tx *Tx, results []*Result, now time.Time) error {
	if err := insertAttempts(ctx, tx, results); err != nil {
		return err
	}
	type group struct {
		owner string
		code  int
	}
	successes := map[group][]any{}
	for _, r := range results {
		j := r.Job
		if r.Success {
			g := group{j.Owner, r.StatusCode}
			successes[g] = append(successes[g], j.DeliveryID)
			continue
		}
		status, next := hookbook.StatusFailed, any(nil)
		if !r.NextAttemptAt.IsZero() {
			status, next = hookbook.StatusPending, us(r.NextAttemptAt)
			if !r.NextAttemptAt.After(now) {
				tx.notify = true
			}
		}
		if _, err := tx.exec(ctx, updateDeliverySQL,
			status, j.Attempt, nullInt(r.StatusCode), nullText(r.Error), next, us(now), j.DeliveryID, j.Owner); err != nil {
			return fmt.Errorf("update delivery: %w", err)
		}
	}
	for g, idList := range successes {
		args := append([]any{g.code, us(now), g.owner}, idList...)
		if _, err := tx.ExecContext(ctx, `UPDATE deliveries SET status = 'succeeded', attempts = attempts + 1,
			last_status_code = $1, last_error = NULL, next_attempt_at = NULL, lease_owner = '', lease_until = 0, updated_at = $2
			WHERE lease_owner = $3 AND status = 'pending' AND id IN (`+placeholders(4, len(idList))+`)`, args...); err != nil {
			return fmt.Errorf("update deliveries: %w", err)
		}
	}
	return nil
}

func nullInt(v int) any {
	if v == 0 {
		return nil
	}
	return v
}

func nullText(v string) any {
	if v == "" {
		return nil
	}
	return v
}

// Release gives claimed deliveries back to the queue unattempted, due at once.
func (s *Store) Release(ctx context.Context, jobs []*Job) error {
	return s.Tx(ctx, func(tx *Tx) error {
		for _, j := range jobs {
			if _, err := tx.ExecContext(ctx, `UPDATE deliveries SET lease_owner = '', lease_until = 0, next_attempt_at = $3
				WHERE id = $1 AND lease_owner = $2 AND status = 'pending'`, j.DeliveryID, j.Owner, us(s.Now())); err != nil {
				return err
			}
		}
		return nil
	})
}

// ReleaseAllLeases gives every claimed delivery back to the queue. A
// single-instance SQLite hub calls it at start: no other process can hold a
// lease, so deliveries claimed by a process that died resume at once.
func (s *Store) ReleaseAllLeases(ctx context.Context) error {
	_, err := s.db.ExecContext(ctx, `UPDATE deliveries SET lease_owner = '', lease_until = 0, next_attempt_at = $1
		WHERE status = 'pending' AND lease_until > 0`, us(s.Now()))
	return err
}
