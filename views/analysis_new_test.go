package views

import (
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
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

// TestFitTableSaysEachReasonOnce: a reason that keeps several algorithms
// off a recording, or off several recordings side by side, is said in one
// cell spanning them, and the cells still cover every pair exactly once.
func TestFitTableSaysEachReasonOnce(t *testing.T) {
	noECG := `no ECG channel found among "HR", "SpO2"`
	noRule := "no rule applies to this record (channels MLII, V5)"
	p := AnalysisNewPage{
		Algorithms: []AlgorithmOption{{Name: "ecg.beats@1"}, {Name: "ecg.hrv@1"}, {Name: "vitals.alarms@1"}, {Name: "vitals.summary@1"}},
		Datasets:   []Option{{"1", "ward A"}, {"2", "ward B"}, {"3", "Holter 100"}, {"4", "Holter 101"}, {"5", "ward C"}},
		Fits: [][]string{
			{noECG, noECG, "", ""},
			{noECG, noECG, "", ""},
			{"", "", noRule, ""},
			{"", "", noRule, ""},
			{noECG, noECG, "", ""}, // not next to the first two: its own cell
		},
	}
	doc := mustRender(t, AnalysisNew(p))
	table := doc.Find(testid("analysis-fits"))
	text := table.Text()
	if got := strings.Count(text, noECG); got != 2 {
		t.Errorf("%q is said %d times, want 2 (rows 1–2 in one cell, row 5 in another)", noECG, got)
	}
	if got := strings.Count(text, noRule); got != 1 {
		t.Errorf("%q is said %d times, want once", noRule, got)
	}
	covered := map[string]string{}
	table.Find(testid("analysis-fit")).Each(func(_ int, c *goquery.Selection) {
		algs := strings.Fields(c.AttrOr("data-algorithm", ""))
		dss := strings.Fields(c.AttrOr("data-datasets", ""))
		if c.AttrOr("colspan", "1") != itoa(len(algs)) || c.AttrOr("rowspan", "1") != itoa(len(dss)) {
			t.Errorf("cell %q spans %s×%s, names %d×%d", c.Text(), c.AttrOr("colspan", "1"), c.AttrOr("rowspan", "1"), len(algs), len(dss))
		}
		for _, d := range dss {
			for _, a := range algs {
				if _, dup := covered[d+" "+a]; dup {
					t.Errorf("dataset %s, %s: two cells", d, a)
				}
				covered[d+" "+a] = c.AttrOr("data-fits", "")
			}
		}
	})
	for i, row := range p.Fits {
		for j, why := range row {
			key := p.Datasets[i].Value + " " + p.Algorithms[j].Name
			if want := map[bool]string{true: "true", false: "false"}[why == ""]; covered[key] != want {
				t.Errorf("dataset %s: fits %q, want %s", key, covered[key], want)
			}
		}
	}
}

// TestAnalysisNewSharedMisfitSaidOnce: on a form for one recording, a
// reason shared by several algorithms is said once above the list, each
// of them points at it (aria-describedby), and a reason of one algorithm
// alone stays beside it.
func TestAnalysisNewSharedMisfitSaidOnce(t *testing.T) {
	noECG := `no ECG channel found among "HR"`
	p := AnalysisNewPage{
		Algorithms: []AlgorithmOption{{Name: "ecg.beats@1"}, {Name: "ecg.hrv@1"}, {Name: "vitals.alarms@1"}, {Name: "vitals.summary@1"}},
		Datasets:   []Option{{"1", "ward A"}},
		Fits:       [][]string{{noECG, noECG, "no rule applies", ""}},
	}
	doc := mustRender(t, AnalysisNew(p))
	form := doc.Find(testid("analysis-form")).Find("fieldset").First()
	if got := strings.Count(form.Text(), noECG); got != 1 {
		t.Errorf("the algorithm list says %q %d times, want once", noECG, got)
	}
	reason := form.Find(testid("analysis-misfit-reason"))
	if got := strings.TrimSpace(reason.Text()); got != "✗ 2 algorithms do not fit ward A: "+noECG {
		t.Errorf("shared note: got %q", got)
	}
	var described []string
	form.Find(testid("analysis-algorithm")).Each(func(_ int, in *goquery.Selection) {
		if id, ok := in.Attr("aria-describedby"); ok {
			described = append(described, in.AttrOr("value", "")+" "+id)
		}
	})
	if want := []string{"ecg.beats@1 " + reason.AttrOr("id", "?"), "ecg.hrv@1 " + reason.AttrOr("id", "?")}; strings.Join(described, ",") != strings.Join(want, ",") {
		t.Errorf("described by: got %q, want %q", described, want)
	}
	if got := form.Find(testid("analysis-algorithm-misfit")).Last().Text(); !strings.Contains(got, "does not fit ward A: no rule applies") {
		t.Errorf("the lone reason: got %q, want it beside its algorithm", got)
	}
}
