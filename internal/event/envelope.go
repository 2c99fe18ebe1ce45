package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hookbook/hookbook"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// TimeFormat is how the envelope's timestamp and every time in a payload are written.
const TimeFormat = time.RFC3339

// Envelope returns the exact delivery body of an event:
// {"id","event","timestamp","organization_id","data"}, with data in its
// canonical form (Canonical): the body is what JavaScript's
// JSON.stringify(JSON.parse(body)) prints, so receivers that verify a
// re-serialised body verify it too.
func Envelope(id, orgID, typ string, at time.Time, data json.RawMessage) ([]byte, error) {
	if len(data) == 0 {
		data = json.RawMessage(`{}`)
	}
	canon, err := Canonical(data)
	if err != nil {
		return nil, fmt.Errorf("encode envelope data: %w", err)
	}
	data = canon
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	err = enc.Encode(hookbook.Envelope{
		ID: id, Event: typ, Timestamp: at.UTC().Format(TimeFormat), OrganizationID: orgID, Data: data,
	})
	if err != nil {
		return nil, fmt.Errorf("encode envelope: %w", err)
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

var (
	schemaMu    sync.Mutex
	schemaCache = map[string]*jsonschema.Schema{}
)

// noExternalRefs refuses every reference outside the schema itself: a
// client's schema must never make hookbook read a file or fetch a URL.
type noExternalRefs struct{}

func (noExternalRefs) Load(url string) (any, error) {
	return nil, errors.New("only references inside the schema itself (#…) may resolve")
}

// CompileSchema parses and compiles a JSON schema document. References
// ($ref) may point only inside the document.
func CompileSchema(doc []byte) (*jsonschema.Schema, error) {
	key := string(doc)
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

// Validate checks data against a JSON schema document.
func Validate(schema, data []byte) error {
	s, err := CompileSchema(schema)
	if err != nil {
		return err
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("data is not JSON: %w", err)
	}
	return s.Validate(inst)
}
