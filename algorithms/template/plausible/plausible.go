// Package plausible is the one definition of a plausible physiological
// value per kind of vital sign (HR, SpO2, ABP...): the built-in icu-vitals
// ingest template (icu-vitals.json, which algorithms/template parses as
// its built-in) and the vitals algorithms both read it here, so that the
// template's range, vitals.summary@1's exclusions and vitals.alarms@1's
// artefacts cannot drift apart.
//
// It also holds what matching a channel to a kind needs (name patterns,
// unit spellings and conversions) and depends on the standard library
// only, so the browser worker links it without the ingest machinery.
package plausible

import (
	_ "embed"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"sync"
)

// Range is the plausible range of a kind of vital sign, inclusive, in the
// unit of the channel it was looked up for. A value outside it is not a
// measurement of the patient but of the monitor: a 0 is a sensor that was
// off (a pulse oximeter off the finger logs SpO2 0, a closed arterial line
// 0 mmHg), anything else an artefact.
//
// The ranges are defined once, as the min and max of icu-vitals.json:
// ingest reports values outside them, and vitals.summary@1 and
// vitals.alarms@1 exclude them and count them by Reason.
type Range struct {
	// Role is the kind of vital sign ("SpO2"), the icu-vitals rule's role;
	// empty for a range a user gave.
	Role string  `json:"role,omitempty"`
	Min  float64 `json:"min"`
	Max  float64 `json:"max"`
	// Unit is the unit Min and Max are in (the channel's).
	Unit string `json:"unit"`
}

// Reason is why a sample was excluded from a statistic, or Included.
type Reason uint8

// The reasons Range.Classify gives.
const (
	// Included is a value inside the plausible range.
	Included Reason = iota
	// SensorOff is a 0 where 0 is not plausible: the sensor was off.
	SensorOff
	// OutOfRange is any other value outside the plausible range.
	OutOfRange
)

// Classify tells whether v (not missing) is plausible, and if not why.
func (r Range) Classify(v float64) Reason {
	if v >= r.Min && v <= r.Max {
		return Included
	}
	if v == 0 {
		return SensorOff
	}
	return OutOfRange
}

// Text writes the range for people: "20–100 %", "−10–50 mmHg" (a minus
// sign, so that no "--" or "-0" appears).
func (r Range) Text() string {
	s := Number(r.Min) + "–" + Number(r.Max)
	if r.Unit != "" {
		s += " " + r.Unit
	}
	return s
}

// Number writes a value for people: shortest exact decimal, a minus sign
// (U+2212) for negatives, and never "−0".
func Number(v float64) string {
	if v == 0 {
		return "0"
	}
	s := strconv.FormatFloat(v, 'f', -1, 64)
	if rest, ok := strings.CutPrefix(s, "-"); ok {
		return "−" + rest
	}
	return s
}

// Readable writes a measured value for a line of text: four significant
// digits ("55.65", not "55.650000000000006"; "12350"), never an exponent,
// and Number's minus sign and zero.
func Readable(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	r, err := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 4, 64), 64)
	if err != nil {
		return Number(v)
	}
	return Number(r)
}

// icuVitals is the built-in icu-vitals template, in the template JSON
// format (docs/formats.md).
//
//go:embed icu-vitals.json
var icuVitals []byte

// ICUVitalsJSON returns the icu-vitals template's JSON, for
// algorithms/template to parse as its built-in.
func ICUVitalsJSON() []byte { return append([]byte(nil), icuVitals...) }

// kind is what Lookup reads of an icu-vitals channel rule.
type kind struct {
	Role    string   `json:"role"`
	Aliases []string `json:"aliases"`
	Unit    string   `json:"unit"`
	Min     *float64 `json:"min"`
	Max     *float64 `json:"max"`
}

var (
	kindsOnce sync.Once
	kinds     []kind
)

// Lookup returns the plausible range of a channel named name with unit
// unit: the range of the first icu-vitals rule whose kind the name is
// (Matches), in the channel's unit (converted when the unit converts to
// the rule's; a channel without a unit is taken to be in the rule's unit,
// as ingest does). ok is false when the channel is no kind of vital sign
// the template knows, or its unit is not the kind's, or the kind has no
// bounds.
func Lookup(name, unit string) (r Range, ok bool) {
	kindsOnce.Do(func() {
		var t struct {
			Channels []kind `json:"channels"`
		}
		if err := json.Unmarshal(icuVitals, &t); err != nil {
			panic("icu-vitals.json: " + err.Error()) // embedded; TestBuiltins in algorithms/template parses it strictly
		}
		kinds = t.Channels
	})
	for _, k := range kinds {
		if !Matches(append([]string{k.Role}, k.Aliases...), name) {
			continue
		}
		if k.Min == nil || k.Max == nil {
			return Range{}, false
		}
		factor := 1.0
		if strings.TrimSpace(unit) == "" {
			unit = k.Unit
		} else if f, known := Convert(unit, k.Unit); !known {
			return Range{}, false
		} else {
			factor = f
		}
		return Range{Role: k.Role, Min: *k.Min / factor, Max: *k.Max / factor, Unit: unit}, true
	}
	return Range{}, false
}

// NormName folds case and blanks so that "ABP  sys" matches "abp sys".
func NormName(s string) string {
	return strings.ToLower(strings.Join(strings.Fields(s), " "))
}

// Matches reports whether a channel name is one of the patterns, compared
// by NormName; a pattern ending in '*' matches any rest ("ECG*" matches
// "ECG", "ECG II" and "ecg2").
func Matches(patterns []string, name string) bool {
	n := NormName(name)
	for _, a := range patterns {
		if p, ok := strings.CutSuffix(a, "*"); ok {
			if strings.HasPrefix(n, NormName(p)) {
				return true
			}
		} else if n == NormName(a) {
			return true
		}
	}
	return false
}
