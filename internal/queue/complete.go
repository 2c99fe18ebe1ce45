package queue

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/db"
)

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
	Gone            bool   // the destination is gone for good (HTTP: it answered 410 Gone)
	ErrorKind       string // "" on success, else timeout, connection_refused, dns, tls, blocked, network, http_status, redirect, transformation_error, oauth_token, proxy or other
	// NextAttemptAt is when to try again after a failure; zero means the
	// delivery has failed for good.
	NextAttemptAt time.Time
}

// Complete records the outcomes of attempts in one transaction (group
// commit): each attempt row and the delivery's new state, endpoints that
// are gone, and the endpoints' health. A delivery whose lease was lost
// meanwhile (another worker took it over) keeps the other worker's state;
// its attempt is still logged.
func (q *Queue) Complete(ctx context.Context, results []*Result) error {
	if len(results) == 0 {
		return nil
	}
	jobs := make([]*Job, len(results))
	for i, r := range results {
		jobs[i] = r.Job
	}
	err := q.DB.BackgroundTx(ctx, func(tx *db.Tx) error {
		// The holds go before the writer does, and before the wake-ups
		// of retries due now (hold.go).
		tx.OnCommitLocked(func() { q.unhold(jobs) })
		now := q.DB.Now()
		if err := q.recordAttempts(ctx, tx, results, now); err != nil {
			return err
		}
		if err := q.disableGone(ctx, tx, results); err != nil {
			return err
		}
		if q.Outcomes != nil {
			if err := q.Outcomes(ctx, tx, results); err != nil {
				return err
			}
		}
		return recordHealth(ctx, tx, results)
	})
	if err != nil {
		q.unholdLater(jobs)
		return fmt.Errorf("record outcomes: %w", err)
	}
	return nil
}

// disableGone disables the endpoints that answered they are gone.
func (q *Queue) disableGone(ctx context.Context, tx *db.Tx, results []*Result) error {
	for _, r := range results {
		if r.Gone {
			if q.Endpoints == nil {
				return fmt.Errorf("endpoint %s is gone: the queue has no Endpoints", r.Job.Endpoint.ID)
			}
			if err := q.Endpoints.EndpointGone(ctx, tx, r.Job.Endpoint.ID, "the endpoint answered 410 Gone"); err != nil {
				return err
			}
		}
	}
	return nil
}

// HealthResolution is how stale an endpoint's last_success_at may be while
// all its attempts succeed.
const HealthResolution = time.Second

// recordHealth updates each endpoint's last success, last failure and
// failure streak from a batch of outcomes.
func recordHealth(ctx context.Context, tx *db.Tx, results []*Result) error {
	type health struct {
		success, failure      time.Time
		failsAfterSuccess     int
		firstFailAfterSuccess time.Time
		anySuccess            bool
	}
	byEndpoint := map[string]*health{}
	var order []string
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
}

// updateDeliverySQL records an outcome on a delivery still as its claim
// left it (stillClaimed on $8 follows).
const updateDeliverySQL = `UPDATE deliveries SET status = $1, attempts = $2, last_status_code = $3, last_error = $4,
	next_attempt_at = $5, lease_owner = '', lease_until = 0, updated_at = $6
	WHERE id = $7 AND status = 'pending' AND `

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

// recordAttempts writes the attempt rows, the successes' new state in one
// UPDATE per owner and status code, each failure's own schedule with a
// prepared UPDATE, and lets the next delivery of each finished ordering
// key go.
func (q *Queue) recordAttempts(ctx context.Context, tx *db.Tx, results []*Result, now time.Time) error {
	if err := insertAttempts(ctx, tx, results); err != nil {
		return err
	}
	stale, err := staleHeld(ctx, tx, results)
	if err != nil {
		return err
	}
	type group struct {
		owner string
		held  bool // held in memory: checked by staleHeld in this transaction
		code  int
	}
	successes := map[group][]any{}
	for _, r := range results {
		j := r.Job
		if stale[j] {
			continue // logged; the row has moved on since the claim (hold.go)
		}
		if r.Success {
			g := group{owner: j.Owner, code: r.StatusCode}
			if j.hold != 0 {
				g = group{held: true, code: r.StatusCode}
			}
			successes[g] = append(successes[g], j.DeliveryID)
			continue
		}
		status, next := hookbook.StatusFailed, any(nil)
		if !r.NextAttemptAt.IsZero() {
			status, next = hookbook.StatusPending, db.Micros(r.NextAttemptAt)
			if !r.NextAttemptAt.After(now) {
				if err := q.DueTx(ctx, tx); err != nil {
					return err
				}
			}
		}
		claimed, lease := stillClaimed(j, "$8")
		if _, err := tx.ExecContext(ctx, updateDeliverySQL+claimed,
			status, j.Attempt, db.NullInt(r.StatusCode), db.NullText(r.Error), next, db.Micros(now), j.DeliveryID, lease); err != nil {
			return fmt.Errorf("update delivery: %w", err)
		}
	}
	for g, idList := range successes {
		lease := `lease_owner = $3`
		if g.held {
			lease = `$3 = ''` // checked by staleHeld above
		}
		args := append([]any{g.code, db.Micros(now), g.owner}, idList...)
		if _, err := tx.ExecContext(ctx, `UPDATE deliveries SET status = 'succeeded', attempts = attempts + 1,
			last_status_code = $1, last_error = NULL, next_attempt_at = NULL, lease_owner = '', lease_until = 0, updated_at = $2
			WHERE `+lease+` AND status = 'pending' AND id IN (`+db.Placeholders(4, len(idList))+`)`, args...); err != nil {
			return fmt.Errorf("update deliveries: %w", err)
		}
	}
	return q.unparkFinished(ctx, tx, results, now)
}

// unparkFinished lets the next delivery of each ordered endpoint's key go
// once the one in front succeeded or failed for good; one statement for
// the whole batch.
func (q *Queue) unparkFinished(ctx context.Context, tx *db.Tx, results []*Result, now time.Time) error {
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
		return q.UnparkTx(ctx, tx, eps, keys, now)
	}
	return nil
}
