package template

import (
	"embed"
	"fmt"

	"github.com/pulsegrid/pulsegrid/algorithms/template/plausible"
)

// builtinFS holds the shipped templates as the same JSON an administrator
// would write, so they double as examples of the format. icu-vitals lives
// in algorithms/template/plausible, whose ranges the vitals algorithms use
// too; builtinJSON reads it from there.
//
//go:embed builtin/*.json
var builtinFS embed.FS

// builtinJSON is a shipped template's JSON.
func builtinJSON(name string) ([]byte, error) {
	if name == "icu-vitals" {
		return plausible.ICUVitalsJSON(), nil
	}
	return builtinFS.ReadFile("builtin/" + name + ".json")
}

// builtinNames is the order Builtins lists them in.
var builtinNames = []string{"ecg", "icu-vitals", "any"}

// Builtins returns fresh copies of the shipped templates: "ecg" (at least
// one ECG lead in mV at 100 Hz or more), "icu-vitals" (bedside monitor
// trends: HR, SpO2, ABP, NBP, PAP, CVP, RESP, Temp) and "any" (no rules).
func Builtins() []Template {
	out := make([]Template, 0, len(builtinNames))
	for _, n := range builtinNames {
		b, err := builtinJSON(n)
		if err != nil {
			panic(err) // embedded at build time: cannot happen
		}
		t, err := Parse(b)
		if err != nil {
			panic(fmt.Sprintf("built-in template %s: %v", n, err)) // TestBuiltins keeps this from shipping
		}
		out = append(out, *t)
	}
	return out
}

// Builtin returns the shipped template with the given name.
func Builtin(name string) (*Template, error) {
	for _, t := range Builtins() {
		if t.Name == name {
			return &t, nil
		}
	}
	return nil, fmt.Errorf("no built-in template %q (there are %v)", name, builtinNames)
}
