// Package inbound lets trusted automations act on hookbook with signed,
// timestamped, replay-protected commands, limited by scopes.
//
// A command is POSTed as {"action","params","data"} with the headers
// {prefix}-Signature ("sha256=" + hex HMAC-SHA256 of "{timestamp}.{raw body}"
// keyed with the organization's inbound secret), {prefix}-Timestamp (unix
// seconds, within ±300 s) and {prefix}-Request-Id (a UUID never used
// before). Each action runs the same booking-domain method as the API.
package inbound

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/booking"
	"github.com/hookbook/hookbook/internal/db"
	"github.com/hookbook/hookbook/internal/ids"
	"github.com/hookbook/hookbook/internal/org"
	"github.com/hookbook/hookbook/internal/ratelimit"
	"go.opentelemetry.io/otel/trace"
)

// Tolerance is how far a command's timestamp may lie from the server's clock.
const Tolerance = 300 * time.Second

// MinSecretLength is the shortest inbound secret accepted.
const MinSecretLength = 16

// Scopes maps every scope to the actions it allows, in the order of the
// actions table (actions.go), from which it is made.
var Scopes = func() map[string][]string {
	m := map[string][]string{}
	for _, a := range actions {
		m[a.scope] = append(m[a.scope], a.name)
	}
	return m
}()

// ScopeNames returns every scope, sorted.
func ScopeNames() []string {
	out := make([]string, 0, len(Scopes))
	for s := range Scopes {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// scopeOf returns the scope that allows action, or "".
func scopeOf(action string) string {
	a, _ := lookup(action)
	return a.scope
}

// Settings are an organization's inbound settings. Secret never leaves
// hookbook as part of them: their JSON says only whether one is set
// (secret_set); the secret itself leaves only through an explicit reveal.
type Settings struct {
	Enabled bool     `json:"enabled"`
	Secret  string   `json:"-"`
	Scopes  []string `json:"scopes"`
}

// MarshalJSON writes the settings with secret_set in place of the secret.
func (s Settings) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Enabled   bool     `json:"enabled"`
		SecretSet bool     `json:"secret_set"`
		Scopes    []string `json:"scopes"`
	}{s.Enabled, s.Secret != "", s.Scopes})
}

// Allows reports whether the settings grant the scope of action.
func (s *Settings) Allows(action string) bool {
	scope := scopeOf(action)
	for _, g := range s.Scopes {
		if g == scope {
			return true
		}
	}
	return false
}

// Service keeps inbound settings, the replay guard and the command log, and
// runs commands.
type Service struct {
	DB      *db.DB
	Orgs    *org.Service
	Booking *booking.Domain
	// HeaderPrefix names the signature headers, e.g. "X-Hookbook".
	HeaderPrefix string
	Logger       *slog.Logger
	// Unsigned limits commands that fail their signature, per client
	// address; nil means UnsignedPerMinute per minute.
	Unsigned *ratelimit.Window
	// Tracer traces commands (nil: tracing is off): a span per command, a
	// child of its request's (whose parent is the caller's traceparent).
	Tracer trace.Tracer
	// Executed, when set, is called once per command with its action (a
	// known one, else "unknown") and outcome (ok, refused, failed): the
	// metrics.
	Executed func(action, outcome string)

	limitOnce sync.Once
}

func (s *Service) now() time.Time { return s.DB.Now() }

// Settings returns an organization's settings (disabled, no secret, no
// scopes until set).
func (s *Service) Settings(ctx context.Context, orgID string) (*Settings, error) {
	var st Settings
	var scopes string
	err := s.DB.QueryRowContext(ctx, `SELECT enabled, secret, scopes FROM inbound_settings WHERE organization_id = $1`, orgID).
		Scan(&st.Enabled, &st.Secret, &scopes)
	if errors.Is(err, sql.ErrNoRows) {
		return &Settings{Scopes: []string{}}, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(scopes), &st.Scopes); err != nil {
		return nil, err
	}
	return &st, nil
}

// SettingsInput changes settings; nil fields keep their value.
type SettingsInput struct {
	Enabled *bool     `json:"enabled"`
	Secret  *string   `json:"secret"`
	Scopes  *[]string `json:"scopes"`
}

// SetSettings validates and stores settings. Only known scopes are
// accepted; a secret is generated when none was ever set.
func (s *Service) SetSettings(ctx context.Context, orgID string, in SettingsInput) (*Settings, error) {
	st, err := s.Settings(ctx, orgID)
	if err != nil {
		return nil, err
	}
	f := hookbook.Fields{}
	if in.Enabled != nil {
		st.Enabled = *in.Enabled
	}
	if in.Secret != nil {
		secret := strings.TrimSpace(*in.Secret)
		if secret == "" {
			secret = ids.Secret()
		} else if len(secret) < MinSecretLength {
			f.Add("secret", fmt.Sprintf("must be at least %d characters", MinSecretLength))
		}
		st.Secret = secret
	}
	if st.Secret == "" {
		st.Secret = ids.Secret()
	}
	if in.Scopes != nil {
		seen := map[string]bool{}
		clean := []string{}
		for _, sc := range *in.Scopes {
			if _, ok := Scopes[sc]; !ok {
				f.Add("scopes", fmt.Sprintf("%q is not a scope; known: %s", sc, strings.Join(ScopeNames(), ", ")))
				continue
			}
			if !seen[sc] {
				seen[sc] = true
				clean = append(clean, sc)
			}
		}
		sort.Strings(clean)
		st.Scopes = clean
	}
	if err := f.Err(); err != nil {
		return nil, err
	}
	scopes, _ := json.Marshal(st.Scopes)
	_, err = s.DB.ExecContext(ctx, `INSERT INTO inbound_settings (organization_id, enabled, secret, scopes, updated_at)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT (organization_id) DO UPDATE SET enabled = excluded.enabled,
		secret = excluded.secret, scopes = excluded.scopes, updated_at = excluded.updated_at`,
		orgID, st.Enabled, st.Secret, string(scopes), db.Micros(s.now()))
	return st, err
}

// Seen is the replay guard. It records a command's request id and its
// signature, and reports false when either was recorded before: a captured
// command can be sent again neither under its own id nor under a new one
// (the signature covers the timestamp and the body, not the id). Both are
// kept in the database, so the guard holds across restarts and instances.
// Entries older than twice the tolerance are pruned as it goes: a command
// that old is refused for its timestamp.
func (s *Service) Seen(ctx context.Context, orgID, requestID, signature string) (bool, error) {
	now := s.now()
	if _, err := s.DB.ExecContext(ctx, `DELETE FROM inbound_requests WHERE received_at < $1`, db.Micros(now.Add(-2*Tolerance))); err != nil {
		return false, fmt.Errorf("prune request ids: %w", err)
	}
	fresh := true
	err := s.DB.Tx(ctx, func(tx *db.Tx) error {
		for _, key := range []string{requestID, signatureKey(signature)} {
			res, err := tx.ExecContext(ctx, `INSERT INTO inbound_requests (organization_id, request_id, received_at) VALUES ($1, $2, $3)
				ON CONFLICT (organization_id, request_id) DO NOTHING`, orgID, key, db.Micros(now))
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 0 {
				fresh = false
				return errReplay
			}
		}
		return nil
	})
	if err == errReplay {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("replay guard: %w", err)
	}
	return fresh, nil
}

var errReplay = errors.New("replayed")

// signatureKey is how a signature is kept beside the request ids: one
// signature has one key however its hex digits are cased.
func signatureKey(signature string) string {
	return "sig:" + strings.ToLower(strings.TrimSpace(signature))
}

// Command is an entry of the command log.
type Command struct {
	ID        string    `json:"id"`
	Action    string    `json:"action"`
	RequestID string    `json:"request_id"`
	Status    int       `json:"status"`
	ErrorCode *string   `json:"error_code"`
	CreatedAt time.Time `json:"created_at"`
}

// Log records a command's outcome.
func (s *Service) Log(ctx context.Context, orgID, action, requestID string, status int, code string) error {
	var c any
	if code != "" {
		c = code
	}
	_, err := s.DB.ExecContext(ctx, `INSERT INTO inbound_commands (id, organization_id, action, request_id, status, error_code, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, ids.New("cmd"), orgID, truncate(action, 200), truncate(requestID, 100), status, c, db.Micros(s.now()))
	return err
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// Commands lists an organization's command log, newest first.
func (s *Service) Commands(ctx context.Context, orgID string, p db.Page) ([]*Command, string, error) {
	rows, err := s.DB.QueryContext(ctx, `SELECT id, action, request_id, status, error_code, created_at FROM inbound_commands
		WHERE organization_id = $1 AND ($2 = '' OR id < $2) ORDER BY id DESC LIMIT $3`, orgID, p.Cursor, p.Limit+1)
	return db.List(rows, err, p, scanCommand, func(c *Command) string { return c.ID })
}

func scanCommand(row db.Scanner) (*Command, error) {
	var c Command
	var code sql.NullString
	var at int64
	if err := row.Scan(&c.ID, &c.Action, &c.RequestID, &c.Status, &code, &at); err != nil {
		return nil, err
	}
	if code.Valid {
		c.ErrorCode = &code.String
	}
	c.CreatedAt = db.Time(at)
	return &c, nil
}

// Purge deletes command log entries older than cutoff, in batches, and
// returns how many it deleted.
func (s *Service) Purge(ctx context.Context, cutoff time.Time) (int, error) {
	n, err := s.DB.DeleteInBatches(ctx, `DELETE FROM inbound_commands WHERE id IN
		(SELECT id FROM inbound_commands WHERE id < $1 ORDER BY id LIMIT $2)`, 1000, ids.Before("cmd", cutoff))
	if err != nil {
		return n, fmt.Errorf("purge command log: %w", err)
	}
	return n, nil
}
