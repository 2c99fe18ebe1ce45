package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxSafeInteger is the largest integer JavaScript numbers hold exactly.
const MaxSafeInteger = 1<<53 - 1

// maxDepth bounds the nesting of canonicalized JSON.
const maxDepth = 64

// Canonical returns the JSON text in the form JavaScript's
// JSON.stringify(JSON.parse(text)) prints: no insignificant whitespace,
// object keys in their order, strings escaped only where JSON requires
// (no HTML escaping, non-ASCII as UTF-8), numbers in their shortest
// round-trip form ("150.00" → "150", "1E3" → "1000"). A body in this form
// survives a receiver's parse and re-serialisation byte for byte, so a
// signature over either verifies.
//
// Text that cannot survive that round trip is refused: integers beyond
// 2^53 that JavaScript would change, numbers out of range, duplicate
// keys (a parser keeps only one), nesting deeper than 64.
func Canonical(text []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.UseNumber()
	var out bytes.Buffer
	out.Grow(len(text))
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	if err := canonValue(dec, tok, &out, "", 0); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("not JSON: data after the value")
	}
	return out.Bytes(), nil
}

func canonValue(dec *json.Decoder, tok json.Token, out *bytes.Buffer, path string, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("nested deeper than %d levels", maxDepth)
	}
	switch v := tok.(type) {
	case json.Delim:
		switch v {
		case '{':
			out.WriteByte('{')
			seen := map[string]bool{}
			for first := true; dec.More(); first = false {
				kt, err := dec.Token()
				if err != nil {
					return fmt.Errorf("not JSON: %w", err)
				}
				key := kt.(string)
				if seen[key] {
					return fmt.Errorf("the key %q appears twice%s", key, in(path))
				}
				seen[key] = true
				if !first {
					out.WriteByte(',')
				}
				writeString(out, key)
				out.WriteByte(':')
				vt, err := dec.Token()
				if err != nil {
					return fmt.Errorf("not JSON: %w", err)
				}
				if err := canonValue(dec, vt, out, path+"."+key, depth+1); err != nil {
					return err
				}
			}
			if _, err := dec.Token(); err != nil { // the closing brace
				return fmt.Errorf("not JSON: %w", err)
			}
			out.WriteByte('}')
		case '[':
			out.WriteByte('[')
			for i := 0; dec.More(); i++ {
				if i > 0 {
					out.WriteByte(',')
				}
				vt, err := dec.Token()
				if err != nil {
					return fmt.Errorf("not JSON: %w", err)
				}
				if err := canonValue(dec, vt, out, fmt.Sprintf("%s[%d]", path, i), depth+1); err != nil {
					return err
				}
			}
			if _, err := dec.Token(); err != nil {
				return fmt.Errorf("not JSON: %w", err)
			}
			out.WriteByte(']')
		default:
			return fmt.Errorf("not JSON: unexpected %v", v)
		}
	case string:
		writeString(out, v)
	case json.Number:
		s, err := canonNumber(string(v), path)
		if err != nil {
			return err
		}
		out.WriteString(s)
	case bool:
		out.WriteString(strconv.FormatBool(v))
	case nil:
		out.WriteString("null")
	}
	return nil
}

// in names where in the value a problem is, for the end of a message that
// the caller prefixes with the value's own name ("data: the key "a"
// appears twice in guest"): nothing at the top, else " in " and the path
// ("guest", "rooms[2].price").
func in(path string) string {
	if path == "" {
		return ""
	}
	return " in " + strings.TrimPrefix(path, ".")
}

// canonNumber formats a JSON number as JavaScript's Number#toString does.
// path is where the number is, for the error.
func canonNumber(text, path string) (string, error) {
	f, err := strconv.ParseFloat(text, 64)
	if err != nil || math.IsInf(f, 0) {
		return "", fmt.Errorf("the number %s%s is out of range", text, in(path))
	}
	s := JSNumber(f)
	if !strings.ContainsAny(text, ".eE") && math.Abs(f) > MaxSafeInteger && s != text {
		return "", fmt.Errorf("the integer %s%s is beyond 2^53 and JavaScript would read it as %s; send it as a string", text, in(path), s)
	}
	return s, nil
}

// JSNumber formats f as JavaScript's Number#toString (radix 10) does.
func JSNumber(f float64) string {
	if f == 0 {
		return "0"
	}
	sign := ""
	if f < 0 {
		sign, f = "-", -f
	}
	// Shortest round-trip digits and exponent: d.ddde±x.
	e := strconv.FormatFloat(f, 'e', -1, 64)
	mant, exp, _ := strings.Cut(e, "e")
	digits := strings.Replace(mant, ".", "", 1)
	x, _ := strconv.Atoi(exp)
	k, n := len(digits), x+1 // n: position of the decimal point
	switch {
	case k <= n && n <= 21:
		return sign + digits + strings.Repeat("0", n-k)
	case 0 < n && n <= 21:
		return sign + digits[:n] + "." + digits[n:]
	case -6 < n && n <= 0:
		return sign + "0." + strings.Repeat("0", -n) + digits
	}
	es := "+"
	if n-1 < 0 {
		es = "-"
	}
	ex := strconv.Itoa(abs(n - 1))
	if k == 1 {
		return sign + digits + "e" + es + ex
	}
	return sign + digits[:1] + "." + digits[1:] + "e" + es + ex
}

func abs(i int) int {
	if i < 0 {
		return -i
	}
	return i
}

// WriteString writes s as a JSON string the way JSON.stringify does (see
// writeString), for other writers of canonical JSON.
func WriteString(out *bytes.Buffer, s string) { writeString(out, s) }

// writeString writes s as JSON.stringify does: only '"', '\\' and control
// characters are escaped (\b \f \n \r \t, else \u00xx); everything else,
// including '<', '>', '&', U+2028 and U+2029, is written as UTF-8.
func writeString(out *bytes.Buffer, s string) {
	out.WriteByte('"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			out.WriteByte(c)
			i++
			continue
		}
		if c < utf8.RuneSelf {
			switch c {
			case '"':
				out.WriteString(`\"`)
			case '\\':
				out.WriteString(`\\`)
			case '\b':
				out.WriteString(`\b`)
			case '\f':
				out.WriteString(`\f`)
			case '\n':
				out.WriteString(`\n`)
			case '\r':
				out.WriteString(`\r`)
			case '\t':
				out.WriteString(`\t`)
			default:
				fmt.Fprintf(out, `\u%04x`, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			out.WriteString("\uFFFD") // decoded JSON strings are valid UTF-8; never reached
		} else {
			out.WriteString(s[i : i+size])
		}
		i += size
	}
	out.WriteByte('"')
}
