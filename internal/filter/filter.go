// Package filter parses an endpoint's payload filter and matches it against
// an event's envelope.
//
// A filter is a JSON object in the operator family of Hookdeck Outpost and
// Convoy, so that filters move between them:
//
//   - a key names a field of the value at hand (the envelope at the top:
//     id, event, timestamp, organization_id, ordering_key, sequence, data);
//     an object below it applies to that field's value, so nested objects
//     reach nested fields;
//   - a plain value means equality; against an array field it means "the
//     array holds this value", and a plain array means "the array holds
//     every one of these values";
//   - $eq $neq $gt $gte $lt $lte $in $nin $exist $startsWith $endsWith
//     compare the value at hand; $or $and (non-empty arrays of filters) and
//     $not (a filter) combine filters on the value at hand.
//
// Every key of an object must hold for the object to match; an empty object
// matches everything. A field reached through an array of objects matches
// when one of the objects matches. Parse refuses a filter beyond the bounds
// (MaxBytes, MaxDepth, MaxNodes) before it builds anything, and names the
// path of what is wrong ("filter.data.participants.$gte"). A parsed Filter
// is immutable and safe for concurrent use.
package filter

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Bounds of a filter.
const (
	// MaxBytes bounds a filter's JSON text, without insignificant spaces.
	MaxBytes = 16 << 10
	// MaxDepth bounds the nesting of objects and arrays in a filter.
	MaxDepth = 20
	// MaxNodes bounds the conditions of a filter: every field, operator
	// and value listed in $in or $nin counts as one.
	MaxNodes = 500
)

// Root is the name of the filter in error paths.
const Root = "filter"

// Error is what is wrong with a filter: Path names the part at fault, from
// Root ("filter.data.participants.$gte"; array items by index, "filter.$or.1").
type Error struct {
	Path    string
	Message string
}

func (e *Error) Error() string { return e.Path + ": " + e.Message }

// Filter is a parsed filter.
type Filter struct {
	root node
	text []byte
}

// Text returns the filter's JSON text without insignificant spaces, keys in
// the order given.
func (f *Filter) Text() []byte { return f.text }

// Parse checks a filter's JSON text against the bounds and the grammar and
// returns it ready to match. Errors are *Error.
func Parse(text []byte) (*Filter, error) {
	text = bytes.TrimSpace(text)
	if len(text) == 0 || text[0] != '{' {
		return nil, &Error{Root, "must be a JSON object"}
	}
	if err := checkDepth(text); err != nil {
		return nil, err
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, text); err != nil {
		return nil, &Error{Root, "is not valid JSON: " + err.Error()}
	}
	if compact.Len() > MaxBytes {
		return nil, &Error{Root, fmt.Sprintf("must be at most %d bytes of JSON", MaxBytes)}
	}
	if err := checkValues(compact.Bytes()); err != nil {
		return nil, err
	}
	var doc map[string]any
	if err := json.Unmarshal(compact.Bytes(), &doc); err != nil {
		return nil, &Error{Root, "is not a valid filter: " + err.Error()}
	}
	c := compiler{}
	root, err := c.object(Root, doc)
	if err != nil {
		return nil, err
	}
	return &Filter{root: root, text: compact.Bytes()}, nil
}

// checkDepth refuses text nested deeper than MaxDepth, in one pass without
// recursion, before anything decodes it.
func checkDepth(text []byte) error {
	depth, inString, escaped := 0, false, false
	for _, c := range text {
		switch {
		case escaped:
			escaped = false
		case inString:
			if c == '\\' {
				escaped = true
			} else if c == '"' {
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			if depth++; depth > MaxDepth {
				return &Error{Root, fmt.Sprintf("must nest objects and arrays at most %d deep", MaxDepth)}
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return nil
}

// maxSafeInteger is the largest integer JSON numbers hold exactly in
// JavaScript and in hookbook (a float64).
const maxSafeInteger = 1<<53 - 1

// checkValues refuses, as published event data is refused, what a filter
// could not keep as it was sent: a key twice in one object (only one
// would be kept), a number out of range, an integer beyond 2^53 (it
// would change). text is valid JSON nested at most MaxDepth deep.
func checkValues(text []byte) error {
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return &Error{Root, "is not valid JSON"}
	}
	return checkValue(dec, tok, Root)
}

func checkValue(dec *json.Decoder, tok json.Token, path string) error {
	switch v := tok.(type) {
	case json.Delim:
		seen := map[string]bool{}
		for i := 0; dec.More(); i++ {
			p := path + "." + strconv.Itoa(i)
			if v == '{' {
				kt, err := dec.Token()
				if err != nil {
					return &Error{path, "is not valid JSON"}
				}
				key, _ := kt.(string)
				if seen[key] {
					return &Error{path, fmt.Sprintf("the key %q appears twice; give each key once", key)}
				}
				seen[key], p = true, path+"."+key
			}
			vt, err := dec.Token()
			if err != nil {
				return &Error{path, "is not valid JSON"}
			}
			if err := checkValue(dec, vt, p); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil { // the closing bracket
			return &Error{path, "is not valid JSON"}
		}
	case json.Number:
		return checkNumber(string(v), path)
	}
	return nil
}

// checkNumber refuses a number that a filter could not hold as written.
func checkNumber(text, path string) error {
	f, err := strconv.ParseFloat(text, 64)
	if err != nil || math.IsInf(f, 0) {
		return &Error{path, fmt.Sprintf("the number %s is too large to compare with", text)}
	}
	if !strings.ContainsAny(text, ".eE") && math.Abs(f) > maxSafeInteger && strconv.FormatFloat(f, 'f', -1, 64) != text {
		return &Error{path, fmt.Sprintf("the integer %s is beyond 2^53 and would be compared as %s; events cannot carry it exactly either",
			text, strconv.FormatFloat(f, 'g', -1, 64))}
	}
	return nil
}

// Match reports whether an envelope matches the filter. envelope is a JSON
// value as encoding/json decodes into any (objects as map[string]any,
// numbers as float64); see Envelope. A match that would take more than
// MaxSteps does not match.
func (f *Filter) Match(envelope any) bool {
	b := budget{left: MaxSteps}
	ok := f.root.match(envelope, true, &b)
	return ok && b.left >= 0
}

// MatchJSON decodes an envelope's JSON text and matches it.
func (f *Filter) MatchJSON(envelope []byte) (bool, error) {
	v, err := Decode(envelope)
	if err != nil {
		return false, err
	}
	return f.Match(v), nil
}

// Decode decodes JSON text for Match.
func Decode(text []byte) (any, error) {
	var v any
	if err := json.Unmarshal(text, &v); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	return v, nil
}

// Envelope builds the value Match takes for an event from its parts, data
// being its decoded data (see Decode); ordering_key and sequence are there
// only when key is set, as in the envelope sent.
func Envelope(id, typ, timestamp, orgID, key string, seq int64, data any) map[string]any {
	env := map[string]any{"id": id, "event": typ, "timestamp": timestamp, "organization_id": orgID, "data": data}
	if key != "" {
		env["ordering_key"], env["sequence"] = key, float64(seq)
	}
	return env
}

// ---- compiling

type compiler struct{ nodes int }

func (c *compiler) count(path string) error {
	if c.nodes++; c.nodes > MaxNodes {
		return &Error{path, fmt.Sprintf("the filter has more than %d conditions", MaxNodes)}
	}
	return nil
}

// object compiles the conditions of an object on the value at hand.
func (c *compiler) object(path string, obj map[string]any) (node, error) {
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var o object
	for _, k := range keys {
		p := path + "." + k
		if err := c.count(p); err != nil {
			return nil, err
		}
		n, err := c.condition(p, k, obj[k])
		if err != nil {
			return nil, err
		}
		if _, ok := n.(field); ok {
			o.fields = append(o.fields, n)
		} else {
			o.ops = append(o.ops, n)
		}
	}
	if len(o.fields) == 0 && len(o.ops) == 1 {
		return o.ops[0], nil
	}
	return o, nil
}

// condition compiles one key of an object and its operand.
func (c *compiler) condition(path, key string, operand any) (node, error) {
	if !strings.HasPrefix(key, "$") {
		sub, err := c.value(path, operand)
		if err != nil {
			return nil, err
		}
		return field{key, sub}, nil
	}
	switch key {
	case "$or", "$and":
		return c.combine(path, key, operand)
	case "$not":
		obj, ok := operand.(map[string]any)
		if !ok {
			return nil, &Error{path, "must be a filter object"}
		}
		n, err := c.object(path, obj)
		if err != nil {
			return nil, err
		}
		return not{n}, nil
	case "$eq":
		return equals{operand}, nil
	case "$neq":
		return not{equals{operand}}, nil
	case "$gt", "$gte", "$lt", "$lte":
		switch v := operand.(type) {
		case float64, string:
			return compare{key, v}, nil
		}
		return nil, &Error{path, "must be a number or a string"}
	case "$in", "$nin":
		n, err := c.in(path, operand)
		if err != nil {
			return nil, err
		}
		if key == "$nin" {
			return not{n}, nil
		}
		return n, nil
	case "$exist":
		b, ok := operand.(bool)
		if !ok {
			return nil, &Error{path, "must be true or false"}
		}
		return exist(b), nil
	case "$startsWith", "$endsWith":
		s, ok := operand.(string)
		if !ok {
			return nil, &Error{path, "must be a string"}
		}
		return affix{suffix: key == "$endsWith", s: s}, nil
	}
	return nil, &Error{path, "is not an operator; use one of $eq $neq $gt $gte $lt $lte $in $nin $exist $startsWith $endsWith $or $and $not"}
}

// value compiles what a field key holds: conditions on the field's value
// (an object) or a plain value to equal.
func (c *compiler) value(path string, operand any) (node, error) {
	if obj, ok := operand.(map[string]any); ok {
		return c.object(path, obj)
	}
	return equals{operand}, nil
}

func (c *compiler) combine(path, key string, operand any) (node, error) {
	list, ok := operand.([]any)
	if !ok || len(list) == 0 {
		return nil, &Error{path, "must be a non-empty array of filter objects"}
	}
	subs := make([]node, len(list))
	for i, item := range list {
		p := path + "." + strconv.Itoa(i)
		obj, ok := item.(map[string]any)
		if !ok {
			return nil, &Error{p, "must be a filter object"}
		}
		n, err := c.object(p, obj)
		if err != nil {
			return nil, err
		}
		subs[i] = n
	}
	if key == "$or" {
		return anyOf(subs), nil
	}
	return allOf(subs), nil
}

func (c *compiler) in(path string, operand any) (node, error) {
	switch v := operand.(type) {
	case string:
		return contains(v), nil
	case []any:
		for i := range v {
			if err := c.count(path + "." + strconv.Itoa(i)); err != nil {
				return nil, err
			}
		}
		return oneOf(v), nil
	}
	return nil, &Error{path, "must be an array of values or a string"}
}

// ErrorOf returns the *Error in err's chain, or nil.
func ErrorOf(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}
