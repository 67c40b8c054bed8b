package plausible

import "strings"

// unit is a spelling of a unit: the dimension it measures and the factor
// that turns its values into the dimension's reference unit.
type unit struct {
	dim    string
	factor float64
}

// units lists the spellings found in WFDB, EDF and monitor exports, keyed
// in lower case. Beats and breaths per minute are one dimension: monitors
// write "bpm" for both, and MIMIC writes "pm".
var units = map[string]unit{
	"mv": {"voltage", 1}, "millivolt": {"voltage", 1}, "millivolts": {"voltage", 1},
	"uv": {"voltage", 0.001}, "µv": {"voltage", 0.001}, "μv": {"voltage", 0.001}, "microvolt": {"voltage", 0.001}, "microvolts": {"voltage", 0.001},
	"v": {"voltage", 1000}, "volt": {"voltage", 1000}, "volts": {"voltage", 1000},

	"bpm": {"per-minute", 1}, "/min": {"per-minute", 1}, "1/min": {"per-minute", 1}, "min-1": {"per-minute", 1},
	"beats/min": {"per-minute", 1}, "breaths/min": {"per-minute", 1}, "pm": {"per-minute", 1}, "rpm": {"per-minute", 1},
	"brpm": {"per-minute", 1}, "per min": {"per-minute", 1}, "/s": {"per-minute", 60}, "hz": {"per-minute", 60},

	"%": {"percent", 1}, "percent": {"percent", 1}, "pct": {"percent", 1},

	"mmhg": {"pressure", 1}, "mm hg": {"pressure", 1}, "torr": {"pressure", 1},
	"kpa": {"pressure", 7.500615758456563}, // 1 kPa = 1000/133.322387415 mmHg

	"°c": {"temperature", 1}, "degc": {"temperature", 1}, "deg c": {"temperature", 1}, "c": {"temperature", 1}, "celsius": {"temperature", 1},

	"s": {"time", 1}, "sec": {"time", 1}, "ms": {"time", 0.001},
}

// Convert returns the factor that turns values in unit from into unit to,
// and whether the two are the same unit or convertible. Units absent from
// the table match only themselves (ignoring case). Ingest templates convert
// with it, and Lookup finds a range in a channel's unit with it.
func Convert(from, to string) (float64, bool) {
	f, t := strings.ToLower(strings.TrimSpace(from)), strings.ToLower(strings.TrimSpace(to))
	if f == t {
		return 1, true
	}
	uf, ok1 := units[f]
	ut, ok2 := units[t]
	if !ok1 || !ok2 || uf.dim != ut.dim {
		return 0, false
	}
	if uf.factor == ut.factor {
		return 1, true
	}
	return uf.factor / ut.factor, true
}
