package inbound

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/ratelimit"
	"github.com/hookbook/hookbook/internal/tracing"
	"github.com/hookbook/hookbook/webhook"
	"go.opentelemetry.io/otel/trace"
)

// DefaultOrganization is the organization of the command URL that names none.
const DefaultOrganization = "default"

// Outcome is what a command did: its action (empty when the body could not
// be read as a command) and the action's result.
type Outcome struct {
	Action string
	Result any
}

// Execute runs one command from its arrival to its log entry. It checks,
// in order: the organization (orgID, or the "default" one when empty), the
// body (read by readBody, which enforces the size limit), inbound enabled,
// signature and timestamp, body shape, request id (a UUID never used
// before), action and scope; then runs the action. Every command that
// names an existing organization is logged with its outcome (with the
// exceptions below).
//
// Unauthenticated traffic is bounded: a client address whose commands fail
// their signature or timestamp UnsignedPerMinute times within a minute is
// refused with 429 until the minute has passed, and such refusals, like
// commands to an organization whose inbound commands are disabled, leave
// no log entry.
func (s *Service) Execute(ctx context.Context, orgID, client string, header http.Header, readBody func() ([]byte, error)) (*Outcome, error) {
	var o *hookbook.Organization
	var err error
	if orgID != "" {
		o, err = s.Orgs.Organization(ctx, orgID)
	} else {
		o, err = s.Orgs.OrganizationByName(ctx, DefaultOrganization)
	}
	if err != nil {
		return nil, err
	}
	// The log keeps what was sent, made storable: a request id that is not
	// UTF-8 text is refused below but must still be logged.
	rawID := header.Get(s.HeaderPrefix + "-Request-Id")
	if standardSigned(header) {
		rawID = header.Get(webhook.HeaderID)
	}
	requestID := strings.ToValidUTF8(strings.ReplaceAll(strings.TrimSpace(rawID), "\x00", ""), "\uFFFD")
	attempt := s.now()
	ctx, span := tracing.Start(ctx, s.Tracer, "inbound command", trace.SpanKindServer, tracing.AttrOrganization.String(o.ID))
	if wait, ok := s.unsigned().Take(client, attempt); !ok {
		s.observe(span, "", http.StatusTooManyRequests, "too_many_requests")
		return nil, &hookbook.Error{Kind: hookbook.ETooMany, Code: "too_many_requests", RetryAfter: wait,
			Message: "too many commands from this address failed their signature; try again later"}
	}
	out := &Outcome{}
	out.Result, err = s.run(ctx, o, header, readBody, requestID, &out.Action)
	status, code := http.StatusOK, ""
	if err != nil {
		status, code = hookbook.HTTPStatus(err), hookbook.Code(err)
	}
	if status != http.StatusUnauthorized {
		s.unsigned().Forgive(client, attempt) // only failed signatures count
	}
	s.logLine(ctx, o.ID, out.Action, requestID, status, code)
	s.observe(span, out.Action, status, code)
	if code == "inbound_disabled" {
		return out, err // nothing is stored for an organization that takes no commands
	}
	if logErr := s.Log(ctx, o.ID, out.Action, requestID, status, code); logErr != nil && s.Logger != nil {
		s.Logger.Error("inbound command log", "err", logErr)
	}
	return out, err
}

// outcomeOf names how a command ended: ok, refused (a client error) or
// failed (hookbook's own).
func outcomeOf(status int, code string) string {
	switch {
	case code == "":
		return "ok"
	case status >= 500:
		return "failed"
	}
	return "refused"
}

// observe ends a command's span and counts it (Executed). An action
// outside the action table is "unknown": the client chose it.
func (s *Service) observe(span trace.Span, action string, status int, code string) {
	if !KnownAction(action) {
		action = "unknown"
	}
	outcome := outcomeOf(status, code)
	if s.Executed != nil {
		s.Executed(action, outcome)
	}
	if span == nil {
		return
	}
	span.SetName("inbound " + action)
	span.SetAttributes(tracing.AttrAction.String(action), tracing.AttrStatus.Int(status), tracing.AttrOutcome.String(outcome))
	switch {
	case status >= 500:
		tracing.Fail(span, code)
	case code != "": // the client's mistake: a refusal, not a failure
		span.SetAttributes(tracing.AttrErrorKind.String(code))
	}
	span.End()
}

// logLine writes one log line per command: never its body, signature or
// the secret.
func (s *Service) logLine(ctx context.Context, orgID, action, requestID string, status int, code string) {
	if s.Logger == nil {
		return
	}
	outcome := outcomeOf(status, code)
	level := map[string]slog.Level{"ok": slog.LevelInfo, "refused": slog.LevelWarn, "failed": slog.LevelError}[outcome]
	if len(requestID) > 64 {
		requestID = requestID[:64]
	}
	s.Logger.LogAttrs(ctx, level, "inbound command", slog.String("organization_id", orgID), slog.String("action", action),
		slog.String("command_request_id", requestID), slog.Int("status", status), slog.String("code", code), slog.String("outcome", outcome))
}

func (s *Service) run(ctx context.Context, o *hookbook.Organization, header http.Header, readBody func() ([]byte, error), requestID string, action *string) (any, error) {
	body, err := readBody()
	if err != nil {
		return nil, err
	}
	settings, err := s.Settings(ctx, o.ID)
	if err != nil {
		return nil, err
	}
	if !settings.Enabled || settings.Secret == "" {
		return nil, hookbook.Errorf(hookbook.EForbidden, "inbound_disabled", "inbound commands are disabled for this organization")
	}
	standard := standardSigned(header)
	if standard {
		err = s.verifyStandard(settings.Secret, header, body)
	} else {
		err = s.verify(settings.Secret, header, body)
	}
	if err != nil {
		return nil, err
	}
	req, err := Parse(body)
	if err != nil {
		return nil, err
	}
	*action = req.Action
	var replayKey, signature string
	if standard {
		// The id is inside the signed content: a new id needs a new
		// signature. Kept apart from the brand request ids.
		if requestID == "" || len(requestID) > MaxMessageID {
			return nil, &hookbook.Error{Kind: hookbook.EInvalid, Code: "invalid_request_id",
				Message: fmt.Sprintf("%s must be 1 to %d characters", webhook.HeaderID, MaxMessageID), Details: map[string]string{webhook.HeaderID: "invalid"}}
		}
		replayKey, signature = "webhook-id:"+requestID, header.Get(webhook.HeaderSignature)
	} else {
		id, err := uuid.Parse(requestID)
		if err != nil || requestID == "" {
			return nil, &hookbook.Error{Kind: hookbook.EInvalid, Code: "invalid_request_id",
				Message: s.HeaderPrefix + "-Request-Id must be a UUID", Details: map[string]string{s.HeaderPrefix + "-Request-Id": "not a UUID"}}
		}
		// One UUID has many spellings (upper case, braces, urn:uuid:, no
		// dashes): the replay guard keeps its canonical form.
		replayKey, signature = id.String(), header.Get(s.HeaderPrefix+"-Signature")
	}
	fresh, err := s.Seen(ctx, o.ID, replayKey, signature)
	if err != nil {
		return nil, err
	}
	if !fresh {
		return nil, hookbook.Errorf(hookbook.EConflict, "replayed_request", "this request id or this signature was used before")
	}
	if !KnownAction(req.Action) {
		return nil, hookbook.Errorf(hookbook.ENotFound, "unknown_action", "unknown action %q", req.Action)
	}
	if !settings.Allows(req.Action) {
		return nil, hookbook.Errorf(hookbook.EForbidden, "scope_not_allowed", "the scope of %q is not enabled", req.Action)
	}
	return s.Run(ctx, o.ID, req)
}

// MaxMessageID bounds a Standard Webhooks message id (webhook-id).
const MaxMessageID = 255

// standardSigned reports whether a command carries the Standard Webhooks
// signature rather than the brand one: then webhook-id,
// webhook-timestamp and webhook-signature are checked.
func standardSigned(h http.Header) bool {
	return h.Get(webhook.HeaderSignature) != ""
}

// verifyStandard checks the Standard Webhooks headers: a "v1," signature
// over "{webhook-id}.{webhook-timestamp}.{body}" with the inbound secret
// (a whsec_ secret is base64-decoded as the standard says), within 300 s.
func (s *Service) verifyStandard(secret string, header http.Header, body []byte) error {
	v := webhook.Verifier{Secrets: []string{secret}, Tolerance: Tolerance, Now: s.now}
	switch err := v.Verify(header, body); {
	case err == nil:
		return nil
	case errors.Is(err, webhook.ErrMissingHeader):
		return hookbook.Errorf(hookbook.EUnauthorized, "missing_signature", "send webhook-id, webhook-timestamp and webhook-signature")
	case errors.Is(err, webhook.ErrInvalidTimestamp), errors.Is(err, webhook.ErrTimestampTooOld), errors.Is(err, webhook.ErrTimestampTooNew):
		return hookbook.Errorf(hookbook.EUnauthorized, "stale_timestamp", "webhook-timestamp must be unix seconds within 300 s of now")
	default:
		return hookbook.Errorf(hookbook.EUnauthorized, "invalid_signature", "the signature does not match the id, timestamp and body")
	}
}

// verify checks the brand signature over "{timestamp}.{raw body}" and the
// timestamp's tolerance.
func (s *Service) verify(secret string, header http.Header, body []byte) error {
	p := s.HeaderPrefix
	err := webhook.VerifyHMAC(secret, header.Get(p+"-Signature"), header.Get(p+"-Timestamp"), body, Tolerance, s.now())
	switch err {
	case nil:
		return nil
	case webhook.ErrMissingHeader:
		return hookbook.Errorf(hookbook.EUnauthorized, "missing_signature", "send %s-Signature and %s-Timestamp", p, p)
	case webhook.ErrInvalidTimestamp, webhook.ErrTimestampTooOld, webhook.ErrTimestampTooNew:
		return hookbook.Errorf(hookbook.EUnauthorized, "stale_timestamp", "%s-Timestamp must be unix seconds within 300 s of now", p)
	default:
		return hookbook.Errorf(hookbook.EUnauthorized, "invalid_signature", "the signature does not match the body")
	}
}

// UnsignedPerMinute is how many commands failing their signature or
// timestamp one client address may send per minute.
const UnsignedPerMinute = 30

func (s *Service) unsigned() *ratelimit.Window {
	s.limitOnce.Do(func() {
		if s.Unsigned == nil {
			s.Unsigned = ratelimit.New(UnsignedPerMinute, time.Minute)
		}
	})
	return s.Unsigned
}
