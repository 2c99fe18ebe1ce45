// Package transform runs endpoints' transformations: JavaScript functions,
// in the convention Svix's users write, that may change a webhook before it
// is signed and sent. It checks a transformation's code when it is saved
// (Check) and runs it sandboxed at attempt time (Engine.Run).
//
// A transformation declares `function handler(webhook)`. The webhook object
// has eventType, payload (the parsed JSON body), url, method and headers;
// the function may change any of them, or set cancel = true to send
// nothing, and returns the object.
//
// The sandbox: no require, no console, no network, no files, no timers;
// Date sees the attempt's time, not the clock. The code runs as the body
// of a function in a runtime whose builtins and global object are frozen,
// so nothing a run does outlives it and runtimes are reused (one run at a
// time each; one whose run was stopped is dropped). A run is bounded in
// CPU time (Limits.Timeout), call depth, heap growth (Limits.MaxHeap,
// watched while it runs) and concurrency (Limits.Concurrency runs at
// once); builtins that build a large string or array in one native step
// refuse past MaxStringLength and MaxArrayLength, and typed arrays are
// absent. Its output is checked: a JSON payload of at most MaxPayload
// bytes, an http(s) URL that passes the network guard, a method from
// Methods, and headers that cannot override hookbook's own.
package transform

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/dop251/goja"
	"github.com/dop251/goja/ast"
	"github.com/dop251/goja/parser"
)

// Size bounds of transformations and their results.
const (
	// MaxCode bounds a transformation's source text, in bytes.
	MaxCode = 64 << 10
	// MaxPayload bounds the JSON body a transformation produces.
	MaxPayload = 1 << 20
	// MaxHeaders bounds the headers a transformation may set.
	MaxHeaders = 20
	// MaxHeaderValue bounds one header value, in bytes.
	MaxHeaderValue = 4096
	// MaxURL bounds the URL a transformation may set.
	MaxURL = 2048
	// MaxStringLength bounds a string built in one step by repeat,
	// padStart, padEnd, join or concat, and JSON.stringify's output.
	MaxStringLength = 16 << 20
	// MaxArrayLength bounds the arrays that builtins such as fill, from and
	// join work on.
	MaxArrayLength = 1 << 20
	// MaxMessage bounds an error message kept from a failed run.
	MaxMessage = 1024
)

// Methods are the HTTP methods a transformation may choose.
var Methods = []string{"POST", "PUT", "PATCH"}

// Webhook is what a transformation receives and returns: the request about
// to be made.
type Webhook struct {
	EventType string            `json:"eventType"`
	Payload   json.RawMessage   `json:"payload"`
	URL       string            `json:"url"`
	Method    string            `json:"method"`
	Headers   map[string]string `json:"headers"`
	// Cancel set by the transformation: nothing is sent.
	Cancel bool `json:"cancel"`
}

// Error is a transformation that failed: it does not compile, throws, runs
// out of time or memory, or returns something that cannot be sent.
type Error struct {
	Message string
}

func (e *Error) Error() string { return e.Message }

// Failf returns an *Error with a formatted message, cut to MaxMessage bytes.
func Failf(format string, args ...any) *Error {
	return &Error{Message: clip(fmt.Sprintf(format, args...), MaxMessage)}
}

// IsError reports whether err is a transformation's failure (rather than
// the engine's, such as a cancelled context).
func IsError(err error) bool {
	var e *Error
	return errors.As(err, &e)
}

// Check reports what is wrong with a transformation's code, nil when it
// compiles and declares a top-level function named handler. It runs
// nothing.
func Check(code string) error {
	_, err := compile(code)
	return err
}

// compile parses code, checks it declares handler and compiles it.
func compile(code string) (*goja.Program, error) {
	if strings.TrimSpace(code) == "" {
		return nil, Failf("is empty; declare function handler(webhook) { … return webhook; }")
	}
	if len(code) > MaxCode {
		return nil, Failf("is longer than %d bytes", MaxCode)
	}
	if !utf8.ValidString(code) || strings.ContainsRune(code, 0) {
		return nil, Failf("must be UTF-8 text without NUL characters")
	}
	prog, err := parser.ParseFile(nil, "transformation.js", code, 0)
	if err != nil {
		return nil, Failf("syntax error: %s", err.Error())
	}
	if !declaresHandler(prog) {
		return nil, Failf("must declare function handler(webhook) at the top level")
	}
	// Run as a function's body, the code's declarations are its own: the
	// global object stays frozen, and the runtime is reused.
	p, err := goja.Compile("transformation.js", "(function () {"+code+"\n;return handler;\n})", false)
	if err != nil {
		return nil, Failf("syntax error: %s", err.Error())
	}
	return p, nil
}

func declaresHandler(prog *ast.Program) bool {
	for _, st := range prog.Body {
		if fd, ok := st.(*ast.FunctionDeclaration); ok && fd.Function != nil && fd.Function.Name != nil && fd.Function.Name.Name == "handler" {
			return true
		}
	}
	return false
}

// clip cuts s to at most n bytes on a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
