package views

import (
	"strings"
	"testing"
)

// TestAnalysisNewMisfitNotes: a form for one recording says beside each
// algorithm that does not fit it why; a form for several leaves that to
// the table, which says it for every pair.
func TestAnalysisNewMisfitNotes(t *testing.T) {
	base := AnalysisNewPage{
		Algorithms: []AlgorithmOption{{Name: "ecg.beats@1"}, {Name: "vitals.alarms@1"}},
		Datasets:   []Option{{Value: "1", Label: "ICU night"}, {Value: "2", Label: "Holter bed 4"}},
		Fits:       [][]string{{"no ECG channel found among \"HR\"", ""}, {"", "no rule applies to this record (channels MLII)"}},
	}
	for _, tc := range []struct {
		name     string
		selected []string
		want     []string
	}{
		{"OneSelected", []string{"1"}, []string{`does not fit ICU night: no ECG channel found among "HR"`}},
		{"OtherSelected", []string{"2"}, []string{"does not fit Holter bed 4: no rule applies to this record (channels MLII)"}},
		{"Several", []string{"1", "2"}, nil},
		{"None", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := base
			p.Selected = tc.selected
			doc := mustRender(t, AnalysisNew(p))
			notes := doc.Find(testid("analysis-algorithm-misfit"))
			if notes.Length() != len(tc.want) {
				t.Fatalf("got %d notes (%q), want %d", notes.Length(), notes.Text(), len(tc.want))
			}
			for i, want := range tc.want {
				if got := strings.TrimPrefix(strings.TrimSpace(notes.Eq(i).Text()), "✗ "); got != want {
					t.Errorf("note %d: got %q, want %q", i, got, want)
				}
			}
			if got := doc.Find(testid("analysis-fit") + `[data-fits="false"]`).Length(); got != 2 {
				t.Errorf("fit table: %d misfits, want 2", got)
			}
		})
	}
}
