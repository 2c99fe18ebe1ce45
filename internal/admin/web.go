// Package web serves hookbook's admin UI: server-rendered pages for the
// webhook settings, the delivery log and the inbound settings. Forms post
// back and redirect (no JavaScript needed); every asset is embedded.
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
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/db"
	"github.com/hookbook/hookbook/internal/inbound"
	"github.com/hookbook/hookbook/internal/org"
	outbound "github.com/hookbook/hookbook/internal/outbound"
	"github.com/hookbook/hookbook/internal/ratelimit"
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
	loginCookie   = "hookbook_login_csrf"
)

// UI is the admin UI.
type UI struct {
	DB         *db.DB // UI sessions
	Orgs       *org.Service
	Outbound   *outbound.Service
	Inbound    *inbound.Service
	Production bool // Secure cookies
	Log        *slog.Logger

	pages    map[string]*template.Template
	signins  *ratelimit.Window
	sessions *sessions
	once     sync.Once
	handler  http.Handler
}

// Handler returns the UI's routes: /login, /logout, /settings/… and /static/.
func (u *UI) Handler() http.Handler {
	u.once.Do(func() { u.handler = u.build() })
	return u.handler
}

func (u *UI) build() http.Handler {
	if u.Log == nil {
		u.Log = slog.Default()
	}
	u.parse()
	u.signins = ratelimit.New(MaxFailedSignIns, SignInWindow)
	u.sessions = &sessions{db: u.DB, orgs: u.Orgs}
	mux := http.NewServeMux()
	static, _ := fs.Sub(assets, "static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServer(http.FS(static))))
	mux.HandleFunc("GET /login", u.loginPage)
	mux.HandleFunc("POST /login", u.login)
	mux.Handle("POST /logout", u.auth(u.logout))
	mux.Handle("GET /settings/webhooks", u.auth(u.list))
	mux.Handle("POST /settings/webhooks/outbound", u.auth(u.outbound))
	mux.Handle("GET /settings/webhooks/create", u.auth(u.createPage))
	mux.Handle("POST /settings/webhooks/create", u.auth(u.create))
	mux.Handle("GET /settings/webhooks/inbound", u.auth(u.inboundPage))
	mux.Handle("POST /settings/webhooks/inbound", u.auth(u.inboundSave))
	mux.Handle("POST /settings/webhooks/inbound/reveal", u.auth(u.inboundReveal))
	mux.Handle("GET /settings/webhooks/{id}", u.auth(u.log))
	mux.Handle("GET /settings/webhooks/{id}/edit", u.auth(u.editPage))
	mux.Handle("POST /settings/webhooks/{id}/edit", u.auth(u.edit))
	mux.Handle("POST /settings/webhooks/{id}/secret", u.auth(u.reveal))
	mux.Handle("POST /settings/webhooks/{id}/rotate", u.auth(u.rotate))
	mux.Handle("POST /settings/webhooks/{id}/test", u.auth(u.test))
	mux.Handle("GET /settings/webhooks/{id}/delete", u.auth(u.deletePage))
	mux.Handle("POST /settings/webhooks/{id}/delete", u.auth(u.delete))
	mux.Handle("POST /settings/webhooks/{id}/recover", u.auth(u.recoverAll))
	mux.Handle("GET /settings/webhooks/{id}/deliveries/{dlv}", u.auth(u.delivery))
	mux.Handle("POST /settings/webhooks/{id}/deliveries/{dlv}/redeliver", u.auth(u.redeliver))
	mux.Handle("GET /settings/api-keys", u.auth(u.keysPage))
	mux.Handle("POST /settings/api-keys", u.auth(u.createKey))
	mux.Handle("POST /settings/api-keys/{id}/revoke", u.auth(u.revokeKey))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/settings/webhooks", http.StatusSeeOther)
	})
	return secureHeaders(mux)
}

// Paths the UI serves, for mounting beside the API.
var Paths = []string{"/login", "/logout", "/settings/", "/static/", "/{$}"}

func secureHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		next.ServeHTTP(w, r)
	})
}

// page is what every template gets.
type page struct {
	Title   string
	Org     *hookbook.Organization
	CSRF    string
	Flash   string
	Error   string
	Nav     string
	Data    any
	Errors  map[string]string // field → message
	Form    map[string]string // values to show again
	Checked map[string]bool   // checked checkboxes
}

func (u *UI) parse() {
	funcs := template.FuncMap{
		"when": func(t *time.Time) string {
			if t == nil {
				return "—"
			}
			return t.UTC().Format("2006-01-02 15:04:05 MST")
		},
		"at": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 MST") },
		"deref": func(p *string) string {
			if p == nil {
				return ""
			}
			return *p
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
		if strings.HasSuffix(n, "layout.html") {
			continue
		}
		u.pages[strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")] =
			template.Must(template.New("layout.html").Funcs(funcs).ParseFS(assets, "templates/layout.html", n))
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
	*Session
	token string
}

type ctxKey struct{}

// auth requires a session (else redirects to /login) and, on POST, the
// session's CSRF token (else 403).
func (u *UI) auth(h func(http.ResponseWriter, *http.Request, *session)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(sessionCookie)
		var s *Session
		if err == nil {
			s, err = u.sessions.get(r.Context(), c.Value)
		}
		if err != nil {
			if !hookbook.IsKind(err, hookbook.EUnauthorized) && !errors.Is(err, http.ErrNoCookie) {
				u.Log.Error("session", "err", err)
			}
			http.Redirect(w, r, "/login?next="+urlEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
			if subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(s.CSRF)) != 1 {
				u.render(w, http.StatusForbidden, "error", &page{Title: "Refused", Org: s.Organization, CSRF: s.CSRF,
					Error: "This form has expired or did not come from hookbook (CSRF check failed). Reload the page and try again."})
				return
			}
			if !formIsText(r) {
				u.render(w, http.StatusBadRequest, "error", &page{Title: "Refused", Org: s.Organization, CSRF: s.CSRF,
					Error: "The form holds text that is not valid UTF-8 (or a NUL character). Correct it and send it again."})
				return
			}
		}
		ctx := context.WithValue(r.Context(), ctxKey{}, s)
		h(w, r.WithContext(ctx), &session{Session: s, token: c.Value})
	})
}

func (u *UI) base(s *session, title, nav string) *page {
	return &page{Title: title, Org: s.Organization, CSRF: s.CSRF, Nav: nav, Errors: map[string]string{}, Form: map[string]string{}, Checked: map[string]bool{}}
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
	u.render(w, status, "error", &page{Title: "Error", Org: s.Organization, CSRF: s.CSRF, Error: msg})
}

func (u *UI) setCookie(w http.ResponseWriter, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge, HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: u.Production})
}

// formIsText reports whether every name and value of a parsed form is
// UTF-8 text without NUL characters, as both databases require.
func formIsText(r *http.Request) bool {
	for k, vs := range r.PostForm {
		if !utf8.ValidString(k) || strings.ContainsRune(k, 0) {
			return false
		}
		for _, v := range vs {
			if !utf8.ValidString(v) || strings.ContainsRune(v, 0) {
				return false
			}
		}
	}
	return true
}
