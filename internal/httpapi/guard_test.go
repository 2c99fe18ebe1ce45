package httpapi

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestRouterGuardsEveryNonPublicRoute: a route whose handler was not
// wrapped by hand is still refused without an API key unless it is Public.
func TestRouterGuardsEveryNonPublicRoute(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { WriteJSON(w, http.StatusOK, map[string]bool{"ok": true}) })
	s := &Server{Extra: []Route{
		{Method: "GET", Pattern: "/api/v1/forgotten", Handler: ok},
		{Method: "GET", Pattern: "/api/public/open", Handler: ok, Public: true},
		{Method: "GET", Pattern: "/api/public/adapted", Handler: s0().Adapt(nil), Public: true},
	}}
	h := s.Handler()
	for path, want := range map[string]int{"/api/v1/forgotten": 401, "/api/public/open": 200, "/api/public/adapted": 401} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != want {
			t.Errorf("GET %s = %d %s, want %d", path, rec.Code, rec.Body, want)
		}
		if want == 401 && !strings.Contains(rec.Body.String(), "missing_api_key") {
			t.Errorf("GET %s = %s", path, rec.Body)
		}
	}
}

func s0() *Server { return &Server{} }
