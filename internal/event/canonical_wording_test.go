package event

import (
	"strings"
	"testing"
)

// TestCanonicalErrorWording pins the messages of data Canonical refuses:
// they read after the value's name ("data: …") and name where in the
// value the problem is.
func TestCanonicalErrorWording(t *testing.T) {
	for in, want := range map[string]string{
		`{"a":1,"a":2}`:                                   `the key "a" appears twice`,
		`{"guest":{"name":"Ada","name":"A"}}`:             `the key "name" appears twice in guest`,
		`{"rooms":[{"n":1},{"n":1,"n":2}]}`:               `the key "n" appears twice in rooms[1]`,
		`{"id":9007199254740993}`:                         `the integer 9007199254740993 in id is beyond 2^53 and JavaScript would read it as 9007199254740992; send it as a string`,
		`{"x":{"big":1e400}}`:                             `the number 1e400 in x.big is out of range`,
		strings.Repeat(`[`, 70) + strings.Repeat(`]`, 70): `nested deeper than 64 levels`,
	} {
		if _, err := Canonical([]byte(in)); err == nil || err.Error() != want {
			t.Errorf("Canonical(%.40s): %v, want %q", in, err, want)
		}
	}
}
