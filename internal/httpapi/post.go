package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"

	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/idempotency"
)

// post runs an authenticated POST handler. It buffers the answer so that a
// 201 gets a Location naming the new resource (its "id", else its "name"),
// and, when the request carries an Idempotency-Key, stores the answer for
// repeats of the same request and refuses other requests with that key.
// Unbuffered routes (event publication, which keeps its own key beside the
// event) do not come here.
func (s *Server) post(w http.ResponseWriter, r *http.Request, org *hookbook.Organization, h OrgHandler) {
	key := r.Header.Get("Idempotency-Key")
	if s.Idempotency == nil {
		key = ""
	}
	if key != "" {
		if !idempotency.ValidKey(key) {
			WriteError(w, &hookbook.Error{Kind: hookbook.EInvalid, Code: "invalid_header",
				Message: "Idempotency-Key must be UTF-8 text of at most 255 bytes without NUL characters",
				Details: map[string]string{"Idempotency-Key": "invalid"}}, 0)
			return
		}
		body, err := readJSON(w, r)
		if err != nil {
			WriteError(w, err, 0)
			return
		}
		r.Body = readCloser{bytes.NewReader(body)}
		stored, err := s.Idempotency.Begin(r.Context(), org.ID, key, idempotency.Hash(r.Method, r.URL.Path, body))
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if stored != nil {
			w.Header().Set("Idempotent-Replayed", "true")
			if stored.Location != "" {
				w.Header().Set("Location", stored.Location)
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(stored.Status)
			w.Write(stored.Body)
			return
		}
	}
	rec := &bufferedWriter{header: w.Header(), status: http.StatusOK}
	if err := h(rec, r, org); err != nil {
		if hookbook.AsError(err) == nil { // hookbook's own failure: a retry may run again
			if key != "" {
				if aerr := s.Idempotency.Abandon(r.Context(), org.ID, key); aerr != nil {
					s.Log.Error("free an idempotency key", "err", aerr)
				}
			}
			s.fail(w, r, err)
			return
		}
		rec = &bufferedWriter{header: w.Header()}
		WriteError(rec, err, 0)
	}
	location := ""
	if rec.status == http.StatusCreated {
		location = locationOf(r.URL.Path, rec.body.Bytes())
		if location != "" {
			w.Header().Set("Location", location)
		}
	}
	if key != "" {
		if err := s.Idempotency.Finish(r.Context(), org.ID, key, idempotency.Answer{Status: rec.status, Body: rec.body.Bytes(), Location: location}); err != nil {
			s.Log.Error("store an idempotent answer", "err", err)
		}
	}
	w.WriteHeader(rec.status)
	w.Write(rec.body.Bytes())
}

// locationOf is the URL of a resource created under collection, named by
// its "id" (else its "name") in the answer body.
func locationOf(collection string, body []byte) string {
	var v struct{ ID, Name string }
	if json.Unmarshal(body, &v) != nil {
		return ""
	}
	name := v.ID
	if name == "" {
		name = v.Name
	}
	if name == "" {
		return ""
	}
	return collection + "/" + url.PathEscape(name)
}

// bufferedWriter holds an answer until it is complete.
type bufferedWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
	wrote  bool
}

func (b *bufferedWriter) Header() http.Header { return b.header }

func (b *bufferedWriter) WriteHeader(code int) {
	if !b.wrote {
		b.status, b.wrote = code, true
	}
}

func (b *bufferedWriter) Write(p []byte) (int, error) {
	if !b.wrote {
		b.WriteHeader(http.StatusOK)
	}
	return b.body.Write(p)
}

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }
