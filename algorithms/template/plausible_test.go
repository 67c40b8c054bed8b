package template

import "testing"

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
		r, ok := Plausible(tt.name, tt.unit)
		if ok != tt.ok || r.Role != tt.role || r.Min != tt.min || r.Max != tt.max || r.Unit != tt.wantUnit {
			t.Errorf("Plausible(%q, %q) = %+v, %v; want %s %v..%v %s, %v", tt.name, tt.unit, r, ok, tt.role, tt.min, tt.max, tt.wantUnit, tt.ok)
		}
	}
}

// TestPlausibleIsTheTemplate: the ranges are the icu-vitals template's own
// min and max, not a second table that could drift from it.
func TestPlausibleIsTheTemplate(t *testing.T) {
	tpl := mustBuiltin(t, "icu-vitals")
	for _, cr := range tpl.Channels {
		r, ok := Plausible(cr.Role, cr.Unit)
		if !ok || cr.Min == nil || cr.Max == nil || r.Min != *cr.Min || r.Max != *cr.Max {
			t.Errorf("%s: Plausible gives %+v (%v), the template %v..%v", cr.Role, r, ok, cr.Min, cr.Max)
		}
	}
}

func TestClassify(t *testing.T) {
	spo2 := Range{Min: 20, Max: 100, Unit: "%"}
	cvp := Range{Min: -10, Max: 50, Unit: "mmHg"}
	tests := []struct {
		r    Range
		v    float64
		want Reason
	}{
		{spo2, 97, Included}, {spo2, 20, Included}, {spo2, 100, Included},
		{spo2, 0, SensorOff}, {spo2, 19.9, OutOfRange}, {spo2, 101, OutOfRange}, {spo2, -5, OutOfRange},
		{cvp, 0, Included}, // a CVP of 0 mmHg is a measurement
		{cvp, -11, OutOfRange},
	}
	for _, tt := range tests {
		if got := tt.r.Classify(tt.v); got != tt.want {
			t.Errorf("%s: Classify(%v) = %v, want %v", tt.r.Text(), tt.v, got, tt.want)
		}
	}
}

func TestRangeText(t *testing.T) {
	for _, tt := range []struct {
		r    Range
		want string
	}{
		{Range{Min: 20, Max: 100, Unit: "%"}, "20–100 %"},
		{Range{Min: -10, Max: 50, Unit: "mmHg"}, "−10–50 mmHg"},
		{Range{Min: -0.2, Max: 0.2}, "−0.2–0.2"},
		{Range{Min: 1, Max: 120, Unit: "/min"}, "1–120 /min"},
	} {
		if got := tt.r.Text(); got != tt.want {
			t.Errorf("%+v: %q, want %q", tt.r, got, tt.want)
		}
	}
	if got := Number(-0.0); got != "0" {
		t.Errorf("Number(-0) = %q", got)
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
		if got := Readable(tt.v); got != tt.want {
			t.Errorf("Readable(%v) = %q, want %q", tt.v, got, tt.want)
		}
	}
}
