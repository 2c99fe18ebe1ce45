package admin

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hookbook/hookbook"
	outbound "github.com/hookbook/hookbook/internal/outbound"
)

// Bulk replay: the delivery log's "Replay…" form asks for a range, a
// status and an event (GET, nothing changes), the confirmation page shows
// how many deliveries would go again, and its button starts the replay
// (POST) and leads to the replay's progress.

// replayForm is the replay form's fields as sent.
type replayForm struct{ Since, Until, Status, Event string }

func readReplayForm(v url.Values) replayForm {
	return replayForm{Since: strings.TrimSpace(v.Get("since")), Until: strings.TrimSpace(v.Get("until")),
		Status: strings.TrimSpace(v.Get("status")), Event: strings.TrimSpace(v.Get("event"))}
}

// uiTime turns a time as the form shows it (YYYY-MM-DD HH:MM, or as a
// datetime-local field sends it, in UTC) into RFC 3339; anything else is
// given back as it is, for the service to refuse.
func uiTime(raw string) string {
	for _, layout := range []string{sinceLayout, "2006-01-02T15:04"} {
		if t, err := time.Parse(layout, raw); err == nil {
			return t.UTC().Format(time.RFC3339)
		}
	}
	return raw
}

// filter validates the form as the API does at now, with its times read
// as the form shows them.
func (f replayForm) filter(now time.Time) (outbound.ReplayFilter, error) {
	since, until := uiTime(f.Since), uiTime(f.Until)
	in := outbound.ReplayInput{Since: &since, Until: &until, Status: &f.Status, Event: &f.Event}
	r, err := outbound.ParseReplay(in, now)
	if e := hookbook.AsError(err); e != nil && e.Kind == hookbook.EValidation {
		for _, field := range []string{"since", "until"} {
			if msg, ok := e.Details[field]; ok && strings.HasPrefix(msg, "must be an RFC 3339") {
				e.Details[field] = "Give a date and time as YYYY-MM-DD HH:MM (UTC), e.g. 2026-01-31 09:00."
			}
		}
	}
	return r, err
}

// replayEvent is the event filter a replay form means: in a portal link
// limited to one event type or wildcard, an empty one means the link's.
func (s *session) replayEvent(evt string) string {
	if evt == "" && len(s.EventTypes) == 1 {
		return s.EventTypes[0]
	}
	return evt
}

// checkReplayEvent refuses, in a portal link limited to some event types,
// a replay of deliveries of other types: its event filter must be one the
// link allows.
func (s *session) checkReplayEvent(evt string) error {
	if evt == "" {
		evt = "*"
	}
	if s.allows(evt) {
		return nil
	}
	if evt == "*" {
		return &hookbook.Error{Kind: hookbook.EValidation, Code: "validation_failed", Message: "event type required here",
			Details: map[string]string{"event": "Choose the events to replay: " + strings.Join(s.EventTypes, ", ") + " (or a part of one)."}}
	}
	return &hookbook.Error{Kind: hookbook.EValidation, Code: "validation_failed", Message: "event type not allowed here",
		Details: map[string]string{"event": "Replay " + strings.Join(s.EventTypes, ", ") + " (or a part of them): this link covers no other events."}}
}

// replayPage is the confirmation page: the count a replay of the form's
// filter would queue, or what is wrong with the form.
func (u *UI) replayPage(w http.ResponseWriter, r *http.Request, s *session) {
	ep, err := u.Outbound.Endpoint(r.Context(), s.Organization.ID, r.PathValue("id"))
	if err != nil {
		u.fail(w, s, err)
		return
	}
	form := readReplayForm(r.URL.Query())
	form.Event = s.replayEvent(form.Event)
	pg := u.base(r, s, "Replay deliveries?", "webhooks")
	pg.Form = map[string]string{"since": form.Since, "until": form.Until, "status": form.Status, "event": form.Event}
	data := map[string]any{"Endpoint": ep, "Statuses": []string{outbound.ReplayFailedOnly, outbound.ReplaySucceededOnly, outbound.ReplaySkippedOnly, outbound.ReplayAny}}
	pg.Data = data
	// The count shown is up to this second; the confirm form carries it,
	// so that the replay takes what was counted.
	f, err := form.filter(time.Now().UTC().Truncate(time.Second))
	if err == nil {
		err = s.checkReplayEvent(f.Event)
	}
	if e := hookbook.AsError(err); e != nil && e.Kind == hookbook.EValidation {
		pg.Errors, pg.Error = e.Details, "Please correct the fields marked below."
		u.render(w, http.StatusUnprocessableEntity, "replay", pg)
		return
	}
	if err != nil {
		u.fail(w, s, err)
		return
	}
	count, err := u.Outbound.CountReplay(r.Context(), s.Organization.ID, ep.ID, f)
	if err != nil {
		u.fail(w, s, err)
		return
	}
	if form.Status == "" {
		pg.Form["status"] = f.Status
	}
	data["Count"], data["Filter"], data["Until"] = count, f, f.Until.UTC().Format(time.RFC3339Nano)
	u.render(w, http.StatusOK, "replay", pg)
}

// replay starts the replay the confirmation page shows and leads to its
// progress.
func (u *UI) replay(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	form := readReplayForm(r.PostForm)
	form.Event = s.replayEvent(form.Event)
	f, err := form.filter(time.Now())
	if err == nil {
		err = s.checkReplayEvent(f.Event)
	}
	if err != nil {
		u.fail(w, s, err)
		return
	}
	job, err := u.Outbound.StartReplay(r.Context(), s.Organization.ID, id, f)
	if errors.Is(err, outbound.ErrNothingToReplay) {
		u.done(w, r, s, "/webhooks/"+id, "Nothing to replay: no delivery matches any more.")
		return
	}
	if err != nil {
		u.fail(w, s, err)
		return
	}
	noun := " deliveries"
	if job.Total == 1 {
		noun = " delivery"
	}
	msg := "Replay started: " + itoa(job.Total) + noun + " to queue again."
	if job.Running {
		msg = "This replay was already running; here is its progress."
	}
	u.done(w, r, s, "/webhooks/"+id+"/replays/"+job.ID, msg)
}

// replayJob shows a replay's progress.
func (u *UI) replayJob(w http.ResponseWriter, r *http.Request, s *session) {
	job, err := u.Outbound.Replay(r.Context(), s.Organization.ID, r.PathValue("rpl"))
	if err == nil && job.EndpointID != r.PathValue("id") {
		err = hookbook.NotFound("replay")
	}
	if err != nil {
		u.fail(w, s, err)
		return
	}
	ep, err := u.Outbound.Endpoint(r.Context(), s.Organization.ID, job.EndpointID)
	if err != nil {
		u.fail(w, s, err)
		return
	}
	pg := u.base(r, s, "Replay "+job.ID, "webhooks")
	pg.Data = map[string]any{"Endpoint": ep, "Replay": job}
	u.render(w, http.StatusOK, "replayjob", pg)
}
