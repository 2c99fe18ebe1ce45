package outbound

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/mail"
	"net/url"
	"strings"
	"time"

	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/db"
	"github.com/hookbook/hookbook/internal/event"
	"github.com/hookbook/hookbook/internal/ids"
	"github.com/hookbook/hookbook/internal/queue"
)

// Operational events and alerts. An endpoint's health is told two ways:
// as operational events (delivery.failing, delivery.exhausted,
// delivery.recovered, endpoint.created/updated/deleted/disabled) to the
// organization's other endpoints that subscribe to them, and as mails to
// the endpoint's alert_emails. Both are decided inside the transaction that
// records what happened, and both are bounded by endpoint_notices, which
// every instance shares: one delivery.failing per endpoint per
// FailingEventEvery, one mail per endpoint and kind per AlertMailEvery.
// Failures of deliveries of operational events raise no operational event
// nor mail, so that two endpoints watching each other cannot feed a loop.

// Bounds of operational events and alert mails.
const (
	// MaxAlertEmails bounds an endpoint's alert_emails.
	MaxAlertEmails = 5
	// maxAlertEmail bounds one address (RFC 5321's path limit).
	maxAlertEmail = 254
	// DefaultFailingAfter is the attempt whose failure reports a
	// delivery failing, unless HOOKBOOK_FAILING_AFTER says otherwise.
	DefaultFailingAfter = 3
	// FailingEventEvery bounds delivery.failing: one per endpoint per hour.
	FailingEventEvery = time.Hour
	// AlertMailEvery bounds alert mails: one per endpoint and kind per day.
	AlertMailEvery = 24 * time.Hour
	// DisableWarning is how long before an endpoint would be disabled its
	// owners are warned (at most half of HOOKBOOK_DISABLE_AFTER).
	DisableWarning = 24 * time.Hour
	// AlertMailTries is how often a mail is tried before it is given up.
	AlertMailTries = 5
	// alertMailBatch is how many mails one pass of the alert job sends.
	alertMailBatch = 20
	// alertErrors is how many of the endpoint's last errors a mail lists.
	alertErrors = 5
)

// Alert kinds: what an alert mail tells.
const (
	AlertFailing   = "failing"   // the endpoint started failing
	AlertDisabling = "disabling" // it will be disabled in a day
	AlertDisabled  = "disabled"  // hookbook disabled it
	AlertRecovered = "recovered" // it works again
)

// checkAlertEmails validates an endpoint's alert addresses: at most
// MaxAlertEmails plain addresses (net/mail, no display name), each given
// once. It returns the list and "" or what is wrong.
func checkAlertEmails(list []string) ([]string, string) {
	out := make([]string, 0, len(list))
	if len(list) > MaxAlertEmails {
		return out, fmt.Sprintf("must hold at most %d addresses", MaxAlertEmails)
	}
	seen := map[string]bool{}
	for _, raw := range list {
		a := strings.TrimSpace(raw)
		if len(a) > maxAlertEmail {
			// Not echoed: an answer stays small whatever was sent.
			return out, fmt.Sprintf("holds an address of more than %d characters: not an e-mail address such as ops@example.com", maxAlertEmail)
		}
		parsed, err := mail.ParseAddress(a)
		if err != nil || parsed.Address != a || parsed.Name != "" {
			return out, fmt.Sprintf("%q is not an e-mail address such as ops@example.com", a)
		}
		if !seen[strings.ToLower(a)] {
			seen[strings.ToLower(a)] = true
			out = append(out, a)
		}
	}
	return out, ""
}

// failingAfter is the attempt whose failure reports a delivery failing.
func (s *Service) failingAfter() int {
	if s.FailingAfter > 0 {
		return s.FailingAfter
	}
	return DefaultFailingAfter
}

// claimNotice records that hookbook tells of an endpoint (kind) at now,
// unless it did within every: it reports whether it may tell. Concurrent
// instances cannot both win (the row is the bound).
func claimNotice(ctx context.Context, tx *db.Tx, endpointID, kind string, now time.Time, every time.Duration) (bool, error) {
	res, err := tx.ExecContext(ctx, `INSERT INTO endpoint_notices (endpoint_id, kind, at) VALUES ($1, $2, $3)
		ON CONFLICT (endpoint_id, kind) DO UPDATE SET at = excluded.at WHERE endpoint_notices.at <= $4`,
		endpointID, kind, db.Micros(now), db.Micros(now.Add(-every)))
	if err != nil {
		return false, fmt.Errorf("endpoint notice: %w", err)
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// publicURL is an endpoint URL as operational events and mails show it:
// any password in it replaced.
func publicURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	return u.Redacted()
}

// publishAbout publishes an operational event about an endpoint inside tx:
// to the organization's endpoints that take its type, never that one. An
// opt-in type (event.OptIn) that no endpoint takes is not even stored.
func (s *Service) publishAbout(ctx context.Context, tx *db.Tx, orgID, endpointID string, p event.Payload, now time.Time) error {
	cands, err := candidates(ctx, tx, orgID)
	if err != nil {
		return err
	}
	wanted := !event.OptIn(p.EventType())
	for _, c := range cands {
		if wanted {
			break
		}
		if c.ep.ID != endpointID && event.Subscribed(c.ep.Events, p.EventType()) {
			wanted = true
			break
		}
	}
	if !wanted {
		return nil
	}
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	_, err = s.PublishTx(ctx, tx, Publication{OrganizationID: orgID, Type: p.EventType(), Data: b, OccurredAt: now, About: endpointID})
	return err
}

// endpointChange is an endpoint as endpoint.* events show it.
func endpointChange(e *hookbook.Endpoint, at time.Time) event.EndpointChange {
	return event.EndpointChange{EndpointID: e.ID, Type: e.Type, URL: publicURL(e.URL), Description: e.Description,
		Events: e.Events, Enabled: e.Enabled, At: event.At(at)}
}

// attemptOf is one outcome as operational events show it.
func attemptOf(r *queue.Result) event.DeliveryAttempt {
	j := r.Job
	a := event.DeliveryAttempt{EndpointID: j.Endpoint.ID, URL: publicURL(j.Endpoint.URL), DeliveryID: j.DeliveryID,
		EventID: j.EventID, EventType: j.EventType, Attempt: j.Attempt, ErrorKind: r.ErrorKind, Error: r.Error,
		At: event.At(r.StartedAt.Add(r.Duration))}
	if r.StatusCode != 0 {
		code := r.StatusCode
		a.StatusCode = &code
	}
	return a
}

// Outcomes decides, inside the transaction that records a batch of
// attempts (queue.Queue.Outcomes), the operational events and alert mails
// they raise: delivery.failing and a "failing" mail when a delivery's
// attempt number failing_after fails (once per endpoint per hour, per
// day for the mail), delivery.exhausted when a delivery fails for good,
// delivery.recovered and a "recovered" mail on the first success of an
// endpoint reported failing.
func (s *Service) Outcomes(ctx context.Context, tx *db.Tx, results []*queue.Result) error {
	now := s.DB.Now().UTC()
	var succeeded []string
	firstSuccess := map[string]*queue.Result{}
	reported := map[string]bool{}
	for _, r := range results {
		j := r.Job
		if j.Endpoint == nil || event.Operational(j.EventType) {
			continue
		}
		if r.Success {
			if firstSuccess[j.Endpoint.ID] == nil {
				firstSuccess[j.Endpoint.ID] = r
				succeeded = append(succeeded, j.Endpoint.ID)
			}
			continue
		}
		threshold := min(s.failingAfter(), j.MaxAttempts)
		if j.Attempt == threshold && !reported[j.Endpoint.ID] {
			reported[j.Endpoint.ID] = true
			if err := s.reportFailing(ctx, tx, r, threshold, now); err != nil {
				return err
			}
		}
		if r.NextAttemptAt.IsZero() {
			if err := s.publishAbout(ctx, tx, j.OrganizationID, j.Endpoint.ID, event.DeliveryExhaustedData{DeliveryAttempt: attemptOf(r)}, now); err != nil {
				return err
			}
		}
	}
	if len(succeeded) == 0 {
		return nil
	}
	rows, err := tx.QueryContext(ctx, `DELETE FROM endpoint_notices WHERE kind = 'open:failing'
		AND endpoint_id IN (`+db.Placeholders(1, len(succeeded))+`) RETURNING endpoint_id`, db.Args(succeeded)...)
	if err != nil {
		return fmt.Errorf("recovered endpoints: %w", err)
	}
	var recovered []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		recovered = append(recovered, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, id := range recovered {
		r := firstSuccess[id]
		if err := s.publishAbout(ctx, tx, r.Job.OrganizationID, id, event.DeliveryRecoveredData{DeliveryAttempt: attemptOf(r)}, now); err != nil {
			return err
		}
		if err := s.queueAlert(ctx, tx, r.Job.Endpoint, AlertRecovered, "", now); err != nil {
			return err
		}
	}
	return nil
}

// reportFailing publishes delivery.failing about r's endpoint and queues
// its "failing" mail, unless it was reported within FailingEventEvery; it
// marks the endpoint reported until its next success.
func (s *Service) reportFailing(ctx context.Context, tx *db.Tx, r *queue.Result, threshold int, now time.Time) error {
	ep := r.Job.Endpoint
	ok, err := claimNotice(ctx, tx, ep.ID, "event:failing", now, FailingEventEvery)
	if err != nil || !ok {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO endpoint_notices (endpoint_id, kind, at) VALUES ($1, 'open:failing', $2)
		ON CONFLICT (endpoint_id, kind) DO UPDATE SET at = excluded.at`, ep.ID, db.Micros(now)); err != nil {
		return fmt.Errorf("endpoint notice: %w", err)
	}
	data := event.DeliveryFailingData{DeliveryAttempt: attemptOf(r), FailureThreshold: threshold}
	if err := s.publishAbout(ctx, tx, r.Job.OrganizationID, ep.ID, data, now); err != nil {
		return err
	}
	return s.queueAlert(ctx, tx, ep, AlertFailing, "", now)
}

// queueAlert stores an alert mail of kind about an endpoint in the outbox
// (the alert job sends it), unless mails are off, the endpoint has no
// alert address, or the same kind was queued within AlertMailEvery.
// detail is what the mail adds to its kind (a disabled reason, a time).
func (s *Service) queueAlert(ctx context.Context, tx *db.Tx, ep *hookbook.Endpoint, kind, detail string, now time.Time) error {
	if !s.MailAlerts || ep == nil || len(ep.AlertEmails) == 0 {
		return nil
	}
	ok, err := claimNotice(ctx, tx, ep.ID, "mail:"+kind, now, AlertMailEvery)
	if err != nil || !ok {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO alert_mails (id, organization_id, endpoint_id, kind, detail, status, next_attempt_at, created_at)
		VALUES ($1, $2, $3, $4, $5, 'pending', $6, $6)`, ids.New("alm"), ep.OrganizationID, ep.ID, kind, detail, db.Micros(now))
	if err != nil {
		return fmt.Errorf("queue alert mail: %w", err)
	}
	return nil
}

// WarnDisabling queues the "disabling" mail of every enabled endpoint that
// has failed without a success for disableAfter less DisableWarning (less
// half of disableAfter when that is shorter), and reports how many. Run by
// the auto-disable job.
func (s *Service) WarnDisabling(ctx context.Context, disableAfter time.Duration) (int, error) {
	if !s.MailAlerts {
		return 0, nil
	}
	now := s.DB.Now().UTC()
	warnAt := now.Add(-(disableAfter - min(DisableWarning, disableAfter/2)))
	rows, err := s.DB.QueryContext(ctx, `SELECT `+endpointColumns+` FROM endpoints WHERE enabled = TRUE AND deleted_at IS NULL
		AND failing_since IS NOT NULL AND failing_since <= $1 AND alert_emails <> '[]'`, db.Micros(warnAt))
	list, err := collectEndpoints(rows, err)
	if err != nil {
		return 0, fmt.Errorf("endpoints to warn: %w", err)
	}
	n := 0
	for _, ep := range list {
		when := ep.FailingSince.Add(disableAfter).UTC().Format(time.RFC3339)
		err := s.DB.Tx(ctx, func(tx *db.Tx) error { return s.queueAlert(ctx, tx, ep, AlertDisabling, when, now) })
		if err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

func collectEndpoints(rows *sql.Rows, err error) ([]*hookbook.Endpoint, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*hookbook.Endpoint
	for rows.Next() {
		e, err := scanEndpoint(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// AlertMail is a rendered alert mail.
type AlertMail struct {
	To      []string
	Subject string
	Text    string
}

// AlertError is one of an endpoint's last failed attempts, as a mail lists it.
type AlertError struct {
	At         time.Time
	Event      string
	StatusCode *int
	Error      string
}

// RenderAlert writes the mail of kind about ep: what happened, its last
// errors (newest first), detail (a disabled reason, the time it will be
// disabled) and a link to its delivery log (logURL, "" for the API path).
func RenderAlert(ep *hookbook.Endpoint, kind, detail string, errs []AlertError, logURL string) AlertMail {
	name := publicURL(ep.URL)
	if ep.Description != "" {
		name = ep.Description + " (" + publicURL(ep.URL) + ")"
	}
	var subject, lead string
	switch kind {
	case AlertFailing:
		subject = "Webhook endpoint failing: " + publicURL(ep.URL)
		lead = "Deliveries to your endpoint " + name + " are failing; hookbook keeps retrying them."
	case AlertDisabling:
		subject = "Webhook endpoint to be disabled: " + publicURL(ep.URL)
		lead = "Your endpoint " + name + " has failed without a success for a long time. Unless a delivery succeeds, hookbook disables it at " + detail + "."
	case AlertDisabled:
		subject = "Webhook endpoint disabled: " + publicURL(ep.URL)
		lead = "hookbook disabled your endpoint " + name + ": " + detail + ". Events published while it is disabled are kept as skipped deliveries; enable it and replay them."
	default:
		subject = "Webhook endpoint recovered: " + publicURL(ep.URL)
		lead = "Deliveries to your endpoint " + name + " succeed again."
	}
	var b strings.Builder
	b.WriteString(lead + "\n\n")
	b.WriteString("Endpoint: " + ep.ID + "\n")
	if len(errs) > 0 && kind != AlertRecovered {
		b.WriteString("\nLast errors:\n")
		for _, e := range errs {
			what := oneLine(e.Error, 200)
			if e.StatusCode != nil && what != fmt.Sprintf("HTTP %d", *e.StatusCode) {
				what = fmt.Sprintf("HTTP %d: %s", *e.StatusCode, what)
			}
			fmt.Fprintf(&b, "- %s  %s  %s\n", e.At.UTC().Format(time.RFC3339), e.Event, what)
		}
	}
	if logURL == "" {
		logURL = "GET /api/v1/webhooks/" + ep.ID + "/deliveries"
	}
	b.WriteString("\nDelivery log: " + logURL + "\n")
	b.WriteString("\nYou receive this because your address is among the endpoint's alert e-mails; hookbook sends at most one such mail a day.\n")
	return AlertMail{To: ep.AlertEmails, Subject: subject, Text: b.String()}
}

// oneLine is s on one line, cut to at most n bytes.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		s = s[:n] + "…"
	}
	return s
}

// lastErrors returns an endpoint's last failed attempts, newest first.
func (s *Service) lastErrors(ctx context.Context, endpointID string) ([]AlertError, error) {
	rows, err := s.DB.QueryContext(ctx, `SELECT a.started_at, d.event_type, a.status_code, a.error FROM deliveries d
		JOIN attempts a ON a.delivery_id = d.id WHERE d.id IN (SELECT id FROM deliveries WHERE endpoint_id = $1 ORDER BY id DESC LIMIT 50)
		AND a.error IS NOT NULL ORDER BY a.started_at DESC LIMIT $2`, endpointID, alertErrors)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []AlertError
	for rows.Next() {
		var e AlertError
		var at int64
		var code sql.NullInt64
		if err := rows.Scan(&at, &e.Event, &code, &e.Error); err != nil {
			return nil, err
		}
		e.At = db.Time(at)
		if code.Valid {
			c := int(code.Int64)
			e.StatusCode = &c
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// SendAlertMails sends the due mails of the outbox through send, at most
// alertMailBatch a pass, and reports how many it sent. A mail that cannot
// be sent is tried again later (a minute, then doubling), and given up
// after AlertMailTries: an unreachable mail server costs only the mail.
// Mails about endpoints since deleted, or left without addresses, are
// dropped.
func (s *Service) SendAlertMails(ctx context.Context, send func(ctx context.Context, m AlertMail) error) (int, error) {
	type due struct {
		id, org, endpoint, kind, detail string
		tries                           int
	}
	now := s.DB.Now().UTC()
	rows, err := s.DB.QueryContext(ctx, `SELECT id, organization_id, endpoint_id, kind, detail, attempts FROM alert_mails
		WHERE status = 'pending' AND next_attempt_at <= $1 ORDER BY next_attempt_at LIMIT $2`, db.Micros(now), alertMailBatch)
	if err != nil {
		return 0, fmt.Errorf("due alert mails: %w", err)
	}
	var list []due
	for rows.Next() {
		var d due
		if err := rows.Scan(&d.id, &d.org, &d.endpoint, &d.kind, &d.detail, &d.tries); err != nil {
			rows.Close()
			return 0, err
		}
		list = append(list, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	sent := 0
	for _, d := range list {
		ep, err := s.Endpoint(ctx, d.org, d.endpoint)
		if hookbook.IsKind(err, hookbook.ENotFound) || (err == nil && len(ep.AlertEmails) == 0) {
			if err := s.finishAlert(ctx, d.id, "dropped", "the endpoint was deleted or has no alert e-mail left"); err != nil {
				return sent, err
			}
			continue
		}
		if err != nil {
			return sent, err
		}
		errs, err := s.lastErrors(ctx, ep.ID)
		if err != nil {
			return sent, fmt.Errorf("last errors: %w", err)
		}
		m := RenderAlert(ep, d.kind, d.detail, errs, s.logURL(ep.ID))
		sendCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err = send(sendCtx, m)
		cancel()
		if err == nil {
			sent++
			if err := s.finishAlert(ctx, d.id, "sent", ""); err != nil {
				return sent, err
			}
			s.log().Info("alert mail sent", "endpoint_id", ep.ID, "kind", d.kind, "recipients", len(m.To))
			continue
		}
		if ctx.Err() != nil {
			return sent, ctx.Err()
		}
		tries := d.tries + 1
		s.log().Warn("alert mail not sent", "endpoint_id", ep.ID, "kind", d.kind, "try", tries, "err", err.Error())
		if tries >= AlertMailTries {
			if err := s.finishAlert(ctx, d.id, "failed", err.Error()); err != nil {
				return sent, err
			}
			continue
		}
		next := s.DB.Now().Add(time.Minute << (tries - 1))
		if _, err := s.DB.ExecContext(ctx, `UPDATE alert_mails SET attempts = $1, next_attempt_at = $2, last_error = $3 WHERE id = $4`,
			tries, db.Micros(next), oneLine(err.Error(), 500), d.id); err != nil {
			return sent, fmt.Errorf("alert mail: %w", err)
		}
	}
	return sent, nil
}

func (s *Service) finishAlert(ctx context.Context, id, status, why string) error {
	_, err := s.DB.ExecContext(ctx, `UPDATE alert_mails SET status = $1, sent_at = $2, last_error = $3 WHERE id = $4`,
		status, db.Micros(s.DB.Now()), db.NullText(oneLine(why, 500)), id)
	if err != nil {
		return fmt.Errorf("alert mail: %w", err)
	}
	return nil
}

// logURL is the address of an endpoint's delivery log in the admin UI
// (HOOKBOOK_PUBLIC_URL/settings/webhooks/{id}), "" when no public URL is set.
func (s *Service) logURL(endpointID string) string {
	if s.PublicURL == "" {
		return ""
	}
	return s.PublicURL + "/settings/webhooks/" + endpointID
}

// AlertMailStatus returns the status of the alert mails of an endpoint,
// oldest first: kind and status ("pending", "sent", "failed", "dropped").
func (s *Service) AlertMailStatus(ctx context.Context, endpointID string) ([][2]string, error) {
	rows, err := s.DB.QueryContext(ctx, `SELECT kind, status FROM alert_mails WHERE endpoint_id = $1 ORDER BY id`, endpointID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out [][2]string
	for rows.Next() {
		var k, st string
		if err := rows.Scan(&k, &st); err != nil {
			return nil, err
		}
		out = append(out, [2]string{k, st})
	}
	return out, rows.Err()
}

// purgeAlerts deletes finished alert mails and notices older than cutoff
// (a notice older than a day bounds nothing; an open failing report is
// kept while its endpoint lives).
func (s *Service) purgeAlerts(ctx context.Context, cutoff time.Time) error {
	if _, err := s.DB.ExecContext(ctx, `DELETE FROM alert_mails WHERE status <> 'pending' AND created_at < $1`, db.Micros(cutoff)); err != nil {
		return fmt.Errorf("purge alert mails: %w", err)
	}
	if _, err := s.DB.ExecContext(ctx, `DELETE FROM endpoint_notices WHERE at < $1 AND (kind <> 'open:failing'
		OR endpoint_id IN (SELECT id FROM endpoints WHERE deleted_at IS NOT NULL))`, db.Micros(cutoff)); err != nil {
		return fmt.Errorf("purge endpoint notices: %w", err)
	}
	return nil
}
