package outbound

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/db"
	"github.com/hookbook/hookbook/internal/ids"
)

// Listeners: the endpoints of type listen that `hookbook listen` keeps
// over its WebSocket. A listener is known by its name (the CLI's --name,
// its host name by default) and its patterns: the same name and patterns
// find the same endpoint again, with its secret and its queue, so that a
// listener that reconnects gets what waited. Its endpoint is like any
// other (quotas, retries, ordering, the delivery log) except that its
// url and events are the listener's; once no instance has seen its
// connection for the grace period, ReapListeners deletes it.

// MaxListeners bounds the listeners (live listening endpoints) of one
// organization; they count as endpoints too (Limits.Endpoints).
const MaxListeners = 10

// MaxListenerName bounds the length of a listener's name.
const MaxListenerName = 100

// ListenerURL is the url of a listening endpoint called name.
func ListenerURL(name string) string { return "listen://" + name }

// RegisterListener returns the listening endpoint of the organization's
// listener called name for patterns, with its secret: the one it had, or
// a new one unless the organization has MaxListeners already (403
// listener_limit) or as many endpoints as it may have. It marks the
// listener seen now.
func (s *Service) RegisterListener(ctx context.Context, orgID, name string, patterns []string) (*hookbook.RevealedEndpoint, error) {
	f := hookbook.Fields{}
	if msg := checkListenerName(name); msg != "" {
		f.Add("name", msg)
	}
	if msg := s.checkPatterns(ctx, orgID, patterns); msg != "" {
		f.Add("events", msg)
	}
	if err := f.Err(); err != nil {
		return nil, err
	}
	events := dedupe(patterns)
	slices.Sort(events)
	key := mustJSON(events)
	now := s.DB.Now().UTC()
	var id string
	err := s.DB.Tx(ctx, func(tx *db.Tx) error {
		if err := tx.Lock(ctx, "hookbook-listeners:"+orgID); err != nil {
			return err
		}
		err := tx.QueryRowContext(ctx, `SELECT l.endpoint_id FROM listeners l JOIN endpoints e ON e.id = l.endpoint_id AND e.deleted_at IS NULL
			WHERE l.organization_id = $1 AND l.name = $2 AND l.events = $3`, orgID, name, key).Scan(&id)
		if err == nil {
			_, err = tx.ExecContext(ctx, `UPDATE listeners SET seen_at = $1 WHERE endpoint_id = $2`, db.Micros(now), id)
			return err
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if err := s.checkQuota(ctx, tx, "listeners", orgID, MaxListeners, `SELECT COUNT(*) FROM listeners l
			JOIN endpoints e ON e.id = l.endpoint_id AND e.deleted_at IS NULL WHERE l.organization_id = $1`); err != nil {
			return err
		}
		e := &hookbook.Endpoint{
			ID: ids.New("ep"), OrganizationID: orgID, Type: hookbook.EndpointListen, URL: ListenerURL(name),
			Description: "listening from " + name, Events: events, Enabled: true, Secret: ids.Secret(),
			MaxAttempts: DefaultMaxAttempts, TimeoutSeconds: DefaultTimeout, Scheme: hookbook.SchemeTimestamped,
			Headers: map[string]string{}, CreatedAt: now, UpdatedAt: now,
		}
		if err := s.insertEndpointTx(ctx, tx, e); err != nil {
			return err
		}
		id = e.ID
		_, err = tx.ExecContext(ctx, `INSERT INTO listeners (endpoint_id, organization_id, name, events, seen_at)
			VALUES ($1, $2, $3, $4, $5)`, id, orgID, name, key, db.Micros(now))
		return err
	})
	if err != nil {
		if hookbook.AsError(err) != nil {
			return nil, err
		}
		return nil, fmt.Errorf("register listener: %w", err)
	}
	return s.RevealSecret(ctx, orgID, id)
}

// checkListenerName returns what is wrong with a listener's name, or "".
func checkListenerName(name string) string {
	switch {
	case strings.TrimSpace(name) == "":
		return "is required"
	case len(name) > MaxListenerName:
		return fmt.Sprintf("must be at most %d bytes", MaxListenerName)
	case !utf8.ValidString(name) || strings.ContainsFunc(name, unicode.IsControl):
		return "must be text without control characters"
	}
	return ""
}

// ListenerSeen marks a listener's connection alive now. It reports false
// when its endpoint is gone (deleted, or its listener reaped): the
// connection has nothing left to listen for.
func (s *Service) ListenerSeen(ctx context.Context, endpointID string) (bool, error) {
	res, err := s.DB.ExecContext(ctx, `UPDATE listeners SET seen_at = $1 WHERE endpoint_id = $2
		AND EXISTS (SELECT 1 FROM endpoints e WHERE e.id = $2 AND e.deleted_at IS NULL)`, db.Micros(s.DB.Now()), endpointID)
	if err != nil {
		return false, fmt.Errorf("listener seen: %w", err)
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// ReapListeners deletes the listening endpoints whose connection no
// instance has seen since cutoff (their pending deliveries fail, as any
// deleted endpoint's) and forgets those listeners, except those connected
// to this instance (connected; nil: none), which it marks seen. It
// returns the ids of the endpoints it deleted.
func (s *Service) ReapListeners(ctx context.Context, cutoff time.Time, connected func(endpointID string) bool) ([]string, error) {
	rows, err := s.DB.QueryContext(ctx, `SELECT endpoint_id, organization_id FROM listeners WHERE seen_at < $1 ORDER BY seen_at LIMIT 100`, db.Micros(cutoff))
	if err != nil {
		return nil, fmt.Errorf("reap listeners: %w", err)
	}
	type gone struct{ id, org string }
	var list []gone
	for rows.Next() {
		var g gone
		if err := rows.Scan(&g.id, &g.org); err != nil {
			rows.Close()
			return nil, fmt.Errorf("reap listeners: %w", err)
		}
		list = append(list, g)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reap listeners: %w", err)
	}
	var reaped []string
	for _, g := range list {
		if connected != nil && connected(g.id) {
			if _, err := s.ListenerSeen(ctx, g.id); err != nil {
				return reaped, err
			}
			continue
		}
		deleted := false
		err := s.DB.BackgroundTx(ctx, func(tx *db.Tx) error {
			if err := tx.Lock(ctx, "hookbook-listeners:"+g.org); err != nil {
				return err
			}
			res, err := tx.ExecContext(ctx, `DELETE FROM listeners WHERE endpoint_id = $1 AND seen_at < $2`, g.id, db.Micros(cutoff))
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 0 {
				return nil // seen again meanwhile
			}
			now := db.Micros(s.DB.Now())
			res, err = tx.ExecContext(ctx, `UPDATE endpoints SET deleted_at = $1, enabled = FALSE, updated_at = $1
				WHERE id = $2 AND deleted_at IS NULL`, now, g.id)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n > 0 {
				deleted = true
				return failPending(ctx, tx, g.id, "listener gone", now)
			}
			return nil
		})
		if err != nil {
			return reaped, fmt.Errorf("reap listener %s: %w", g.id, err)
		}
		if deleted {
			reaped = append(reaped, g.id)
		}
	}
	return reaped, nil
}

// sameSet reports whether a and b hold the same strings, in any order.
func sameSet(a, b []string) bool {
	a, b = dedupe(a), dedupe(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
