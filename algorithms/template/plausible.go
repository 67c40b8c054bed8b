package template

import (
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
// The ranges are defined once, as the min and max of the built-in
// icu-vitals template (builtin/icu-vitals.json): ingest reports values
// outside them, and vitals.summary@1 and vitals.alarms@1 exclude them and
// count them by Reason.
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

var (
	vitalsOnce  sync.Once
	vitalsRules []ChannelRule
)

// Plausible returns the plausible range of a channel named name with unit
// unit: the range of the first icu-vitals rule whose kind the name is, in
// the channel's unit (converted when the unit converts to the rule's; a
// channel without a unit is taken to be in the rule's unit, as ingest
// does). ok is false when the channel is no kind of vital sign the template
// knows, or its unit is not the kind's, or the kind has no bounds.
func Plausible(name, unit string) (r Range, ok bool) {
	vitalsOnce.Do(func() {
		t, err := Builtin("icu-vitals")
		if err != nil {
			panic(err) // embedded at build time: TestBuiltins keeps this from shipping
		}
		vitalsRules = t.Channels
	})
	for i := range vitalsRules {
		cr := &vitalsRules[i]
		if !cr.Matches(name) {
			continue
		}
		if cr.Min == nil || cr.Max == nil {
			return Range{}, false
		}
		factor := 1.0
		if strings.TrimSpace(unit) == "" {
			unit = cr.Unit
		} else if f, known := convert(unit, cr.Unit); !known {
			return Range{}, false
		} else {
			factor = f
		}
		return Range{Role: cr.Role, Min: *cr.Min / factor, Max: *cr.Max / factor, Unit: unit}, true
	}
	return Range{}, false
}
