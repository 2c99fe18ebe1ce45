package filter_test

import (
	"encoding/json"
	"testing"

	"github.com/hookbook/hookbook/internal/filter"
)

// FuzzParse: any text either parses into a filter that matches any envelope
// without a panic and whose Text parses again to the same result, or is
// refused with a *filter.Error naming a path under "filter".
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"data":{"location":"Main Square","participants":{"$gte":2}}}`,
		`{"$or":[{"a":1},{"b":{"$in":["x",2,null]}}]}`, `{"$not":{"a":{"$exist":false}}}`,
		`{"a":{"$startsWith":"x","$endsWith":"y","$nin":"z"}}`, `{"a":[1,[2],{"b":3}]}`,
		`{"a":{"$gt":"2026"}}`, `{"$and":[{"$x":1}]}`, `[[[[`, `{"a":"\"}"}`, `{"a":1e999}`,
	} {
		f.Add(s, `{"event":"x","data":{"a":[1,{"b":3}],"location":"Main Square","participants":2}}`)
	}
	f.Fuzz(func(t *testing.T, text, envelope string) {
		flt, err := filter.Parse([]byte(text))
		if err != nil {
			fe := filter.ErrorOf(err)
			if fe == nil || len(fe.Path) < len(filter.Root) || fe.Path[:len(filter.Root)] != filter.Root {
				t.Fatalf("Parse(%q) = %v, want a *filter.Error under %q", text, err, filter.Root)
			}
			return
		}
		if len(flt.Text()) > filter.MaxBytes || !json.Valid(flt.Text()) {
			t.Fatalf("Text of %q = %q", text, flt.Text())
		}
		again, err := filter.Parse(flt.Text())
		if err != nil {
			t.Fatalf("Text %q does not parse again: %v", flt.Text(), err)
		}
		env, err := filter.Decode([]byte(envelope))
		if err != nil {
			return
		}
		if flt.Match(env) != again.Match(env) {
			t.Fatalf("%q and its Text disagree on %q", text, envelope)
		}
	})
}
