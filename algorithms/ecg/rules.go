package ecg

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

// classifyBeats labels every beat and finds the rhythm events.
func classifyBeats(p ClassifyParams, mb *mergedBeats) *ClassifyResult {
	f := newBeatFacts(mb)
	cls := f.classes()
	res := &ClassifyResult{
		Algorithm: ClassifyName, Params: p, Lead: mb.info.lead, LeadIndex: mb.info.leadIndex,
		Leads: mb.leads, Rate: mb.info.rate, Samples: mb.info.samples, Count: len(cls),
	}
	res.Beats = make([]ClassifiedBeat, len(cls))
	for i, c := range cls {
		res.Beats[i] = ClassifiedBeat{Sample: mb.samples[i], Time: float64(mb.samples[i]) / mb.info.rate, RR: f.pre[i], Class: c, Family: f.m.family[i]}
		res.Classes.add(c)
	}
	return res
}

// classes assigns the EC57 classes.
func (f *beatFacts) classes() []Class {
	n := len(f.pre)
	m := f.m
	out := make([]Class, n)
	v := make([]bool, n)
	for i := range n {
		fam := m.family[i]
		pr := 1.0
		if f.pre[i] > 0 && f.local[i] > 0 {
			pr = f.pre[i] / f.local[i]
		}
		dis := m.corr[i] < 0.8 && m.famCorr[fam] < 0.8
		wide := m.width[i] > 1.3 || m.famWidth[fam] > 1.3
		v[i] = dis && (wide || pr < 0.9)
	}
	local := f.localRR(v)
	for i := range n {
		switch {
		case v[i]:
			out[i] = ClassV
		case f.pre[i] > 0 && local[i] > 0 && f.pre[i] < 0.85*local[i]:
			out[i] = ClassS
		default:
			out[i] = ClassN
		}
	}
	return out
}
