package hookbook

import (
	"math"
	"math/big"
	"strconv"
	"strings"
)

// IntegralNumber returns the JSON number literal lit written as a plain
// integer when it is integral but written in another form ("1e3", "1E3",
// "1000.0" give "1000"), as JSON Schema's "integer" reads it; ok is false
// for plain integers, fractions and numbers beyond 64 bits. The API's
// integer fields read such numbers through it.
func IntegralNumber(lit string) (plain string, ok bool) {
	if !strings.ContainsAny(lit, ".eE") {
		return "", false
	}
	if v, err := strconv.ParseFloat(lit, 64); err != nil || math.Abs(v) > math.MaxUint64 {
		return "", false // bounds the exponent before the exact parse
	}
	f, _, err := big.ParseFloat(lit, 10, 256, big.ToNearestEven)
	if err != nil || !f.IsInt() {
		return "", false
	}
	n, acc := f.Int(nil)
	if acc != big.Exact {
		return "", false
	}
	return n.String(), true
}
