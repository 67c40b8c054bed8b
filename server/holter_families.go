package server

import (
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/pulsegrid/pulsegrid/algorithms/ecg"
	"github.com/pulsegrid/pulsegrid/server/store"
	"github.com/pulsegrid/pulsegrid/views"
)

// Morphology families (templates) of a Holter report (issue 13). The
// verified ecg.classify@1 result already groups its beats: Merge, which
// sees the whole record, clusters the beats' morphology snippets into
// families (algorithms/ecg morph.go) and every beat names its family. The
// report lists them largest first, with the class counts of their beats as
// corrected, and a clinician relabels a whole family in one correction
// (target "family"): every beat of the family takes the new class, and a
// later correction of one beat overrides it for that beat. Corrections
// apply in the order they were made.

// familyShown caps the families the report page draws; the JSON lists all.
const familyShown = 16

// familyBefore and familyAfter are the window of a family's drawn beat
// around its fiducial point, in seconds.
const (
	familyBefore = 0.25
	familyAfter  = 0.45
)

// holterFamily is a morphology family as the report lists it.
type holterFamily struct {
	Index   int             `json:"index"`
	Beats   int             `json:"beats"`
	Class   ecg.Class       `json:"class"`   // the class most of its beats have now
	Classes ecg.ClassCounts `json:"classes"` // of its beats, as corrected
	// Corr and Width describe the family's template against the dominant
	// one (correlation, QRS width ratio), as Merge measured them.
	Corr  float64 `json:"corr"`
	Width float64 `json:"width"`
	// Example is the sample of the family's representative beat, and
	// ExampleTime its time.
	Example     int64   `json:"example_sample"`
	ExampleTime float64 `json:"example_s"`
}

// holterFamilies lists the families of res (as corrected) that have beats,
// largest first, ties by index.
func holterFamilies(verified, res *ecg.ClassifyResult) []holterFamily {
	fams := make([]holterFamily, len(verified.Families))
	for i, f := range verified.Families {
		fams[i] = holterFamily{Index: f.Index, Corr: f.Corr, Width: f.Width, Example: f.Example, ExampleTime: float64(f.Example) / verified.Rate}
	}
	for _, b := range res.Beats {
		if b.Family < 0 || b.Family >= len(fams) {
			continue
		}
		f := &fams[b.Family]
		f.Beats++
		f.Classes.Add(b.Class)
	}
	out := slices.DeleteFunc(fams, func(f holterFamily) bool { return f.Beats == 0 })
	for i := range out {
		out[i].Class = out[i].Classes.Most()
	}
	slices.SortStableFunc(out, func(a, b holterFamily) int { return b.Beats - a.Beats })
	return out
}

// familyBeats are the indices of the beats of each family of res.
func familyBeats(res *ecg.ClassifyResult) map[int][]int {
	out := map[int][]int{}
	for i, b := range res.Beats {
		out[b.Family] = append(out[b.Family], i)
	}
	return out
}

// familyCorrection checks a family relabel against the result as corrected
// so far and fills in c (Sample: the family's index; From: its majority
// class now).
func familyCorrection(verified, cur *ecg.ClassifyResult, c *store.Correction, family *int, k ecg.Class) error {
	if family == nil {
		return Errorf(EInvalid, "a family correction names the family by \"family\": its index in the report's families")
	}
	var f *holterFamily
	for _, x := range holterFamilies(verified, cur) {
		if x.Index == *family {
			f = &x
			break
		}
	}
	if f == nil {
		return Errorf(EInvalid, "no beat family %d: the report's \"families\" list the ones there are", *family)
	}
	c.Sample, c.From, c.To = int64(f.Index), f.Class.String(), k.String()
	if f.Beats == f.Classes.Of(k) {
		return Errorf(EInvalid, "every beat of family %d is already %s", f.Index, c.To)
	}
	return nil
}

// familyViews draws the report's families (the largest familyShown): each
// representative beat on the detection lead, with its counts and the
// relabel form's values.
func (p *portal) familyViews(ctx context.Context, rep holterReport, ds store.Dataset, lead int) ([]views.HolterFamily, error) {
	var out []views.HolterFamily
	for i, f := range rep.Families {
		if i == familyShown {
			break
		}
		v := views.HolterFamily{Index: f.Index, Beats: f.Beats, Class: f.Class.String(), Corr: f.Corr, Width: f.Width,
			N: f.Classes.N, S: f.Classes.S, V: f.Classes.V, F: f.Classes.F, Q: f.Classes.Q,
			Href: fmt.Sprintf("/analyses/%d/report?from=%.3f&to=%.3f#strip", rep.AnalysisID, max(f.ExampleTime-5, 0), max(f.ExampleTime-5, 0)+10)}
		if lead >= 0 && lead < len(ds.Channels) {
			ch := ds.Channels[lead]
			i0 := max(f.Example-int64(math.Round(familyBefore*ch.Rate)), 0)
			i1 := min(f.Example+int64(math.Round(familyAfter*ch.Rate)), int64(ch.Samples))
			if i0 < i1 {
				s, err := p.d.Store.DatasetSamples(ctx, ds.ID, lead, i0, i1)
				if err != nil {
					return nil, err
				}
				v.Samples, v.At = s, int(f.Example-i0)
			}
		}
		out = append(out, v)
	}
	return out, nil
}
