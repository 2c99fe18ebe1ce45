package filter_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hookbook/hookbook/internal/filter"
)

// envelope is a delivery body as hookbook sends it.
const envelope = `{"id":"evt_1","event":"community.event.created","timestamp":"2026-03-24T14:30:00Z",
	"organization_id":"org_1","ordering_key":"cev_1","sequence":17,
	"data":{"location":"Main Square","participants":3,"price":12.5,"free":false,"note":null,
	"tags":["outdoor","music"],"host":{"name":"Ana","email":"ana@example.com"},
	"slots":[{"day":"mon","seats":2},{"day":"tue","seats":0}],"matrix":[[1,2],[3]]}}`

func TestMatch(t *testing.T) {
	t.Parallel()
	env, err := filter.Decode([]byte(envelope))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, filter string
		want         bool
	}{
		{"empty filter", `{}`, true},
		{"spec example", `{"data":{"location":"Main Square","participants":{"$gte":2}}}`, true},
		{"envelope field", `{"event":"community.event.created"}`, true},
		{"envelope field differs", `{"event":"booking.created"}`, false},
		{"sequence number", `{"sequence":17}`, true},
		{"plain string", `{"data":{"location":"Main Square"}}`, true},
		{"plain string differs", `{"data":{"location":"main square"}}`, false},
		{"plain number", `{"data":{"participants":3}}`, true},
		{"number equal in another form", `{"data":{"participants":3.0}}`, true},
		{"plain bool", `{"data":{"free":false}}`, true},
		{"plain null", `{"data":{"note":null}}`, true},
		{"null is not missing", `{"data":{"absent":null}}`, false},
		{"missing field", `{"data":{"absent":"x"}}`, false},
		{"nested object", `{"data":{"host":{"name":"Ana"}}}`, true},
		{"nested object differs", `{"data":{"host":{"name":"Bo"}}}`, false},
		{"field of a string", `{"data":{"location":{"x":1}}}`, false},
		{"array holds scalar", `{"data":{"tags":"music"}}`, true},
		{"array lacks scalar", `{"data":{"tags":"indoor"}}`, false},
		{"array holds all", `{"data":{"tags":["music","outdoor"]}}`, true},
		{"array lacks one", `{"data":{"tags":["music","indoor"]}}`, false},
		{"plain array on scalar", `{"data":{"location":["Main Square"]}}`, false},
		{"array of arrays", `{"data":{"matrix":[[3]]}}`, true},
		{"array of objects, one matches", `{"data":{"slots":{"day":"tue","seats":0}}}`, true},
		{"array of objects, none matches all", `{"data":{"slots":{"day":"tue","seats":2}}}`, false},
		{"two keys are and", `{"event":"community.event.created","data":{"participants":4}}`, false},

		{"$eq", `{"data":{"participants":{"$eq":3}}}`, true},
		{"$eq differs", `{"data":{"participants":{"$eq":4}}}`, false},
		{"$eq object is whole equality", `{"data":{"host":{"$eq":{"name":"Ana","email":"ana@example.com"}}}}`, true},
		{"$eq object partial is not equal", `{"data":{"host":{"$eq":{"name":"Ana"}}}}`, false},
		{"$eq on array holds", `{"data":{"tags":{"$eq":"outdoor"}}}`, true},
		{"$neq", `{"data":{"location":{"$neq":"Harbour"}}}`, true},
		{"$neq same", `{"data":{"location":{"$neq":"Main Square"}}}`, false},
		{"$neq missing", `{"data":{"absent":{"$neq":"x"}}}`, true},
		{"$gt", `{"data":{"participants":{"$gt":2}}}`, true},
		{"$gt equal", `{"data":{"participants":{"$gt":3}}}`, false},
		{"$gte equal", `{"data":{"participants":{"$gte":3}}}`, true},
		{"$lt", `{"data":{"price":{"$lt":12.6}}}`, true},
		{"$lt equal", `{"data":{"price":{"$lt":12.5}}}`, false},
		{"$lte equal", `{"data":{"price":{"$lte":12.5}}}`, true},
		{"range", `{"data":{"participants":{"$gte":1,"$lt":5}}}`, true},
		{"range out", `{"data":{"participants":{"$gte":4,"$lt":5}}}`, false},
		{"$gt string", `{"timestamp":{"$gt":"2026-01-01T00:00:00Z"}}`, true},
		{"$lt string", `{"timestamp":{"$lt":"2026-01-01T00:00:00Z"}}`, false},
		{"$gt number on string", `{"data":{"location":{"$gt":1}}}`, false},
		{"$gt string on number", `{"data":{"participants":{"$gt":"1"}}}`, false},
		{"$gt missing", `{"data":{"absent":{"$gt":1}}}`, false},
		{"$in list", `{"data":{"location":{"$in":["Harbour","Main Square"]}}}`, true},
		{"$in list misses", `{"data":{"location":{"$in":["Harbour"]}}}`, false},
		{"$in empty list", `{"data":{"location":{"$in":[]}}}`, false},
		{"$in array field", `{"data":{"tags":{"$in":["indoor","music"]}}}`, true},
		{"$in array field misses", `{"data":{"tags":{"$in":["indoor"]}}}`, false},
		{"$in objects", `{"data":{"slots":{"$in":[{"day":"mon","seats":2}]}}}`, true},
		{"$in numbers", `{"data":{"participants":{"$in":[1,2,3]}}}`, true},
		{"$in substring", `{"data":{"location":{"$in":"Square"}}}`, true},
		{"$in substring misses", `{"data":{"location":{"$in":"Park"}}}`, false},
		{"$in string in array", `{"data":{"tags":{"$in":"music"}}}`, true},
		{"$in missing", `{"data":{"absent":{"$in":["x"]}}}`, false},
		{"$nin", `{"data":{"location":{"$nin":["Harbour"]}}}`, true},
		{"$nin listed", `{"data":{"location":{"$nin":["Main Square"]}}}`, false},
		{"$nin array field", `{"data":{"tags":{"$nin":["music"]}}}`, false},
		{"$nin missing", `{"data":{"absent":{"$nin":["x"]}}}`, true},
		{"$exist true", `{"data":{"host":{"$exist":true}}}`, true},
		{"$exist true on null", `{"data":{"note":{"$exist":true}}}`, true},
		{"$exist true missing", `{"data":{"absent":{"$exist":true}}}`, false},
		{"$exist false missing", `{"data":{"absent":{"$exist":false}}}`, true},
		{"$exist false present", `{"data":{"host":{"$exist":false}}}`, false},
		{"$exist ordering_key", `{"ordering_key":{"$exist":true}}`, true},
		{"$startsWith", `{"data":{"location":{"$startsWith":"Main"}}}`, true},
		{"$startsWith misses", `{"data":{"location":{"$startsWith":"Square"}}}`, false},
		{"$startsWith number", `{"data":{"participants":{"$startsWith":"3"}}}`, false},
		{"$startsWith array", `{"data":{"tags":{"$startsWith":"out"}}}`, false},
		{"$endsWith", `{"data":{"host":{"email":{"$endsWith":"@example.com"}}}}`, true},
		{"$endsWith misses", `{"data":{"host":{"email":{"$endsWith":"@example.org"}}}}`, false},
		{"$endsWith null", `{"data":{"note":{"$endsWith":""}}}`, false},

		{"$or one", `{"$or":[{"data":{"location":"Harbour"}},{"data":{"participants":3}}]}`, true},
		{"$or none", `{"$or":[{"data":{"location":"Harbour"}},{"data":{"participants":4}}]}`, false},
		{"$and all", `{"$and":[{"data":{"participants":{"$gte":3}}},{"data":{"free":false}}]}`, true},
		{"$and one fails", `{"$and":[{"data":{"participants":{"$gte":3}}},{"data":{"free":true}}]}`, false},
		{"$not", `{"$not":{"data":{"location":"Harbour"}}}`, true},
		{"$not matching", `{"$not":{"data":{"location":"Main Square"}}}`, false},
		{"$or nested in a field", `{"data":{"$or":[{"location":"Harbour"},{"host":{"name":"Ana"}}]}}`, true},
		{"$not on an operator", `{"data":{"participants":{"$not":{"$gt":5}}}}`, true},
		{"$not on an operator holding", `{"data":{"participants":{"$not":{"$gt":1}}}}`, false},
		{"combinators nested", `{"$and":[{"$or":[{"event":"x"},{"data":{"tags":"music"}}]},{"$not":{"data":{"free":true}}}]}`, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f, err := filter.Parse([]byte(c.filter))
			if err != nil {
				t.Fatalf("Parse(%s): %v", c.filter, err)
			}
			if got := f.Match(env); got != c.want {
				t.Errorf("Match(%s) = %v, want %v", c.filter, got, c.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	deep := strings.Repeat(`{"a":`, filter.MaxDepth+1) + `1` + strings.Repeat(`}`, filter.MaxDepth+1)
	many := `{"data":{"x":{"$in":[` + strings.TrimSuffix(strings.Repeat(`1,`, filter.MaxNodes+1), ",") + `]}}}`
	big := `{"data":{"x":"` + strings.Repeat("a", filter.MaxBytes) + `"}}`
	cases := []struct{ name, filter, path, msg string }{
		{"not an object", `[1]`, "filter", "must be a JSON object"},
		{"a string", `"x"`, "filter", "must be a JSON object"},
		{"empty", ``, "filter", "must be a JSON object"},
		{"invalid JSON", `{"data":`, "filter", "is not valid JSON"},
		{"unknown operator", `{"data":{"participants":{"$gte":2,"$between":[1,2]}}}`, "filter.data.participants.$between", "is not an operator"},
		{"$gte on an object", `{"data":{"participants":{"$gte":{"n":2}}}}`, "filter.data.participants.$gte", "must be a number or a string"},
		{"$lt on bool", `{"data":{"x":{"$lt":true}}}`, "filter.data.x.$lt", "must be a number or a string"},
		{"$in on number", `{"data":{"x":{"$in":3}}}`, "filter.data.x.$in", "must be an array of values or a string"},
		{"$nin on object", `{"data":{"x":{"$nin":{}}}}`, "filter.data.x.$nin", "must be an array of values or a string"},
		{"$exist on string", `{"data":{"x":{"$exist":"yes"}}}`, "filter.data.x.$exist", "must be true or false"},
		{"$startsWith on number", `{"data":{"x":{"$startsWith":1}}}`, "filter.data.x.$startsWith", "must be a string"},
		{"$endsWith on null", `{"data":{"x":{"$endsWith":null}}}`, "filter.data.x.$endsWith", "must be a string"},
		{"$or not an array", `{"$or":{"a":1}}`, "filter.$or", "must be a non-empty array"},
		{"$or empty", `{"$or":[]}`, "filter.$or", "must be a non-empty array"},
		{"$and item not an object", `{"$and":[{"a":1},2]}`, "filter.$and.1", "must be a filter object"},
		{"bad item inside $or", `{"$or":[{"a":1},{"data":{"n":{"$gt":[]}}}]}`, "filter.$or.1.data.n.$gt", "must be a number or a string"},
		{"$not not an object", `{"$not":[{"a":1}]}`, "filter.$not", "must be a filter object"},
		{"bad inside $not", `{"$not":{"a":{"$x":1}}}`, "filter.$not.a.$x", "is not an operator"},
		{"too deep", deep, "filter", "at most 20 deep"},
		{"too many conditions", many, "filter.data.x.$in.", "more than 500 conditions"},
		{"too big", big, "filter", "at most 16384 bytes"},
		{"number out of range", `{"data":{"x":1e999}}`, "filter.data.x", "the number 1e999 is too large"},
		{"operand out of range", `{"a":{"$gte":1e400}}`, "filter.a.$gte", "the number 1e400 is too large"},
		{"integer beyond 2^53", `{"a":99999999999999999999999}`, "filter.a", "beyond 2^53"},
		{"integer beyond 2^53 in $in", `{"a":{"$in":[1,9007199254740993]}}`, "filter.a.$in.1", "beyond 2^53"},
		{"duplicate key", `{"a":1,"a":2}`, "filter", `the key "a" appears twice`},
		{"duplicate key inside $or", `{"$or":[{"data":{"b":1,"b":1}}]}`, "filter.$or.0.data", `the key "b" appears twice`},
		{"duplicate operator", `{"a":{"$gt":1,"$gt":2}}`, "filter.a", `the key "$gt" appears twice`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := filter.Parse([]byte(c.filter))
			fe := filter.ErrorOf(err)
			if fe == nil {
				t.Fatalf("Parse(%.80s) = %v, want a *filter.Error", c.filter, err)
			}
			if !strings.HasPrefix(fe.Path, c.path) || (!strings.HasSuffix(c.path, ".") && fe.Path != c.path) {
				t.Errorf("path = %q, want %q", fe.Path, c.path)
			}
			if !strings.Contains(fe.Message, c.msg) || strings.Contains(fe.Message, "json:") || strings.Contains(fe.Message, "Go value") {
				t.Errorf("message = %q, want it to say %q in plain words", fe.Message, c.msg)
			}
		})
	}
	// Numbers a filter keeps as written are accepted.
	for _, ok := range []string{`{"a":9007199254740992}`, `{"a":-9007199254740991}`, `{"a":1.5e3}`, `{"a":1e-400}`, `{"a":{"$in":[1,2]},"b":{"a":1}}`} {
		if f, err := filter.Parse([]byte(ok)); err != nil || string(f.Text()) != ok {
			t.Errorf("Parse(%s) = %v", ok, err)
		}
	}
}

// A filter nested far beyond the bound, as deep as a request body allows,
// is refused by the first pass, before anything recurses.
func TestHostileNesting(t *testing.T) {
	t.Parallel()
	for _, open := range []string{"[", `{"a":`} {
		text := strings.Repeat(open, 1<<20)
		_, err := filter.Parse([]byte("{" + `"a":` + text))
		if fe := filter.ErrorOf(err); fe == nil || fe.Path != "filter" {
			t.Errorf("%q nested 1 Mi deep: %v", open, err)
		}
	}
}

func TestBoundsAtTheLimit(t *testing.T) {
	t.Parallel()
	deep := strings.Repeat(`{"a":`, filter.MaxDepth) + `1` + strings.Repeat(`}`, filter.MaxDepth)
	if _, err := filter.Parse([]byte(deep)); err != nil {
		t.Errorf("a filter exactly %d deep: %v", filter.MaxDepth, err)
	}
	// "$in" and the "x" and "data" keys count too: 3 + (MaxNodes-3) items.
	at := `{"data":{"x":{"$in":[` + strings.TrimSuffix(strings.Repeat(`1,`, filter.MaxNodes-3), ",") + `]}}}`
	if _, err := filter.Parse([]byte(at)); err != nil {
		t.Errorf("a filter of exactly %d conditions: %v", filter.MaxNodes, err)
	}
}

func TestTextIsCompact(t *testing.T) {
	t.Parallel()
	f, err := filter.Parse([]byte("{\n  \"data\": { \"b\": 1, \"a\": \"x y\" }\n}"))
	if err != nil {
		t.Fatal(err)
	}
	if got := string(f.Text()); got != `{"data":{"b":1,"a":"x y"}}` {
		t.Errorf("Text = %s", got)
	}
}

func TestEnvelope(t *testing.T) {
	t.Parallel()
	data, _ := filter.Decode([]byte(`{"n":2}`))
	f, _ := filter.Parse([]byte(`{"sequence":{"$gt":0},"ordering_key":"k","data":{"n":2}}`))
	if !f.Match(filter.Envelope("evt_1", "x.y", "2026-01-01T00:00:00Z", "org_1", "k", 5, data)) {
		t.Error("envelope with a key does not match")
	}
	if f.Match(filter.Envelope("evt_1", "x.y", "2026-01-01T00:00:00Z", "org_1", "", 0, data)) {
		t.Error("envelope without a key matches a filter on its key")
	}
	if ok, err := f.MatchJSON([]byte(`{"ordering_key":"k","sequence":1,"data":{"n":2}}`)); !ok || err != nil {
		t.Errorf("MatchJSON = %v, %v", ok, err)
	}
	if _, err := f.MatchJSON([]byte(`{`)); err == nil {
		t.Error("MatchJSON of broken JSON: no error")
	}
}

func BenchmarkMatch(b *testing.B) {
	f, err := filter.Parse([]byte(`{"event":"community.event.created","data":{"location":"Main Square","participants":{"$gte":2},"tags":{"$in":["music"]}}}`))
	if err != nil {
		b.Fatal(err)
	}
	env, _ := filter.Decode([]byte(envelope))
	b.ReportAllocs()
	for b.Loop() {
		if !f.Match(env) {
			b.Fatal("no match")
		}
	}
}

// BenchmarkPublication is what a publication adds when its organization's
// endpoints have filters: the event's data decoded once, then ten filters
// matched against its envelope.
func BenchmarkPublication(b *testing.B) {
	data := []byte(`{"id":"bkg_01JQ2Z8Y5V4N6T7R8S9A0B1C2D","status":"confirmed","service":{"id":"svc_01JQ2Z8Y5V4N6T7R8S9A0B1C2E","name":"City Walking Tour"},"slot_id":"slot_01JQ2Z8Y5V4N6T7R8S9A0B1C2F","customer":{"id":"cus_01JQ2Z8Y5V4N6T7R8S9A0B1C2G","name":"Jane Doe","email":"jane@example.com"},"starts_at":"2026-03-25T14:00:00Z","ends_at":"2026-03-25T15:30:00Z","participants":2,"notes":"Window seat, please","location":"Main Square","total_amount":9000,"currency":"USD","created_at":"2026-03-24T14:30:00Z","updated_at":"2026-03-24T14:30:00Z"}`)
	f, err := filter.Parse([]byte(`{"event":"booking.created","data":{"location":"Main Square","participants":{"$gte":2},"status":{"$in":["confirmed","pending"]},"customer":{"email":{"$endsWith":"@example.com"}}}}`))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		d, err := filter.Decode(data)
		if err != nil {
			b.Fatal(err)
		}
		env := filter.Envelope("evt_1", "booking.created", "2026-03-24T14:30:00Z", "org_1", "", 0, d)
		for range 10 {
			if !f.Match(env) {
				b.Fatal("no match")
			}
		}
	}
}

// An event with a huge array against a long $in list is refused after
// MaxSteps instead of taking seconds; small ones still match.
func TestMatchWorkIsBounded(t *testing.T) {
	t.Parallel()
	items := make([]string, 200_000)
	for i := range items {
		items[i] = strconv.Itoa(i)
	}
	env, err := filter.Decode([]byte(`{"data":{"ids":[` + strings.Join(items, ",") + `]}}`))
	if err != nil {
		t.Fatal(err)
	}
	list := make([]string, 490)
	for i := range list {
		list[i] = strconv.Itoa(-1 - i)
	}
	cases := []struct {
		name, filter string
		want         bool
	}{
		{"long $in, no item in it", `{"data":{"ids":{"$in":[` + strings.Join(list, ",") + `]}}}`, false},
		{"long $in, the last item in it", `{"data":{"ids":{"$in":[` + strings.Join(list, ",") + `,199999]}}}`, false},
		{"holds all of a long list", `{"data":{"ids":[` + strings.Join(list, ",") + `]}}`, false},
		{"the first item, found at once", `{"data":{"ids":{"$in":[0]}}}`, true},
		{"not a long $in: $not of the budget's end is still no match", `{"$not":{"data":{"ids":{"$in":[` + strings.Join(list, ",") + `]}}}}`, false},
	}
	for _, c := range cases {
		f, err := filter.Parse([]byte(c.filter))
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if got := f.Match(env); got != c.want {
			t.Errorf("%s: Match = %v, want %v", c.name, got, c.want)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%s: Match took %s", c.name, d)
		}
	}
}
