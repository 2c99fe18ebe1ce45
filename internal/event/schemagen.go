package event

import (
	"reflect"
	"strconv"
	"strings"
)

type m = map[string]any

var timeType = reflect.TypeOf(Time{})

// schemaOf derives the JSON schema (draft 2020-12) of a payload type from
// its fields and tags, so that the schema cannot drift from what is sent.
func schemaOf(t reflect.Type) m {
	s := typeSchema(t, reflect.StructTag(""))
	s["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	return s
}

func typeSchema(t reflect.Type, tag reflect.StructTag) m {
	if t.Kind() == reflect.Pointer {
		s := typeSchema(t.Elem(), tag)
		if typ, ok := s["type"].(string); ok && typ != "object" {
			s["type"] = []string{typ, "null"}
		}
		return s
	}
	var s m
	switch {
	case t == timeType:
		s = m{"type": "string", "format": "date-time"}
	case t.Kind() == reflect.String:
		s = m{"type": "string"}
		if p := tag.Get("pattern"); p != "" {
			s["pattern"] = p
		}
		if e := tag.Get("enum"); e != "" {
			s["enum"] = strings.Split(e, ",")
		}
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Int64:
		s = m{"type": "integer"}
	case t.Kind() == reflect.Bool:
		s = m{"type": "boolean"}
	case t.Kind() == reflect.Slice:
		s = m{"type": "array", "items": typeSchema(t.Elem(), "")}
	case t.Kind() == reflect.Struct:
		props, required := m{}, []string{}
		addFields(t, props, &required)
		s = m{"type": "object", "properties": props, "required": required}
	default:
		panic("event: no schema for " + t.String())
	}
	for _, k := range []string{"minimum", "maximum", "minProperties"} {
		if v := tag.Get(k); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				panic("event: bad " + k + " tag " + v)
			}
			s[k] = n
		}
	}
	return s
}

// addFields adds the JSON fields of struct t, flattening embedded structs
// as encoding/json does. Fields tagged omitempty are optional.
func addFields(t reflect.Type, props m, required *[]string) {
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.Anonymous && name == "" {
			addFields(f.Type, props, required)
			continue
		}
		if !f.IsExported() || name == "-" {
			continue
		}
		props[name] = typeSchema(f.Type, f.Tag)
		if !strings.Contains(opts, "omitempty") {
			*required = append(*required, name)
		}
	}
}
