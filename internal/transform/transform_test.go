package transform

import (
	"context"
	"encoding/json"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dop251/goja"
	"github.com/hookbook/hookbook/internal/netguard"
)

var at = time.Date(2026, 2, 15, 14, 0, 0, 0, time.UTC)

func engine() *Engine {
	guard := &netguard.Guard{Enabled: true, LookupIP: func(context.Context, string) ([]netip.Addr, error) {
		return []netip.Addr{netip.MustParseAddr("93.184.216.34")}, nil
	}}
	return New(Limits{}, guard.CheckURL, func(name string) bool { return strings.HasPrefix(name, "X-Hookbook-") })
}

func input() *Webhook {
	return &Webhook{EventType: "booking.created", Payload: json.RawMessage(`{"id":"evt_1","event":"booking.created","data":{"n":2}}`),
		URL: "https://example.com/hooks", Method: "POST", Headers: map[string]string{"X-Custom": "1"}}
}

func TestRunChangesTheRequest(t *testing.T) {
	t.Parallel()
	e := engine()
	code := `function handler(webhook) {
		webhook.payload = {text: webhook.eventType + " x" + webhook.payload.data.n, at: new Date().toISOString(), now: Date.now()};
		webhook.method = "put";
		webhook.url = "https://hooks.example.org/in";
		webhook.headers["X-Extra"] = "yes";
		return webhook;
	}`
	out, err := e.Run(context.Background(), code, input(), at)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"text":"booking.created x2","at":"2026-02-15T14:00:00.000Z","now":1771164000000}`
	if string(out.Payload) != want || out.Method != "PUT" || out.URL != "https://hooks.example.org/in" ||
		out.Headers["X-Extra"] != "yes" || out.Headers["X-Custom"] != "1" || out.Cancel {
		t.Fatalf("got %+v payload %s", out, out.Payload)
	}
}

func TestRunCancel(t *testing.T) {
	t.Parallel()
	out, err := engine().Run(context.Background(), `function handler(w) { w.cancel = w.eventType === "booking.created"; return w; }`, input(), at)
	if err != nil || !out.Cancel {
		t.Fatalf("got %+v, %v", out, err)
	}
}

// Each hostile transformation fails with a message and leaves the engine
// able to run the next one.
func TestRunHostile(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, body, want string }{
		{"loops forever", `for (;;) {}`, "ran longer than 1s"},
		{"loops in a callback", `[1,2,3].forEach(function f() { for (;;) {} })`, "ran longer than"},
		{"catches the stop", `for (;;) { try { for (;;) {} } catch (e) {} }`, "ran longer than"},
		{"loops in finally", `try { for (;;) {} } finally { for (;;) {} }`, "ran longer than"},
		{"loops in a promise job", `Promise.resolve().then(() => { for (;;) {} });`, "ran longer than"},
		{"loops in a getter of the result", `return {get payload() { for (;;) {} }, url: webhook.url, method: "POST"};`, "ran longer than"},
		{"loops in toJSON", `webhook.payload = {toJSON() { for (;;) {} }};`, "ran longer than"},
		{"throws in a getter of the result", `return {get payload() { throw new Error("got you"); }, url: webhook.url, method: "POST"};`, "threw Error: got you"},
		{"repeats a huge string", `"x".repeat(1 << 29);`, "repeat: more than"},
		{"pads a huge string", `"x".padStart(1 << 29);`, "padStart: more than"},
		{"fills a huge array", `new Array(1e8).fill(0);`, "fill: more than"},
		{"joins a huge array", `new Array(2000).fill("y".repeat(10000)).join("");`, "join: more than"},
		{"array from a huge length", `Array.from({length: 1e8});`, "Array.from: more than"},
		{"applies a huge array", `String.fromCharCode.apply(null, new Array(1e9));`, "apply: more than"},
		{"replaces into a huge string", `"a".repeat(100000).replaceAll("a", "b".repeat(10000));`, "replaceAll: more than"},
		{"stringifies a huge value", `JSON.stringify(new Array(2000).fill("y".repeat(10000)));`, "larger than"},
		{"uses a typed array", `new Uint8Array(1e9);`, "Uint8Array is not defined"},
		{"recurses", `(function f() { f(); })();`, "call depth"},
		{"throws", `throw new Error("boom");`, "threw Error: boom"},
		{"requires", `require("fs");`, "require is not defined"},
		{"logs", `console.log("x");`, "console is not defined"},
		{"returns nothing", `return;`, "returned nothing"},
		{"returns a payload that is not JSON", `webhook.payload = undefined;`, "payload is missing"},
		{"returns a function as payload", `webhook.payload = function () {};`, "not JSON: a function"},
		{"returns a cycle", `const o = {}; o.o = o; webhook.payload = o;`, "nested deeper"},
		{"returns a huge payload", `webhook.payload = {s: "y".repeat(2 << 20)};`, "larger than 1048576"},
		{"many references to one string", `const s = "y".repeat(1 << 20); webhook.payload = new Array(1000).fill(s);`, "larger than 1048576"},
		{"points at loopback", `webhook.url = "https://127.0.0.1/x";`, "internal address"},
		{"points at a file", `webhook.url = "file:///etc/passwd";`, "absolute http or https URL"},
		{"uses another method", `webhook.method = "DELETE";`, "method must be one of"},
		{"overrides the signature", `webhook.headers["webhook-signature"] = "v1,x";`, "cannot be overridden"},
		{"overrides a brand header", `webhook.headers["X-Hookbook-Event"] = "x";`, "cannot be overridden"},
		{"sets a header with a newline", `webhook.headers["X-A"] = "a\r\nb";`, "not a valid header value"},
		{"sets a header to a number", `webhook.headers["X-A"] = 1;`, "must be a string"},
		{"returns a number", `return 5;`, "must return the webhook object, not a number"},
		{"returns an array", `return [webhook];`, "must return the webhook object, not an array"},
		{"returns a BigInt in the payload", `webhook.payload = {n: 10n};`, "payload is not JSON: it holds a BigInt"},
		{"returns a symbol as payload", `webhook.payload = Symbol("s");`, "payload is not JSON: it holds a symbol"},
		{"sets the url to a number", `webhook.url = 5;`, "url must be a string, not a number"},
		{"sets the method to null", `webhook.method = null;`, "method must be a string, not null"},
		{"sets too many headers", `for (let i = 0; i < 30; i++) webhook.headers["X-" + i] = "1";`, "at most 20"},
	}
	e := engine()
	e.limits.Timeout = time.Second // room for the race detector
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code := "function handler(webhook) {\n" + c.body + "\nreturn webhook;\n}"
			_, err := e.Run(context.Background(), code, input(), at)
			if err == nil || !IsError(err) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
			for _, goName := range []string{"int64", "float64", "big.", "goja", "interface", "map["} {
				if strings.Contains(err.Error(), goName) {
					t.Fatalf("error %q names a Go type (%s), not a JavaScript value", err, goName)
				}
			}
			if len(err.Error()) > MaxMessage+10 {
				t.Fatalf("message of %d bytes", len(err.Error()))
			}
			// The engine still works.
			if out, err := e.Run(context.Background(), `function handler(w) { return w; }`, input(), at); err != nil || string(out.Payload) != string(input().Payload) {
				t.Fatalf("after %s: %v %v", c.name, out, err)
			}
		})
	}
}

// A run that allocates without bound is stopped by the heap watch, not
// by its (here very long) time limit: the error says which stopped it.
// No bound on how long that takes: on a loaded machine under the race
// detector, allocating 256 MiB alone has taken most of a minute. Not
// parallel: the heap is the process's, and other tests' runs would be
// stopped with it.
func TestRunMemory(t *testing.T) {
	e := New(Limits{Timeout: 10 * time.Minute}, nil, nil)
	_, err := e.Run(context.Background(), `function handler(w) { const a = []; for (;;) { a.push("y".repeat(100000) + a.length); } }`, input(), at)
	if err == nil || !strings.Contains(err.Error(), "more than 256 MiB of memory") {
		t.Fatalf("got %v, want the heap watch to stop it", err)
	}
}

// One endpoint's runaway transformation does not stop another's.
func TestRunIsolated(t *testing.T) {
	t.Parallel()
	e := New(Limits{Concurrency: 4}, nil, nil)
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.Run(context.Background(), `function handler(w) { for (;;) {} }`, input(), at)
		}()
	}
	// Nothing one run changes is seen by the next, which reuses its runtime.
	tamper := `function handler(w) {
		const tries = [
			() => { Array.prototype.push = null; }, () => { globalThis.leak = w.payload; }, () => { Object.prototype.leak = 1; },
			() => { JSON.parse = () => "leak"; }, () => { Date.now = () => 0; }, () => { Math.leak = 1; },
			() => { String.prototype.repeat = null; }, () => { Object.defineProperty(globalThis, "leak2", {value: 1}); },
		];
		for (const f of tries) { try { f(); } catch (e) {} }
		leak3 = 1;
		return w;
	}`
	for range 3 {
		if _, err := e.Run(context.Background(), tamper, input(), at); err != nil {
			t.Fatal(err)
		}
		out, err := e.Run(context.Background(), `function handler(w) {
			const a = [];
			a.push(typeof leak, typeof leak2, typeof leak3, typeof ({}).leak, typeof Math.leak, typeof JSON.parse("1"), Date.now() > 0, "x".repeat(2));
			w.payload = a;
			return w;
		}`, input(), at)
		if err != nil || string(out.Payload) != `["undefined","undefined","undefined","undefined","undefined","number",true,"xx"]` {
			t.Fatalf("got %s %v", out.Payload, err)
		}
	}
	wg.Wait()
}

func TestCheck(t *testing.T) {
	t.Parallel()
	for code, want := range map[string]string{
		"":                                  "is empty",
		"function handler(w) { return w":    "syntax error",
		"function other(w) { return w; }":   "must declare function handler",
		"const handler = (w) => w;":         "must declare function handler",
		strings.Repeat(" ", MaxCode+1):      "is empty",
		"//" + strings.Repeat("x", MaxCode): "longer than",
	} {
		if err := Check(code); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Check(%.40q) = %v, want %q", code, err, want)
		}
	}
	if err := Check("function handler(webhook) { return webhook; }"); err != nil {
		t.Fatal(err)
	}
}

func TestRunWaitsForAFreeRun(t *testing.T) {
	t.Parallel()
	e := New(Limits{Concurrency: 1, Timeout: time.Second}, nil, nil)
	started := make(chan struct{})
	go func() {
		close(started)
		e.Run(context.Background(), `function handler(w) { for (;;) {} }`, input(), at)
	}()
	<-started
	for len(e.sem) == 0 {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := e.Run(ctx, `function handler(w) { return w; }`, input(), at); err == nil || IsError(err) {
		t.Fatalf("got %v, want the context's error", err)
	}
}

func FuzzCheckRequest(f *testing.F) {
	f.Add(`{"a":1}`, "POST", "https://example.com/x", "X-A", "1")
	f.Add(`not json`, "PUT", "http://127.0.0.1/", "Webhook-Signature", "v1")
	f.Add(`[]`, "patch", "ftp://x", "bad name", "a\nb")
	f.Add(`"s"`, "POST", "https://[::1]:99999/", "X-Hookbook-Event", "")
	e := engine()
	f.Fuzz(func(t *testing.T, payload, method, url, hname, hval string) {
		w := &Webhook{Payload: json.RawMessage(payload), Method: method, URL: url, Headers: map[string]string{hname: hval}}
		err := e.CheckRequest(context.Background(), "https://example.com/x", w)
		if err != nil {
			if !IsError(err) {
				t.Fatalf("not a transformation error: %v", err)
			}
			return
		}
		if !json.Valid([]byte(payload)) || len(payload) > MaxPayload {
			t.Fatalf("accepted payload %q", payload)
		}
		if method != "POST" && method != "PUT" && method != "PATCH" {
			t.Fatalf("accepted method %q", method)
		}
		if !strings.HasPrefix(url, "http://") && !strings.HasPrefix(url, "https://") && !strings.HasPrefix(strings.ToLower(url), "http") {
			t.Fatalf("accepted url %q", url)
		}
		if strings.ContainsAny(hval, "\r\n\x00") || strings.EqualFold(hname, "webhook-signature") {
			t.Fatalf("accepted header %q: %q", hname, hval)
		}
	})
}

// toValue reads JSON as JSON.parse does: the same value, keys in order.
func FuzzToValue(f *testing.F) {
	for _, s := range []string{`{"a":1,"b":[true,false,null],"c":{"d":"e\u00e9\n"}}`, `[]`, `"x"`, `-1.5e300`, `{"__proto__":{"x":1}}`,
		`{"a":1,"a":2}`, `9007199254740993`, `{"k":"\ud83d\ude00"}`, ` [ 1 , 2 ] `, `{`, `01`, `1.`, `"\u0000"`} {
		f.Add(s)
	}
	vm := goja.New()
	parse, _ := goja.AssertFunction(vm.Get("JSON").ToObject(vm).Get("parse"))
	stringify, _ := goja.AssertFunction(vm.Get("JSON").ToObject(vm).Get("stringify"))
	f.Fuzz(func(t *testing.T, s string) {
		want, err := parse(goja.Undefined(), vm.ToValue(s))
		got, gerr := toValue(vm, []byte(s))
		if err != nil || !json.Valid([]byte(s)) {
			if gerr == nil && !json.Valid([]byte(s)) {
				t.Fatalf("toValue accepted %q", s)
			}
			return
		}
		if gerr != nil {
			if strings.Count(s, "[")+strings.Count(s, "{") > maxDepth {
				return // deeper than toValue goes: JSON.parse reads it
			}
			t.Fatalf("toValue(%q): %v", s, gerr)
		}
		a, _ := stringify(goja.Undefined(), want)
		b, _ := stringify(goja.Undefined(), got)
		if a.String() != b.String() {
			t.Fatalf("toValue(%q) = %s, JSON.parse = %s", s, b, a)
		}
		if o, ok := got.(*goja.Object); ok && o.ClassName() == "Object" && o.Prototype() != vm.Get("Object").ToObject(vm).Get("prototype").(*goja.Object) {
			t.Fatalf("toValue(%q) changed a prototype", s)
		}
	})
}

// A transformed body is what JSON.stringify prints: '<', '>', '&' and
// U+2028 as they are, numbers in JavaScript's form, keys in their order.
func TestRunPayloadIsCanonical(t *testing.T) {
	t.Parallel()
	out, err := engine().Run(context.Background(), `function handler(w) {
		w.payload = {z: "<a> & \u2028 \"q\" \n", a: [1e21, 0.1, -0, 1/3, NaN, 2e-7], n: null, u: undefined, f: function () {}, d: new Date(0)};
		return w;
	}`, input(), at)
	if err != nil {
		t.Fatal(err)
	}
	want := "{\"z\":\"<a> & \u2028 \\\"q\\\" \\n\",\"a\":[1e+21,0.1,0,0.3333333333333333,null,2e-7],\"n\":null,\"d\":\"1970-01-01T00:00:00.000Z\"}"
	if string(out.Payload) != want {
		t.Fatalf("payload\n%s\nwant\n%s", out.Payload, want)
	}
}

// Number, String and Boolean objects are written as their values, as
// JSON.stringify writes them; nested objects and arrays keep their order.
func TestRunPayloadWrappers(t *testing.T) {
	t.Parallel()
	out, err := engine().Run(context.Background(), `function handler(w) {
		w.payload = {n: new Number(1.5), s: new String("x"), b: Object(true), o: {b: [new Number(2), {c: new String("y")}], a: 1}};
		return w;
	}`, input(), at)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"n":1.5,"s":"x","b":true,"o":{"b":[2,{"c":"y"}],"a":1}}`
	if string(out.Payload) != want {
		t.Fatalf("payload\n%s\nwant\n%s", out.Payload, want)
	}
}

// Math.random is seeded by the attempt's time: a run at the same time sees
// the same numbers, whichever reused runtime it gets.
func TestRunRandomIsSeededByTime(t *testing.T) {
	t.Parallel()
	e := engine()
	code := `function handler(w) { w.payload = {r: [Math.random(), Math.random()]}; return w; }`
	var got []string
	for i := 0; i < 3; i++ {
		when := at
		if i == 2 {
			when = at.Add(time.Second)
		}
		out, err := e.Run(context.Background(), code, input(), when)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(out.Payload))
	}
	if got[0] != got[1] || got[0] == got[2] {
		t.Fatalf("payloads %q: want the first two alike, the third different", got)
	}
}
