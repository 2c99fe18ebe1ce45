package transform

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"math/big"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/dop251/goja"
	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/event"
)

// output is a handler's result read out of its runtime.
type output struct {
	payload []byte // JSON
	url     goja.Value
	method  goja.Value
	headers map[string]string
	hasHdrs bool
	cancel  bool
}

// readOutput reads the handler's result: the webhook object.
func readOutput(vm *goja.Runtime, res goja.Value) (*output, error) {
	if res == nil || goja.IsUndefined(res) || goja.IsNull(res) {
		return nil, Failf("handler returned nothing; it must return the webhook object")
	}
	obj, ok := res.(*goja.Object)
	if !ok || obj.ClassName() == "Array" {
		return nil, Failf("handler must return the webhook object, not %s", jsKind(res))
	}
	out := &output{url: obj.Get("url"), method: obj.Get("method"), cancel: obj.Get("cancel") != nil && obj.Get("cancel").ToBoolean()}
	if out.cancel {
		return out, nil
	}
	p := obj.Get("payload")
	if p == nil || goja.IsUndefined(p) {
		return nil, Failf("payload is missing")
	}
	enc := &encoder{vm: vm, limit: MaxPayload, what: "payload"}
	if err := enc.value(p, 0, true); err != nil {
		return nil, err
	}
	out.payload = enc.buf.Bytes()
	if h := obj.Get("headers"); h != nil && !goja.IsUndefined(h) && !goja.IsNull(h) {
		ho, ok := h.(*goja.Object)
		if !ok {
			return nil, Failf("headers must be an object of strings")
		}
		keys := ho.Keys()
		if len(keys) > MaxHeaders {
			return nil, Failf("headers: at most %d", MaxHeaders)
		}
		out.hasHdrs, out.headers = true, make(map[string]string, len(keys))
		for _, k := range keys {
			v := ho.Get(k)
			if _, ok := v.Export().(string); !ok {
				return nil, Failf("headers: the value of %q must be a string", clip(k, 64))
			}
			out.headers[k] = v.String()
		}
	}
	return out, nil
}

// checkOutput turns a handler's result into the request to make, refusing
// what cannot or must not be sent.
func (e *Engine) checkOutput(ctx context.Context, in *Webhook, o *output) (*Webhook, error) {
	w := &Webhook{EventType: in.EventType, URL: in.URL, Method: in.Method, Headers: in.Headers, Cancel: o.cancel}
	if o.cancel {
		return w, nil
	}
	w.Payload = o.payload
	if s, ok := o.url.Export().(string); ok {
		w.URL = s
	} else {
		return nil, Failf("url must be a string, not %s", jsKind(o.url))
	}
	if s, ok := o.method.Export().(string); ok {
		w.Method = strings.ToUpper(s)
	} else {
		return nil, Failf("method must be a string, not %s", jsKind(o.method))
	}
	if o.hasHdrs {
		w.Headers = o.headers
	}
	if err := e.CheckRequest(ctx, in.URL, w); err != nil {
		return nil, err
	}
	return w, nil
}

// CheckRequest checks a transformed request: payload JSON of at most
// MaxPayload bytes, an allowed method, an absolute http(s) URL (one other
// than original must pass the network guard) and headers that hookbook
// does not set itself.
func (e *Engine) CheckRequest(ctx context.Context, original string, w *Webhook) error {
	if len(w.Payload) > MaxPayload {
		return Failf("payload is larger than %d bytes", MaxPayload)
	}
	if !json.Valid(w.Payload) {
		return Failf("payload is not JSON")
	}
	if !slices.Contains(Methods, w.Method) {
		return Failf("method must be one of %s, not %q", strings.Join(Methods, ", "), clip(w.Method, 32))
	}
	if len(w.URL) > MaxURL {
		return Failf("url is longer than %d characters", MaxURL)
	}
	u, err := url.Parse(w.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return Failf("url must be an absolute http or https URL, not %q", clip(w.URL, 128))
	}
	if w.URL != original && e.checkURL != nil {
		if err := e.checkURL(ctx, w.URL); err != nil {
			return Failf("url %s", err.Error())
		}
	}
	return e.checkHeaders(w.Headers)
}

func (e *Engine) checkHeaders(h map[string]string) error {
	if len(h) > MaxHeaders {
		return Failf("headers: at most %d", MaxHeaders)
	}
	for k, v := range h {
		ck := http.CanonicalHeaderKey(k)
		if !hookbook.ValidHeaderName(k) || len(k) > 256 {
			return Failf("headers: %q is not a valid header name", clip(k, 64))
		}
		if hookbook.ReservedHeader(ck, "") || (e.reserved != nil && e.reserved(ck)) {
			return Failf("headers: %q is set by hookbook and cannot be overridden", ck)
		}
		if len(v) > MaxHeaderValue || strings.ContainsAny(v, "\r\n\x00") {
			return Failf("headers: the value of %q is not a valid header value", ck)
		}
	}
	return nil
}

// jsKind names a JavaScript value's kind the way a transformation's author
// knows it ("a number", "a BigInt", "an array"), never as a Go type.
func jsKind(v goja.Value) string {
	switch {
	case v == nil || goja.IsUndefined(v):
		return "undefined"
	case goja.IsNull(v):
		return "null"
	}
	if o, ok := v.(*goja.Object); ok {
		if _, isFn := goja.AssertFunction(o); isFn {
			return "a function"
		}
		if o.ClassName() == "Array" {
			return "an array"
		}
		return "an object"
	}
	if _, ok := v.(*goja.Symbol); ok {
		return "a symbol"
	}
	switch v.Export().(type) {
	case bool:
		return "a boolean"
	case int64, float64:
		return "a number"
	case string:
		return "a string"
	case *big.Int:
		return "a BigInt"
	}
	return "a value JSON cannot hold"
}

// encoder writes a JavaScript value as JSON the way JSON.stringify does
// (the canonical form of package event),
// within limit bytes and a bounded depth, so that a value with many
// references to one large string cannot make an unbounded allocation.
type encoder struct {
	vm    *goja.Runtime
	buf   bytes.Buffer
	limit int
	what  string // what is written, for messages ("payload")
}

const maxDepth = 64

// value writes v; top says v is the value itself (undefined is an error
// there, omitted in objects and null in arrays by the callers).
func (enc *encoder) value(v goja.Value, depth int, top bool) error {
	if enc.buf.Len() > enc.limit {
		return Failf("%s is larger than %d bytes", enc.what, enc.limit)
	}
	if depth > maxDepth {
		return Failf("%s is nested deeper than %d levels (or refers to itself)", enc.what, maxDepth)
	}
	if o, ok := v.(*goja.Object); ok {
		if toJSON, ok := goja.AssertFunction(o.Get("toJSON")); ok {
			r, err := toJSON(o)
			if err != nil {
				return err
			}
			v = r
		}
	}
	o, isObj := v.(*goja.Object)
	if isObj && o.ClassName() == "String" {
		v = enc.vm.ToValue(o.String()) // a String object, written as its text
		o, isObj = nil, false
	}
	if !isObj || wrapsPrimitive(o) {
		if done, err := enc.primitive(v, top); done {
			return err
		}
	}
	if !isObj {
		return Failf("%s is not JSON: it holds %s", enc.what, jsKind(v))
	}
	if _, isFn := goja.AssertFunction(o); isFn {
		if top {
			return Failf("payload is not JSON: a function")
		}
		enc.buf.WriteString("null")
		return nil
	}
	if o.ClassName() == "Array" {
		return enc.array(o, depth)
	}
	return enc.object(o, depth)
}

// wrapsPrimitive reports whether o is a Number or Boolean object,
// which JSON.stringify writes as its primitive value. Other objects are
// read property by property, never exported whole (an export copies the
// object's whole tree, at every level).
func wrapsPrimitive(o *goja.Object) bool {
	switch o.ExportType().Kind() {
	case reflect.Bool, reflect.Int64, reflect.Float64, reflect.String:
		return true
	}
	return false
}

// primitive writes v if it is null, undefined, a boolean, a number or a
// string (or an object wrapping one), and reports whether it did.
func (enc *encoder) primitive(v goja.Value, top bool) (bool, error) {
	if _, ok := v.(*goja.Symbol); ok { // JSON.stringify: undefined, null in arrays
		if top {
			return true, Failf("%s is not JSON: it holds a symbol", enc.what)
		}
		enc.buf.WriteString("null")
		return true, nil
	}
	switch x := v.Export().(type) {
	case nil:
		if goja.IsUndefined(v) && top {
			return true, Failf("payload is not JSON: undefined")
		}
		enc.buf.WriteString("null")
	case bool:
		enc.buf.WriteString(strconv.FormatBool(x))
	case int64:
		enc.buf.WriteString(strconv.FormatInt(x, 10))
	case float64:
		enc.number(x)
	case string:
		if len(x) > enc.limit-enc.buf.Len() {
			return true, Failf("%s is larger than %d bytes", enc.what, enc.limit)
		}
		event.WriteString(&enc.buf, x)
	default:
		return false, nil
	}
	return true, nil
}

func (enc *encoder) array(o *goja.Object, depth int) error {
	n := o.Get("length").ToInteger()
	enc.buf.WriteByte('[')
	for i := int64(0); i < n; i++ {
		if i > 0 {
			enc.buf.WriteByte(',')
		}
		if err := enc.value(orNull(o.Get(strconv.FormatInt(i, 10))), depth+1, false); err != nil {
			return err
		}
	}
	enc.buf.WriteByte(']')
	return nil
}

func (enc *encoder) object(o *goja.Object, depth int) error {
	enc.buf.WriteByte('{')
	first := true
	for _, k := range o.Keys() {
		v := o.Get(k)
		if v == nil || goja.IsUndefined(v) {
			continue
		}
		if _, isFn := goja.AssertFunction(v); isFn {
			continue
		}
		if _, isSym := v.(*goja.Symbol); isSym {
			continue
		}
		if !first {
			enc.buf.WriteByte(',')
		}
		first = false
		event.WriteString(&enc.buf, k)
		enc.buf.WriteByte(':')
		if err := enc.value(v, depth+1, false); err != nil {
			return err
		}
	}
	enc.buf.WriteByte('}')
	return nil
}

func orNull(v goja.Value) goja.Value {
	if v == nil {
		return goja.Null()
	}
	return v
}

// number writes a number as JSON.stringify does (NaN and infinities as null).
func (enc *encoder) number(f float64) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		enc.buf.WriteString("null")
		return
	}
	enc.buf.WriteString(event.JSNumber(f))
}

// boundStringify replaces JSON.stringify with one that refuses replacer
// functions and outputs longer than MaxStringLength (measured first with
// the bounded encoder), then lets the builtin write the text.
func boundStringify(vm *goja.Runtime, jsonObj *goja.Object) {
	orig, _ := goja.AssertFunction(jsonObj.Get("stringify"))
	jsonObj.Set("stringify", func(call goja.FunctionCall) goja.Value {
		if _, isFn := goja.AssertFunction(call.Argument(1)); isFn {
			panic(vm.NewTypeError("JSON.stringify: replacer functions are not available in transformations"))
		}
		enc := &encoder{vm: vm, limit: MaxStringLength, what: "JSON.stringify output"}
		if err := enc.value(call.Argument(0), 0, false); err != nil {
			panic(vm.NewGoError(err))
		}
		r, err := orig(call.This, call.Arguments...)
		if err != nil {
			panic(err)
		}
		return r
	})
}
