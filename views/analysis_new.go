package views

// focusMisfit is, when the new-analysis form is for one recording (one
// preselected, or only one), that recording's name and why the j-th
// algorithm does not fit it ("" when it fits, or when the form is for
// several: the table says it then).
func (p AnalysisNewPage) focusMisfit(j int) (recording, why string) {
	i := -1
	switch {
	case len(p.Datasets) == 1:
		i = 0
	case len(p.Selected) == 1:
		for k, d := range p.Datasets {
			if d.Value == p.Selected[0] {
				i = k
			}
		}
	}
	if i < 0 || i >= len(p.Fits) || j >= len(p.Fits[i]) {
		return "", ""
	}
	return p.Datasets[i].Label, p.Fits[i][j]
}

// misfitNote is the note beside an algorithm that does not fit the
// recording the form is for: "does not fit NAME: WHY".
func misfitNote(recording, why string) string {
	return "does not fit " + recording + ": " + why
}
