package admin

import (
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/db"
	"github.com/hookbook/hookbook/internal/event"
	"github.com/hookbook/hookbook/internal/ids"
	"github.com/hookbook/hookbook/internal/inbound"
	outbound "github.com/hookbook/hookbook/internal/outbound"
	"github.com/hookbook/hookbook/internal/ratelimit"
)

func itoa(n int) string { return strconv.Itoa(n) }

func urlEscape(s string) string { return url.QueryEscape(s) }

// safeNext keeps a post-login redirect on this site.
func safeNext(next string) string {
	if strings.HasPrefix(next, "/settings/") && !strings.HasPrefix(next, "//") && !strings.Contains(next, "\\") {
		return next
	}
	return "/settings/webhooks"
}

func (u *UI) loginPage(w http.ResponseWriter, r *http.Request) {
	csrf := ids.Token("")
	u.setCookie(w, loginCookie, csrf, 600)
	u.render(w, http.StatusOK, "login", &page{Title: "Sign in", CSRF: csrf, Form: map[string]string{"next": r.URL.Query().Get("next")}})
}

func (u *UI) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 1<<16)
	c, err := r.Cookie(loginCookie)
	if err != nil || subtle.ConstantTimeCompare([]byte(c.Value), []byte(r.PostFormValue("csrf"))) != 1 {
		u.render(w, http.StatusForbidden, "error", &page{Title: "Refused", Error: "This sign-in form has expired (CSRF check failed). Reload it and try again."})
		return
	}
	next := r.PostFormValue("next")
	addr := ratelimit.ClientAddr(r)
	attempt := time.Now()
	if wait, ok := u.signins.Take(addr, attempt); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
		u.render(w, http.StatusTooManyRequests, "error", &page{Title: "Too many attempts",
			Error: "Too many failed sign-ins from your address. Try again in " + hookbook.HumanWait(wait) + "."})
		return
	}
	caller, err := u.Orgs.Authenticate(r.Context(), strings.TrimSpace(r.PostFormValue("api_key")))
	if err != nil {
		csrf := ids.Token("")
		u.setCookie(w, loginCookie, csrf, 600)
		u.render(w, http.StatusUnauthorized, "login", &page{Title: "Sign in", CSRF: csrf, Form: map[string]string{"next": next},
			Errors: map[string]string{"api_key": "This API key is not valid."}})
		return
	}
	u.signins.Forgive(addr, attempt)
	tok, err := u.Sessions.SignIn(r.Context(), caller.Organization.ID, caller.KeyID, SessionTTL)
	if err != nil {
		u.Log.Error("create session", "err", err)
		http.Error(w, "could not sign in", http.StatusInternalServerError)
		return
	}
	u.setCookie(w, loginCookie, "", -1)
	u.setCookie(w, sessionCookie, tok, int(SessionTTL/time.Second))
	http.Redirect(w, r, safeNext(next), http.StatusSeeOther)
}

func (u *UI) logout(w http.ResponseWriter, r *http.Request, s *session) {
	u.Sessions.Delete(r.Context(), s.token)
	u.setCookie(w, sessionCookie, "", -1)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

func (u *UI) list(w http.ResponseWriter, r *http.Request, s *session) {
	p, err := page1(r, "ep")
	if err != nil {
		u.fail(w, s, err)
		return
	}
	eps, next, err := u.Outbound.Endpoints(r.Context(), s.Organization.ID, p)
	if err != nil {
		u.fail(w, s, err)
		return
	}
	idList := make([]string, len(eps))
	for i, ep := range eps {
		idList[i] = ep.ID
	}
	vols, err := u.Outbound.EndpointsVolume(r.Context(), s.Organization.ID, idList, time.Now().Add(-ChartHours*time.Hour))
	if err != nil {
		u.fail(w, s, err)
		return
	}
	rows := make([]endpointRow, len(eps))
	for i, ep := range eps {
		rows[i] = u.row(ep, vols[ep.ID])
	}
	pg := u.base(r, s, "Webhooks", "webhooks")
	data := map[string]any{"Endpoints": rows, "Next": next, "Outbound": s.Organization.OutboundEnabled}
	pg.Data = data
	if !s.Portal && u.MaxRetention > 0 {
		own, err := u.Outbound.Retention(r.Context(), s.Organization.ID)
		if err != nil {
			u.fail(w, s, err)
			return
		}
		data["MaxRetention"] = outbound.FormatRetention(u.MaxRetention)
		if own != nil {
			data["Retention"] = outbound.FormatRetention(*own)
		}
	}
	u.render(w, http.StatusOK, "list", pg)
}

// retention sets the organization's retention; left empty, the operator's
// maximum applies.
func (u *UI) retention(w http.ResponseWriter, r *http.Request, s *session) {
	var d *time.Duration
	if text := strings.TrimSpace(r.PostFormValue("retention")); text != "" {
		v, err := outbound.ParseRetention(text)
		if err != nil {
			u.fail(w, s, err)
			return
		}
		d = &v
	}
	if err := u.Outbound.SetRetention(r.Context(), s.Organization.ID, d, u.MaxRetention); err != nil {
		if e := hookbook.AsError(err); e != nil && e.Details["retention"] != "" {
			err = &hookbook.Error{Kind: e.Kind, Code: e.Code, Message: "Retention " + e.Details["retention"] + ".", Details: e.Details}
		}
		u.fail(w, s, err)
		return
	}
	msg := "Events and deliveries are kept for the operator's maximum, " + outbound.FormatRetention(u.MaxRetention) + "."
	if d != nil {
		msg = "Events and deliveries are kept for " + outbound.FormatRetention(*d) + "."
	}
	u.done(w, r, s, "/webhooks", msg)
}

// page1 reads ?cursor of a UI list (50 a page).
func page1(r *http.Request, prefix string) (db.Page, error) {
	return db.ParsePage("", r.URL.Query().Get("cursor"), prefix)
}

func (u *UI) outbound(w http.ResponseWriter, r *http.Request, s *session) {
	on := r.PostFormValue("enabled") == "on"
	if err := u.Outbound.SetOutboundEnabled(r.Context(), s.Organization.ID, on); err != nil {
		u.fail(w, s, err)
		return
	}
	msg := "Outbound delivery is off: events are stored but not sent."
	if on {
		msg = "Outbound delivery is on."
	}
	u.done(w, r, s, "/webhooks", msg)
}

// eventChoice is one checkbox of the events picker.
type eventChoice struct {
	Name, Description string
}

// family is the event types of one family ("booking") in the events
// picker, with the wildcard that selects them all ("booking.*").
type family struct {
	Name     string
	All      *eventChoice // nil when the session may not choose it
	Types    []eventChoice
	Selected int  // ticked boxes in the family
	Open     bool // shown unfolded: something ticked or a filter matched
}

// picker is the events picker: "*", one family per event type prefix,
// and the ticked values a filter hides (sent again as hidden fields).
type picker struct {
	Every    *eventChoice
	Families []family
	Filter   string
	Matches  int
	Hidden   []string
}

// picker groups the choices of a session by family and keeps only those
// matching filter (in name or description); checked are the ticked values.
func (u *UI) picker(r *http.Request, s *session, filter string, checked map[string]bool) picker {
	p := picker{Filter: filter}
	f := strings.ToLower(filter)
	match := func(c eventChoice) bool {
		return f == "" || strings.Contains(strings.ToLower(c.Name), f) || strings.Contains(strings.ToLower(c.Description), f)
	}
	index := map[string]int{}
	for _, c := range u.choices(r, s) {
		if c.Name == "*" {
			if c := c; match(c) {
				p.Every = &c
			} else if checked[c.Name] {
				p.Hidden = append(p.Hidden, c.Name)
			}
			continue
		}
		g, rest, _ := strings.Cut(c.Name, ".")
		i, ok := index[g]
		if !ok {
			i = len(p.Families)
			index[g] = i
			p.Families = append(p.Families, family{Name: g})
		}
		fam := &p.Families[i]
		if checked[c.Name] {
			fam.Selected++
			fam.Open = true
		}
		if !match(c) {
			if checked[c.Name] {
				p.Hidden = append(p.Hidden, c.Name)
			}
			continue
		}
		if f != "" {
			fam.Open = true
			p.Matches++
		}
		if rest == "*" {
			c := c
			fam.All = &c
		} else {
			fam.Types = append(fam.Types, c)
		}
	}
	out := p.Families[:0]
	for _, fam := range p.Families {
		if fam.All != nil || len(fam.Types) > 0 {
			out = append(out, fam)
		}
	}
	p.Families = out
	return p
}

// choices are the event patterns a session may pick: everything for an
// admin, what a portal session's event types cover for a portal.
func (u *UI) choices(r *http.Request, s *session) []eventChoice {
	types, _ := u.Outbound.Catalog(r.Context(), s.Organization.ID)
	all := []eventChoice{{"*", "Every event, including types added later"}}
	groups := map[string]bool{}
	for _, t := range types {
		if g, _, ok := strings.Cut(t.Name, "."); ok && !groups[g] {
			groups[g] = true
		}
	}
	var gs []string
	for g := range groups {
		gs = append(gs, g)
	}
	sort.Strings(gs)
	for _, g := range gs {
		all = append(all, eventChoice{g + ".*", "Every " + g + " event"})
	}
	for _, t := range types {
		all = append(all, eventChoice{t.Name, t.Description})
	}
	out := all[:0]
	for _, c := range all {
		if s.allows(c.Name) {
			out = append(out, c)
		}
	}
	return out
}

// formInput reads the endpoint form; validation is package outbound's, as for the API.
// Throttling (rate_limit, max_in_flight) is the platform's to set: only an
// admin session's form sends it, and an empty field clears it.
func formInput(r *http.Request, create bool, s *session) (outbound.EndpointInput, map[string]string, map[string]bool) {
	r.ParseForm()
	form := map[string]string{}
	for _, k := range []string{"url", "description", "max_attempts", "timeout_seconds", "signature_scheme", "secret", "signature_algorithm", "filter", "rate_limit", "max_in_flight", "payload_filter", "filter_event", "filter_event_type", "alert_emails"} {
		form[k] = strings.TrimSpace(r.PostFormValue(k))
	}
	checked := map[string]bool{}
	events := r.PostForm["events"]
	for _, e := range events {
		checked[e] = true
	}
	if events == nil {
		events = []string{}
	}
	in := outbound.EndpointInput{URL: ptr(form["url"]), Events: &events, Description: ptr(form["description"])}
	// Alert e-mails are the organization's to set: a portal user could
	// otherwise have hookbook mail any address from the operator's sender.
	if _, sent := r.PostForm["alert_emails"]; sent && !s.Portal { // comma separated; empty clears them
		emails := []string{}
		for _, a := range strings.Split(form["alert_emails"], ",") {
			if a = strings.TrimSpace(a); a != "" {
				emails = append(emails, a)
			}
		}
		in.AlertEmails = &emails
	}
	enabled := r.PostFormValue("enabled") == "on"
	in.Enabled = &enabled
	checked["enabled"] = enabled
	ordered := r.PostFormValue("ordered") == "on"
	in.Ordered = &ordered
	checked["ordered"] = ordered
	intField := func(name string) *int {
		n, err := strconv.Atoi(form[name])
		if err != nil {
			n = -1 // refused by package outbound with its own message
		}
		return &n
	}
	in.MaxAttempts, in.TimeoutSeconds = intField("max_attempts"), intField("timeout_seconds")
	if !s.Portal {
		in.RateLimit, in.MaxInFlight = outbound.Clear[string](nil), outbound.Clear[int](nil)
		if v := form["rate_limit"]; v != "" {
			in.RateLimit = outbound.Clear(&v)
		}
		if form["max_in_flight"] != "" {
			in.MaxInFlight = outbound.Clear(intField("max_in_flight"))
		}
	}
	scheme := form["signature_scheme"]
	in.Scheme = &scheme
	if create && form["secret"] != "" {
		secret := form["secret"]
		in.Secret = &secret
	}
	if alg := form["signature_algorithm"]; alg != "" { // the edit form repeats it: a change is refused
		in.SignatureAlgorithm = &alg
	}
	if _, sent := r.PostForm["payload_filter"]; sent { // an empty field removes the filter
		in.Filter = outbound.Clearable[json.RawMessage]{Set: true}
		if form["payload_filter"] != "" {
			v := json.RawMessage(form["payload_filter"])
			in.Filter.Value = &v
		}
	}
	return in, form, checked
}

func ptr[T any](v T) *T { return &v }

func (u *UI) createPage(w http.ResponseWriter, r *http.Request, s *session) {
	pg := u.base(r, s, "New endpoint", "webhooks")
	pg.Form = map[string]string{"max_attempts": "8", "timeout_seconds": "10", "signature_scheme": "timestamped", "signature_algorithm": hookbook.AlgorithmHMACSHA256}
	securityForm(pg.Form, nil)
	pg.Checked = map[string]bool{"enabled": true, "transformation_enabled": true}
	pg.Form["type"] = hookbook.EndpointWebhook
	pg.Data = map[string]any{"Picker": u.picker(r, s, "", pg.Checked), "Create": true, "Examples": u.exampleTypes(r, s), "Types": u.typeForms(pg.Form, nil)}
	u.addTransform(r, s, pg, nil)
	u.render(w, http.StatusOK, "form", pg)
}

// filtering reports whether the form was sent with its "Filter" button:
// it is then shown again, its event types filtered, nothing saved.
func (u *UI) filtering(w http.ResponseWriter, r *http.Request, s *session, form map[string]string, checked map[string]bool, create bool, id string, kept []string) bool {
	if r.PostFormValue("action") != "filter" {
		return false
	}
	u.render(w, http.StatusOK, "form", u.reshow(r, s, form, checked, create, id, kept))
	return true
}

// reshow is the endpoint form shown again as it was sent.
func (u *UI) reshow(r *http.Request, s *session, form map[string]string, checked map[string]bool, create bool, id string, kept []string) *page {
	title := "New endpoint"
	if !create {
		title = "Edit endpoint"
	}
	pg := u.base(r, s, title, "webhooks")
	pg.Form, pg.Checked = form, checked
	pg.Data = map[string]any{"Picker": u.picker(r, s, form["filter"], checked), "Create": create, "ID": id, "Kept": kept,
		"Examples": u.exampleTypes(r, s), "Types": u.typeForms(form, nil)}
	u.addTransform(r, s, pg, nil)
	return pg
}

// testingFilter reports whether the form was sent with its "Test filter"
// button: it is then shown again with the dry run's outcome (the payload
// filter against the pasted event, else the chosen type's example), nothing
// saved.
func (u *UI) testingFilter(w http.ResponseWriter, r *http.Request, s *session, form map[string]string, checked map[string]bool, create bool, id string, kept []string) bool {
	if r.PostFormValue("action") != "test_filter" {
		return false
	}
	pg := u.reshow(r, s, form, checked, create, id, kept)
	status := http.StatusOK
	ok, err := u.Outbound.TestFilter(outbound.FilterTestInput{Filter: json.RawMessage(form["payload_filter"]), Event: u.dryRunEvent(r, s, form)})
	if e := hookbook.AsError(err); e != nil && e.Kind == hookbook.EValidation {
		pg.Errors, status = filterErrors(e.Details), http.StatusUnprocessableEntity
		pg.Error = "Please correct the fields marked below."
	} else if err != nil {
		u.fail(w, s, err)
		return true
	} else {
		pg.Data.(map[string]any)["FilterResult"] = &struct{ Matches bool }{ok}
	}
	u.render(w, status, "form", pg)
	return true
}

// dryRunEvent is the event a filter is tried on: the one pasted, else an
// envelope with the example data of the chosen event type.
func (u *UI) dryRunEvent(r *http.Request, s *session, form map[string]string) json.RawMessage {
	if form["filter_event"] != "" {
		return json.RawMessage(form["filter_event"])
	}
	name := form["filter_event_type"]
	data := json.RawMessage(`{}`)
	if s.allows(name) {
		if et, err := u.Outbound.EventType(r.Context(), s.Organization.ID, name); err == nil && len(et.Example) > 0 {
			data = et.Example
		}
	}
	env, _ := json.Marshal(map[string]any{"event": name, "data": data})
	return env
}

// exampleTypes are the event types a filter may be tried on: those of the
// catalog the session may pick.
func (u *UI) exampleTypes(r *http.Request, s *session) []string {
	types, _ := u.Outbound.Catalog(r.Context(), s.Organization.ID)
	var out []string
	for _, t := range types {
		if s.allows(t.Name) {
			out = append(out, t.Name)
		}
	}
	return out
}

// UINoLimitHint ends the form's messages of rate_limit and max_in_flight
// where the API's say null (outbound.NoLimitHint).
const UINoLimitHint = ", or leave it empty for no limit"

// filterErrors puts the validation messages of a payload filter ("filter",
// "filter.data.x.$gt") and of a dry run's event beside their form fields,
// and says how the form sets no throttle.
func filterErrors(details map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range details {
		switch {
		case k == "filter":
			out["payload_filter"] = v
		case strings.HasPrefix(k, "filter."):
			out["payload_filter"] = k + ": " + v
		case k == "event":
			out["filter_event"] = v
		case k == "auth":
			out["auth.type"] = v // the form's choice of authentication
		case (k == "rate_limit" || k == "max_in_flight") && strings.HasSuffix(v, outbound.NoLimitHint):
			// The form clears a throttle field left empty; it cannot send null.
			out[k] = strings.TrimSuffix(v, outbound.NoLimitHint) + UINoLimitHint
		default:
			out[k] = v
		}
	}
	return out
}

func (u *UI) create(w http.ResponseWriter, r *http.Request, s *session) {
	in, form, checked := formInput(r, true, s)
	u.readType(r, &in, form, true)
	readTransformation(r, s, true, &in, form, checked)
	readSecurity(r, s, &in, form)
	if u.filtering(w, r, s, form, checked, true, "", nil) || u.testingFilter(w, r, s, form, checked, true, "", nil) ||
		u.testingTransformation(w, r, s, form, checked, true, "", nil) {
		return
	}
	err := s.checkEvents(*in.Events)
	var ep *hookbook.RevealedEndpoint
	if err == nil {
		ep, err = u.Outbound.CreateEndpoint(r.Context(), s.Organization.ID, in)
	}
	if err != nil {
		u.formError(w, r, s, err, form, checked, true, "", nil)
		return
	}
	u.done(w, r, s, "/webhooks/"+ep.ID, "Endpoint created. Reveal its signing secret on the Edit page.")
}

// formError shows the form again with each validation message beside its field.
func (u *UI) formError(w http.ResponseWriter, r *http.Request, s *session, err error, form map[string]string, checked map[string]bool, create bool, id string, kept []string) {
	e := hookbook.AsError(err)
	if e == nil || e.Kind != hookbook.EValidation {
		u.fail(w, s, err)
		return
	}
	pg := u.reshow(r, s, form, checked, create, id, kept)
	pg.Errors = filterErrors(e.Details)
	if s.Portal && (pg.Errors["auth.type"] != "" || pg.Errors["tls"] != "") {
		// The portal neither shows nor sets receiver security: the type
		// is what the customer can change.
		delete(pg.Errors, "auth.type")
		delete(pg.Errors, "tls")
		pg.Errors["type"] = "This endpoint has receiver security (authentication or TLS) set by the platform, which only webhook endpoints use: ask the platform to remove it before changing the type."
	}
	if data, ok := pg.Data.(map[string]any); ok {
		data["Types"] = u.typeForms(form, pg.Errors)
	}
	pg.Error = "Please correct the fields marked below."
	u.render(w, http.StatusUnprocessableEntity, "form", pg)
}

func (u *UI) editPage(w http.ResponseWriter, r *http.Request, s *session) {
	ep, err := u.Outbound.Endpoint(r.Context(), s.Organization.ID, r.PathValue("id"))
	if err != nil {
		u.fail(w, s, err)
		return
	}
	u.renderEdit(w, r, s, ep, "")
}

func (u *UI) renderEdit(w http.ResponseWriter, r *http.Request, s *session, ep *hookbook.Endpoint, secret string) {
	pg := u.base(r, s, "Edit endpoint", "webhooks")
	pg.Form = map[string]string{"url": ep.URL, "description": ep.Description, "max_attempts": itoa(ep.MaxAttempts),
		"timeout_seconds": itoa(ep.TimeoutSeconds), "signature_scheme": ep.Scheme, "payload_filter": pretty(string(ep.Filter)),
		"signature_algorithm": ep.SignatureAlgorithm,

		"alert_emails": strings.Join(ep.AlertEmails, ", ")}
	if ep.RateLimit != nil {
		pg.Form["rate_limit"] = *ep.RateLimit
	}
	if ep.MaxInFlight != nil {
		pg.Form["max_in_flight"] = itoa(*ep.MaxInFlight)
	}
	securityForm(pg.Form, ep)
	u.fillType(ep, pg.Form)
	pg.Checked = map[string]bool{"enabled": ep.Enabled, "ordered": ep.Ordered}
	for _, e := range ep.Events {
		pg.Checked[e] = true
	}
	pg.Data = map[string]any{"Picker": u.picker(r, s, "", pg.Checked), "ID": ep.ID, "Endpoint": ep, "Secret": secret,
		"Kept": s.outOfScope(ep.Events), "Examples": u.exampleTypes(r, s), "Types": u.typeForms(pg.Form, nil)}
	if t := ep.Transformation; t != nil && !s.Portal {
		pg.Form["transformation_code"], pg.Checked["transformation_enabled"] = t.Code, t.Enabled
	}
	u.addTransform(r, s, pg, ep)
	u.render(w, http.StatusOK, "form", pg)
}

// outOfScope are the event patterns of an endpoint that a portal session
// may not change: shown read-only and kept on save.
func (s *session) outOfScope(events []string) []string {
	var out []string
	for _, e := range events {
		if !s.allows(e) {
			out = append(out, e)
		}
	}
	return out
}

func (u *UI) edit(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	ep, err := u.Outbound.Endpoint(r.Context(), s.Organization.ID, id)
	if err != nil {
		u.fail(w, s, err)
		return
	}
	kept := s.outOfScope(ep.Events)
	in, form, checked := formInput(r, false, s)
	u.readType(r, &in, form, false)
	readTransformation(r, s, false, &in, form, checked)
	readSecurity(r, s, &in, form)
	if u.filtering(w, r, s, form, checked, false, id, kept) || u.testingFilter(w, r, s, form, checked, false, id, kept) ||
		u.testingTransformation(w, r, s, form, checked, false, id, kept) {
		return
	}
	err = s.checkEvents(*in.Events)
	if err == nil {
		// What the session may not change stays as it is.
		events := append(append([]string{}, kept...), *in.Events...)
		in.Events = &events
		_, err = u.Outbound.UpdateEndpoint(r.Context(), s.Organization.ID, id, in)
	}
	if err != nil {
		u.formError(w, r, s, err, form, checked, false, id, kept)
		return
	}
	u.done(w, r, s, "/webhooks/"+id+"/edit", "Saved.")
}

func (u *UI) reveal(w http.ResponseWriter, r *http.Request, s *session) {
	ep, err := u.Outbound.RevealSecret(r.Context(), s.Organization.ID, r.PathValue("id"))
	if err != nil {
		u.fail(w, s, err)
		return
	}
	u.renderEdit(w, r, s, ep.Endpoint, ep.Secret)
}

// rotatePage asks before rotating: a rotation cannot be undone.
func (u *UI) rotatePage(w http.ResponseWriter, r *http.Request, s *session) {
	u.confirm(w, r, s, confirmation{Question: "Rotate the signing secret?", Action: "rotate", Button: "Rotate secret",
		Consequence: "gets a new signing secret from now on. The current one keeps signing beside it for " +
			hookbook.HumanDuration(u.Outbound.SecretOverlap) + ", so update the receiver within that time."})
}

// confirmation is a page that asks before an action on an endpoint.
type confirmation struct {
	Question, Consequence, Action, Button string
	ID, URL                               string
}

func (u *UI) confirm(w http.ResponseWriter, r *http.Request, s *session, c confirmation) {
	ep, err := u.Outbound.Endpoint(r.Context(), s.Organization.ID, r.PathValue("id"))
	if err != nil {
		u.fail(w, s, err)
		return
	}
	c.ID, c.URL = ep.ID, ep.URL
	pg := u.base(r, s, c.Question, "webhooks")
	pg.Data = c
	u.render(w, http.StatusOK, "confirm", pg)
}

func (u *UI) rotate(w http.ResponseWriter, r *http.Request, s *session) {
	ep, err := u.Outbound.RotateSecret(r.Context(), s.Organization.ID, r.PathValue("id"))
	if err != nil {
		u.fail(w, s, err)
		return
	}
	u.done(w, r, s, "/webhooks/"+ep.ID+"/edit#secret-h",
		"Secret rotated. Reveal the new one below; the previous secret keeps signing beside it for "+hookbook.HumanDuration(u.Outbound.SecretOverlap)+".")
}

func (u *UI) test(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	if _, err := u.Outbound.SendTest(r.Context(), s.Organization.ID, id); err != nil {
		u.fail(w, s, err)
		return
	}
	u.done(w, r, s, "/webhooks/"+id, "A webhook.test event is on its way.")
}

func (u *UI) deletePage(w http.ResponseWriter, r *http.Request, s *session) {
	u.confirm(w, r, s, confirmation{Question: "Delete endpoint?", Action: "delete", Button: "Delete endpoint",
		Consequence: "will stop receiving events, and its pending deliveries will fail."})
}

func (u *UI) delete(w http.ResponseWriter, r *http.Request, s *session) {
	if err := u.Outbound.DeleteEndpoint(r.Context(), s.Organization.ID, r.PathValue("id")); err != nil {
		u.fail(w, s, err)
		return
	}
	u.done(w, r, s, "/webhooks", "Endpoint deleted.")
}

func (u *UI) log(w http.ResponseWriter, r *http.Request, s *session) {
	ep, err := u.Outbound.Endpoint(r.Context(), s.Organization.ID, r.PathValue("id"))
	if err != nil {
		u.fail(w, s, err)
		return
	}
	p, err := page1(r, "dlv")
	if err != nil {
		u.fail(w, s, err)
		return
	}
	q := r.URL.Query()
	f := outbound.DeliveryFilter{EndpointID: ep.ID, Status: q.Get("status"), EventType: strings.TrimSpace(q.Get("event"))}
	switch f.Status {
	case "", hookbook.StatusPending, hookbook.StatusSucceeded, hookbook.StatusFailed, hookbook.StatusSkipped:
	default:
		f.Status = ""
	}
	pg := u.base(r, s, "Delivery log", "webhooks")
	var list []*hookbook.Delivery
	var next string
	if f.EventType != "" && !event.ValidPattern(f.EventType) {
		pg.Errors["event"] = `Filter by an event type name, a wildcard such as "booking.*", or "*".`
	} else if list, next, err = u.Outbound.Deliveries(r.Context(), s.Organization.ID, f, p); err != nil {
		u.fail(w, s, err)
		return
	}
	now := time.Now()
	vol, err := u.Outbound.EndpointVolume(r.Context(), s.Organization.ID, ep.ID, now, ChartHours)
	if err != nil {
		u.fail(w, s, err)
		return
	}
	backlog, err := u.Outbound.Backlog(r.Context(), ep)
	if err != nil {
		u.fail(w, s, err)
		return
	}
	pg.Form = map[string]string{"status": f.Status, "event": f.EventType, "since": time.Now().Add(-24 * time.Hour).UTC().Format(sinceLayout)}
	nextURL := ""
	if next != "" {
		v := url.Values{"cursor": {next}, "status": {f.Status}, "event": {f.EventType}}
		nextURL = s.base + "/webhooks/" + ep.ID + "?" + v.Encode()
	}
	pg.Data = map[string]any{"Endpoint": ep, "Health": u.row(ep, outbound.Sum(vol)), "Deliveries": list, "Backlog": backlog, "NextURL": nextURL, "Paged": p.Cursor != "",
		"Chart": chart(vol, now), "Volume": outbound.Sum(vol),
		"Statuses": []string{hookbook.StatusPending, hookbook.StatusSucceeded, hookbook.StatusFailed, hookbook.StatusSkipped}}
	u.render(w, http.StatusOK, "log", pg)
}

// sinceLayout is how the recover form shows and reads a time: ISO, UTC.
const sinceLayout = "2006-01-02 15:04"

func (u *UI) recoverAll(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	raw := strings.TrimSpace(r.PostFormValue("since"))
	since, err := time.Parse(sinceLayout, raw)
	if err != nil {
		since, err = time.Parse("2006-01-02T15:04", raw) // as datetime-local fields send it
	}
	if err != nil {
		u.fail(w, s, &hookbook.Error{Kind: hookbook.EValidation, Code: "validation_failed",
			Message: "Give the date and time to recover from as YYYY-MM-DD HH:MM (UTC), e.g. 2026-01-31 09:00."})
		return
	}
	n, err := u.Outbound.Recover(r.Context(), s.Organization.ID, id, since)
	if err != nil {
		u.fail(w, s, err)
		return
	}
	u.done(w, r, s, "/webhooks/"+id, itoa(n)+" failed deliveries queued again.")
}

func (u *UI) delivery(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	d, err := u.Outbound.DeliveryDetail(ctx, s.Organization.ID, r.PathValue("dlv"))
	if err == nil && d.EndpointID != r.PathValue("id") {
		err = hookbook.NotFound("delivery")
	}
	if err != nil {
		u.fail(w, s, err)
		return
	}
	attempts := d.Attempts
	// Newest attempt first; its headers are the request as last sent.
	for i, j := 0, len(attempts)-1; i < j; i, j = i+1, j-1 {
		attempts[i], attempts[j] = attempts[j], attempts[i]
	}
	var headers map[string]string // none before the first attempt
	if len(attempts) > 0 {
		headers = d.Request.Headers
	}
	pg := u.base(r, s, "Delivery "+d.ID, "webhooks")
	body, cut := preview(d.Request.Body)
	pg.Data = map[string]any{"Delivery": d.Delivery, "EndpointID": r.PathValue("id"), "Attempts": attempts, "Headers": headers,
		"Body": body, "Cut": cut, "Size": len(d.Request.Body), "Download": s.base + "/webhooks/" + d.EndpointID + "/deliveries/" + d.ID + "/body",
		"CircuitUntil": u.circuitUntil(d.EndpointID)}
	u.render(w, http.StatusOK, "delivery", pg)
}

// deliveryBody serves a delivery's request body whole, as a download.
func (u *UI) deliveryBody(w http.ResponseWriter, r *http.Request, s *session) {
	d, err := u.Outbound.DeliveryDetail(r.Context(), s.Organization.ID, r.PathValue("dlv"))
	if err == nil && d.EndpointID != r.PathValue("id") {
		err = hookbook.NotFound("delivery")
	}
	if err != nil {
		u.fail(w, s, err)
		return
	}
	download(w, d.ID, d.Request.Body)
}

func (u *UI) redeliver(w http.ResponseWriter, r *http.Request, s *session) {
	id, dlv := r.PathValue("id"), r.PathValue("dlv")
	if _, err := u.Outbound.Redeliver(r.Context(), s.Organization.ID, dlv); err != nil {
		u.fail(w, s, err)
		return
	}
	// From the list, back to the list; from the delivery, back to it.
	back := "/webhooks/" + id + "/deliveries/" + dlv
	if r.PostFormValue("from") == "log" {
		back = "/webhooks/" + id
	}
	u.done(w, r, s, back, "Delivery "+dlv+" is queued for one more attempt now.")
}

func (u *UI) inboundPage(w http.ResponseWriter, r *http.Request, s *session) {
	u.renderInbound(w, r, s, false, nil, nil, http.StatusOK)
}

func (u *UI) renderInbound(w http.ResponseWriter, r *http.Request, s *session, reveal bool, errs map[string]string, scopes []string, status int) {
	st, err := u.Inbound.Settings(r.Context(), s.Organization.ID)
	if err != nil {
		u.fail(w, s, err)
		return
	}
	cmds, _, err := u.Inbound.Commands(r.Context(), s.Organization.ID, db.Page{Limit: 20})
	if err != nil {
		u.fail(w, s, err)
		return
	}
	pg := u.base(r, s, "Inbound commands", "inbound")
	if errs != nil {
		pg.Errors, pg.Error = errs, "Please correct the fields marked below."
	}
	pg.Checked["enabled"] = st.Enabled
	if scopes == nil {
		scopes = st.Scopes
	}
	for _, sc := range scopes {
		pg.Checked[sc] = true
	}
	secret := ""
	if reveal {
		secret = st.Secret
	}
	type scope struct {
		Name    string
		Actions string
	}
	var all []scope
	for _, n := range inbound.ScopeNames() {
		all = append(all, scope{n, strings.Join(inbound.Scopes[n], ", ")})
	}
	pg.Data = map[string]any{"Settings": st, "Secret": secret, "HasSecret": st.Secret != "", "Scopes": all, "Commands": cmds}
	u.render(w, status, "inbound", pg)
}

func (u *UI) inboundSave(w http.ResponseWriter, r *http.Request, s *session) {
	enabled := r.PostFormValue("enabled") == "on"
	scopes := r.PostForm["scopes"]
	if scopes == nil {
		scopes = []string{}
	}
	in := inbound.SettingsInput{Enabled: &enabled, Scopes: &scopes}
	if secret := strings.TrimSpace(r.PostFormValue("secret")); secret != "" {
		in.Secret = &secret
	}
	if _, err := u.Inbound.SetSettings(r.Context(), s.Organization.ID, in); err != nil {
		if e := hookbook.AsError(err); e != nil && e.Kind == hookbook.EValidation {
			u.renderInbound(w, r, s, false, e.Details, scopes, http.StatusUnprocessableEntity)
			return
		}
		u.fail(w, s, err)
		return
	}
	u.done(w, r, s, "/webhooks/inbound", "Inbound settings saved.")
}

func (u *UI) inboundReveal(w http.ResponseWriter, r *http.Request, s *session) {
	u.renderInbound(w, r, s, true, nil, nil, http.StatusOK)
}
