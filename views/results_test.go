package views

import "testing"

// TestResultLinksHolterReport: an ecg.classify result page links to its
// Holter report; other algorithms have none to link to.
func TestResultLinksHolterReport(t *testing.T) {
	for _, tc := range []struct {
		algorithm string
		want      bool
	}{
		{"ecg.classify@1", true},
		{"ecg.beats@1", false},
		{"vitals.summary@1", false},
	} {
		doc := mustRender(t, Result(ResultPage{AnalysisID: 7, Algorithm: tc.algorithm}))
		if got := doc.Find(`a[href="/analyses/7/report"]`).Length() == 1; got != tc.want {
			t.Errorf("%s: report link %v, want %v", tc.algorithm, got, tc.want)
		}
	}
}
