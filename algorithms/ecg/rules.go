package ecg

import "slices"

// beatFacts are the per-beat measures the class rules read: RR intervals
// and the patient-relative morphology.
type beatFacts struct {
	m *morphology
	// pre and post are the RR intervals before and after each beat in
	// seconds (0 where there is none).
	pre, post []float64
	// local is the beat's reference RR interval: the median of the nearby
	// intervals between beats that are not ventricular (after the first
	// pass; before it, of all nearby intervals).
	local []float64
}

// localWindow is how many intervals on each side the local RR reference
// looks at.
const localWindow = 10

func newBeatFacts(mb *mergedBeats) *beatFacts {
	n := len(mb.samples)
	f := &beatFacts{m: newMorphology(mb.snip, mb.gap, n), pre: make([]float64, n), post: make([]float64, n)}
	for i := 1; i < n; i++ {
		d := float64(mb.samples[i]-mb.samples[i-1]) / mb.info.rate
		f.pre[i] = d
		f.post[i-1] = d
	}
	f.local = f.localRR(nil)
	return f
}

// localRR computes the local reference interval of every beat from the
// intervals pre[j] around it (j ≠ i, i+1: the beat's own intervals), using
// only those whose both beats are not excluded (excl may be nil).
func (f *beatFacts) localRR(excl []bool) []float64 {
	n := len(f.pre)
	out := make([]float64, n)
	var buf []float64
	for i := range n {
		buf = buf[:0]
		for j := max(1, i-localWindow); j <= min(n-1, i+1+localWindow); j++ {
			if j == i || j == i+1 {
				continue
			}
			if excl != nil && (excl[j] || excl[j-1]) {
				continue
			}
			buf = append(buf, f.pre[j])
		}
		out[i] = median(buf)
	}
	return out
}

// classifyBeats labels every beat and finds the rhythm events, with the
// rules of ecg.classify@1 or, with v2, @2.
func classifyBeats(p ClassifyParams, mb *mergedBeats, v2 bool) *ClassifyResult {
	return classifyWith(p, mb, newBeatFacts(mb), tuningOf(v2))
}

// tuning holds the constants the DS1 records were tuned on (and a few
// hand-set ones explored beside them), as values so that cross-validation
// can vary them.
type tuning struct {
	vScoreMin    float64 // see ventricular
	vWidthWeight float64 // see ventricular
	sPremature   float64 // see sPremature
	sMild        float64 // see sMild
	sPWave       float64 // see sPWave
	vEarly       float64 // see vEarlyWeight
	sPost        float64 // see sPost
	// The rules of ecg.classify@2 (all false for @1):
	sSupraRR   bool // prematurity from the last supraventricular beat (see classes)
	sIrregular bool // an isolated S beat in irregular rhythm is N (see classifyWith)
	sUsual     bool // an S beat is faster than the patient's usual rhythm too (see classes)
	rvr        bool // tachycardia inside AF is the AF's ventricular response (FoldRVR)
}

var defaultTuning = tuning{vScoreMin: vScoreMin, vWidthWeight: vWidthWeight, sPremature: sPremature, sMild: sMild, sPWave: sPWave, vEarly: vEarlyWeight, sPost: sPost}

// defaultTuning2 is ecg.classify@2's: @1's constants but sPost2, three
// rules for supraventricular ectopy (issue 13), none with a constant
// fitted to DS1, and the tachycardia inside AF folded into it.
var defaultTuning2 = func() tuning {
	tu := defaultTuning
	tu.sSupraRR, tu.sIrregular, tu.sUsual, tu.rvr = true, true, true, true
	tu.sPost = sPost2
	return tu
}()

// sPost2 is ecg.classify@2's sPost: the optimum of the same grid as @1's
// on DS1 with @2's beats and rules (TestEC57CrossValidation2 checks it).
const sPost2 = 1.0

// tuningOf is the tuning of ecg.classify@1 or, with v2, @2.
func tuningOf(v2 bool) tuning {
	if v2 {
		return defaultTuning2
	}
	return defaultTuning
}

// classifyWith is classifyBeats with the facts computed and the
// thresholds given.
func classifyWith(p ClassifyParams, mb *mergedBeats, f *beatFacts, tu tuning) *ClassifyResult {
	cls := f.classes(tu)
	rate := mb.info.rate
	// Atrial fibrillation, from the rhythm of the beats that are not
	// ventricular, in episodes of at least af_s. Inside one, an early
	// narrow beat is the fibrillation's irregular conduction, not a
	// supraventricular ectopic (MIT-BIH labels those beats N).
	af := afFlags(mb.samples, cls)
	if tu.sIrregular {
		irregularIsolatedS(cls, af, nil)
	}
	for _, s := range spans(af) {
		if float64(mb.samples[s[1]]-mb.samples[s[0]]) < p.AFSeconds*rate {
			for k := s[0]; k <= s[1]; k++ {
				af[k] = false
			}
		}
	}
	for i, a := range af {
		if a && cls[i] == ClassS {
			cls[i] = ClassN
		}
	}
	res := &ClassifyResult{
		Algorithm: ClassifyName, Params: p, Lead: mb.info.lead, LeadIndex: mb.info.leadIndex,
		Leads: mb.leads, Rate: mb.info.rate, Samples: mb.info.samples, Count: len(cls),
	}
	res.Beats = make([]ClassifiedBeat, len(cls))
	for i, c := range cls {
		res.Beats[i] = ClassifiedBeat{Sample: mb.samples[i], Time: float64(mb.samples[i]) / mb.info.rate, RR: f.pre[i], Class: c, Family: f.m.family[i]}
		res.Classes.add(c)
	}
	res.Events, res.Rhythm = events(p, mb.samples, cls, af, rate, tu.rvr)
	res.Families = f.families(cls, mb.samples)
	return res
}

// classes assigns the EC57 classes.
func (f *beatFacts) classes(tu tuning) []Class {
	n := len(f.pre)
	m := f.m
	out := make([]Class, n)
	v := make([]bool, n)
	early := f.earlyFlags()
	famEarly := make([]int, len(m.tmpl))
	for i, e := range early {
		if e {
			famEarly[m.family[i]]++
		}
	}
	famV := make([]bool, len(m.tmpl))
	for c := range famV {
		famV[c] = ventricular(m.famCorr[c], m.famWidth[c], m.famAmp[c], 2*famEarly[c] >= m.size[c], tu)
	}
	// A ventricular-looking family that is not early and still resembles
	// the dominant beat is fusion: a ventricular ectopic that fires at
	// about the time the sinus beat arrives, so both shape one QRS.
	famF := make([]bool, len(m.tmpl))
	for c := range famF {
		famF[c] = famV[c] && m.size[c] >= minFamily && m.famCorr[c] >= fusionCorr && float64(famEarly[c]) < float64(fusionEarly*float64(m.size[c]))
	}
	fusion := make([]bool, n)
	for i := range n {
		fam := m.family[i]
		if m.size[fam] >= minFamily {
			v[i] = famV[fam] && !famF[fam]
			fusion[i] = famF[fam]
			continue
		}
		// A beat of a small family is judged on its own, and only when it
		// also comes early or is followed by a pause: a lone odd shape
		// in time with the rhythm is more often noise than an ectopic.
		v[i] = early[i] && ventricular(m.corr[i], m.width[i], m.amp[i], true, tu)
	}
	// Supraventricular ectopics: beats that are not ventricular and come
	// early against the rhythm before them: the median of the last
	// sHistory intervals between two beats that were neither ventricular
	// nor early. The reference looks back only and ignores early beats,
	// so a supraventricular tachycardia is measured against the rhythm it
	// interrupted, not against itself; a run that lasts sRunMax beats is
	// taken as the new rhythm.
	var hist []float64
	run := 0
	type stamped struct{ t, rr float64 } // an N–N interval ending at time t
	var usual []stamped                  // of the last usualSeconds (@2)
	var buf []float64
	t := make([]float64, n) // beat times from the first beat
	for i := 1; i < n; i++ {
		t[i] = t[i-1] + f.pre[i]
	}
	for i := range n {
		out[i] = ClassN
		if v[i] || fusion[i] {
			out[i] = ClassV
			if fusion[i] {
				out[i] = ClassF
			}
			run = 0
			continue
		}
		ref := median(hist)
		// (@2) An atrial ectopic is early against the atrial rhythm:
		// after a ventricular or fusion beat, which does not come from
		// the atria (and, interpolated, leaves the sinus node on its
		// schedule), its prematurity is measured from the last beat
		// that was neither, not from the ventricular one.
		rr := f.pre[i]
		if tu.sSupraRR && i > 0 && (out[i-1] == ClassV || out[i-1] == ClassF) {
			rr = f.sinceSupra(i, out)
		}
		early := rr > 0 && ref > 0 && run < sRunMax &&
			(rr < tu.sPremature*ref || rr < tu.sMild*ref && f.m.pCorr[i] < tu.sPWave)
		// (@2) And early against the patient's usual rhythm: the median
		// of the intervals between two N beats of the last usualSeconds.
		// The look-back reference above is the last few of them, so after
		// a slow stretch (a sinus bradycardia, an SA block) the usual rate
		// coming back looks premature against it, and would be an S run
		// of sRunMax beats, restarted by every V beat in it (the interval
		// before the next beat is the compensatory pause, so the run's
		// onset test passes). A rate back to the usual one is not
		// premature; an ectopic beat or run is early against both.
		if early && tu.sUsual {
			for len(usual) > 0 && t[i]-usual[0].t > usualSeconds {
				usual = usual[1:]
			}
			buf = buf[:0]
			for _, u := range usual {
				buf = append(buf, u.rr)
			}
			if u := median(buf); u > 0 {
				early = rr < tu.sPremature*u || rr < tu.sMild*u && f.m.pCorr[i] < tu.sPWave
			}
		}
		if early && run == 0 {
			// A run starts only with a sudden shortening: a sinus rhythm
			// that speeds up (breathing, effort) does so gradually.
			early = f.pre[i] < sOnset*f.pre[i-1]
		} else if early {
			// and goes on as long as the beats keep its pace.
			early = f.pre[i] < sPace*f.pre[i-1]
		}
		if early {
			out[i] = ClassS
			run++
			continue
		}
		run = 0
		if i > 0 && f.pre[i] > 0 && out[i-1] == ClassN {
			if len(hist) == sHistory {
				copy(hist, hist[1:])
				hist = hist[:sHistory-1]
			}
			hist = append(hist, f.pre[i])
			if tu.sUsual {
				usual = append(usual, stamped{t[i], f.pre[i]})
			}
		}
	}
	for i := 1; i+1 < n; i++ {
		if out[i] == ClassS && out[i-1] != ClassS && out[i+1] != ClassS && f.post[i] < float64(tu.sPost*f.pre[i]) {
			out[i] = ClassN
		}
	}
	return out
}

// usualSeconds is how far back ecg.classify@2 looks for the patient's
// usual rhythm: 5 minutes, the Task Force's short-term HRV segment (set
// so beforehand, not fitted).
const usualSeconds = 300

// sinceSupra is the interval from the last beat before i that is not
// ventricular or fusion to beat i (0 when there is none).
func (f *beatFacts) sinceSupra(i int, out []Class) float64 {
	d := 0.0
	for j := i; j > 0; j-- {
		d += f.pre[j]
		if out[j-1] != ClassV && out[j-1] != ClassF {
			return d
		}
		if f.pre[j] == 0 {
			break
		}
	}
	return 0
}

// irregularIsolatedS is ecg.classify@2's rule for irregular rhythm: an
// isolated S beat (neither neighbour S) where the rhythm is irregular by
// the atrial fibrillation measure (af, before episodes shorter than af_s
// are dropped) is N. In an irregular rhythm a short interval is the
// rhythm's own, not evidence of an ectopic focus; the af_s minimum is a
// convention for reporting episodes, not a property of the conduction.
// Runs of S beats are kept: a supraventricular run makes the rhythm
// irregular itself. Beats whose class a clinician set (keep) are left.
func irregularIsolatedS(cls []Class, af []bool, keep map[int]Class) {
	for i := 1; i+1 < len(cls); i++ {
		if _, set := keep[i]; !set && af[i] && cls[i] == ClassS && cls[i-1] != ClassS && cls[i+1] != ClassS {
			cls[i] = ClassN
		}
	}
}

// sPost: an isolated supraventricular ectopic resets the sinus node, so
// the interval after it is longer than the short one before it (by at
// least this factor); an early beat followed by another short interval is
// the irregular conduction of atrial fibrillation or flutter, or a
// detection error, not an ectopic.
const sPost = 1.2

// sPremature is the prematurity (RR before the beat ÷ the local
// reference) below which a beat of supraventricular shape is ectopic.
const sPremature = 0.8

// sOnset is how much shorter than the interval before it the interval
// into the first early beat of a run must be; sPace is how much longer
// than the one before a following early beat's interval may be for it to
// continue the run.
const (
	sOnset = 0.9
	sPace  = 1.15
)

// sMild and sPWave: a beat only mildly early (RR below sMild × the
// reference) is supraventricular ectopic when its P wave differs from the
// dominant beat's (correlation below sPWave): an ectopic focus makes
// another P wave, a sinus rhythm that speeds up the same one.
const (
	sMild  = 0.9
	sPWave = 0.6
)

// sHistory is how many recent intervals the supraventricular reference
// takes the median of; sRunMax is the longest run of early beats before
// they are taken as the rhythm.
const (
	sHistory = 8
	sRunMax  = 200
)

// fusionCorr is the least correlation with the dominant template, and
// fusionEarly the largest fraction of early beats, of a fusion family.
const (
	fusionCorr  = 0.6
	fusionEarly = 0.2
)

// minFamily is the size from which a family's template, not each beat,
// decides whether its beats are ventricular.
const minFamily = 5

// Weights of the ventricular score and its threshold (see ventricular).
// They were set by hand on the families of the DS1 records and checked by
// leave-one-record-out cross-validation of vScoreMin (docs/algorithms.md).
const (
	vWidthWeight = 2.5
	vEarlyWeight = 0.5
	vScoreMin    = 1.4
)

// ventricular is the rule for a ventricular beat: a score that adds how
// different its shape is from the dominant beat's (1 − correlation), how
// much wider its QRS is (ratio − 1, weighted), whether it (or most beats
// of its family) comes early or before a pause, and takes off how much
// smaller it is (1 − amplitude ratio, when below 1: a small odd complex
// is more often noise or a changed dominant beat than an ectopic). A ventricular beat
// is typically different, wide and early; any two of the three suffice,
// so that runs and escape beats (not early) and narrow-looking ectopics
// of another axis (not wide) are found, while the dominant beat changed
// by posture or noise (different, but neither wide nor early) is not.
func ventricular(corr, width, amp float64, early bool, tu tuning) bool {
	s := 1 - corr + float64(tu.vWidthWeight*(width-1))
	if amp < 1 {
		s += amp - 1
	}
	if early {
		s += tu.vEarly
	}
	return s > tu.vScoreMin
}

// families describes the morphology families: size, majority class,
// template against the dominant one, and an example beat.
func (f *beatFacts) families(cls []Class, samples []int64) []Family {
	m := f.m
	out := make([]Family, len(m.tmpl))
	votes := make([][5]int, len(m.tmpl))
	order := []Class{ClassN, ClassS, ClassV, ClassF, ClassQ}
	for c := range out {
		out[c] = Family{Index: c, Corr: m.famCorr[c], Width: m.famWidth[c], Amp: m.famAmp[c], Example: -1}
	}
	for i, c := range cls {
		fam := m.family[i]
		out[fam].Beats++
		if out[fam].Example < 0 {
			out[fam].Example = samples[i]
		}
		votes[fam][slices.Index(order, c)]++
	}
	for c := range out {
		best := 0
		for k, v := range votes[c] {
			if v > votes[c][best] {
				best = k
			}
		}
		out[c].Class = order[best]
	}
	return out
}

// earlyFlags marks the beats that come early or are followed by a pause.
// Prematurity is judged against the intervals between beats shaped like
// the dominant one, so that frequent ectopy (bigeminy, runs) does not
// shorten the reference.
func (f *beatFacts) earlyFlags() []bool {
	m := f.m
	n := len(f.pre)
	odd := make([]bool, n)
	for i := range n {
		odd[i] = m.famCorr[m.family[i]] < 0.9
	}
	ref := f.localRR(odd)
	// Where no two dominant-shaped beats follow each other nearby (a
	// ventricular run, bigeminy), the last reference holds.
	for i := 1; i < n; i++ {
		if ref[i] == 0 {
			ref[i] = ref[i-1]
		}
	}
	early := make([]bool, n)
	for i := range n {
		switch {
		case f.pre[i] > 0 && ref[i] > 0:
			early[i] = f.pre[i] < 0.9*ref[i] || f.post[i] > 1.1*ref[i]
		case f.pre[i] > 0 && f.post[i] > 0:
			// No reference yet (the record starts in bigeminy or a
			// run): an ectopic's own intervals still show it, a short
			// one before and a pause after.
			early[i] = f.pre[i] < 0.85*f.post[i]
		}
		// The beats of a run of odd beats that started early come no
		// later than the rhythm: a ventricular run, whose inner beats
		// are neither early nor followed by a pause.
		if i > 0 && !early[i] && odd[i] && odd[i-1] && early[i-1] && f.pre[i] < ref[i] {
			early[i] = true
		}
	}
	return early
}
