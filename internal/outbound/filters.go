package outbound

import (
	"encoding/json"
	"log/slog"
	"strings"
	"sync"

	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/filter"
)

// parsed keeps the endpoints' filters parsed, by their text, so that a
// publication parses none of them again (a filter is immutable).
var parsed = struct {
	sync.Mutex
	m map[string]*filter.Filter
}{m: map[string]*filter.Filter{}}

// maxParsed bounds the filters kept parsed; past it the cache starts afresh.
const maxParsed = 10000

// parsedFilter returns an endpoint's filter ready to match, or nil when it
// has none. A stored filter this version refuses (were its bounds ever
// narrowed) is logged and left out: the endpoint then gets every event of
// its types, so that none is lost.
func parsedFilter(ep *hookbook.Endpoint) *filter.Filter {
	if len(ep.Filter) == 0 {
		return nil
	}
	key := string(ep.Filter)
	parsed.Lock()
	f, ok := parsed.m[key]
	parsed.Unlock()
	if ok {
		return f
	}
	f, err := filter.Parse(ep.Filter)
	if err != nil {
		slog.Warn("endpoint filter not applied", "endpoint_id", ep.ID, "err", err)
		return nil
	}
	parsed.Lock()
	if len(parsed.m) >= maxParsed {
		parsed.m = map[string]*filter.Filter{}
	}
	parsed.m[key] = f
	parsed.Unlock()
	return f
}

// noteFilters remembers whether an organization's endpoints had filters at
// its last publication (stored only when it changes).
func (s *Service) noteFilters(orgID string, filters bool) {
	if had, _ := s.filterOrgs.Load(orgID); had != filters {
		s.filterOrgs.Store(orgID, filters)
	}
}

// predecode decodes a publication's data ahead of its transaction when the
// organization's endpoints had filters at its last publication: the
// decoding then runs in the publishing request, outside the one writer.
func (s *Service) predecode(p *Publication) {
	if had, _ := s.filterOrgs.Load(p.OrganizationID); had == true {
		p.decoded, _ = filter.Decode(p.Data)
	}
}

// FilterTestInput is a filter's dry run: a filter and an event, either a
// whole envelope (an object with "event" and "data") or an event's data
// alone.
type FilterTestInput struct {
	Filter json.RawMessage `json:"filter"`
	Event  json.RawMessage `json:"event"`
}

// TestFilter reports whether the event of in matches its filter, as
// publication would decide; a bad filter or event is refused (422) with
// the path of the part at fault.
func (s *Service) TestFilter(in FilterTestInput) (bool, error) {
	f := hookbook.Fields{}
	var flt *filter.Filter
	if isNull(in.Filter) {
		f.Add(filter.Root, "is required")
	} else if p, err := filter.Parse(in.Filter); err != nil {
		fe := filter.ErrorOf(err)
		f.Add(fe.Path, fe.Message)
	} else {
		flt = p
	}
	var env map[string]any
	if isNull(in.Event) {
		f.Add("event", "is required: an event's envelope or its data")
	} else if v, err := filter.Decode(in.Event); err != nil {
		f.Add("event", "is not valid JSON")
	} else if obj, ok := v.(map[string]any); !ok {
		f.Add("event", "must be a JSON object: an event's envelope or its data")
	} else {
		env = asEnvelope(obj)
	}
	if err := f.Err(); err != nil {
		return false, err
	}
	return flt.Match(env), nil
}

// asEnvelope takes an object with a string "event" and a "data" for an
// envelope, and anything else for an event's data.
func asEnvelope(obj map[string]any) map[string]any {
	_, typed := obj["event"].(string)
	if _, hasData := obj["data"]; typed && hasData {
		return obj
	}
	return map[string]any{"data": obj}
}

func isNull(raw json.RawMessage) bool {
	t := strings.TrimSpace(string(raw))
	return t == "" || t == "null"
}
