package outbound

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/db"
	"github.com/hookbook/hookbook/internal/event"
	"github.com/hookbook/hookbook/internal/ids"
)

// Bulk replay. A replay queues one more attempt of each of an endpoint's
// finished deliveries created in [since, until) that match a status and an
// event filter, as Redeliver does for one: same delivery, same event id (so
// receivers that dedupe on it see a repeat), one more attempt now.
// Deliveries still pending are left alone. A replay is a stored job: it is
// counted when it starts (at most MaxReplay deliveries) and carried on in
// batches by RunReplays, on whichever instance runs it, from a stored
// cursor, so that a restart resumes it.

// Replay bounds.
const (
	// MaxReplay is the most deliveries one replay queues; a replay of a
	// wider range queues the oldest MaxReplay and says it was capped.
	MaxReplay = 10000
	// ReplayBatch is how many deliveries one step of a replay queues, in
	// one transaction.
	ReplayBatch = 500
	// MaxRunningReplays is how many replays of one organization may run
	// at a time (one per endpoint).
	MaxRunningReplays = 10
)

// Replay statuses.
const (
	ReplayRunning = "running"
	ReplayDone    = "done"
	ReplayFailed  = "failed"
)

// Which finished deliveries a replay takes.
const (
	ReplayFailedOnly    = "failed"
	ReplaySucceededOnly = "succeeded"
	ReplaySkippedOnly   = "skipped" // published while the endpoint was disabled
	ReplayAny           = "any"     // failed, succeeded and skipped
)

// ReplayInput is a replay request as clients send it; nil means not given.
type ReplayInput struct {
	Since  *string `json:"since"`
	Until  *string `json:"until"`
	Status *string `json:"status"`
	Event  *string `json:"event"`
	DryRun bool    `json:"dry_run"`
}

// ReplayFilter is a validated replay request: deliveries created in
// [Since, Until) with status Status ("failed", "succeeded" or "any") and an
// event type Event matches ("" for any: an exact name or a wildcard).
// UntilGiven says the client gave Until (a time before now); otherwise
// Until is now, and a replay started from it runs until its own start.
type ReplayFilter struct {
	Since, Until time.Time
	Status       string
	Event        string
	UntilGiven   bool
}

// ErrNothingToReplay is StartReplay's answer when no delivery matches: it
// starts nothing.
var ErrNothingToReplay = errors.New("nothing to replay")

// ParseReplay validates a replay request at now: since is required (RFC
// 3339) except for skipped deliveries (SkippedSince: all of them), until is
// optional (RFC 3339, after since; now when not given or later), status is
// failed (the default), succeeded, skipped or any, event an event type name
// or a wildcard. Problems are a 422 naming each field.
func ParseReplay(in ReplayInput, now time.Time) (ReplayFilter, error) {
	f := hookbook.Fields{}
	out := ReplayFilter{Until: now, Status: ReplayFailedOnly}
	skipped := in.Status != nil && *in.Status == ReplaySkippedOnly
	if (in.Since == nil || *in.Since == "") && skipped {
		out.Since = SkippedSince // every skipped delivery still kept
	} else if in.Since == nil || *in.Since == "" {
		f.Add("since", "is required (RFC 3339, e.g. 2026-03-24T14:30:00Z)")
	} else if t, err := time.Parse(time.RFC3339, *in.Since); err != nil {
		f.Add("since", "must be an RFC 3339 time such as 2026-03-24T14:30:00Z")
	} else {
		out.Since = t.Truncate(time.Microsecond)
	}
	if in.Until != nil && *in.Until != "" {
		t, err := time.Parse(time.RFC3339, *in.Until)
		switch {
		case err != nil:
			f.Add("until", "must be an RFC 3339 time such as 2026-03-24T18:00:00Z")
		case !out.Since.IsZero() && !t.After(out.Since):
			f.Add("until", "must be after since")
		case t.Before(now):
			out.Until, out.UntilGiven = t.Truncate(time.Microsecond), true
		}
	}
	if in.Status != nil && *in.Status != "" {
		switch *in.Status {
		case ReplayFailedOnly, ReplaySucceededOnly, ReplaySkippedOnly, ReplayAny:
			out.Status = *in.Status
		case hookbook.StatusPending:
			f.Add("status", "pending deliveries are queued already; choose failed, succeeded, skipped or any")
		default:
			f.Add("status", "must be failed, succeeded, skipped or any")
		}
	}
	if in.Event != nil && *in.Event != "" && *in.Event != "*" {
		if !event.ValidPattern(*in.Event) {
			f.Add("event", `must be an event type name, a wildcard such as "booking.*", or "*"`)
		} else {
			out.Event = *in.Event
		}
	}
	if err := f.Err(); err != nil {
		return ReplayFilter{}, err
	}
	return out, nil
}

// SkippedSince is the since of a replay of skipped deliveries given
// without one: the start of 2000, before any delivery hookbook keeps.
var SkippedSince = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// ReplayJob is a replay as the API shows it.
type ReplayJob struct {
	ID         string     `json:"id"`
	EndpointID string     `json:"endpoint_id"`
	Status     string     `json:"status"`
	Since      time.Time  `json:"since"`
	Until      time.Time  `json:"until"`
	Filter     string     `json:"delivery_status"`
	Event      string     `json:"event"`
	Total      int        `json:"total"`
	Capped     bool       `json:"capped"`
	Queued     int        `json:"queued"`
	Error      *string    `json:"error"`
	CreatedAt  time.Time  `json:"created_at"`
	FinishedAt *time.Time `json:"finished_at"`
	// Running is true on the answer to a start that found the same
	// replay already running (and started nothing).
	Running bool `json:"-"`
}

// ReplayCount is what a replay would queue: Count deliveries, at most
// Limit (Capped when more match).
type ReplayCount struct {
	Count  int  `json:"count"`
	Capped bool `json:"capped"`
	Limit  int  `json:"limit"`
}

// replayWhere selects an endpoint's finished deliveries a replay takes:
// $1 endpoint, $2/$3 created_at range, $4/$5 the same as an id range (for
// the index), $6 status filter, $7/$8 exact event and prefix, $9 cursor.
const replayWhere = `endpoint_id = $1 AND created_at >= $2 AND created_at < $3 AND id >= $4 AND id <= $5
	AND status <> 'pending' AND ($6 = 'any' OR status = $6)
	AND ($7 = '' OR event_type = $7) AND ($8 = '' OR substr(event_type, 1, length($8)) = $8) AND id > $9`

func replayArgs(endpointID string, f ReplayFilter, after string) []any {
	exact, prefix := eventParams(f.Event)
	// A ULID holds milliseconds: the id range is a little wider than the
	// created_at one, which decides.
	hi := ids.Before("dlv", f.Until.Add(time.Millisecond))
	return []any{endpointID, db.Micros(f.Since), db.Micros(f.Until), ids.Before("dlv", f.Since), hi,
		f.Status, exact, prefix, after}
}

// checkReplayable loads an endpoint for a replay inside tx: not found for
// an unknown one, a conflict for a disabled or deleted one. It returns
// whether the endpoint is ordered.
func checkReplayable(ctx context.Context, q db.Queryer, orgID, endpointID string) (bool, error) {
	var enabled, ordered bool
	var deleted sql.NullInt64
	err := q.QueryRowContext(ctx, `SELECT enabled, ordered, deleted_at FROM endpoints WHERE id = $1 AND organization_id = $2`,
		endpointID, orgID).Scan(&enabled, &ordered, &deleted)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return false, hookbook.NotFound("endpoint")
	case err != nil:
		return false, err
	case deleted.Valid:
		return false, hookbook.Errorf(hookbook.EConflict, "endpoint_deleted", "the endpoint was deleted")
	case !enabled:
		return false, hookbook.Errorf(hookbook.EConflict, "endpoint_disabled", "the endpoint is disabled; enable it first")
	}
	return ordered, nil
}

// countReplay counts what a replay of f would queue, reading at most
// MaxReplay+1 rows.
func countReplay(ctx context.Context, q db.Queryer, endpointID string, f ReplayFilter, limit int) (ReplayCount, error) {
	var n int
	err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM deliveries WHERE `+replayWhere+` LIMIT $10) m`,
		append(replayArgs(endpointID, f, ""), limit+1)...).Scan(&n)
	if err != nil {
		return ReplayCount{}, fmt.Errorf("count replay: %w", err)
	}
	return ReplayCount{Count: min(n, limit), Capped: n > limit, Limit: limit}, nil
}

// replayBatch is how many deliveries one step of a replay queues.
func (s *Service) replayBatch() int {
	if s.testReplayBatch > 0 {
		return s.testReplayBatch
	}
	return ReplayBatch
}

// ReplayMax is the most deliveries one replay of s queues: ReplayLimit,
// else MaxReplay.
func (s *Service) ReplayMax() int {
	if s.ReplayLimit > 0 {
		return s.ReplayLimit
	}
	return MaxReplay
}

// CountReplay returns how many deliveries a replay of an endpoint would
// queue now (a dry run).
func (s *Service) CountReplay(ctx context.Context, orgID, endpointID string, f ReplayFilter) (*ReplayCount, error) {
	if _, err := checkReplayable(ctx, s.DB, orgID, endpointID); err != nil {
		return nil, err
	}
	c, err := countReplay(ctx, s.DB, endpointID, f, s.ReplayMax())
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// StartReplay starts a replay of an endpoint's deliveries and returns it;
// RunReplays carries it on. While a replay of the endpoint runs, a request
// with the same filter (as the client gave it: an until not given matches
// a replay started without one) returns it (Running set) and any other is
// a conflict naming it. When no delivery matches it starts nothing and
// returns ErrNothingToReplay.
func (s *Service) StartReplay(ctx context.Context, orgID, endpointID string, f ReplayFilter) (*ReplayJob, error) {
	var id string
	var running bool
	err := s.DB.Tx(ctx, func(tx *db.Tx) error {
		if _, err := checkReplayable(ctx, tx, orgID, endpointID); err != nil {
			return err
		}
		var err error
		if id, err = runningReplay(ctx, tx, endpointID, f); err != nil || id != "" {
			running = id != ""
			return err
		}
		now := s.DB.Now().Truncate(time.Microsecond)
		if !f.UntilGiven {
			f.Until = now
		}
		if err := checkRunning(ctx, tx, orgID); err != nil {
			return err
		}
		c, err := countReplay(ctx, tx, endpointID, f, s.ReplayMax())
		if err != nil {
			return err
		}
		if c.Count == 0 {
			return ErrNothingToReplay
		}
		id, err = s.insertReplay(ctx, tx, orgID, endpointID, f, c, now)
		return err
	})
	if err != nil {
		return nil, err
	}
	r, err := s.Replay(ctx, orgID, id)
	if err != nil {
		return nil, err
	}
	r.Running = running
	return r, nil
}

// runningReplay returns the id of the endpoint's running replay when it
// has filter f, "" when none runs, and a conflict naming it when it has
// another filter. It holds the endpoint's replay lock for the rest of tx.
func runningReplay(ctx context.Context, tx *db.Tx, endpointID string, f ReplayFilter) (string, error) {
	if err := tx.Lock(ctx, "hookbook-replay:"+endpointID); err != nil {
		return "", err
	}
	cur, err := scanReplay(tx.QueryRowContext(ctx, `SELECT `+replayColumns+` FROM replays WHERE endpoint_id = $1 AND status = 'running'`, endpointID))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("running replay: %w", err)
	case sameReplay(cur, f):
		return cur.ID, nil
	}
	return "", &hookbook.Error{Kind: hookbook.EConflict, Code: "replay_running",
		Message: fmt.Sprintf("replay %s of this endpoint is still running; wait for it to finish", cur.ID),
		Details: map[string]string{"replay_id": cur.ID}}
}

// insertReplay stores a running replay of f that takes c, created at
// (the time an until not given stands for); once tx commits it logs the
// start and wakes the replay job.
func (s *Service) insertReplay(ctx context.Context, tx *db.Tx, orgID, endpointID string, f ReplayFilter, c ReplayCount, at time.Time) (string, error) {
	id := ids.New("rpl")
	now := db.Micros(at)
	_, err := tx.ExecContext(ctx, `INSERT INTO replays (id, organization_id, endpoint_id, status, since_at, until_at, filter_status,
		event, total, capped, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)`,
		id, orgID, endpointID, ReplayRunning, db.Micros(f.Since), db.Micros(f.Until), f.Status, f.Event, c.Count, c.Capped, now)
	if err != nil {
		return "", fmt.Errorf("store replay: %w", err)
	}
	tx.OnCommit(func() {
		s.log().Info("replay started", "replay_id", id, "organization_id", orgID, "endpoint_id", endpointID,
			"since", f.Since, "until", f.Until, "delivery_status", f.Status, "event", f.Event, "total", c.Count, "capped", c.Capped)
		if s.ReplayStarted != nil {
			s.ReplayStarted()
		}
	})
	return id, nil
}

// checkRunning refuses a replay while an organization runs
// MaxRunningReplays already.
func checkRunning(ctx context.Context, tx *db.Tx, orgID string) error {
	if err := tx.Lock(ctx, "hookbook-replays:"+orgID); err != nil {
		return err
	}
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM replays WHERE organization_id = $1 AND status = 'running'`, orgID).Scan(&n); err != nil {
		return fmt.Errorf("count running replays: %w", err)
	}
	if n >= MaxRunningReplays {
		return hookbook.Errorf(hookbook.EConflict, "replay_limit",
			"an organization runs at most %d replays at a time; wait for one to finish", MaxRunningReplays)
	}
	return nil
}

// sameReplay reports whether a running replay was started with filter f
// as the client gave it: the same since, status and event, and the same
// until when one is given, else none (a replay started without one runs
// until its start, so its until is its creation time).
func sameReplay(r *ReplayJob, f ReplayFilter) bool {
	if !r.Since.Equal(f.Since) || r.Filter != f.Status || r.Event != f.Event {
		return false
	}
	if f.UntilGiven {
		return r.Until.Equal(f.Until)
	}
	return r.Until.Equal(r.CreatedAt)
}

const replayColumns = `id, endpoint_id, status, since_at, until_at, filter_status, event, total, capped, queued, error, created_at, finished_at`

func scanReplay(row interface{ Scan(...any) error }) (*ReplayJob, error) {
	var r ReplayJob
	var since, until, created int64
	var finished sql.NullInt64
	var errText sql.NullString
	if err := row.Scan(&r.ID, &r.EndpointID, &r.Status, &since, &until, &r.Filter, &r.Event, &r.Total, &r.Capped, &r.Queued,
		&errText, &created, &finished); err != nil {
		return nil, err
	}
	r.Since, r.Until, r.CreatedAt = db.Time(since), db.Time(until), db.Time(created)
	r.FinishedAt = db.NullTime(finished)
	if errText.Valid {
		r.Error = &errText.String
	}
	return &r, nil
}

// Replay returns an organization's replay.
func (s *Service) Replay(ctx context.Context, orgID, id string) (*ReplayJob, error) {
	r, err := scanReplay(s.DB.QueryRowContext(ctx, `SELECT `+replayColumns+` FROM replays WHERE id = $1 AND organization_id = $2`, id, orgID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, hookbook.NotFound("replay")
	}
	if err != nil {
		return nil, fmt.Errorf("read replay: %w", err)
	}
	return r, nil
}

// RunReplays carries every running replay on to its end, one batch of at
// most ReplayBatch deliveries per transaction, and returns the replays it
// finished. A replay whose endpoint was disabled or deleted meanwhile
// fails. The cluster runs it on one instance at a time (a periodic job);
// its cursor is stored with each batch, so that another instance or a
// restart resumes where it stood.
func (s *Service) RunReplays(ctx context.Context) ([]*ReplayJob, error) {
	var finished []*ReplayJob
	for {
		list, err := s.runningReplays(ctx)
		if err != nil || len(list) == 0 {
			return finished, err
		}
		for _, r := range list {
			done, err := s.replayStep(ctx, r)
			if err != nil {
				return finished, fmt.Errorf("replay %s: %w", r.id, err)
			}
			if done {
				if j, err := s.Replay(ctx, r.org, r.id); err == nil {
					finished = append(finished, j)
					s.log().Info("replay finished", "replay_id", j.ID, "organization_id", r.org, "endpoint_id", j.EndpointID,
						"status", j.Status, "total", j.Total, "queued", j.Queued)
				}
			}
		}
		if ctx.Err() != nil {
			return finished, ctx.Err()
		}
	}
}

// Replayed returns how many deliveries the replays this process carried
// on have queued again.
func (s *Service) Replayed() int64 { return s.replayed.Load() }

// replayState is a running replay as its steps see it.
type replayState struct {
	id, org, endpoint string
	filter            ReplayFilter
	total, queued     int
	after             string
}

func (s *Service) runningReplays(ctx context.Context) ([]*replayState, error) {
	rows, err := s.DB.QueryContext(ctx, `SELECT id, organization_id, endpoint_id, since_at, until_at, filter_status, event, total, queued, after_id
		FROM replays WHERE status = 'running' ORDER BY id LIMIT 100`)
	if err != nil {
		return nil, fmt.Errorf("running replays: %w", err)
	}
	defer rows.Close()
	var out []*replayState
	for rows.Next() {
		r := &replayState{}
		var since, until int64
		if err := rows.Scan(&r.id, &r.org, &r.endpoint, &since, &until, &r.filter.Status, &r.filter.Event, &r.total, &r.queued, &r.after); err != nil {
			return nil, err
		}
		r.filter.Since, r.filter.Until = db.Time(since), db.Time(until)
		out = append(out, r)
	}
	return out, rows.Err()
}

// replayStep queues the next batch of a replay in one transaction and
// reports whether the replay is over.
func (s *Service) replayStep(ctx context.Context, r *replayState) (bool, error) {
	var over bool
	err := s.DB.BackgroundTx(ctx, func(tx *db.Tx) error {
		now := db.Micros(s.DB.Now())
		ordered, err := checkReplayable(ctx, tx, r.org, r.endpoint)
		if e := hookbook.AsError(err); e != nil {
			over = true
			return finishReplay(ctx, tx, r, ReplayFailed, "stopped: "+e.Message, now)
		}
		if err != nil {
			return err
		}
		batch, last, err := nextReplayBatch(ctx, tx, r, min(s.replayBatch(), r.total-r.queued))
		if err != nil {
			return err
		}
		n, err := s.requeue(ctx, tx, r.endpoint, batch, ordered, now)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE replays SET queued = queued + $1, after_id = $2, updated_at = $3
			WHERE id = $4 AND status = 'running' AND after_id = $5`, n, last, now, r.id, r.after)
		if err != nil {
			return fmt.Errorf("advance replay: %w", err)
		}
		if k, _ := res.RowsAffected(); k == 0 {
			return errors.New("replay moved on elsewhere")
		}
		r.queued, r.after = r.queued+n, last
		tx.OnCommit(func() { s.replayed.Add(int64(n)) })
		if len(batch) == 0 || r.queued >= r.total {
			over = true
			return finishReplay(ctx, tx, r, ReplayDone, "", now)
		}
		return nil
	})
	return over, err
}

// nextReplayBatch returns the ids of up to limit deliveries a replay takes
// next and the cursor after them (the current one when there are none).
func nextReplayBatch(ctx context.Context, tx *db.Tx, r *replayState, limit int) ([]string, string, error) {
	if limit <= 0 {
		return nil, r.after, nil
	}
	rows, err := tx.QueryContext(ctx, `SELECT id FROM deliveries WHERE `+replayWhere+` ORDER BY id LIMIT $10`,
		append(replayArgs(r.endpoint, r.filter, r.after), limit)...)
	if err != nil {
		return nil, "", fmt.Errorf("replay batch: %w", err)
	}
	defer rows.Close()
	var list []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, "", err
		}
		list = append(list, id)
	}
	last := r.after
	if len(list) > 0 {
		last = list[len(list)-1]
	}
	return list, last, rows.Err()
}

// requeue gives each finished delivery of idList one more attempt now (to
// an ordered endpoint, in its key's order) and wakes the claimers once tx
// commits. It returns how many it queued: one that became pending
// meanwhile is left as it is.
func (s *Service) requeue(ctx context.Context, tx *db.Tx, endpointID string, idList []string, ordered bool, now int64) (int, error) {
	if len(idList) == 0 {
		return 0, nil
	}
	res, err := tx.ExecContext(ctx, `UPDATE deliveries SET status = 'pending', updated_at = `+db.Touched("$1")+`,
		next_attempt_at = CASE WHEN $2 AND ordering_key <> '' THEN NULL ELSE CAST($1 AS BIGINT) END,
		max_attempts = CASE WHEN status = 'skipped' THEN max_attempts ELSE attempts + 1 END
		WHERE status <> 'pending' AND id IN (`+db.Placeholders(3, len(idList))+`)`,
		append([]any{now, ordered}, db.Args(idList)...)...)
	if err != nil {
		return 0, fmt.Errorf("requeue deliveries: %w", err)
	}
	n, _ := res.RowsAffected()
	if n == 0 {
		return 0, nil
	}
	return int(n), s.wakeRequeued(ctx, tx, endpointID, ordered, now)
}

func finishReplay(ctx context.Context, tx *db.Tx, r *replayState, status, why string, now int64) error {
	_, err := tx.ExecContext(ctx, `UPDATE replays SET status = $1, error = $2, finished_at = $3, updated_at = $3 WHERE id = $4`,
		status, db.NullText(why), now, r.id)
	if err != nil {
		return fmt.Errorf("finish replay: %w", err)
	}
	return nil
}

// purgeReplays deletes finished replays older than cutoff.
func (s *Service) purgeReplays(ctx context.Context, cutoff time.Time) error {
	_, err := s.DB.ExecContext(ctx, `DELETE FROM replays WHERE status <> 'running' AND finished_at < $1`, db.Micros(cutoff))
	if err != nil {
		return fmt.Errorf("purge replays: %w", err)
	}
	return nil
}
