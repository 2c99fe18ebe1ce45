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

// readType sets in's type and config from the form; form gets the values
// to show again.
func (u *UI) readType(r *http.Request, in *outbound.EndpointInput, form map[string]string) {
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
	for _, t := range u.Outbound.OfferedTypes() {
		for _, f := range t.Fields() {
			v := strings.TrimSpace(r.PostFormValue(configKey(t.Name(), f.Name)))
			if f.Kind != "secret" {
				form[configKey(t.Name(), f.Name)] = v
			}
			if t.Name() != typ || v == "" && f.Kind != "secret" {
				continue
			}
			switch f.Kind {
			case "number":
				if n, err := strconv.ParseInt(v, 10, 64); err == nil {
					config[f.Name] = n
				} else {
					config[f.Name] = v // refused by the type, naming the field
				}
			case "list":
				var list []string
				for _, line := range strings.Split(v, "\n") {
					if line = strings.TrimSpace(line); line != "" {
						list = append(list, line)
					}
				}
				config[f.Name] = list
			case "secret":
				if v == "" {
					v = destination.Redacted // blank keeps the stored one
				}
				config[f.Name] = v
			case "bool":
				config[f.Name] = v == "true" || v == "on"
			default:
				config[f.Name] = v
			}
		}
	}
	in.Config, _ = json.Marshal(config)
}

// fillType puts an endpoint's type and redacted config in an edit form.
func (u *UI) fillType(ep *hookbook.Endpoint, form map[string]string) {
	form["type"] = ep.Type
	for k, v := range u.Outbound.ConfigOf(ep) {
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
