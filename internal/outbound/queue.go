package outbound

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/hookbook/hookbook/internal/db"

	"github.com/hookbook/hookbook"
)

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
}

// Claim leases up to r.Limit pending deliveries whose time has come, oldest
// due first. Two claimers never get the same delivery while its lease lasts;
// a delivery whose lease ran out (its worker died) is claimed again.
// Deliveries of endpoints that were disabled or deleted meanwhile are marked
// failed instead of returned.
func (s *Service) Claim(ctx context.Context, r ClaimRequest) ([]*Job, error) {
	var jobs []*Job
	err := s.DB.BackgroundTx(ctx, func(tx *db.Tx) error {
		now := s.DB.Now()
		lease := now.Add(r.Lease)
		args := []any{r.Owner, db.Micros(lease), db.Micros(now), r.Limit}
		exclude := ""
		if len(r.Exclude) > 0 {
			exclude = ` AND endpoint_id NOT IN (` + db.Placeholders(5, len(r.Exclude)) + `)`
			for _, id := range r.Exclude {
				args = append(args, id)
			}
		}
		// The lease moves next_attempt_at to its end: claimed rows leave the
		// due range of the index at once, and come back by themselves when
		// a worker dies and its lease runs out.
		rows, err := tx.QueryContext(ctx, `UPDATE deliveries SET lease_owner = $1, lease_until = $2, next_attempt_at = $2
			WHERE id IN (SELECT id FROM deliveries WHERE status = 'pending' AND next_attempt_at <= $3`+exclude+`
				ORDER BY next_attempt_at LIMIT $4`+tx.SkipLocked()+`)
			RETURNING id, organization_id, endpoint_id, event_id, event_type, attempts, max_attempts, ordering_key`, args...)
		if err != nil {
			return fmt.Errorf("claim: %w", err)
		}
		var endpointIDs, eventIDs []string
		seenEP, seenEvt := map[string]bool{}, map[string]bool{}
		epOf := map[*Job]string{}
		for rows.Next() {
			j := &Job{Owner: r.Owner, LeaseUntil: lease}
			var epID string
			if err := rows.Scan(&j.DeliveryID, &j.OrganizationID, &epID, &j.EventID, &j.EventType, &j.Attempt, &j.MaxAttempts, &j.OrderingKey); err != nil {
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
					lease_owner = '', lease_until = 0, updated_at = $2 WHERE id = $3`, reason, db.Micros(now), j.DeliveryID); err != nil {
					return err
				}
				if ep != nil && ep.Ordered && j.OrderingKey != "" {
					if err := s.unpark(ctx, tx, []string{ep.ID}, []string{j.OrderingKey}, now); err != nil {
						return err
					}
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
		return nil, fmt.Errorf("claim deliveries: %w", err)
	}
	return jobs, nil
}

func payloadsByID(ctx context.Context, q db.Queryer, idList []string) (map[string][]byte, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, payload FROM events WHERE id IN (`+db.Placeholders(1, len(idList))+`)`, db.Args(idList)...)
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
func (s *Service) NextDue(ctx context.Context) (time.Time, bool, error) {
	var next int64
	err := s.DB.QueryRowContext(ctx, `SELECT next_attempt_at FROM deliveries WHERE status = 'pending' AND next_attempt_at IS NOT NULL
		ORDER BY next_attempt_at LIMIT 1`).Scan(&next)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, err
	}
	return db.Time(next), true, nil
}

// Result is the outcome of one attempt, to be recorded by Complete.
type Result struct {
	Job             *Job
	StartedAt       time.Time
	Duration        time.Duration
	StatusCode      int    // 0 when no response came
	Error           string // "" on success
	ResponseBody    string
	ResponseHeaders map[string]string
	RequestURL      string
	RequestHeaders  map[string]string
	Success         bool
	Gone            bool   // the endpoint answered 410 Gone
	ErrorKind       string // "" on success, else timeout, connection_refused, dns, tls, blocked, network, http_status, redirect or other
	// NextAttemptAt is when to try again after a failure; zero means the
	// delivery has failed for good.
	NextAttemptAt time.Time
}

// Complete records the outcomes of attempts in one transaction (group
// commit): each attempt row, the delivery's new state and the endpoint's
// health. A delivery whose lease was lost meanwhile (another worker took it
// over) keeps the other worker's state; its attempt is still logged.
func (s *Service) Complete(ctx context.Context, results []*Result) error {
	if len(results) == 0 {
		return nil
	}
	err := s.DB.BackgroundTx(ctx, func(tx *db.Tx) error {
		now := s.DB.Now()
		type health struct {
			success, failure      time.Time
			failsAfterSuccess     int
			firstFailAfterSuccess time.Time
			anySuccess            bool
		}
		byEndpoint := map[string]*health{}
		var order []string
		if err := s.recordAttempts(ctx, tx, results, now); err != nil {
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
				if _, err := s.disableEndpoint(ctx, tx, r.Job.Endpoint.ID, "the endpoint answered 410 Gone"); err != nil {
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
					db.Micros(h.success), epID, db.Micros(h.success.Add(-HealthResolution)))
			case h.anySuccess:
				var failing any
				if h.failsAfterSuccess > 0 {
					failing = db.Micros(h.firstFailAfterSuccess)
				}
				_, err = tx.ExecContext(ctx, `UPDATE endpoints SET last_success_at = $1, consecutive_failures = $2, failing_since = $3,
					last_failure_at = $4 WHERE id = $5`,
					db.Micros(h.success), h.failsAfterSuccess, failing, db.Micros(h.failure), epID)
			default:
				_, err = tx.ExecContext(ctx, `UPDATE endpoints SET last_failure_at = $1, consecutive_failures = consecutive_failures + $2,
					failing_since = COALESCE(failing_since, $3) WHERE id = $4`,
					db.Micros(h.failure), h.failsAfterSuccess, db.Micros(h.firstFailAfterSuccess), epID)
			}
			if err != nil {
				return fmt.Errorf("endpoint health: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("record outcomes: %w", err)
	}
	return nil
}

// HealthResolution is how stale an endpoint's last_success_at may be while
// all its attempts succeed.
const HealthResolution = time.Second

const updateDeliverySQL = `UPDATE deliveries SET status = $1, attempts = $2, last_status_code = $3, last_error = $4,
	next_attempt_at = $5, lease_owner = '', lease_until = 0, updated_at = $6
	WHERE id = $7 AND lease_owner = $8 AND status = 'pending'`

// attemptColumns are the columns of an attempt row, in the order of attemptRow.
var attemptColumns = []string{"delivery_id", "attempt", "started_at", "duration_ms", "status_code", "error",
	"response_body", "request_url", "request_headers", "worker", "response_headers"}

const attemptConflict = "ON CONFLICT (delivery_id, attempt) DO NOTHING"

func attemptRow(r *Result) []any {
	return []any{r.Job.DeliveryID, r.Job.Attempt, db.Micros(r.StartedAt), r.Duration.Milliseconds(),
		db.NullInt(r.StatusCode), db.NullText(r.Error), r.ResponseBody, r.RequestURL, headersJSON(r.RequestHeaders), r.Job.Owner,
		headersJSON(r.ResponseHeaders)}
}

// headersJSON is json.Marshal(h), byte for byte, without reflection for
// the common case of names and values that need no escaping: every
// attempt stores two such maps, and encoding/json cost more than the
// attempt row's insert.
func headersJSON(h map[string]string) string {
	if len(h) == 0 {
		return "{}"
	}
	keys := make([]string, 0, len(h))
	size := 2
	for k, v := range h {
		if !plainJSON(k) || !plainJSON(v) {
			b, _ := json.Marshal(h)
			return string(b)
		}
		keys = append(keys, k)
		size += len(k) + len(v) + 6
	}
	sort.Strings(keys)
	var b strings.Builder
	b.Grow(size)
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('"')
		b.WriteString(k)
		b.WriteString(`":"`)
		b.WriteString(h[k])
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return b.String()
}

// plainJSON reports whether encoding/json writes s as it is between quotes:
// printable ASCII other than the characters it escapes (" \ < > &).
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// insertAttempts writes the attempt rows of results.
func insertAttempts(ctx context.Context, tx *db.Tx, results []*Result) error {
	rows := make([][]any, len(results))
	for i, r := range results {
		rows[i] = attemptRow(r)
	}
	if err := tx.InsertRows(ctx, "attempts", attemptColumns, attemptConflict, rows); err != nil {
		return fmt.Errorf("record attempts: %w", err)
	}
	return nil
}

// recordAttempts writes the attempt rows, the
// successes' new state in one UPDATE per owner and status code, and each
// failure's own schedule with a prepared UPDATE.
func (s *Service) recordAttempts(ctx context.Context, tx *db.Tx, results []*Result, now time.Time) error {
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
			status, next = hookbook.StatusPending, db.Micros(r.NextAttemptAt)
			if !r.NextAttemptAt.After(now) {
				if err := s.due(ctx, tx); err != nil {
					return err
				}
			}
		}
		if _, err := tx.ExecContext(ctx, updateDeliverySQL,
			status, j.Attempt, db.NullInt(r.StatusCode), db.NullText(r.Error), next, db.Micros(now), j.DeliveryID, j.Owner); err != nil {
			return fmt.Errorf("update delivery: %w", err)
		}
	}
	for g, idList := range successes {
		args := append([]any{g.code, db.Micros(now), g.owner}, idList...)
		if _, err := tx.ExecContext(ctx, `UPDATE deliveries SET status = 'succeeded', attempts = attempts + 1,
			last_status_code = $1, last_error = NULL, next_attempt_at = NULL, lease_owner = '', lease_until = 0, updated_at = $2
			WHERE lease_owner = $3 AND status = 'pending' AND id IN (`+db.Placeholders(4, len(idList))+`)`, args...); err != nil {
			return fmt.Errorf("update deliveries: %w", err)
		}
	}
	// Ordered endpoints: a key's next delivery goes once this one is done;
	// one statement for the whole batch.
	var eps, keys []string
	seenEP, seenKey := map[string]bool{}, map[string]bool{}
	for _, r := range results {
		j := r.Job
		finished := r.Success || r.NextAttemptAt.IsZero()
		if !finished || j.OrderingKey == "" || j.Endpoint == nil || !j.Endpoint.Ordered {
			continue
		}
		if !seenEP[j.Endpoint.ID] {
			seenEP[j.Endpoint.ID] = true
			eps = append(eps, j.Endpoint.ID)
		}
		if !seenKey[j.OrderingKey] {
			seenKey[j.OrderingKey] = true
			keys = append(keys, j.OrderingKey)
		}
	}
	if len(eps) > 0 {
		return s.unpark(ctx, tx, eps, keys, now)
	}
	return nil
}

// Release gives claimed deliveries back to the queue unattempted, due at once.
func (s *Service) Release(ctx context.Context, jobs []*Job) error {
	err := s.DB.BackgroundTx(ctx, func(tx *db.Tx) error {
		for _, j := range jobs {
			if _, err := tx.ExecContext(ctx, `UPDATE deliveries SET lease_owner = '', lease_until = 0, next_attempt_at = $3
				WHERE id = $1 AND lease_owner = $2 AND status = 'pending'`, j.DeliveryID, j.Owner, db.Micros(s.DB.Now())); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("release deliveries: %w", err)
	}
	return nil
}

// ReleaseAllLeases gives every claimed delivery back to the queue. A
// single-instance SQLite hub calls it at start: no other process can hold a
// lease, so deliveries claimed by a process that died resume at once.
func (s *Service) ReleaseAllLeases(ctx context.Context) error {
	_, err := s.DB.ExecContext(ctx, `UPDATE deliveries SET lease_owner = '', lease_until = 0, next_attempt_at = $1
		WHERE status = 'pending' AND lease_until > 0`, db.Micros(s.DB.Now()))
	return err
}

// Postpone gives claimed jobs back and moves them and every due pending
// delivery of an endpoint to until, without spending an attempt: its
// circuit is open or it stalls.
func (s *Service) Postpone(ctx context.Context, endpointID string, jobs []*Job, until time.Time) error {
	err := s.DB.BackgroundTx(ctx, func(tx *db.Tx) error {
		for _, j := range jobs {
			if _, err := tx.ExecContext(ctx, `UPDATE deliveries SET lease_owner = '', lease_until = 0, next_attempt_at = $3
				WHERE id = $1 AND lease_owner = $2 AND status = 'pending'`, j.DeliveryID, j.Owner, db.Micros(until)); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, `UPDATE deliveries SET next_attempt_at = $1
			WHERE endpoint_id = $2 AND status = 'pending' AND next_attempt_at < $1 AND lease_until <= $3`,
			db.Micros(until), endpointID, db.Micros(s.DB.Now()))
		return err
	})
	if err != nil {
		return fmt.Errorf("postpone deliveries: %w", err)
	}
	return nil
}

// QueueStats describes the delivery queue.
type QueueStats struct {
	Pending          int
	Due              int
	OldestDueAge     time.Duration
	OldestPendingAge time.Duration // since the oldest pending delivery was created
	OpenEndpoints    int
}

// Queue returns the queue's depth: pending deliveries, those due now, and
// the age of the oldest due one.
func (s *Service) Queue(ctx context.Context) (QueueStats, error) {
	now := s.DB.Now()
	var st QueueStats
	var oldest sql.NullInt64
	var created sql.NullInt64
	err := s.DB.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(SUM(CASE WHEN next_attempt_at <= $1 THEN 1 ELSE 0 END), 0),
		MIN(next_attempt_at), MIN(created_at) FROM deliveries WHERE status = 'pending'`, db.Micros(now)).Scan(&st.Pending, &st.Due, &oldest, &created)
	if err != nil {
		return st, err
	}
	if created.Valid {
		st.OldestPendingAge = max(now.Sub(db.Time(created.Int64)), 0)
	}
	if oldest.Valid && oldest.Int64 <= db.Micros(now) {
		st.OldestDueAge = now.Sub(db.Time(oldest.Int64))
	}
	return st, nil
}

// OrganizationQueue is one organization's share of the queue.
type OrganizationQueue struct {
	OrganizationID   string
	Pending          int
	OldestPendingAge time.Duration
}

// QueueByOrganization returns the limit organizations with the most pending
// deliveries, most first: enough to see who is behind without a series per
// organization.
func (s *Service) QueueByOrganization(ctx context.Context, limit int) ([]OrganizationQueue, error) {
	now := s.DB.Now()
	rows, err := s.DB.QueryContext(ctx, `SELECT organization_id, COUNT(*), MIN(created_at) FROM deliveries
		WHERE status = 'pending' GROUP BY organization_id ORDER BY COUNT(*) DESC, organization_id LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("queue by organization: %w", err)
	}
	defer rows.Close()
	var out []OrganizationQueue
	for rows.Next() {
		var q OrganizationQueue
		var created int64
		if err := rows.Scan(&q.OrganizationID, &q.Pending, &created); err != nil {
			return nil, err
		}
		q.OldestPendingAge = max(now.Sub(db.Time(created)), 0)
		out = append(out, q)
	}
	return out, rows.Err()
}
