package event

import (
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// canonicalCases are JSON texts in unusual spellings, with what
// JSON.stringify(JSON.parse(text)) prints for them.
var canonicalCases = map[string]string{
	`{ "b" : 1, "a" : [ 1 , 2 ] }`:                `{"b":1,"a":[1,2]}`,
	`{"html":"<b>&amp;</b>"}`:                     `{"html":"<b>&amp;</b>"}`,
	`{"e":"\u00e9\u4e2d\ud83d\ude00"}`:            `{"e":"é中😀"}`,
	`{"esc":"a\"b\\c\/d\n\t\u0001\u001f"}`:        `{"esc":"a\"b\\c/d\n\t\u0001\u001f"}`,
	`{"ls":"\u2028\u2029"}`:                       "{\"ls\":\"\u2028\u2029\"}",
	`[150.00, 1E3, 1e21, 1e-7, 0.000001, -0]`:     `[150,1000,1e+21,1e-7,0.000001,0]`,
	`[123456789012345678901234567890.5]`:          `[1.2345678901234568e+29]`,
	`[0.1, 1.5e300, -2.5E-300, 9007199254740991]`: `[0.1,1.5e+300,-2.5e-300,9007199254740991]`,
	`[true,false,null,{},[],""]`:                  `[true,false,null,{},[],""]`,
	`{"n":{"d":{"x":[{"y":1.10}]}}}`:              `{"n":{"d":{"x":[{"y":1.1}]}}}`,
}

func TestCanonical(t *testing.T) {
	for in, want := range canonicalCases {
		got, err := Canonical([]byte(in))
		if err != nil || string(got) != want {
			t.Errorf("Canonical(%s) = %s, %v; want %s", in, got, err, want)
		}
	}
	for in, why := range map[string]string{
		`{"id":9007199254740993}`: "beyond 2^53",
		`{"a":1,"a":2}`:           "appears twice",
		`[1e400]`:                 "out of range",
		`{"a":1} x`:               "not JSON",
		`{"a":`:                   "not JSON",
		strings.Repeat("[", 70) + strings.Repeat("]", 70): "deeper",
	} {
		if _, err := Canonical([]byte(in)); err == nil || !strings.Contains(err.Error(), why) {
			t.Errorf("Canonical(%.40s) = %v, want an error saying %q", in, err, why)
		}
	}
}

// TestCanonicalMatchesJavaScript runs the cases through Node's
// JSON.stringify(JSON.parse(…)) and compares byte for byte.
func TestCanonicalMatchesJavaScript(t *testing.T) {
	if _, err := exec.LookPath("node"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("node is required under CI=true")
		}
		t.Skip("\n\n*** SKIPPED: node is not installed.\n\n")
	}
	var ins []string
	for in := range canonicalCases {
		ins = append(ins, in)
	}
	for _, f := range []float64{1, 0.5, 123.456, 1e20, 1e21, 123e-20, 5e-324, 1.7976931348623157e308, 100, 1234567.0001, 4.35, 0.1 + 0.2} {
		ins = append(ins, "["+JSNumber(f)+"]")
	}
	payload, _ := json.Marshal(ins)
	cmd := exec.Command("node", "-e", `const ins = JSON.parse(require("fs").readFileSync(0, "utf8"));
process.stdout.write(JSON.stringify(ins.map(s => JSON.stringify(JSON.parse(s)))));`)
	cmd.Stdin = strings.NewReader(string(payload))
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	var js []string
	if err := json.Unmarshal(out, &js); err != nil {
		t.Fatal(err)
	}
	for i, in := range ins {
		got, err := Canonical([]byte(in))
		if err != nil || string(got) != js[i] {
			t.Errorf("%s: Go %s (%v), JavaScript %s", in, got, err, js[i])
		}
	}
}

// FuzzCanonical: the canonical form is valid JSON, equal in value to the
// input, and its own canonical form.
func FuzzCanonical(f *testing.F) {
	for in := range canonicalCases {
		f.Add(in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := Canonical([]byte(in))
		if err != nil {
			return
		}
		if !json.Valid(out) {
			t.Fatalf("Canonical(%q) = %q, not JSON", in, out)
		}
		again, err := Canonical(out)
		if err != nil || string(again) != string(out) {
			t.Fatalf("not a fixed point: %q → %q → %q (%v)", in, out, again, err)
		}
	})
}
