package httpapi

import (
	"net/http"
	"strings"

	"github.com/google/uuid"
	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/inbound"
	"github.com/hookbook/hookbook/webhook"
)

// InboundRoutes returns the public command endpoints and the settings and
// log routes of inbound commands (§8 of the contract).
func (s *Server) InboundRoutes(svc *inbound.Service, headerPrefix string) []Route {
	h := &inboundHandler{s: s, svc: svc, prefix: headerPrefix}
	a := s.Authed
	return []Route{
		{Method: "POST", Pattern: "/api/public/webhooks/inbound", Handler: http.HandlerFunc(h.serve), Public: true},
		{Method: "POST", Pattern: "/api/public/webhooks/inbound/{org}", Handler: http.HandlerFunc(h.serve), Public: true},
		{Method: "GET", Pattern: "/api/v1/settings/inbound", Handler: a(func(w http.ResponseWriter, r *http.Request, org *hookbook.Organization) error {
			st, err := svc.Settings(r.Context(), org.ID)
			if err != nil {
				return err
			}
			WriteJSON(w, http.StatusOK, st)
			return nil
		})},
		{Method: "PUT", Pattern: "/api/v1/settings/inbound", Handler: a(func(w http.ResponseWriter, r *http.Request, org *hookbook.Organization) error {
			var in inbound.SettingsInput
			if err := Decode(w, r, &in); err != nil {
				return err
			}
			st, err := svc.SetSettings(r.Context(), org.ID, in)
			if err != nil {
				return err
			}
			WriteJSON(w, http.StatusOK, st)
			return nil
		})},
		{Method: "GET", Pattern: "/api/v1/inbound/commands", Handler: a(list("cmd", svc.Commands))},
	}
}

type inboundHandler struct {
	s      *Server
	svc    *inbound.Service
	prefix string
}

// serve checks, in order: organization, body size, inbound enabled,
// signature and timestamp, body shape, request id (UUID, unused), action,
// scope; then runs the action. Every command that names an organization
// is logged with its outcome.
func (h *inboundHandler) serve(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var org *hookbook.Organization
	var err error
	if id := r.PathValue("org"); id != "" {
		org, err = h.s.Store.Organization(ctx, id)
	} else {
		org, err = h.s.Store.OrganizationByName(ctx, "default")
	}
	if err != nil {
		h.s.fail(w, r, err)
		return
	}
	requestID := strings.TrimSpace(r.Header.Get(h.prefix + "-Request-Id"))
	action := ""
	result, err := h.run(w, r, org, requestID, &action)
	status := http.StatusOK
	code := ""
	if err != nil {
		e := hookbook.AsError(err)
		status, code = http.StatusInternalServerError, "internal_error"
		if e != nil {
			status, code = Status(e.Kind), e.Code
		}
	}
	if logErr := h.svc.Log(ctx, org.ID, action, requestID, status, code); logErr != nil {
		h.s.Log.Error("inbound command log", "err", logErr)
	}
	if err != nil {
		h.s.fail(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, map[string]any{"ok": true, "action": action, "result": result})
}

func (h *inboundHandler) run(w http.ResponseWriter, r *http.Request, org *hookbook.Organization, requestID string, action *string) (any, error) {
	ctx := r.Context()
	body, err := ReadBody(w, r)
	if err != nil {
		return nil, err
	}
	settings, err := h.svc.Settings(ctx, org.ID)
	if err != nil {
		return nil, err
	}
	if !settings.Enabled || settings.Secret == "" {
		return nil, hookbook.Errorf(hookbook.EForbidden, "inbound_disabled", "inbound commands are disabled for this organization")
	}
	err = webhook.VerifyHMAC(settings.Secret, r.Header.Get(h.prefix+"-Signature"), r.Header.Get(h.prefix+"-Timestamp"), body,
		inbound.Tolerance, h.svc.Store.Now())
	switch err {
	case nil:
	case webhook.ErrMissingHeader:
		return nil, hookbook.Errorf(hookbook.EUnauthorized, "missing_signature", "send %s-Signature and %s-Timestamp", h.prefix, h.prefix)
	case webhook.ErrInvalidTimestamp, webhook.ErrTimestampTooOld, webhook.ErrTimestampTooNew:
		return nil, hookbook.Errorf(hookbook.EUnauthorized, "stale_timestamp", "%s-Timestamp must be unix seconds within 300 s of now", h.prefix)
	default:
		return nil, hookbook.Errorf(hookbook.EUnauthorized, "invalid_signature", "the signature does not match the body")
	}
	req, err := inbound.Parse(body)
	if err != nil {
		return nil, err
	}
	*action = req.Action
	if _, err := uuid.Parse(requestID); err != nil || requestID == "" {
		return nil, &hookbook.Error{Kind: hookbook.EInvalid, Code: "invalid_request_id",
			Message: h.prefix + "-Request-Id must be a UUID", Details: map[string]string{h.prefix + "-Request-Id": "not a UUID"}}
	}
	fresh, err := h.svc.Seen(ctx, org.ID, requestID)
	if err != nil {
		return nil, err
	}
	if !fresh {
		return nil, hookbook.Errorf(hookbook.EConflict, "replayed_request", "request id %s was used before", requestID)
	}
	if !inbound.KnownAction(req.Action) {
		return nil, hookbook.Errorf(hookbook.ENotFound, "unknown_action", "unknown action %q", req.Action)
	}
	if !settings.Allows(req.Action) {
		return nil, hookbook.Errorf(hookbook.EForbidden, "scope_not_allowed", "the scope of %q is not enabled", req.Action)
	}
	return h.svc.Run(ctx, org.ID, req)
}
