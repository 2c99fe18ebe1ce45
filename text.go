package hookbook

import (
	"strings"
	"unicode/utf8"
)

// Storable reports whether text can be stored by both databases: valid
// UTF-8 without NUL characters (PostgreSQL refuses both in TEXT, and SQLite
// would keep what PostgreSQL refuses). The API's paths, query strings and
// idempotency keys and the admin UI's forms are held to it before anything
// is stored.
func Storable(text string) bool {
	return utf8.ValidString(text) && !strings.ContainsRune(text, 0)
}

// StorableValues reports whether every name and value of a query string or
// form is Storable; when one is not, it returns its name (which may itself
// be the text that is not storable).
func StorableValues(values map[string][]string) (bad string, ok bool) {
	for k, vs := range values {
		if !Storable(k) {
			return k, false
		}
		for _, v := range vs {
			if !Storable(v) {
				return k, false
			}
		}
	}
	return "", true
}
