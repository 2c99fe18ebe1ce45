// Package idempotency keeps the answers of API requests sent with an
// Idempotency-Key, so that a client retrying a request it is unsure about
// gets the first answer instead of a second effect.
//
// A key belongs to an organization for Window. Its first request is
// remembered by a hash of its method, path and body; a repeat with the same
// hash gets the stored answer; a request with another hash is refused
// (409 idempotency_key_reused); a repeat while the first still runs is
// refused too (409 idempotency_key_in_use), unless the first was abandoned
// (its process died) for longer than Stale.
//
// Published events follow the same rules (ValidKey, Window) with their own
// table: a publication claims its key in its own transaction
// (ClaimEventKey) and answers the first event's id, so that the hot path
// stores no answer.
package idempotency

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/db"
)

// Window is how long a key answers with its first request's answer.
const Window = 24 * time.Hour

// Stale is how long a first request may run before a repeat may take its
// key over: its process died before recording the answer.
const Stale = time.Minute

// MaxKey bounds the length of a key.
const MaxKey = 255

// Store keeps the keys and answers.
type Store struct{ DB *db.DB }

// Answer is a stored answer.
type Answer struct {
	Status   int
	Body     []byte
	Location string
}

// Hash identifies a request: its method, path and body.
func Hash(method, path string, body []byte) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s %s\n", method, path)
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// Begin claims key for a request with hash. It returns the stored answer
// when the same request already ran (nil when this request is the first and
// must run, then Finish or Abandon), or an error refusing the request.
func (s *Store) Begin(ctx context.Context, orgID, key, hash string) (*Answer, error) {
	var out *Answer
	err := s.DB.Tx(ctx, func(tx *db.Tx) error {
		now := s.DB.Now()
		res, err := tx.ExecContext(ctx, `INSERT INTO idempotent_requests (organization_id, key, request_hash, status, response, location, created_at)
			VALUES ($1, $2, $3, 0, '', '', $4)
			ON CONFLICT (organization_id, key) DO UPDATE SET request_hash = excluded.request_hash, status = 0, response = '', location = '', created_at = excluded.created_at
			WHERE idempotent_requests.created_at < $5 OR (idempotent_requests.status = 0 AND idempotent_requests.created_at < $6)`,
			orgID, key, hash, db.Micros(now), db.Micros(now.Add(-Window)), db.Micros(now.Add(-Stale)))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n > 0 {
			return nil // the first request: run it
		}
		var stored string
		a := &Answer{}
		var body string
		if err := tx.QueryRowContext(ctx, `SELECT request_hash, status, response, location FROM idempotent_requests
			WHERE organization_id = $1 AND key = $2`, orgID, key).Scan(&stored, &a.Status, &body, &a.Location); err != nil {
			return err
		}
		switch {
		case stored != hash:
			return hookbook.Errorf(hookbook.EConflict, "idempotency_key_reused",
				"this Idempotency-Key was used with another request in the last 24 h; use a new key for a new request")
		case a.Status == 0:
			return hookbook.Errorf(hookbook.EConflict, "idempotency_key_in_use",
				"the first request with this Idempotency-Key is still running; retry in a moment")
		}
		a.Body = []byte(body)
		out = a
		return nil
	})
	if err != nil && hookbook.AsError(err) == nil {
		return nil, fmt.Errorf("idempotency key: %w", err)
	}
	return out, err
}

// Finish stores the first request's answer.
func (s *Store) Finish(ctx context.Context, orgID, key string, a Answer) error {
	_, err := s.DB.ExecContext(ctx, `UPDATE idempotent_requests SET status = $1, response = $2, location = $3
		WHERE organization_id = $4 AND key = $5`, a.Status, string(a.Body), a.Location, orgID, key)
	if err != nil {
		return fmt.Errorf("idempotency key: %w", err)
	}
	return nil
}

// Abandon frees key after its first request failed on hookbook's side, so
// that a retry runs again.
func (s *Store) Abandon(ctx context.Context, orgID, key string) error {
	_, err := s.DB.ExecContext(ctx, `DELETE FROM idempotent_requests WHERE organization_id = $1 AND key = $2 AND status = 0`, orgID, key)
	if err != nil {
		return fmt.Errorf("idempotency key: %w", err)
	}
	return nil
}

// Purge deletes keys older than Window.
func (s *Store) Purge(ctx context.Context) (int, error) {
	n, err := s.DB.DeleteInBatches(ctx, `DELETE FROM idempotent_requests WHERE (organization_id, key) IN
		(SELECT organization_id, key FROM idempotent_requests WHERE created_at < $1 LIMIT $2)`, 1000, db.Micros(s.DB.Now().Add(-Window)))
	if err != nil {
		return n, fmt.Errorf("purge idempotency keys: %w", err)
	}
	return n, nil
}
