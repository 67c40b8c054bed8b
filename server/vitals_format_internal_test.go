package server

import (
	"math"
	"strings"
	"testing"

	"github.com/pulsegrid/pulsegrid/algorithms/template/plausible"
	"github.com/pulsegrid/pulsegrid/algorithms/vitals"
)

func TestVitalsRow(t *testing.T) {
	spo2 := &plausible.Range{Role: "SpO2", Min: 20, Max: 100, Unit: "%"}
	for _, tc := range []struct {
		name    string
		c       vitals.ChannelSummary
		missing float64 // MissingPct
		why     string
		blank   bool // statistics shown as "–"
	}{
		{"Clean", vitals.ChannelSummary{Name: "HR", Whole: vitals.Stats{Count: 90, Missing: 10, Mean: 80, P50: 79}}, 10, "", false},
		{"SensorOff", vitals.ChannelSummary{Name: "SpO2", Plausible: spo2, Whole: vitals.Stats{Count: 50, Missing: 10, SensorOff: 38, OutOfRange: 2, Mean: 96}},
			10, "40 samples excluded: 38 sensor off (0), 2 outside plausible range 20–100 %", false},
		{"AllExcluded", vitals.ChannelSummary{Name: "ABPSys", Whole: vitals.Stats{SensorOff: 4}}, 0, "4 samples excluded: 4 sensor off (0)", true},
		{"Empty", vitals.ChannelSummary{Name: "X"}, math.NaN(), "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := vitalsRow(tc.c)
			if r.ExcludedWhy != tc.why || r.Excluded != tc.c.Whole.Excluded() {
				t.Errorf("excluded %d %q, want %q", r.Excluded, r.ExcludedWhy, tc.why)
			}
			if !(r.MissingPct == tc.missing || math.IsNaN(r.MissingPct) && math.IsNaN(tc.missing)) {
				t.Errorf("missing %v %%, want %v (excluded samples count in the total)", r.MissingPct, tc.missing)
			}
			if math.IsNaN(r.Mean) != tc.blank || math.IsNaN(r.Min) != tc.blank {
				t.Errorf("mean %v min %v, blank %v", r.Mean, r.Min, tc.blank)
			}
		})
	}
}

func TestAlarmsViewSaysExclusionsOnce(t *testing.T) {
	hr := &plausible.Range{Role: "HR", Min: 10, Max: 300, Unit: "bpm"}
	res := &vitals.AlarmsResult{
		Rules: []vitals.RuleStatus{
			{Rule: "tachycardia", Channel: "HR", Plausible: hr, SensorOff: 46},
			{Rule: "bradycardia", Channel: "HR", Plausible: hr, SensorOff: 46, Episodes: 1},
			{Rule: "desaturation", Channel: "SpO2"},
			{Rule: "hypotension"},
		},
		Episodes: []vitals.Episode{{Rule: "bradycardia", Channel: "HR", Unit: "bpm", StartS: 83340, EndS: 83400, DurationS: 60, Extreme: 11.500000000000002}},
	}
	v := alarmsView(res)
	if got := strings.Join(v.Exclusions, " | "); got != "HR: 46 samples excluded: 46 sensor off (0)" {
		t.Errorf("exclusions %q", got)
	}
	if len(v.Episodes) != 1 || v.Episodes[0].Detail != "HR reached 11.5 bpm" || v.Episodes[0].Kind != "low" {
		t.Errorf("episodes %+v", v.Episodes)
	}
}
