package views

import "strings"

// focusRow is, when the new-analysis form is for one recording (one
// preselected, or only one), that recording's index in Datasets, else -1
// (the form is for several: the table says what fits).
func (p AnalysisNewPage) focusRow() int {
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
	if i >= len(p.Fits) {
		return -1
	}
	return i
}

// focusMisfit is, on a form for one recording, that recording's name and
// why the j-th algorithm does not fit it ("" when it fits, or when the
// form is for several), and the id of the note that says the reason once
// when other algorithms share it ("" when the reason is the j-th's alone
// and is said beside it).
func (p AnalysisNewPage) focusMisfit(j int) (recording, why, shared string) {
	i := p.focusRow()
	if i < 0 || j >= len(p.Fits[i]) || p.Fits[i][j] == "" {
		return "", "", ""
	}
	for _, m := range p.sharedMisfits() {
		if m.Reason == p.Fits[i][j] {
			shared = m.ID
		}
	}
	return p.Datasets[i].Label, p.Fits[i][j], shared
}

// misfitReason is a reason that keeps several algorithms off the
// recording the form is for, said once above the list.
type misfitReason struct {
	ID, Recording, Reason string
	Count                 int
}

// note says the reason once for all the algorithms that share it: "3
// algorithms do not fit NAME: WHY".
func (m misfitReason) note() string {
	return itoa(m.Count) + " algorithms do not fit " + m.Recording + ": " + m.Reason
}

// sharedMisfits are the reasons shared by two algorithms or more on a form
// for one recording, in the order of their first algorithm.
func (p AnalysisNewPage) sharedMisfits() []misfitReason {
	i := p.focusRow()
	if i < 0 {
		return nil
	}
	var out []misfitReason
	at := map[string]int{}
	for _, why := range p.Fits[i] {
		if why == "" {
			continue
		}
		if k, ok := at[why]; ok {
			out[k].Count++
			continue
		}
		at[why] = len(out)
		out = append(out, misfitReason{ID: "misfit-reason-" + itoa(len(out)+1), Recording: p.Datasets[i].Label, Reason: why, Count: 1})
	}
	shared := out[:0]
	for _, m := range out {
		if m.Count > 1 {
			shared = append(shared, m)
		}
	}
	return shared
}

// misfitNote is the note beside an algorithm that does not fit the
// recording the form is for: "does not fit NAME: WHY".
func misfitNote(recording, why string) string {
	return "does not fit " + recording + ": " + why
}

// fitCell is one cell of the fit table: one algorithm that fits one
// recording, or one reason that keeps every algorithm in Algorithms off
// every recording in Datasets. A reason shared by neighbouring cells is
// said once, in one cell spanning them (across the algorithms of a row, and
// down the recordings that share it), not once per pair.
type fitCell struct {
	Algorithms []string // names, in column order
	Datasets   []string // ids, in row order
	Reason     string   // "" when it fits
	Column     int      // the first algorithm's index
	Cols, Rows int
}

// fitCells lays out the fit table: for each recording, the cells that
// begin in its row, in column order. Fitting pairs keep a cell each; a run
// of equal reasons in a row becomes one cell, and a run that the next
// recording shares exactly (same columns, same words) grows down into it.
func (p AnalysisNewPage) fitCells() [][]*fitCell {
	rows := make([][]*fitCell, len(p.Datasets))
	above := map[int]*fitCell{} // the reason cells of the row above, by first column
	for i, d := range p.Datasets {
		why := func(j int) string {
			if i < len(p.Fits) && j < len(p.Fits[i]) {
				return p.Fits[i][j]
			}
			return ""
		}
		here := map[int]*fitCell{}
		for j := 0; j < len(p.Algorithms); {
			reason := why(j)
			end := j + 1
			for reason != "" && end < len(p.Algorithms) && why(end) == reason {
				end++
			}
			c := above[j]
			if reason == "" || c == nil || c.Reason != reason || c.Cols != end-j {
				c = &fitCell{Reason: reason, Column: j, Cols: end - j, Rows: 1}
				for _, a := range p.Algorithms[j:end] {
					c.Algorithms = append(c.Algorithms, a.Name)
				}
				rows[i] = append(rows[i], c)
			} else {
				c.Rows++
			}
			c.Datasets = append(c.Datasets, d.Value)
			if reason != "" {
				here[j] = c
			}
			j = end
		}
		above = here
	}
	return rows
}

// spaced joins names or ids with spaces, for a data attribute.
func spaced(xs []string) string { return strings.Join(xs, " ") }
