package filter

import "strings"

// MaxSteps bounds the work of one Match: every value compared and every
// array item visited is a step. An event that would take more (huge arrays
// against long $in lists) does not match, so that no event can hold a
// publication up.
const MaxSteps = 100_000

// budget counts the steps a Match has left.
type budget struct{ left int }

// out reports whether the budget is spent.
func (b *budget) out() bool { return b.left < 0 }

// spend takes one step, and reports whether there was one left.
func (b *budget) spend() bool {
	b.left--
	return b.left >= 0
}

// node is a compiled condition on a value; present is false when the field
// the value stands for is missing (v is then nil); b is the Match's budget.
type node interface {
	match(v any, present bool, b *budget) bool
}

// allOf holds when every condition holds.
type allOf []node

func (a allOf) match(v any, present bool, b *budget) bool {
	for _, n := range a {
		if !n.match(v, present, b) {
			return false
		}
	}
	return true
}

// anyOf holds when one condition holds.
type anyOf []node

func (a anyOf) match(v any, present bool, b *budget) bool {
	for _, n := range a {
		if n.match(v, present, b) {
			return true
		}
	}
	return false
}

type not struct{ n node }

func (n not) match(v any, present bool, b *budget) bool { return !n.n.match(v, present, b) }

// object is the conditions of a filter object on the value at hand: its
// operators on the value itself, its fields on the value's fields; through
// an array of objects the fields hold when they all hold for one of them.
type object struct {
	ops    allOf
	fields allOf
}

func (o object) match(v any, present bool, b *budget) bool {
	if !o.ops.match(v, present, b) {
		return false
	}
	if len(o.fields) == 0 {
		return true
	}
	if list, ok := v.([]any); ok {
		for _, item := range list {
			if !b.spend() {
				return false
			}
			if obj, ok := item.(map[string]any); ok && o.fields.match(obj, true, b) {
				return true
			}
		}
		return false
	}
	return o.fields.match(v, present, b)
}

// field applies its condition to a field of an object.
type field struct {
	key string
	sub node
}

func (f field) match(v any, _ bool, b *budget) bool {
	if obj, ok := v.(map[string]any); ok {
		child, ok := obj[f.key]
		return f.sub.match(child, ok, b)
	}
	return f.sub.match(nil, false, b)
}

// equals is a plain value and $eq: JSON equality, numbers by value; an array
// holds a scalar or object it contains, and every item of an array it holds.
type equals struct{ want any }

func (e equals) match(v any, present bool, b *budget) bool {
	if !present {
		return false
	}
	if want, ok := e.want.([]any); ok {
		have, ok := v.([]any)
		if !ok {
			return false
		}
		for _, w := range want {
			if b.out() || !containsValue(have, w, b) {
				return false
			}
		}
		return true
	}
	if have, ok := v.([]any); ok {
		return containsValue(have, e.want, b)
	}
	return jsonEqual(v, e.want, b)
}

// compare is $gt $gte $lt $lte: numbers with numbers, strings with strings
// (byte order, so RFC 3339 times in UTC compare in time order); anything
// else does not match.
type compare struct {
	op   string
	want any // float64 or string
}

func (c compare) match(v any, present bool, b *budget) bool {
	var d int
	switch want := c.want.(type) {
	case float64:
		have, ok := v.(float64)
		if !ok {
			return false
		}
		switch {
		case have < want:
			d = -1
		case have > want:
			d = 1
		}
	case string:
		have, ok := v.(string)
		if !ok {
			return false
		}
		d = strings.Compare(have, want)
	}
	switch c.op {
	case "$gt":
		return d > 0
	case "$gte":
		return d >= 0
	case "$lt":
		return d < 0
	}
	return d <= 0
}

// oneOf is $in with an array: the value is one of the listed values, or an
// array value holds one of them.
type oneOf []any

func (o oneOf) match(v any, present bool, b *budget) bool {
	if !present {
		return false
	}
	if have, ok := v.([]any); ok {
		for _, h := range have {
			if b.out() {
				return false
			}
			if containsValue(o, h, b) {
				return true
			}
		}
	}
	return containsValue(o, v, b)
}

// contains is $in with a string: a string value holds it, or an array value
// holds it as an item.
type contains string

func (c contains) match(v any, present bool, b *budget) bool {
	switch t := v.(type) {
	case string:
		return strings.Contains(t, string(c))
	case []any:
		return containsValue(t, string(c), b)
	}
	return false
}

// exist is $exist: whether the field is there (null counts as there).
type exist bool

func (e exist) match(_ any, present bool, _ *budget) bool { return present == bool(e) }

// affix is $startsWith and $endsWith: on strings only.
type affix struct {
	suffix bool
	s      string
}

func (a affix) match(v any, _ bool, b *budget) bool {
	s, ok := v.(string)
	if !ok {
		return false
	}
	if a.suffix {
		return strings.HasSuffix(s, a.s)
	}
	return strings.HasPrefix(s, a.s)
}

func containsValue(list []any, want any, b *budget) bool {
	for _, item := range list {
		if b.out() {
			return false
		}
		if jsonEqual(item, want, b) {
			return true
		}
	}
	return false
}

// jsonEqual compares decoded JSON values: objects by their keys and values,
// arrays item by item in order.
func jsonEqual(a, b any, bud *budget) bool {
	if !bud.spend() {
		return false
	}
	switch x := a.(type) {
	case nil:
		return b == nil
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case float64:
		y, ok := b.(float64)
		return ok && x == y
	case string:
		y, ok := b.(string)
		return ok && x == y
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !jsonEqual(x[i], y[i], bud) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, xv := range x {
			yv, ok := y[k]
			if !ok || !jsonEqual(xv, yv, bud) {
				return false
			}
		}
		return true
	}
	return false
}
