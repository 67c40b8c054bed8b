package hrv

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"
)

// TestSpectrumNotComputable: a flat or missing spectrum reads "not
// computable (why)" in the summary and leaves the frequency-domain values
// of the CSV empty with the reason, while the time-domain ones stay.
func TestSpectrumNotComputable(t *testing.T) {
	for _, tc := range []struct {
		name    string
		report  Report
		summary string // in Summary()
		lfhf    string // the CSV's lf_hf value
		note    string // the CSV's lf_hf note
	}{
		{"Computable", Report{Windows: 3, SDNN: 50, VLF: 800, LF: 900, HF: 700, TotalPower: 3000, LFHF: 1.3, LFnu: 56, HFnu: 44},
			"LF/HF 1.30 (", "1.3", ""},
		{"FlatSpectrum", Report{Windows: 2, SDNN: 0.1, LF: 0.012, HF: 0.018, TotalPower: 0.04, LFHF: 0.4, LFnu: 30.6, HFnu: 69.4},
			"LF/HF not computable (flat spectrum: total power 0.04 ms²)", "", "not computable: flat spectrum: total power 0.04 ms²"},
		{"NoWindow", Report{SDNN: 40},
			"LF/HF not computable (no 5 min window with enough NN intervals)", "", "not computable: no 5 min window with enough NN intervals"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &ECGResult{Options: DefaultOptions(), Report: tc.report}
			if s := r.Summary(); !strings.Contains(s, tc.summary) {
				t.Errorf("summary %q lacks %q", s, tc.summary)
			}
			b, err := r.CSV()
			if err != nil {
				t.Fatal(err)
			}
			rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(rows[0], ",") != "measure,value,unit,note" {
				t.Fatalf("CSV header %v", rows[0])
			}
			for _, row := range rows[1:] {
				switch {
				case row[0] == "lf_hf" && (row[1] != tc.lfhf || row[3] != tc.note):
					t.Errorf("lf_hf row %q, want value %q note %q", row, tc.lfhf, tc.note)
				case row[0] == "sdnn" && (row[1] == "" || row[3] != ""):
					t.Errorf("sdnn row %q: time-domain measures stay", row)
				case IsSpectral(row[0]) && (tc.note == "") != (row[3] == ""):
					t.Errorf("row %q: note must be there exactly when not computable", row)
				}
			}
		})
	}
}
