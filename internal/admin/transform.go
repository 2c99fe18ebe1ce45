package admin

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/outbound"
)

// An endpoint's transformation and chat connector are the platform's: the
// admin UI shows and changes them, the portal neither shows nor changes
// them (a portal save leaves them as they are).

// transformView is what the endpoint form shows of transformations.
type transformView struct {
	Connectors []connectorView
	EventTypes []string
	Event      string // the event type of the dry run
	Connector  string // the endpoint's connector, "" for none or code of one's own
	Result     string // the dry run's request, pretty JSON
	Error      string // the dry run's error
	Tested     bool
}

type connectorView struct {
	outbound.ConnectorInfo
	Pretty string
}

// readTransformation adds the form's transformation fields to in (admin
// only): a connector picked on creation, else the code and its switch; on
// an edit, emptied code removes the transformation.
func readTransformation(r *http.Request, s *session, create bool, in *outbound.EndpointInput, form map[string]string, checked map[string]bool) {
	if s.Portal {
		return
	}
	code := strings.ReplaceAll(r.PostFormValue("transformation_code"), "\r\n", "\n")
	form["transformation_code"], form["transformation_event"] = code, r.PostFormValue("transformation_event")
	enabled := r.PostFormValue("transformation_enabled") == "on"
	checked["transformation_enabled"] = enabled
	if c := r.PostFormValue("connector"); create && c != "" {
		form["connector"] = c
		in.Connector = outbound.Clear(&c)
		return
	}
	switch {
	case strings.TrimSpace(code) != "":
		raw, _ := json.Marshal(map[string]any{"code": code, "enabled": enabled})
		in.Transformation = raw
	case !create:
		in.Transformation = json.RawMessage("null")
	}
}

// addTransform puts the transformation part of the endpoint form in pg's
// data (admin only), after its "Examples" (exampleTypes).
func (u *UI) addTransform(r *http.Request, s *session, pg *page, ep *hookbook.Endpoint) {
	data, _ := pg.Data.(map[string]any)
	if s.Portal || data == nil {
		return
	}
	v := &transformView{Event: pg.Form["transformation_event"]}
	if v.Event == "" {
		v.Event = outbound.ConnectorExampleEvent
	}
	if ep != nil && ep.Transformation != nil {
		v.Connector = ep.Transformation.Connector
	}
	list, err := u.Outbound.Connectors(r.Context())
	if err != nil {
		u.Log.Error("connector examples", "err", err)
	}
	for _, c := range list {
		v.Connectors = append(v.Connectors, connectorView{ConnectorInfo: c, Pretty: pretty(string(c.Example))})
	}
	// The form's "Examples" are the catalog's types the session may pick:
	// to an admin session, every one.
	v.EventTypes, _ = data["Examples"].([]string)
	data["Transform"] = v
}

// testingTransformation reports whether the form was sent with its "Test
// transformation" button: the form is shown again with the request the
// code makes of the chosen event type's example; nothing is saved.
func (u *UI) testingTransformation(w http.ResponseWriter, r *http.Request, s *session, form map[string]string, checked map[string]bool, create bool, id string, kept []string) bool {
	if s.Portal || r.PostFormValue("action") != "test_transformation" {
		return false
	}
	pg := u.reshow(r, s, form, checked, create, id, kept)
	v := pg.Data.(map[string]any)["Transform"].(*transformView)
	v.Tested = true
	test := outbound.TransformationTest{Code: form["transformation_code"], Event: v.Event}
	if create && form["connector"] != "" {
		test = outbound.TransformationTest{Connector: form["connector"], Event: v.Event}
	}
	out, err := u.Outbound.TestTransformation(r.Context(), s.Organization.ID, test)
	if err != nil {
		if e := hookbook.AsError(err); e != nil && e.Kind == hookbook.EValidation {
			v.Error = e.Message
			for _, msg := range e.Details {
				v.Error = msg
			}
		} else {
			u.fail(w, s, err)
			return true
		}
	} else {
		b, _ := json.Marshal(out)
		v.Result = pretty(string(b))
	}
	u.render(w, http.StatusOK, "form", pg)
	return true
}
