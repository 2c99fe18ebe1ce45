package transform

import (
	"encoding/json"
	"errors"
	"strconv"

	"github.com/dop251/goja"
)

// errSyntax makes toValue give up; the caller then uses JSON.parse.
var errSyntax = errors.New("not JSON")

// toValue builds the JavaScript value of a JSON text in vm, keys in their
// order, as JSON.parse does but several times faster (goja's JSON.parse
// reads token by token through encoding/json's Decoder). It fails on
// anything but valid JSON, nested at most maxDepth levels.
func toValue(vm *goja.Runtime, text []byte) (goja.Value, error) {
	p := &jsonParser{vm: vm, s: text}
	v, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.space()
	if p.i != len(p.s) {
		return nil, errSyntax
	}
	return v, nil
}

type jsonParser struct {
	vm *goja.Runtime
	s  []byte
	i  int
}

func (p *jsonParser) space() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == '\n' || p.s[p.i] == '\r') {
		p.i++
	}
}

func (p *jsonParser) value(depth int) (goja.Value, error) {
	if depth > maxDepth {
		return nil, errSyntax
	}
	p.space()
	if p.i >= len(p.s) {
		return nil, errSyntax
	}
	switch c := p.s[p.i]; {
	case c == '{':
		return p.object(depth)
	case c == '[':
		return p.array(depth)
	case c == '"':
		s, err := p.str()
		if err != nil {
			return nil, err
		}
		return p.vm.ToValue(s), nil
	case c == 't':
		return p.word("true", goja.Value(p.vm.ToValue(true)))
	case c == 'f':
		return p.word("false", goja.Value(p.vm.ToValue(false)))
	case c == 'n':
		return p.word("null", goja.Null())
	default:
		return p.number()
	}
}

func (p *jsonParser) word(w string, v goja.Value) (goja.Value, error) {
	if len(p.s)-p.i < len(w) || string(p.s[p.i:p.i+len(w)]) != w {
		return nil, errSyntax
	}
	p.i += len(w)
	return v, nil
}

func (p *jsonParser) number() (goja.Value, error) {
	start := p.i
	for p.i < len(p.s) && (p.s[p.i] == '-' || p.s[p.i] == '+' || p.s[p.i] == '.' || p.s[p.i] == 'e' || p.s[p.i] == 'E' ||
		(p.s[p.i] >= '0' && p.s[p.i] <= '9')) {
		p.i++
	}
	text := p.s[start:p.i]
	if !json.Valid(text) {
		return nil, errSyntax
	}
	if n, err := strconv.ParseInt(string(text), 10, 64); err == nil && n >= -(1<<53) && n <= 1<<53 {
		return p.vm.ToValue(n), nil
	}
	f, err := strconv.ParseFloat(string(text), 64)
	if err != nil {
		return nil, errSyntax
	}
	return p.vm.ToValue(f), nil
}

// str reads a string: the bytes between quotes when nothing is escaped,
// else encoding/json's reading of the quoted text.
func (p *jsonParser) str() (string, error) {
	start := p.i
	p.i++
	escaped := false
	for p.i < len(p.s) {
		switch c := p.s[p.i]; {
		case c == '\\':
			escaped = true
			p.i += 2
			continue
		case c == '"':
			p.i++
			if !escaped {
				return string(p.s[start+1 : p.i-1]), nil
			}
			var s string
			if err := json.Unmarshal(p.s[start:p.i], &s); err != nil {
				return "", errSyntax
			}
			return s, nil
		case c < 0x20:
			return "", errSyntax
		}
		p.i++
	}
	return "", errSyntax
}

func (p *jsonParser) object(depth int) (goja.Value, error) {
	o := p.vm.NewObject()
	p.i++
	p.space()
	if p.i < len(p.s) && p.s[p.i] == '}' {
		p.i++
		return o, nil
	}
	for {
		p.space()
		if p.i >= len(p.s) || p.s[p.i] != '"' {
			return nil, errSyntax
		}
		k, err := p.str()
		if err != nil {
			return nil, err
		}
		p.space()
		if p.i >= len(p.s) || p.s[p.i] != ':' {
			return nil, errSyntax
		}
		p.i++
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		if k == "__proto__" { // an own property, as JSON.parse makes it, not the prototype
			err = o.DefineDataProperty(k, v, goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_TRUE)
		} else {
			err = o.Set(k, v)
		}
		if err != nil {
			return nil, errSyntax
		}
		p.space()
		if p.i >= len(p.s) {
			return nil, errSyntax
		}
		if p.s[p.i] == '}' {
			p.i++
			return o, nil
		}
		if p.s[p.i] != ',' {
			return nil, errSyntax
		}
		p.i++
	}
}

func (p *jsonParser) array(depth int) (goja.Value, error) {
	var items []any
	p.i++
	p.space()
	if p.i < len(p.s) && p.s[p.i] == ']' {
		p.i++
		return p.vm.NewArray(), nil
	}
	for {
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		items = append(items, v)
		p.space()
		if p.i >= len(p.s) {
			return nil, errSyntax
		}
		if p.s[p.i] == ']' {
			p.i++
			return p.vm.NewArray(items...), nil
		}
		if p.s[p.i] != ',' {
			return nil, errSyntax
		}
		p.i++
	}
}
