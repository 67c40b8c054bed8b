package ecg

import (
	"math"
	"slices"
)

// Morphology: the patient-adaptive half of beat classification, done in
// Merge on the whole record. Beats are grouped into morphology families
// (clusters) by correlation of their QRS complexes on both leads; the
// largest family is the patient's dominant beat, and every beat and family
// is described relative to it (correlation, width, amplitude), so that the
// rules that follow need no knowledge of the patient's lead placement,
// bundle branch block or amplitude. Only +, −, ×, ÷ and math.Sqrt (exact
// in IEEE arithmetic on every platform) are used, with products written
// float64(a*b) so that no platform fuses them.

// The QRS window compared between beats, in snippet steps around the
// fiducial point (−100 ms … +150 ms), and the alignment searched (±20 ms).
const (
	qrsFrom = snippetZero - 10
	qrsTo   = snippetZero + 15 // inclusive
	qrsLen  = qrsTo - qrsFrom + 1
	maxLag  = 2
)

// Clustering constants. joinCorr is the correlation above which a beat
// joins a family; joinAmp bounds the ratio of its amplitude to the family's
// (a beat twice as tall is a different beat even when its shape is the
// same); maxFamilies caps the work on noisy records (a beat that fits no
// family then joins the nearest); templateWeight is how slowly a family's
// template follows its members (the mean of the first templateWeight
// members, then an exponential average over about as many).
const (
	joinCorr       = 0.90
	joinAmp        = 1.6
	maxFamilies    = 48
	templateWeight = 32
)

// morphology is what Merge derives from the snippets of every beat.
type morphology struct {
	leads int
	n     int
	// seg holds each beat's QRS window on every lead, scaled by the lead's
	// typical amplitude: n × leads × (qrsLen + 2 maxLag) values.
	seg    []float64
	family []int // family of each beat
	size   []int // beats per family
	tmpl   [][]float64
	// dominant is the family of the patient's dominant beat.
	dominant int
	// Per beat, relative to the dominant template.
	corr  []float64 // best correlation over the alignments
	width []float64 // QRS width ÷ the dominant width
	amp   []float64 // RMS amplitude ÷ the dominant's
	// Per family, its template relative to the dominant template.
	famCorr  []float64
	famWidth []float64
	famAmp   []float64
	// full holds each beat's whole snippet on every lead (P wave, QRS and
	// T wave), detrended and scaled: n × leads × SnippetPoints values.
	full []float64
	// fullCorr and famFullCorr are the correlations of the whole snippet
	// of each beat and of each family's mean snippet with the dominant
	// family's mean snippet: a ventricular beat has no P wave before it
	// and a T wave of its own.
	fullCorr    []float64
	famFullCorr []float64
	// pCorr is the correlation of each beat's P-wave window (−220 … −60
	// ms, both leads) with the dominant family's mean one.
	pCorr []float64
}

// The P-wave window, in snippet steps.
const (
	pFrom = snippetZero - 22
	pTo   = snippetZero - 6 // inclusive
)

// segStride is the length of one beat's stored window on one lead.
const segStride = qrsLen + 2*maxLag

// newMorphology cuts, scales and clusters the beats. snip holds the
// snippets of each lead (n × SnippetPoints), gap the beats whose snippet is
// incomplete (they are compared but never start a family).
func newMorphology(snip [][]int16, gap []bool, n int) *morphology {
	m := &morphology{leads: len(snip), n: n}
	m.seg = make([]float64, n*m.leads*segStride)
	// Both leads share one scale, the median peak-to-peak amplitude of the
	// first lead's QRS windows: correlation ignores scale, but the
	// amplitude ratios do not, and a lead with a small QRS (often mostly
	// noise) should weigh less in the combined correlation.
	p2p := make([]float64, n)
	for i := range n {
		lo, hi := math.Inf(1), math.Inf(-1)
		for k := qrsFrom; k <= qrsTo; k++ {
			v := float64(snip[0][i*SnippetPoints+k])
			lo, hi = min(lo, v), max(hi, v)
		}
		p2p[i] = hi - lo
	}
	scale := median(p2p)
	if !(scale > 0) {
		scale = 1
	}
	for l, s := range snip {
		for i := range n {
			// The baseline under the window is the line through the means
			// of the three points at each of its ends (P–R and S–T levels):
			// removing it keeps baseline wander out of the correlation.
			src := s[i*SnippetPoints+qrsFrom-maxLag:][:segStride]
			var a, b float64
			for k := range 3 {
				a += float64(src[k])
				b += float64(src[segStride-1-k])
			}
			a, b = a/3, b/3
			dst := m.seg[(i*m.leads+l)*segStride:][:segStride]
			for k := range dst {
				base := a + float64(float64(b-a)*float64(k-1))/float64(segStride-3)
				dst[k] = (float64(src[k]) - base) / scale
			}
		}
	}
	m.full = make([]float64, n*m.leads*SnippetPoints)
	for l, s := range snip {
		for i := range n {
			src := s[i*SnippetPoints:][:SnippetPoints]
			var a, b float64
			for k := range 3 {
				a += float64(src[k])
				b += float64(src[SnippetPoints-1-k])
			}
			a, b = a/3, b/3
			dst := m.full[(i*m.leads+l)*SnippetPoints:][:SnippetPoints]
			for k := range dst {
				base := a + float64(float64(b-a)*float64(k-1))/float64(SnippetPoints-3)
				dst[k] = (float64(src[k]) - base) / scale
			}
		}
	}
	m.cluster(gap)
	m.relate()
	return m
}

// fullOf returns beat i's whole snippets (all leads).
func (m *morphology) fullOf(i int) []float64 {
	return m.full[i*m.leads*SnippetPoints:][:m.leads*SnippetPoints]
}

// corrLeads is the correlation of x and y (leads × len values each), each
// lead's mean removed.
func corrLeads(x, y []float64, leads int) float64 {
	per := len(x) / leads
	var sxy, sxx, syy float64
	for l := range leads {
		a, b := x[l*per:][:per], y[l*per:][:per]
		ma, mb := mean(a), mean(b)
		for k := range a {
			da, db := a[k]-ma, b[k]-mb
			sxy += float64(da * db)
			sxx += float64(da * da)
			syy += float64(db * db)
		}
	}
	if !(sxx > 0 && syy > 0) {
		return 0
	}
	return sxy / math.Sqrt(float64(sxx*syy))
}

// window returns beat i's QRS window on lead l shifted by lag steps.
func (m *morphology) window(i, l, lag int) []float64 {
	return m.seg[(i*m.leads+l)*segStride+maxLag+lag:][:qrsLen]
}

// corrWith returns the correlation of beat i (at the best alignment) with
// template t (leads × qrsLen values, each lead's mean removed), that lag,
// and the ratio of the beat's RMS amplitude to the template's.
func (m *morphology) corrWith(i int, t []float64) (best float64, bestLag int, amp float64) {
	best = -2
	for lag := -maxLag; lag <= maxLag; lag++ {
		var sxy, sxx, syy float64
		for l := range m.leads {
			x := m.window(i, l, lag)
			y := t[l*qrsLen:][:qrsLen]
			mx := mean(x)
			for k := range x {
				d := x[k] - mx
				sxy += float64(d * y[k])
				sxx += float64(d * d)
				syy += float64(y[k] * y[k])
			}
		}
		c := 0.0
		if sxx > 0 && syy > 0 {
			c = sxy / math.Sqrt(float64(sxx*syy))
		}
		if c > best {
			best, bestLag = c, lag
			amp = 0
			if syy > 0 {
				amp = math.Sqrt(sxx / syy)
			}
		}
	}
	return best, bestLag, amp
}

// centred returns beat i's windows at lag with each lead's mean removed.
func (m *morphology) centred(i, lag int) []float64 {
	out := make([]float64, m.leads*qrsLen)
	for l := range m.leads {
		x := m.window(i, l, lag)
		mx := mean(x)
		for k := range x {
			out[l*qrsLen+k] = x[k] - mx
		}
	}
	return out
}

// cluster assigns every beat to a family, in record order: the family whose
// template it matches best when the match is good enough, else a new one.
func (m *morphology) cluster(gap []bool) {
	m.family = make([]int, m.n)
	for i := range m.n {
		best, bestC, bestLag := -2.0, -1, 0
		ok := false
		for c, t := range m.tmpl {
			r, lag, a := m.corrWith(i, t)
			fits := r >= joinCorr && a <= joinAmp && float64(a*joinAmp) >= 1
			if fits && (!ok || r > best) || !ok && !fits && r > best {
				best, bestC, bestLag, ok = r, c, lag, fits
			}
		}
		if !ok && (len(m.tmpl) < maxFamilies && !gap[i] || bestC < 0) {
			m.tmpl = append(m.tmpl, m.centred(i, 0))
			m.size = append(m.size, 1)
			m.family[i] = len(m.tmpl) - 1
			continue
		}
		m.family[i] = bestC
		m.size[bestC]++
		w := 1 / float64(min(m.size[bestC], templateWeight))
		x := m.centred(i, bestLag)
		t := m.tmpl[bestC]
		for k := range t {
			t[k] += float64(w * (x[k] - t[k]))
		}
	}
	for c, s := range m.size {
		if s > m.size[m.dominant] {
			m.dominant = c
		}
	}
}

// qrsWidth is the width, in snippet steps, of the middle 80 % of the
// squared slope of a centred window (all leads): a robust QRS duration
// that needs no onset or offset threshold.
func qrsWidth(w []float64, leads int) float64 {
	var e [qrsLen - 1]float64
	var total float64
	for l := range leads {
		x := w[l*qrsLen:][:qrsLen]
		for k := 0; k+1 < qrsLen; k++ {
			d := x[k+1] - x[k]
			e[k] += float64(d * d)
		}
	}
	for _, v := range e {
		total += v
	}
	if !(total > 0) {
		return 0
	}
	lo, hi := float64(0.1*total), float64(0.9*total)
	var cum float64
	var a, b float64 = -1, -1
	for k, v := range e {
		next := cum + v
		if a < 0 && next >= lo {
			a = float64(k) + (lo-cum)/v
		}
		if b < 0 && next >= hi {
			b = float64(k) + (hi-cum)/v
		}
		cum = next
	}
	return b - a
}

// relate describes every beat and family relative to the dominant template.
func (m *morphology) relate() {
	if m.n == 0 {
		return
	}
	dom := m.tmpl[m.dominant]
	domW := max(qrsWidth(dom, m.leads), 0.5)
	m.corr = make([]float64, m.n)
	m.width = make([]float64, m.n)
	m.amp = make([]float64, m.n)
	for i := range m.n {
		r, lag, a := m.corrWith(i, dom)
		m.corr[i], m.amp[i] = r, a
		m.width[i] = qrsWidth(m.centred(i, lag), m.leads) / domW
	}
	m.famCorr = make([]float64, len(m.tmpl))
	m.famWidth = make([]float64, len(m.tmpl))
	m.famAmp = make([]float64, len(m.tmpl))
	for c, t := range m.tmpl {
		var sxy, sxx, syy float64
		for k := range t {
			sxy += float64(t[k] * dom[k])
			sxx += float64(t[k] * t[k])
			syy += float64(dom[k] * dom[k])
		}
		if sxx > 0 && syy > 0 {
			m.famCorr[c] = sxy / math.Sqrt(float64(sxx*syy))
			m.famAmp[c] = math.Sqrt(sxx / syy)
		}
		m.famWidth[c] = qrsWidth(t, m.leads) / domW
	}
	// Mean whole snippets of every family, in beat order.
	per := m.leads * SnippetPoints
	famFull := make([][]float64, len(m.tmpl))
	for c := range famFull {
		famFull[c] = make([]float64, per)
	}
	for i := range m.n {
		t := famFull[m.family[i]]
		for k, v := range m.fullOf(i) {
			t[k] += v
		}
	}
	for c, t := range famFull {
		for k := range t {
			t[k] /= float64(m.size[c])
		}
	}
	m.famFullCorr = make([]float64, len(m.tmpl))
	for c, t := range famFull {
		m.famFullCorr[c] = corrLeads(t, famFull[m.dominant], m.leads)
	}
	m.fullCorr = make([]float64, m.n)
	for i := range m.n {
		m.fullCorr[i] = corrLeads(m.fullOf(i), famFull[m.dominant], m.leads)
	}
	pw := pTo - pFrom + 1
	pWindow := func(x []float64) []float64 {
		out := make([]float64, 0, m.leads*pw)
		for l := range m.leads {
			out = append(out, x[l*SnippetPoints+pFrom:l*SnippetPoints+pTo+1]...)
		}
		return out
	}
	domP := pWindow(famFull[m.dominant])
	m.pCorr = make([]float64, m.n)
	for i := range m.n {
		m.pCorr[i] = corrLeads(pWindow(m.fullOf(i)), domP, m.leads)
	}
}

func mean(x []float64) float64 {
	var s float64
	for _, v := range x {
		s += v
	}
	return s / float64(len(x))
}

// median returns the median of v (the mean of the middle two for an even
// count), 0 for none. It sorts a copy.
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	c := append([]float64(nil), v...)
	slices.Sort(c)
	h := len(c) / 2
	if len(c)%2 == 1 {
		return c[h]
	}
	return (c[h-1] + c[h]) / 2
}
