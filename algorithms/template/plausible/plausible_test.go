package plausible_test

import (
	"strings"
	"testing"

	"github.com/pulsegrid/pulsegrid/algorithms/template"
	"github.com/pulsegrid/pulsegrid/algorithms/template/plausible"
)

func TestPlausible(t *testing.T) {
	tests := []struct {
		name, unit string
		ok         bool
		role       string
		min, max   float64
		wantUnit   string
	}{
		{"HR", "bpm", true, "HR", 10, 300, "bpm"},
		{"PULSE", "/min", true, "HR", 10, 300, "/min"},
		{"SpO2", "%", true, "SpO2", 20, 100, "%"},
		{"%SpO2", "", true, "SpO2", 20, 100, "%"}, // no unit: the rule's, as ingest assumes
		{"ABPSys", "mmHg", true, "ABP", 20, 300, "mmHg"},
		{"ABP Dias", "mmHg", true, "ABP", 20, 300, "mmHg"},
		{"NBPMean", "mmHg", true, "NBP", 20, 300, "mmHg"},
		{"NBPMean", "kPa", true, "NBP", 20 / 7.500615758456563, 300 / 7.500615758456563, "kPa"},
		{"CVP", "mmHg", true, "CVP", -10, 50, "mmHg"},
		{"RESP", "pm", true, "RESP", 1, 120, "pm"},
		{"Temp", "°C", true, "Temp", 25, 45, "°C"},
		{"SpO2", "mmHg", false, "", 0, 0, ""}, // not the kind's unit
		{"PLETH", "", false, "", 0, 0, ""},    // not a vital sign the template knows
		{"ECG", "mV", false, "", 0, 0, ""},
	}
	for _, tt := range tests {
		r, ok := plausible.Lookup(tt.name, tt.unit)
		if ok != tt.ok || r.Role != tt.role || r.Min != tt.min || r.Max != tt.max || r.Unit != tt.wantUnit {
			t.Errorf("plausible.Lookup(%q, %q) = %+v, %v; want %s %v..%v %s, %v", tt.name, tt.unit, r, ok, tt.role, tt.min, tt.max, tt.wantUnit, tt.ok)
		}
	}
}

// TestPlausibleIsTheTemplate: the ranges are the icu-vitals template's own
// min and max (the template parses the same JSON, strictly), and a name
// the template gives a kind gets that kind's range.
func TestPlausibleIsTheTemplate(t *testing.T) {
	tpl, err := template.Builtin("icu-vitals")
	if err != nil {
		t.Fatal(err)
	}
	for _, cr := range tpl.Channels {
		r, ok := plausible.Lookup(cr.Role, cr.Unit)
		if !ok || cr.Min == nil || cr.Max == nil || r.Min != *cr.Min || r.Max != *cr.Max {
			t.Errorf("%s: plausible.Lookup gives %+v (%v), the template %v..%v", cr.Role, r, ok, cr.Min, cr.Max)
		}
		for _, a := range cr.Aliases {
			name := strings.TrimSuffix(a, "*") + " 2"
			if r, ok := plausible.Lookup(name, cr.Unit); cr.Matches(name) && tpl.Channels[firstMatch(tpl, name)].Role == cr.Role && (!ok || r.Role != cr.Role) {
				t.Errorf("%q is %s to the template, %+v (%v) to Lookup", name, cr.Role, r, ok)
			}
		}
	}
}

// firstMatch is the index of the template's first rule matching name.
func firstMatch(tpl *template.Template, name string) int {
	for i := range tpl.Channels {
		if tpl.Channels[i].Matches(name) {
			return i
		}
	}
	return -1
}

func TestClassify(t *testing.T) {
	spo2 := plausible.Range{Min: 20, Max: 100, Unit: "%"}
	cvp := plausible.Range{Min: -10, Max: 50, Unit: "mmHg"}
	tests := []struct {
		r    plausible.Range
		v    float64
		want plausible.Reason
	}{
		{spo2, 97, plausible.Included}, {spo2, 20, plausible.Included}, {spo2, 100, plausible.Included},
		{spo2, 0, plausible.SensorOff}, {spo2, 19.9, plausible.OutOfRange}, {spo2, 101, plausible.OutOfRange}, {spo2, -5, plausible.OutOfRange},
		{cvp, 0, plausible.Included}, // a CVP of 0 mmHg is a measurement
		{cvp, -11, plausible.OutOfRange},
	}
	for _, tt := range tests {
		if got := tt.r.Classify(tt.v); got != tt.want {
			t.Errorf("%s: Classify(%v) = %v, want %v", tt.r.Text(), tt.v, got, tt.want)
		}
	}
}

func TestRangeText(t *testing.T) {
	for _, tt := range []struct {
		r    plausible.Range
		want string
	}{
		{plausible.Range{Min: 20, Max: 100, Unit: "%"}, "20–100 %"},
		{plausible.Range{Min: -10, Max: 50, Unit: "mmHg"}, "−10–50 mmHg"},
		{plausible.Range{Min: -0.2, Max: 0.2}, "−0.2–0.2"},
		{plausible.Range{Min: 1, Max: 120, Unit: "/min"}, "1–120 /min"},
	} {
		if got := tt.r.Text(); got != tt.want {
			t.Errorf("%+v: %q, want %q", tt.r, got, tt.want)
		}
	}
	if got := plausible.Number(-0.0); got != "0" {
		t.Errorf("plausible.Number(-0) = %q", got)
	}
}

func TestReadable(t *testing.T) {
	for _, tt := range []struct {
		v    float64
		want string
	}{
		{55.650000000000006, "55.65"}, {141.4, "141.4"}, {96.5, "96.5"}, {12345.6, "12350"},
		{-0.012345, "−0.01235"}, {-0.0, "0"}, {0.1 + 0.2, "0.3"}, {11.5, "11.5"},
	} {
		if got := plausible.Readable(tt.v); got != tt.want {
			t.Errorf("plausible.Readable(%v) = %q, want %q", tt.v, got, tt.want)
		}
	}
}
