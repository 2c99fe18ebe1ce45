package hookbook

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestErrorKindsMapToStatuses(t *testing.T) {
	for kind, want := range map[string]int{EInvalid: 400, EUnauthorized: 401, EForbidden: 403, ENotFound: 404,
		EConflict: 409, ETooLarge: 413, EValidation: 422, ETooMany: 429, EInternal: 500, "unknown": 500} {
		if got := StatusOf(kind); got != want {
			t.Errorf("StatusOf(%q) = %d, want %d", kind, got, want)
		}
	}
	wrapped := fmt.Errorf("context: %w", NotFound("endpoint"))
	if HTTPStatus(wrapped) != 404 || Code(wrapped) != "not_found" || !IsKind(wrapped, ENotFound) {
		t.Errorf("a wrapped error loses its kind: %d %s", HTTPStatus(wrapped), Code(wrapped))
	}
	if HTTPStatus(errors.New("disk full")) != 500 || Code(errors.New("x")) != "internal_error" {
		t.Error("a plain error must answer 500 internal_error")
	}
}

func TestFieldsAndRenaming(t *testing.T) {
	f := Fields{}
	if f.Err() != nil {
		t.Fatal("no fields, yet an error")
	}
	f.Add("slot_id", "is required")
	f.Add("slot_id", "second message is ignored")
	f.Add("email", "must be an email address")
	err := RenameFields(f.Err(), map[string]string{"slot_id": "params.slot_id"})
	e := AsError(err)
	if e == nil || e.Kind != EValidation || e.Details["params.slot_id"] != "is required" || e.Details["email"] == "" || len(e.Details) != 2 {
		t.Fatalf("renamed = %#v", e)
	}
	if want := "the request has invalid fields (email: must be an email address; params.slot_id: is required)"; e.Error() != want {
		t.Errorf("message = %q", e.Error())
	}
	plain := errors.New("x")
	if RenameFields(plain, nil) != plain {
		t.Error("a plain error must pass unchanged")
	}
}

func TestRevealIsTheOnlyWayOut(t *testing.T) {
	e := &Endpoint{ID: "ep_1", Secret: "whsec_abc", PreviousSecrets: []PreviousSecret{{Secret: "whsec_old", ExpiresAt: 1 << 62}}, Headers: map[string]string{}}
	plain, _ := json.Marshal(e)
	if strings.Contains(string(plain), "whsec_") {
		t.Errorf("an endpoint serialises a secret: %s", plain)
	}
	shown, _ := json.Marshal(e.Reveal())
	if !strings.Contains(string(shown), `"secret":"whsec_abc"`) || strings.Contains(string(shown), "whsec_old") || !strings.Contains(string(shown), `"id":"ep_1"`) {
		t.Errorf("revealed = %s", shown)
	}
}
