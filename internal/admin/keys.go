package admin

import (
	"net/http"

	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/org"
)

func (u *UI) keysPage(w http.ResponseWriter, r *http.Request, s *session) {
	u.renderKeys(w, r, s, nil, nil, http.StatusOK)
}

// renderKeys shows the organization's keys; created, when set, is a key
// just made, shown this once.
func (u *UI) renderKeys(w http.ResponseWriter, r *http.Request, s *session, created *org.NewKey, errs map[string]string, status int) {
	keys, err := u.Orgs.APIKeys(r.Context(), s.Organization.ID)
	if err != nil {
		u.fail(w, s, err)
		return
	}
	pg := u.base(r, s, "API keys", "keys")
	if errs != nil {
		pg.Errors = errs
		pg.Error = "Please correct the fields marked below."
	}
	pg.Data = map[string]any{"Keys": keys, "New": created}
	u.render(w, status, "keys", pg)
}

func (u *UI) createKey(w http.ResponseWriter, r *http.Request, s *session) {
	k, err := u.Orgs.CreateAPIKey(r.Context(), s.Organization.ID, r.PostFormValue("name"))
	if e := hookbook.AsError(err); e != nil && e.Kind == hookbook.EValidation {
		u.renderKeys(w, r, s, nil, e.Details, http.StatusUnprocessableEntity)
		return
	}
	if err != nil {
		u.fail(w, s, err)
		return
	}
	u.renderKeys(w, r, s, k, nil, http.StatusCreated)
}

func (u *UI) revokeKey(w http.ResponseWriter, r *http.Request, s *session) {
	if err := u.Orgs.RevokeAPIKey(r.Context(), s.Organization.ID, r.PathValue("id")); err != nil {
		u.fail(w, s, err)
		return
	}
	u.done(w, r, s, "/api-keys", "Key revoked: it is refused from now on.")
}
