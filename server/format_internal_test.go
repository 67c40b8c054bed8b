package server

import (
	"math"
	"strings"
	"testing"

	"github.com/pulsegrid/pulsegrid/algorithms/hrv"
)

func TestExportName(t *testing.T) {
	for _, tc := range []struct {
		name, record, ext, want string
	}{
		{"WFDBAfterRecord", "100", ".atr", "100.atr"},
		{"CSVWithAnalysis", "100", ".csv", "100-analysis-7.csv"},
		{"Unsafe", "a\"b\r\n/c", ".json", "a_b___c-analysis-7.json"},
		{"Empty", "", ".atr", "analysis-7.atr"},
		{"OnlyDots", "..", ".csv", "analysis-7.csv"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := exportName(tc.record, 7, tc.ext); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestHRVNotComputable(t *testing.T) {
	base := hrv.ECGResult{Options: hrv.DefaultOptions()}
	for _, tc := range []struct {
		name   string
		report hrv.Report
		why    string // in the reason; "" when computable
	}{
		{"Computable", hrv.Report{Windows: 3, VLF: 800, LF: 900, HF: 700, TotalPower: 3000, LFHF: 1.3, LFnu: 56, HFnu: 44}, ""},
		{"ErrFlatSpectrum", hrv.Report{Windows: 2, LF: 0.012, HF: 0.018, TotalPower: 0.04, LFHF: 0.4, LFnu: 30.6, HFnu: 69.4}, "barely vary"},
		{"ErrNoWindow", hrv.Report{}, "no 5 min window"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := base
			res.Report = tc.report
			v := hrvView(&res)
			if tc.why == "" {
				if v.NotComputable != "" {
					t.Fatalf("got not computable (%s), want values", v.NotComputable)
				}
				return
			}
			if !strings.Contains(v.NotComputable, tc.why) {
				t.Errorf("reason %q, want %q in it", v.NotComputable, tc.why)
			}
			for _, r := range v.Rows {
				freq := strings.Contains("vlf lf hf total_power lf_hf lf_nu hf_nu", r.Key)
				if freq != r.NotComputable || (freq && !math.IsNaN(r.Value)) {
					t.Errorf("row %s: not computable %v, value %v", r.Key, r.NotComputable, r.Value)
				}
			}
		})
	}
}
