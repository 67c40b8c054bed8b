package ecg

import "slices"

// Relabel returns a copy of r in which beat i has class classes[i] (a
// clinician's correction, by beat index) and the events whose (kind,
// start sample) is in dismissed are left out, with the class counts, the
// atrial fibrillation episodes, the events and the rhythm summary
// recomputed from the new classes exactly as Merge computes them. r itself
// is not changed. Inside atrial fibrillation an S beat becomes N as in
// Merge, unless a correction says S (and, for ecg.classify@2, an isolated
// S beat in irregular rhythm).
func (r *ClassifyResult) Relabel(classes map[int]Class, dismissed map[EventKey]bool) *ClassifyResult {
	out := *r
	out.Beats = slices.Clone(r.Beats)
	n := len(out.Beats)
	samples := make([]int64, n)
	cls := make([]Class, n)
	for i, b := range out.Beats {
		samples[i] = b.Sample
		cls[i] = b.Class
		if c, ok := classes[i]; ok {
			cls[i] = c
		}
	}
	af := afFlags(samples, cls)
	if r.Algorithm == Classify2Name {
		irregularIsolatedS(cls, af, classes)
	}
	for _, s := range spans(af) {
		if float64(samples[s[1]]-samples[s[0]]) < r.Params.AFSeconds*r.Rate {
			for k := s[0]; k <= s[1]; k++ {
				af[k] = false
			}
		}
	}
	out.Classes = ClassCounts{}
	for i := range cls {
		if _, set := classes[i]; af[i] && cls[i] == ClassS && !set {
			cls[i] = ClassN
		}
		out.Beats[i].Class = cls[i]
		out.Classes.add(cls[i])
	}
	evs, _ := events(r.Params, samples, cls, af, r.Rate, r.Algorithm == Classify2Name)
	kept := evs[:0]
	for _, e := range evs {
		if !dismissed[EventKey{e.Kind, e.Start}] {
			kept = append(kept, e)
		}
	}
	out.Events = kept
	out.Rhythm = summarize(kept, samples, r.Rate)
	return &out
}

// WithRVR returns a copy of r whose events have the tachycardia inside
// atrial fibrillation folded into the AF episodes (FoldRVR), with the
// rhythm summary recomputed: how a Holter report groups the events of an
// ecg.classify@1 result, whose Merge does not. For an ecg.classify@2
// result, whose Merge folds them already, the copy equals r. r itself is
// not changed.
func (r *ClassifyResult) WithRVR() *ClassifyResult {
	out := *r
	samples := make([]int64, len(r.Beats))
	for i, b := range r.Beats {
		samples[i] = b.Sample
	}
	out.Events = FoldRVR(r.Events, samples, r.Rate)
	out.Rhythm = summarize(out.Events, samples, r.Rate)
	return &out
}

// EventKey names an event of a result: its kind and the sample of its first
// beat, which no two events of one kind share.
type EventKey struct {
	Kind  string
	Start int64
}

// summarize is the rhythm summary of a list of events (events' own
// summary, recomputed after some were dismissed).
func summarize(evs []Event, samples []int64, rate float64) Rhythm {
	rh := Rhythm{LongestVRun: -1, FastestVRun: -1}
	if n := len(samples); n > 1 {
		rh.AnalysedSeconds = float64(samples[n-1])/rate - float64(samples[0])/rate
	}
	for i := 1; i < len(samples); i++ {
		rh.LongestPause = max(rh.LongestPause, float64(samples[i]-samples[i-1])/rate)
	}
	counts := map[string]int{}
	for k, e := range evs {
		counts[e.Kind]++
		switch e.Kind {
		case EventAF:
			rh.AFSeconds += e.EndTime - e.StartTime
		case EventVTriplet, EventVRun, EventNSVT, EventVT:
			if rh.LongestVRun < 0 || e.Beats > evs[rh.LongestVRun].Beats {
				rh.LongestVRun = k
			}
			if rh.FastestVRun < 0 || e.RateBPM > evs[rh.FastestVRun].RateBPM {
				rh.FastestVRun = k
			}
		}
	}
	if rh.AnalysedSeconds > 0 {
		rh.AFBurden = rh.AFSeconds / rh.AnalysedSeconds
	}
	for _, k := range Kinds {
		rh.Counts = append(rh.Counts, KindCount{Kind: k, Count: counts[k]})
	}
	return rh
}
