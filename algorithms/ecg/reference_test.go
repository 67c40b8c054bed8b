package ecg

// The detector as it was before it was made faster (features, candidates
// and toInt rewritten for wasm throughput, see docs/benchmarks.md): the
// reference the rewrite must match exactly, sample for sample.

import "math"

// refDetector holds the rate-derived constants, in samples.
type refDetector struct {
	n1      int // low-pass moving-average length (25 ms)
	nh      int // high-pass moving-average length (125 ms)
	nd      int // slope lag (10 ms)
	nw      int // envelope integration window (80 ms)
	refr    int // refractory period (200 ms)
	twave   int // T-wave discrimination interval (360 ms)
	pwave   int // P-wave discrimination interval (250 ms: the longest P-to-R distance)
	blsSpan int // maximum distance of the two slopes of a QRS (150 ms)
	sec     int // one second
	delay   int // band-pass group delay

	scratch []int64 // filter memory reused from block to block
}

func newRefDetector(rate float64) *refDetector {
	d := &refDetector{
		n1:      msToSamples(25, rate),
		nh:      msToSamples(125, rate),
		nd:      msToSamples(10, rate),
		nw:      msToSamples(80, rate),
		refr:    msToSamples(200, rate),
		twave:   msToSamples(360, rate),
		pwave:   msToSamples(250, rate),
		blsSpan: msToSamples(150, rate),
		sec:     msToSamples(1000, rate),
	}
	d.delay = (d.n1 - 1) + (d.nh-1)/2
	return d
}

// refMovingAverage writes the causal moving average of x over n samples to
// dst, with x extended to the left by its first value. Integer division
// truncates towards zero, the same on every platform.
func refMovingAverage(dst, x []int64, n int) {
	if len(x) == 0 {
		return
	}
	sum := x[0] * int64(n)
	for i := range x {
		old := x[0]
		if i-n >= 0 {
			old = x[i-n]
		}
		sum += x[i] - old
		dst[i] = sum / int64(n)
	}
}

// refCandidate is an envelope peak that may be a QRS complex.
type refCandidate struct {
	pos   int   // envelope peak, index into the window
	h     int64 // envelope height
	slope int64 // maximum |slope| in the complex
	fid   int   // fiducial point (largest band-passed deflection)
	bls   bool  // looks like a baseline shift: one slope direction only
}

// features computes the band-passed signal, slope and envelope of x, in
// the refDetector's scratch memory (valid until the next call).
func (d *refDetector) features(x []int32) (bp, slope, env []int64) {
	n := len(x)
	if cap(d.scratch) < 5*n {
		d.scratch = make([]int64, 5*n)
	}
	s := d.scratch[:5*n]
	a, b := s[:n], s[n:2*n]
	bp, slope, env = s[2*n:3*n], s[3*n:4*n], s[4*n:]
	// Eight fractional bits keep the truncating moving averages from
	// losing small complexes (a V1 QRS can be a few ADC units tall).
	for i, v := range x {
		a[i] = int64(v) << 8
	}
	refMovingAverage(b, a, d.n1)
	refMovingAverage(a, b, d.n1) // a: low-passed
	refMovingAverage(b, a, d.nh) // b: its 125 ms baseline
	half := (d.nh - 1) / 2
	for i := range bp {
		bp[i] = a[max(0, i-half)] - b[i]
	}
	var sum int64
	for i := range slope {
		slope[i] = bp[i] - bp[max(0, i-d.nd)]
		sum += abs64(slope[i])
		if i >= d.nw {
			sum -= abs64(slope[i-d.nw])
		}
		env[i] = sum
	}
	return bp, slope, env
}

// candidates finds the envelope peaks that are the largest within the
// refractory period on either side.
func (d *refDetector) candidates(bp, slope, env []int64) []refCandidate {
	var peaks []int
	n := len(env)
	for i := 1; i+1 < n; i++ {
		if env[i] > env[i-1] && env[i] >= env[i+1] {
			peaks = append(peaks, i)
		}
	}
	var out []refCandidate
	for k, p := range peaks {
		keep := true
		for j := k - 1; j >= 0 && p-peaks[j] <= d.refr; j-- {
			if env[peaks[j]] >= env[p] {
				keep = false
				break
			}
		}
		for j := k + 1; keep && j < len(peaks) && peaks[j]-p <= d.refr; j++ {
			if env[peaks[j]] > env[p] {
				keep = false
			}
		}
		if !keep {
			continue
		}
		c := refCandidate{pos: p, h: env[p]}
		lo := p - d.nw - d.nd
		if lo < 0 {
			lo = 0
		}
		var maxUp, maxDown int64
		upAt, downAt := lo, lo
		best := int64(-1)
		for i := lo; i <= p; i++ {
			if s := slope[i]; s > maxUp {
				maxUp, upAt = s, i
			} else if -s > maxDown {
				maxDown, downAt = -s, i
			}
			if a := abs64(bp[i]); a > best {
				best, c.fid = a, i
			}
		}
		c.slope = max(maxUp, maxDown)
		c.bls = !(maxUp > maxDown/8 && maxDown > maxUp/8 && abs(upAt-downAt) < d.blsSpan)
		c.fid -= d.delay
		if c.fid < 0 {
			c.fid = 0
		}
		out = append(out, c)
	}
	return out
}

// dropMissing removes the candidates whose filter support touches a
// missing sample.
func (d *refDetector) dropMissing(cands []refCandidate, missing []bool) []refCandidate {
	count := make([]int32, len(missing)+1) // prefix counts
	for i, m := range missing {
		count[i+1] = count[i]
		if m {
			count[i+1]++
		}
	}
	span := d.nw + d.nd + 2*d.n1 + d.nh
	out := cands[:0]
	for _, c := range cands {
		lo := max(0, c.pos-span)
		hi := min(len(missing), c.pos+d.nh/2+1)
		if count[hi] == count[lo] {
			out = append(out, c)
		}
	}
	return out
}

// refHistory is a ring of the last 8 values and their mean.
type refHistory struct {
	v [8]int64
	n int
}

func (h *refHistory) push(x int64) {
	copy(h.v[1:], h.v[:7])
	h.v[0] = x
	if h.n < 8 {
		h.n++
	}
}

func (h *refHistory) fill(x int64) {
	for i := range h.v {
		h.v[i] = x
	}
	h.n = 8
}

func (h *refHistory) mean() int64 {
	var s int64
	for _, x := range h.v {
		s += x
	}
	return s / 8
}

// detect returns the fiducial points of the QRS complexes in x, ascending
// and at least a refractory period apart.
//
// missing, if not nil, marks the samples of x that were missing (and hold
// the previous value): a complex whose filters saw a missing sample is not
// a refCandidate, since the jump at the end of a gap looks like a QRS.
func (d *refDetector) detect(x []int32, missing []bool) []int {
	bp, slope, env := d.features(x)
	cands := d.candidates(bp, slope, env)
	if missing != nil {
		cands = d.dropMissing(cands, missing)
	}
	if len(cands) == 0 {
		return nil
	}

	// initLevel is the mean of the 1-second envelope maxima over the 8 s
	// starting at from (fewer if the window is shorter).
	initLevel := func(from int) int64 {
		var h refHistory
		for k := 0; k < 8; k++ {
			lo, hi := from+k*d.sec, from+(k+1)*d.sec
			if lo >= len(env) {
				break
			}
			hi = min(hi, len(env))
			var m int64
			for _, v := range env[lo:hi] {
				m = max(m, v)
			}
			h.push(m)
		}
		if h.n == 0 {
			return 0
		}
		var s int64
		for _, v := range h.v[:h.n] {
			s += v
		}
		return s / int64(h.n)
	}

	var qrs, noise, rr refHistory
	qrs.fill(initLevel(0))
	noise.fill(0)
	rr.fill(int64(d.sec))
	thresh := func() int64 {
		q, n := qrs.mean(), noise.mean()
		return n + (q-n)*5/16
	}
	th := thresh()

	var beats []int
	last := -1    // index into cands of the last beat
	lastPos := -1 // its envelope peak position
	var lastSlope int64
	accept := func(i int) {
		c := cands[i]
		qrs.push(c.h)
		if lastPos >= 0 {
			rr.push(int64(c.pos - lastPos))
		}
		th = thresh()
		last, lastPos, lastSlope = i, c.pos, c.slope
		beats = append(beats, c.fid)
	}
	isT := func(c refCandidate) bool {
		return lastPos >= 0 && c.pos-lastPos < d.twave && 2*c.slope < lastSlope
	}
	// isP reports a wave that is followed closely by a larger, steeper
	// complex: a tall P wave (or a notch) in front of its QRS.
	isP := func(i int) bool {
		c := cands[i]
		for j := i + 1; j < len(cands) && cands[j].pos-c.pos < d.pwave; j++ {
			if n := cands[j]; n.h > c.h && n.slope > c.slope {
				return true
			}
		}
		return false
	}
	searchBack := func(upto int) {
		for lastPos >= 0 {
			limit := rr.mean()*3/2 + int64(d.nw)
			if int64(upto-lastPos) <= limit {
				return
			}
			best := -1
			for j := last + 1; j < len(cands) && cands[j].pos < upto; j++ {
				c := cands[j]
				if c.pos-lastPos < d.twave || c.bls || c.h <= th/2 {
					continue
				}
				if best < 0 || c.h > cands[best].h {
					best = j
				}
			}
			if best < 0 {
				return
			}
			accept(best)
		}
	}

	levelsAt := 0 // where the levels were last initialised
	for i, c := range cands {
		searchBack(c.pos)
		if c.pos-max(lastPos, levelsAt) > 8*d.sec {
			// 8 s without a beat: the levels no longer describe the
			// signal (an artefact inflated them, or the amplitude fell).
			qrs.fill(initLevel(c.pos - 8*d.sec))
			noise.fill(0)
			th = thresh()
			levelsAt = c.pos
		}
		if c.h > th && !c.bls && !isT(c) && !isP(i) {
			accept(i)
			continue
		}
		noise.push(c.h)
		th = thresh()
	}
	searchBack(len(x))

	// Fiducials of distinct complexes can still come closer than the
	// refractory period after refinement; keep the first.
	out := beats[:0]
	for _, b := range beats {
		if len(out) > 0 && b-out[len(out)-1] < d.refr {
			continue
		}
		out = append(out, b)
	}
	return out
}

func refToInt(dst []int32, miss []bool, v []float64, gain float64, unit string) ([]int32, []bool) {
	scale := gain
	if !(scale > 0) {
		switch unit {
		case "uV", "µV":
			scale = 1
		case "V":
			scale = 1e6
		default:
			scale = 1000
		}
	}
	const limit = 1 << 24
	var prev int32
	for _, s := range v {
		if s == s {
			f := math.Round(s * scale)
			switch {
			case f > limit:
				f = limit
			case f < -limit:
				f = -limit
			}
			prev = int32(f)
		} else if miss == nil {
			miss = make([]bool, len(v))
		}
		if miss != nil {
			miss[len(dst)] = s != s
		}
		dst = append(dst, prev)
	}
	return dst, miss
}
