package destination

import (
	"fmt"
	"strings"
)

// Names are the broker types hookbook knows, in the order forms list them.
var Names = []string{"rabbitmq", "nats", "kafka", "redis", "mqtt"}

// Known reports whether name is one of Names.
func Known(name string) bool {
	for _, n := range Names {
		if n == name {
			return true
		}
	}
	return false
}

// Registry is the broker types an instance offers, by name.
type Registry map[string]Type

// Offer returns the registry of the types among built whose names are in
// offered. A name that is not one of Names is an error; a known name that
// this build has no Type for is returned in missing.
func Offer(built []Type, offered []string) (r Registry, missing []string, err error) {
	r = Registry{}
	byName := map[string]Type{}
	for _, t := range built {
		byName[t.Name()] = t
	}
	for _, n := range offered {
		if !Known(n) {
			return nil, nil, fmt.Errorf("unknown destination type %q (known: %s)", n, strings.Join(Names, ", "))
		}
		if t, ok := byName[n]; ok {
			r[n] = t
		} else {
			missing = append(missing, n)
		}
	}
	return r, missing, nil
}

// Ordered returns the offered types in the order of Names.
func (r Registry) Ordered() []Type {
	var out []Type
	for _, n := range Names {
		if t, ok := r[n]; ok {
			out = append(out, t)
		}
	}
	return out
}

// Describe returns where a config of t publishes, credentials redacted.
func Describe(t Type, config []byte) string {
	if d, ok := t.(Describer); ok {
		return d.Describe(config)
	}
	return t.Name()
}
