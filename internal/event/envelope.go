package event

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/hookbook/hookbook"
)

// TimeFormat is how the envelope's timestamp and every time in a payload are written.
const TimeFormat = time.RFC3339

// Envelope returns the exact delivery body of an event:
// {"id","event","timestamp","organization_id","ordering_key","sequence","data"}
// (the ordering key and sequence only for an event that has a key), with data in its
// canonical form (Canonical): the body is what JavaScript's
// JSON.stringify(JSON.parse(body)) prints, so receivers that verify a
// re-serialised body verify it too.
func Envelope(id, orgID, typ string, at time.Time, orderingKey string, sequence int64, data json.RawMessage) ([]byte, error) {
	if len(data) == 0 {
		data = json.RawMessage(`{}`)
	}
	canon, err := Canonical(data)
	if err != nil {
		return nil, fmt.Errorf("encode envelope data: %w", err)
	}
	return CanonicalEnvelope(id, orgID, typ, at, orderingKey, sequence, canon)
}

// CanonicalEnvelope is Envelope for data already in canonical form (what
// Canonical returned), which it does not check again.
func CanonicalEnvelope(id, orgID, typ string, at time.Time, orderingKey string, sequence int64, data json.RawMessage) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	err := enc.Encode(hookbook.Envelope{
		ID: id, Event: typ, Timestamp: at.UTC().Format(TimeFormat), OrganizationID: orgID,
		OrderingKey: orderingKey, Sequence: sequence, Data: data,
	})
	if err != nil {
		return nil, fmt.Errorf("encode envelope: %w", err)
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}
