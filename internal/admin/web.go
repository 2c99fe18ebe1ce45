// Package admin serves hookbook's admin UI and the webhook portal:
// server-rendered pages for the webhook settings, the delivery log and its
// dashboard, and (admin only) the inbound settings and API keys. Forms post
// back and redirect (no JavaScript needed); every asset is embedded.
//
// The portal shows one organization's webhook pages to the platform's
// customer through a link made by POST /api/v1/portal/sessions: no other
// credential, limited to the event types and rights the link was made
// with, and framable by the origins the operator allows.
//
// Security: signing in with an API key starts a session whose token lives
// in an HttpOnly, SameSite=Lax cookie (Secure in production); every form
// carries the session's CSRF token; templates escape every value; secrets
// are shown only after an explicit reveal.
package admin

import (
	"context"
	"crypto/subtle"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/db"
	"github.com/hookbook/hookbook/internal/inbound"
	"github.com/hookbook/hookbook/internal/org"
	outbound "github.com/hookbook/hookbook/internal/outbound"
	"github.com/hookbook/hookbook/internal/ratelimit"
	uisession "github.com/hookbook/hookbook/internal/session"
)

//go:embed templates/*.html static/*
var assets embed.FS

// Failed sign-ins allowed per client address within SignInWindow.
const (
	MaxFailedSignIns = 10
	SignInWindow     = 10 * time.Minute
)

// SessionTTL is how long a UI session lasts.
const SessionTTL = 12 * time.Hour

const (
	sessionCookie = "hookbook_session"
	portalCookie  = "hookbook_portal"
	loginCookie   = "hookbook_login_csrf"
)

// UI is the admin UI and the webhook portal.
type UI struct {
	DB *db.DB // UI sessions
	// Sessions keeps the admin's and the portal's sessions; nil: one on DB.
	Sessions   *uisession.Store
	Orgs       *org.Service
	Outbound   *outbound.Service
	Inbound    *inbound.Service
	Production bool // Secure cookies
	Log        *slog.Logger
	Portal     Portal
	// Circuit tells whether this instance's circuit breaker holds an
	// endpoint's attempts back, and until when (nil: never).
	Circuit Circuit
	// MaxRetention is the operator's HOOKBOOK_RETENTION, the longest an
	// organization may keep its logs (0: no retention setting shown).
	MaxRetention time.Duration

	pages   map[string]*template.Template
	signins *ratelimit.Window
	once    sync.Once
	handler http.Handler
}

// Portal is how the webhook portal looks and who may frame it.
type Portal struct {
	Name           string   // product name in the header
	Accent         string   // #rrggbb for links and buttons
	LogoURL        string   // http(s) image beside the name, "" for none
	FrameAncestors []string // CSP frame-ancestors sources; 'none' when empty
	// Secure cookies (SameSite=None; Partitioned) so that the portal works
	// inside a frame of another site: true when hookbook is reached over
	// https.
	Secure bool
}

// Circuit is the read-only view of the delivery engine's circuit breaker
// (delivery.Breaker): whether an endpoint's circuit is open at now and
// until when. The state is this instance's: other instances of a cluster
// keep their own.
type Circuit interface {
	OpenUntil(endpointID string, now time.Time) (time.Time, bool)
}

// handler is a page that needs a session.
type handler func(http.ResponseWriter, *http.Request, *session)

// Handler returns the UI's routes: /login, /logout, /settings/…, /portal/…
// and /static/.
func (u *UI) Handler() http.Handler {
	u.once.Do(func() { u.handler = u.build() })
	return u.handler
}

func (u *UI) build() http.Handler {
	if u.Log == nil {
		u.Log = slog.Default()
	}
	if u.Portal.Name == "" {
		u.Portal.Name = "Webhooks"
	}
	if u.Portal.Accent == "" {
		u.Portal.Accent = "#2d5bd7"
	}
	u.parse()
	u.signins = ratelimit.New(MaxFailedSignIns, SignInWindow)
	if u.Sessions == nil {
		u.Sessions = &uisession.Store{DB: u.DB, Orgs: u.Orgs, Catalog: u.Outbound}
	}
	mux := http.NewServeMux()
	static, _ := fs.Sub(assets, "static")
	mux.Handle("GET /static/", u.adminHeaders(http.StripPrefix("/static/", http.FileServer(http.FS(static)))))
	mux.Handle("GET /login", u.adminHeaders(http.HandlerFunc(u.loginPage)))
	mux.Handle("POST /login", u.adminHeaders(http.HandlerFunc(u.login)))
	mux.Handle("POST /logout", u.auth(false, false, u.logout))
	// What the admin UI and the portal share: an organization's endpoints
	// and their delivery logs. write marks what a read-only portal may not do.
	shared := []struct {
		pattern string
		h       handler
		write   bool
	}{
		{"GET /webhooks", u.list, false},
		{"GET /webhooks/create", u.createPage, true},
		{"POST /webhooks/create", u.create, true},
		{"GET /webhooks/{id}", u.log, false},
		{"GET /webhooks/{id}/edit", u.editPage, false},
		{"POST /webhooks/{id}/edit", u.edit, true},
		{"POST /webhooks/{id}/secret", u.reveal, false},
		{"GET /webhooks/{id}/rotate", u.rotatePage, true},
		{"POST /webhooks/{id}/rotate", u.rotate, true},
		{"POST /webhooks/{id}/test", u.test, true},
		{"GET /webhooks/{id}/delete", u.deletePage, true},
		{"POST /webhooks/{id}/delete", u.delete, true},
		{"POST /webhooks/{id}/recover", u.recoverAll, true},
		{"GET /webhooks/{id}/replay", u.replayPage, true},
		{"POST /webhooks/{id}/replay", u.replay, true},
		{"GET /webhooks/{id}/replays/{rpl}", u.replayJob, false},
		{"GET /webhooks/{id}/deliveries/{dlv}", u.delivery, false},
		{"GET /webhooks/{id}/deliveries/{dlv}/body", u.deliveryBody, false},
		{"POST /webhooks/{id}/deliveries/{dlv}/redeliver", u.redeliver, true},
		{"GET /events/{id}", u.eventPage, false},
		{"GET /events/{id}/data", u.eventData, false},
		{"GET /search", u.search, false},
	}
	for _, r := range shared {
		method, path, _ := strings.Cut(r.pattern, " ")
		mux.Handle(method+" /settings"+path, u.auth(false, r.write, r.h))
		mux.Handle(method+" /portal"+path, u.auth(true, r.write, r.h))
	}
	mux.Handle("POST /settings/webhooks/outbound", u.auth(false, true, u.outbound))
	mux.Handle("POST /settings/webhooks/retention", u.auth(false, true, u.retention))
	mux.Handle("GET /settings/webhooks/inbound", u.auth(false, false, u.inboundPage))
	mux.Handle("POST /settings/webhooks/inbound", u.auth(false, true, u.inboundSave))
	mux.Handle("POST /settings/webhooks/inbound/reveal", u.auth(false, false, u.inboundReveal))
	mux.Handle("GET /settings/api-keys", u.auth(false, false, u.keysPage))
	mux.Handle("POST /settings/api-keys", u.auth(false, true, u.createKey))
	mux.Handle("POST /settings/api-keys/{id}/revoke", u.auth(false, true, u.revokeKey))
	mux.Handle("GET /portal/s/{token}", u.portalHeaders(http.HandlerFunc(u.portalStart)))
	mux.Handle("GET /portal/theme.css", http.HandlerFunc(u.portalTheme))
	mux.Handle("GET /portal/{$}", u.auth(true, false, func(w http.ResponseWriter, r *http.Request, s *session) {
		http.Redirect(w, r, "/portal/webhooks", http.StatusSeeOther)
	}))
	mux.Handle("GET /{$}", http.RedirectHandler("/settings/webhooks", http.StatusSeeOther))
	// Anything else below /settings/ or /portal/: a page that says so,
	// with the same security headers as every other page.
	mux.Handle("/settings/", u.adminHeaders(u.notFound("/settings")))
	mux.Handle("/portal/", u.portalHeaders(u.notFound("/portal")))
	return mux
}

// notFound answers 404 with a page that leads back to the webhooks.
func (u *UI) notFound(base string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pg := &page{Title: "Page not found", Base: base, Error: "There is no page at this address."}
		if base == "/portal" {
			pg.Portal = &u.Portal
		}
		u.render(w, http.StatusNotFound, "error", pg)
	})
}

// Paths the UI serves, for mounting beside the API.
var Paths = []string{"/login", "/logout", "/settings/", "/portal/", "/static/", "/{$}"}

const basePolicy = "default-src 'self'; style-src 'self'; form-action 'self'"

// adminHeaders sets the admin UI's security headers: nobody may frame it.
func (u *UI) adminHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", basePolicy+"; img-src 'self' data:; frame-ancestors 'none'")
		h.Set("X-Frame-Options", "DENY")
		commonHeaders(h)
		next.ServeHTTP(w, r)
	})
}

// portalHeaders sets the portal's: the configured origins may frame it,
// and its logo may come from its own origin.
func (u *UI) portalHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		img := "'self' data:"
		if o := origin(u.Portal.LogoURL); o != "" {
			img += " " + o
		}
		ancestors := "'none'"
		if len(u.Portal.FrameAncestors) > 0 {
			ancestors = strings.Join(u.Portal.FrameAncestors, " ")
		}
		h.Set("Content-Security-Policy", basePolicy+"; img-src "+img+"; frame-ancestors "+ancestors)
		if ancestors == "'none'" {
			h.Set("X-Frame-Options", "DENY")
		}
		commonHeaders(h)
		next.ServeHTTP(w, r)
	})
}

func commonHeaders(h http.Header) {
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
}

// stamp writes a time as a <time> element that does not break across
// lines: "2026-01-02 15:04:05 UTC".
func stamp(t time.Time) template.HTML {
	t = t.UTC()
	return template.HTML(`<time class="ts" datetime="` + t.Format(time.RFC3339) + `">` + t.Format("2006-01-02 15:04:05 MST") + `</time>`)
}

// reply is what an attempt got back, said once: "HTTP 503", and the
// error only when it says more than the status ("timeout after 10s").
type reply struct{ Status, Detail string }

func answer(code *int, errText *string) reply {
	r := reply{Status: "—"}
	if code != nil {
		r.Status = "HTTP " + itoa(*code)
	}
	if errText != nil && *errText != "" && *errText != r.Status {
		r.Detail = *errText
	}
	return r
}

// header is a header line shown in a table.
type header struct{ Name, Value string }

// page is what every template gets.
type page struct {
	Title    string
	Org      *hookbook.Organization
	CSRF     string
	Flash    string
	Error    string
	Nav      string
	Base     string // "/settings" or "/portal": where links point
	Portal   *Portal
	ReadOnly bool
	Data     any
	Errors   map[string]string // field → message
	Form     map[string]string // values to show again
	Checked  map[string]bool   // checked checkboxes
}

func (u *UI) parse() {
	funcs := template.FuncMap{
		"when": func(t *time.Time) template.HTML {
			if t == nil {
				return "—"
			}
			return stamp(*t)
		},
		"at":     stamp,
		"answer": answer,
		"deref": func(p *string) string {
			if p == nil {
				return ""
			}
			return *p
		},
		"pretty": pretty,
		"join":   strings.Join,
		"size":   size,
		"rate":   rate,
		"human":  hookbook.HumanDuration,
		"headers": func(m map[string]string) []header {
			out := make([]header, 0, len(m))
			for k, v := range m {
				out = append(out, header{k, v})
			}
			sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
			return out
		},
		"code": func(p *int) string {
			if p == nil {
				return "—"
			}
			return itoa(*p)
		},
	}
	u.pages = map[string]*template.Template{}
	names, _ := fs.Glob(assets, "templates/*.html")
	for _, n := range names {
		if strings.HasSuffix(n, "layout.html") || strings.HasSuffix(n, "partials.html") {
			continue
		}
		u.pages[strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")] =
			template.Must(template.New("layout.html").Funcs(funcs).ParseFS(assets, "templates/layout.html", "templates/partials.html", n))
	}
}

func (u *UI) render(w http.ResponseWriter, status int, name string, p *page) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := u.pages[name].Execute(w, p); err != nil {
		u.Log.Error("render", "page", name, "err", err)
	}
}

// session is the signed-in state of a request.
type session struct {
	*uisession.Session
	token string
	base  string // "/settings" or "/portal"
}

type ctxKey struct{}

// auth requires a session of the right kind, an admin's or a portal's
// (else the sign-in page or, in the portal, an expired-link page), the
// right to write for write routes, and on POST the session's CSRF token.
func (u *UI) auth(portal, write bool, h handler) http.Handler {
	name, base, headers := sessionCookie, "/settings", u.adminHeaders
	if portal {
		name, base, headers = portalCookie, "/portal", u.portalHeaders
	}
	return headers(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(name)
		var s *uisession.Session
		if err == nil {
			s, err = u.Sessions.Get(r.Context(), c.Value)
		}
		if err == nil && s.Portal != portal {
			err = hookbook.Errorf(hookbook.EUnauthorized, "no_session", "not this kind of session")
		}
		if err != nil {
			if !hookbook.IsKind(err, hookbook.EUnauthorized) && !errors.Is(err, http.ErrNoCookie) {
				u.Log.Error("session", "err", err)
			}
			if portal {
				u.render(w, http.StatusUnauthorized, "expired", &page{Title: "Link expired", Portal: &u.Portal, Base: base})
				return
			}
			http.Redirect(w, r, "/login?next="+urlEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		se := &session{Session: s, token: c.Value, base: base}
		if write && s.ReadOnly {
			u.render(w, http.StatusForbidden, "error", u.bare(se, "Read-only", "This view is read-only: ask for a link that allows changes."))
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
			if subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(s.CSRF)) != 1 {
				u.render(w, http.StatusForbidden, "error", u.bare(se, "Refused",
					"This form has expired or did not come from this site (CSRF check failed). Reload the page and try again."))
				return
			}
			if !formIsText(r) {
				u.render(w, http.StatusBadRequest, "error", u.bare(se, "Refused",
					"The form holds text that is not valid UTF-8 (or a NUL character). Correct it and send it again."))
				return
			}
		}
		ctx := context.WithValue(r.Context(), ctxKey{}, s)
		h(w, r.WithContext(ctx), se)
	}))
}

// bare is an error page of a session.
func (u *UI) bare(s *session, title, msg string) *page {
	pg := &page{Title: title, Org: s.Organization, CSRF: s.CSRF, Base: s.base, ReadOnly: s.ReadOnly, Error: msg}
	if s.Portal {
		pg.Portal = &u.Portal
	}
	return pg
}

// base is the page of a session; it shows (and so clears) the flash
// message the server left for it.
func (u *UI) base(r *http.Request, s *session, title, nav string) *page {
	pg := u.bare(s, title, "")
	pg.Nav, pg.Errors, pg.Form, pg.Checked = nav, map[string]string{}, map[string]string{}, map[string]bool{}
	if s.Flash != "" {
		pg.Flash = s.Flash
		if err := u.Sessions.SetFlash(r.Context(), s.token, ""); err != nil {
			u.Log.Error("clear flash", "err", err)
		}
	}
	return pg
}

// done leaves msg for the next page and redirects to path below the
// session's base (POST-redirect-GET).
func (u *UI) done(w http.ResponseWriter, r *http.Request, s *session, path, msg string) {
	if err := u.Sessions.SetFlash(r.Context(), s.token, msg); err != nil {
		u.Log.Error("set flash", "err", err)
	}
	http.Redirect(w, r, s.base+path, http.StatusSeeOther)
}

// fail shows an error page for err: its message for client errors, a
// generic one otherwise.
func (u *UI) fail(w http.ResponseWriter, s *session, err error) {
	e := hookbook.AsError(err)
	status, msg := http.StatusInternalServerError, "Something went wrong on our side; the details are in hookbook's log."
	if e != nil && e.Kind != hookbook.EInternal {
		status, msg = hookbook.StatusOf(e.Kind), e.Message
	} else {
		u.Log.Error("ui request failed", "err", err)
	}
	u.render(w, status, "error", u.bare(s, "Error", msg))
}

func (u *UI) setCookie(w http.ResponseWriter, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge, HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: u.Production})
}

// formIsText reports whether every name and value of a parsed form is
// text both databases can store (hookbook.StorableValues, the API's rule).
func formIsText(r *http.Request) bool {
	_, ok := hookbook.StorableValues(r.PostForm)
	return ok
}
