package event

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

var (
	schemaMu    sync.Mutex
	schemaCache = map[schemaKey]*jsonschema.Schema{}
	printer     = message.NewPrinter(language.English)
)

type schemaKey struct {
	doc     string
	formats bool
}

// noExternalRefs refuses every reference outside the schema itself: a
// client's schema must never make hookbook read a file or fetch a URL.
type noExternalRefs struct{}

func (noExternalRefs) Load(url string) (any, error) {
	return nil, errors.New("only references inside the schema itself (#…) may resolve")
}

// CompileSchema parses and compiles a JSON schema document. References
// ($ref) may point only inside the document. "format" is an annotation,
// as draft 2020-12 specifies by default.
func CompileSchema(doc []byte) (*jsonschema.Schema, error) { return compile(doc, false) }

func compile(doc []byte, assertFormats bool) (*jsonschema.Schema, error) {
	key := schemaKey{string(doc), assertFormats}
	schemaMu.Lock()
	defer schemaMu.Unlock()
	if s, ok := schemaCache[key]; ok {
		return s, nil
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return nil, fmt.Errorf("schema is not JSON: %w", err)
	}
	c := jsonschema.NewCompiler()
	c.UseLoader(noExternalRefs{})
	if assertFormats {
		c.AssertFormat()
	}
	if err := c.AddResource("mem://schema.json", v); err != nil {
		return nil, err
	}
	s, err := c.Compile("mem://schema.json")
	if err != nil {
		return nil, err
	}
	if len(schemaCache) > 1000 {
		clear(schemaCache)
	}
	schemaCache[key] = s
	return s, nil
}

// Validate checks data against a JSON schema document (an organization's
// own event type). A mismatch is a *SchemaMismatch.
func Validate(schema, data []byte) error { return validate(schema, data, false) }

// ValidateBuiltin checks data against the catalog schema of the built-in
// type name, formats included: a "date-time" must be one. A mismatch is a
// *SchemaMismatch; a name outside the catalog is not checked.
func ValidateBuiltin(name string, data []byte) error {
	t, ok := builtin[name]
	if !ok {
		return nil
	}
	return validate(t.Schema, data, true)
}

func validate(schema, data []byte, assertFormats bool) error {
	s, err := compile(schema, assertFormats)
	if err != nil {
		return err
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("data is not JSON: %w", err)
	}
	err = s.Validate(inst)
	var ve *jsonschema.ValidationError
	if errors.As(err, &ve) {
		m := &SchemaMismatch{Fields: map[string]string{}}
		m.collect(ve)
		return m
	}
	return err
}

// maxMismatches bounds how many failing fields one answer names.
const maxMismatches = 20

// SchemaMismatch says where data breaks its schema. Each key of Fields is
// a failing field's path below "data" ("data.customer.email", array items
// by index: "data.items.0"), each value what is wrong there.
type SchemaMismatch struct {
	Fields map[string]string
}

func (m *SchemaMismatch) Error() string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m.Fields)) {
		parts = append(parts, k+" "+m.Fields[k])
	}
	return strings.Join(parts, "; ")
}

// collect records the leaves of a validation error tree: the errors that
// name one field and one rule.
func (m *SchemaMismatch) collect(e *jsonschema.ValidationError) {
	if len(m.Fields) >= maxMismatches {
		return
	}
	if len(e.Causes) > 0 {
		for _, c := range e.Causes {
			m.collect(c)
		}
		return
	}
	path := strings.Join(append([]string{"data"}, e.InstanceLocation...), ".")
	if req, ok := e.ErrorKind.(*kind.Required); ok {
		for _, name := range req.Missing {
			m.add(path+"."+name, "is required")
		}
		return
	}
	m.add(path, e.ErrorKind.LocalizedString(printer))
}

func (m *SchemaMismatch) add(path, msg string) {
	if len(m.Fields) >= maxMismatches {
		return
	}
	if prev, ok := m.Fields[path]; ok {
		msg = prev + "; " + msg
	}
	m.Fields[path] = msg
}
