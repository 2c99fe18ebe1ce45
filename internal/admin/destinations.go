package admin

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/destination"
	"github.com/hookbook/hookbook/internal/outbound"
)

// The endpoint form's destination part: a type picker (webhook and each
// offered broker type) and, per broker type, its config's fields, rendered
// from the type's Fields, named "config.<type>.<field>". Only the picked
// type's fields are read. A credential is never put back in a form: URLs
// show their password as "***" (sent back, it keeps the stored one) and a
// secret field is empty ("leave blank to keep").

// typeForm is one broker type's fieldset.
type typeForm struct {
	Name   string
	Fields []fieldForm
}

// fieldForm is one config field of a form.
type fieldForm struct {
	destination.Field
	Key, Value, Error string
}

// configKey is the form name of a broker type's config field.
func configKey(typ, field string) string { return "config." + typ + "." + field }

// typeForms returns the forms of the offered broker types, filled from
// form and errs.
func (u *UI) typeForms(form, errs map[string]string) []typeForm {
	var out []typeForm
	for _, t := range u.Outbound.OfferedTypes() {
		tf := typeForm{Name: t.Name()}
		for _, f := range t.Fields() {
			ff := fieldForm{Field: f, Key: configKey(t.Name(), f.Name), Value: form[configKey(t.Name(), f.Name)]}
			if form["type"] == t.Name() {
				ff.Error = errs["config."+f.Name]
			}
			tf.Fields = append(tf.Fields, ff)
		}
		out = append(out, tf)
	}
	return out
}

// setPath sets a config value at a field name, a dotted name ("sasl.user")
// being a field of a nested object.
func setPath(config map[string]any, name string, v any) {
	parts := strings.Split(name, ".")
	for _, p := range parts[:len(parts)-1] {
		next, ok := config[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			config[p] = next
		}
		config = next
	}
	config[parts[len(parts)-1]] = v
}

// flatten lists a config's values by dotted field name.
func flatten(prefix string, m map[string]any, out map[string]any) {
	for k, v := range m {
		if sub, ok := v.(map[string]any); ok {
			flatten(prefix+k+".", sub, out)
		} else {
			out[prefix+k] = v
		}
	}
}

// readType sets in's type and config from the form; form gets the values
// to show again. A secret left blank keeps the stored one on an edit and
// is left out on a create.
func (u *UI) readType(r *http.Request, in *outbound.EndpointInput, form map[string]string, create bool) {
	typ := strings.TrimSpace(r.PostFormValue("type"))
	if typ == "" {
		typ = hookbook.EndpointWebhook
	}
	form["type"] = typ
	in.Type = &typ
	if typ == hookbook.EndpointWebhook {
		return
	}
	in.URL = nil
	config := map[string]any{}
	var kept []string // secrets left blank on an edit
	for _, t := range u.Outbound.OfferedTypes() {
		for _, f := range t.Fields() {
			v := strings.TrimSpace(r.PostFormValue(configKey(t.Name(), f.Name)))
			if f.Kind != "secret" {
				form[configKey(t.Name(), f.Name)] = v
			}
			if t.Name() != typ || v == "" && (f.Kind != "secret" || create) {
				continue
			}
			switch f.Kind {
			case "number":
				if n, err := strconv.ParseInt(v, 10, 64); err == nil {
					setPath(config, f.Name, n)
				} else {
					setPath(config, f.Name, v) // refused by the type, naming the field
				}
			case "list":
				var list []string
				for _, line := range strings.Split(v, "\n") {
					if line = strings.TrimSpace(line); line != "" {
						list = append(list, line)
					}
				}
				setPath(config, f.Name, list)
			case "secret":
				if v == "" {
					kept = append(kept, f.Name) // blank keeps the stored one
					continue
				}
				setPath(config, f.Name, v)
			case "bool":
				setPath(config, f.Name, v == "true" || v == "on")
			default:
				setPath(config, f.Name, v)
			}
		}
	}
	for _, name := range kept {
		// A secret inside an object whose other fields were all left blank
		// (kafka's sasl without a mechanism or user) goes with its object:
		// no SASL is no password to keep.
		if i := strings.LastIndex(name, "."); i < 0 || hasPath(config, name[:i]) {
			setPath(config, name, destination.Redacted)
		}
	}
	in.Config, _ = json.Marshal(config)
}

// hasPath reports whether config has an object at the dotted name.
func hasPath(config map[string]any, name string) bool {
	for _, p := range strings.Split(name, ".") {
		next, ok := config[p].(map[string]any)
		if !ok {
			return false
		}
		config = next
	}
	return true
}

// fillType puts an endpoint's type and redacted config in an edit form.
func (u *UI) fillType(ep *hookbook.Endpoint, form map[string]string) {
	form["type"] = ep.Type
	values := map[string]any{}
	flatten("", u.Outbound.ConfigOf(ep), values)
	for k, v := range values {
		switch x := v.(type) {
		case string:
			form[configKey(ep.Type, k)] = x
		case []any:
			var lines []string
			for _, e := range x {
				lines = append(lines, fmt.Sprint(e))
			}
			form[configKey(ep.Type, k)] = strings.Join(lines, "\n")
		case nil:
		case float64:
			form[configKey(ep.Type, k)] = strconv.FormatFloat(x, 'f', -1, 64)
		default:
			form[configKey(ep.Type, k)] = fmt.Sprint(x)
		}
	}
	for _, t := range u.Outbound.OfferedTypes() {
		if t.Name() != ep.Type {
			continue
		}
		for _, f := range t.Fields() {
			if f.Kind == "secret" {
				delete(form, configKey(ep.Type, f.Name))
			}
		}
	}
}
