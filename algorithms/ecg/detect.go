package ecg

import "sync"

// The QRS detector: a Hamilton–Tompkins style detector (Hamilton &
// Tompkins 1986; Hamilton, "Open Source ECG Analysis", 2002) in integer
// arithmetic, with every filter length derived from the sample rate so that
// the same code works from 100 to 1000 Hz.
//
//   band-pass  two moving averages of 25 ms (low-pass, zero at 40 Hz), minus
//              a centred 125 ms moving average (high-pass, about 3.5 Hz)
//   slope      first difference over 10 ms
//   envelope   |slope| integrated over an 80 ms moving window
//   peaks      local maxima of the envelope, the largest within ±200 ms
//              (refractory period)
//   decision   adaptive threshold between the running QRS and noise peak
//              levels; T-wave rejection by maximum slope within 360 ms of
//              the previous beat; P-wave rejection (a wave followed within
//              250 ms by a larger and steeper one); baseline-shift
//              rejection (a QRS has both a rising and a falling slope
//              within 150 ms); search-back for a missed beat at half the
//              threshold after 1.5 mean RR intervals; threshold
//              re-initialisation after 8 s without a beat.
//
// The detector works on a whole block at once, so the P-wave rule may look
// 250 ms ahead: a causal detector would have to delay its decision by as
// much.
//
// Every filter is a finite impulse response filter, so the envelope at a
// sample depends only on a fixed window of input samples: this is what lets
// the block design (see beats.go) give the same candidates in any chunking.
// Only integer arithmetic is used, so results are identical on every
// platform.

// detector holds the rate-derived constants, in samples.
type detector struct {
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
}

// msToSamples converts milliseconds to samples, at least 1. Rates are
// finite positive floats; the product and the rounding are exact IEEE
// operations, identical everywhere.
func msToSamples(ms int, rate float64) int {
	n := int(float64(ms)*rate/1000 + 0.5)
	if n < 1 {
		n = 1
	}
	return n
}

func newDetector(rate float64) *detector {
	d := &detector{
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

// workspace is the memory one detection needs, kept in a pool so that a
// volunteer running chunk after chunk does not allocate (and clear, and
// collect) a megabyte per block: the single-threaded wasm heap pays dearly
// for that.
type workspace struct {
	x     []int32 // the block in integers, after pad leading copies of its first sample
	miss  []bool  // the block's missing samples
	s     []int64 // filter outputs
	peaks []int   // envelope maxima
	cands []candidate
	// ecg.beats@2 (detect2.go): the combined envelope, a lead's prefix
	// counts of unusable samples, and its level samples.
	comb   []int64
	bad    []int32
	ok     []bool
	wmax   []int64
	noisy  []bool
	levels []int64
}

var workspaces = sync.Pool{New: func() any { return new(workspace) }}

// pad is how many samples before the block the filters look back: the
// padded samples repeat the first one (see features).
func (d *detector) pad() int {
	return max(d.n1, d.nh, (d.nh-1)/2, d.nd+d.nw)
}

// candidate is an envelope peak that may be a QRS complex.
type candidate struct {
	pos   int   // envelope peak, index into the window
	h     int64 // envelope height
	slope int64 // maximum |slope| in the complex
	fid   int   // fiducial point (largest band-passed deflection)
	bls   bool  // looks like a baseline shift: one slope direction only
	lead  int   // ecg.beats@2: the lead its slopes and fiducial come from
}

// features computes the band-passed signal and the envelope of x, and the
// envelope's local maxima, in the workspace (valid until its next use).
//
// x holds the block after d.pad() leading samples, which features sets
// to the block's first sample: each moving average then sees its input
// extended to the left by its first value, as the filters are defined, and
// the samples before the block need no special case. (A constant input
// passes every moving average unchanged, so the padded band-passed signal
// and envelope are 0.) The returned slices are indexed like the padded x;
// peaks are indices of the block, not of x.
//
// The moving averages truncate towards zero when they divide a window sum
// by its length. They do so in float64, which is exact here and cheaper
// than an int64 division (a runtime call on wasm): the inputs are at most
// 2^32 in magnitude (|x| <= 2^24 scaled by 2^8) and the windows at most
// 2^9 samples long, so a sum and its length convert exactly; when s/n is
// not an integer it is at least 1/n >= 2^-9 away from the next one, far
// more than half the float64 spacing below 2^33 (2^-20), so the correctly
// rounded quotient truncates to the same integer. TestDivision checks the
// edges.
func (d *detector) features(ws *workspace) (bp, env []int64, peaks []int) {
	x := ws.x
	p := d.pad()
	n := len(x)
	if cap(ws.s) < 4*n {
		ws.s = make([]int64, 4*n)
	}
	s := ws.s[:4*n]
	b, a := s[:n:n], s[n:2*n:2*n]
	bp, env = s[2*n:3*n:3*n], s[3*n:4*n:4*n]
	// Eight fractional bits keep the truncating moving averages from
	// losing small complexes (a V1 QRS can be a few ADC units tall).
	x0 := int64(x[p]) << 8
	for i := range p {
		x[i] = x[p]
		b[i], a[i], bp[i], env[i] = x0, x0, 0, 0
	}
	n1, nh, half, nd, nw := d.n1, d.nh, (d.nh-1)/2, d.nd, d.nw
	f1, fh := float64(n1), float64(nh)
	sumB, sumA, sumC := x0*int64(n1), x0*int64(n1), x0*int64(nh)
	peaks = ws.peaks[:0]
	// The lagged views below all have the length of the block, which
	// lets the compiler drop the bounds checks in the loop.
	m := n - p
	xi, xl := x[p:], x[p-n1:][:m]
	bi, bl := b[p:][:m], b[p-n1:][:m]
	ai, al, ah := a[p:][:m], a[p-nh:][:m], a[p-half:][:m]
	bpi, bpd := bp[p:][:m], bp[p-nd:][:m]
	bpw, bpwd := bp[p-nw:][:m], bp[p-nw-nd:][:m]
	envi := env[p:][:m]
	// Three loops in functions of their own, not one: each keeps its few
	// live values in registers, where a fused loop (or three in one
	// function) made the wasm code spill to memory every sample.
	lowPass(xi, xl, bi, bl, ai, sumB, sumA, f1)
	highPass(ai, al, ah, bpi, sumC, fh)
	envelope(bpi, bpd, bpw, bpwd, envi)
	// The local maxima, never at the first or last sample (a separate
	// loop: an append in the one above would make the compiler spill its
	// many live values to memory on every sample).
	peaks = localMaxima(peaks, envi)
	ws.peaks = peaks
	return bp, env, peaks
}

// localMaxima returns the indices i of env, 0 < i < len(env)-1, with
// env[i-1] < env[i] >= env[i+1], ascending, in buf's memory if it is big
// enough.
//
// Every index is written to the buffer and the count advances by one for
// a maximum only, so the loop has no branch but its own: under wasm every
// taken branch goes through the function's block dispatcher, and the
// common case (no maximum) took one. The three views of env have one
// length, so the loop has no bounds checks either.
//
//go:noinline
func localMaxima(buf []int, env []int64) []int {
	if len(env) < 3 {
		return buf[:0]
	}
	n := len(env) - 2
	if cap(buf) < n {
		buf = make([]int, n)
	}
	buf = buf[:n]
	prev, cur, next := env[:n], env[1:n+1], env[2:][:n]
	k := 0
	for j := range cur {
		e := cur[j]
		var rise, fall int
		if e > prev[j] {
			rise = 1
		}
		if e >= next[j] {
			fall = 1
		}
		buf[k] = j + 1
		k += rise & fall
	}
	return buf[:k]
}

// lowPass runs the two 25 ms moving averages: b[i] = (sumB += (x[i] -
// x[i-n1])<<8) / n1, a[i] = (sumA += b[i] - b[i-n1]) / n1, where xl and
// bl are x and b delayed by n1 samples. (noinline, like highPass and
// envelope, keeps the loop in a function with few live values.)
//
//go:noinline
func lowPass(xi, xl []int32, bi, bl, ai []int64, sumB, sumA int64, f1 float64) {
	xl, bi, bl, ai = xl[:len(xi)], bi[:len(xi)], bl[:len(xi)], ai[:len(xi)]
	for i := range xi {
		sumB += int64(xi[i])<<8 - int64(xl[i])<<8
		v := int64(float64(sumB) / f1)
		bi[i] = v
		sumA += v - bl[i]
		ai[i] = int64(float64(sumA) / f1)
	}
}

// highPass subtracts the centred 125 ms moving average: al is a delayed
// by nh samples, ah by half of that.
//
//go:noinline
func highPass(ai, al, ah, bp []int64, sumC int64, fh float64) {
	al, ah, bp = al[:len(ai)], ah[:len(ai)], bp[:len(ai)]
	for i := range ai {
		sumC += ai[i] - al[i]
		bp[i] = ah[i] - int64(float64(sumC)/fh)
	}
}

// envelope integrates |slope| = |bp[i] - bp[i-nd]| over nw samples: bpd,
// bpw and bpwd are bp delayed by nd, nw and nw+nd samples. The padding
// before the block is 0, so the sum starts at 0.
//
//go:noinline
func envelope(bp, bpd, bpw, bpwd, env []int64) {
	bpd, bpw, bpwd, env = bpd[:len(bp)], bpw[:len(bp)], bpwd[:len(bp)], env[:len(bp)]
	var sum int64
	for i := range bp {
		sum += abs64(bp[i]-bpd[i]) - abs64(bpw[i]-bpwd[i])
		env[i] = sum
	}
}

// candidates finds the envelope peaks that are the largest within the
// refractory period on either side. bp and env are padded as features
// returns them; positions are indices of the block.
func (d *detector) candidates(ws *workspace, bp, env []int64, peaks []int) []candidate {
	p := d.pad()
	bp, env = bp[p:], env[p:]
	out := ws.cands[:0]
	for k, pk := range peaks {
		h := env[pk]
		keep := true
		for j := k - 1; j >= 0 && pk-peaks[j] <= d.refr; j-- {
			if env[peaks[j]] >= h {
				keep = false
				break
			}
		}
		for j := k + 1; keep && j < len(peaks) && peaks[j]-pk <= d.refr; j++ {
			if env[peaks[j]] > h {
				keep = false
			}
		}
		if !keep {
			continue
		}
		c := candidate{pos: pk, h: h}
		lo := max(0, pk-d.nw-d.nd)
		maxUp, maxDown, upAt, downAt, fid := slopes(bp, lo, pk, d.nd)
		c.fid = fid
		c.slope = max(maxUp, maxDown)
		c.bls = !(maxUp > maxDown/8 && maxDown > maxUp/8 && abs(upAt-downAt) < d.blsSpan)
		c.fid -= d.delay
		if c.fid < 0 {
			c.fid = 0
		}
		out = append(out, c)
	}
	ws.cands = out
	return out
}

// slopes scans bp[lo..pk] for a candidate: the largest rise and fall
// over nd samples (the lag clamped to bp[0]) with their first positions,
// and the first position of the largest |bp|.
//
// The comparisons choose with selects: under wasm every taken branch
// goes through the function's block dispatcher.
//
//go:noinline
func slopes(bp []int64, lo, pk, nd int) (maxUp, maxDown int64, upAt, downAt, fid int) {
	upAt, downAt = lo, lo
	best := int64(-1)
	for i := lo; i <= pk; i++ {
		v := bp[i]
		j := i - nd
		j &^= j >> 63 // max(0, j), which compiled to a branch
		s := v - bp[j]
		// maxUp and maxDown start at 0 and only grow, so a rise (s >
		// maxUp >= 0) is never also a fall (-s > maxDown >= 0): the
		// else of the original if needs no test of its own.
		up := s > maxUp
		down := -s > maxDown
		if up {
			maxUp, upAt = s, i
		}
		if down {
			maxDown, downAt = -s, i
		}
		a := abs64(v)
		if a > best {
			best, fid = a, i
		}
	}
	return maxUp, maxDown, upAt, downAt, fid
}

// dropMissing removes the candidates whose filter support touches a
// missing sample.
func (d *detector) dropMissing(cands []candidate, missing []bool) []candidate {
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

// history is a ring of the last 8 values and their mean.
type history struct {
	v [8]int64
	n int
}

func (h *history) push(x int64) {
	copy(h.v[1:], h.v[:7])
	h.v[0] = x
	if h.n < 8 {
		h.n++
	}
}

func (h *history) fill(x int64) {
	for i := range h.v {
		h.v[i] = x
	}
	h.n = 8
}

func (h *history) mean() int64 {
	var s int64
	for _, x := range h.v {
		s += x
	}
	return s / 8
}

// detect returns the fiducial points of the QRS complexes in the block
// ws.x[d.pad():], ascending and at least a refractory period apart (as
// indices of the block).
//
// missing, if not nil, marks the samples of the block that were missing
// (and hold the previous value): a complex whose filters saw a missing
// sample is not a candidate, since the jump at the end of a gap looks like
// a QRS.
func (d *detector) detect(ws *workspace, missing []bool) []int {
	bp, env, peaks := d.features(ws)
	cands := d.candidates(ws, bp, env, peaks)
	env = env[d.pad():]
	if missing != nil {
		cands = d.dropMissing(cands, missing)
	}
	acc := d.decide(cands, env, false)
	for k, i := range acc {
		acc[k] = cands[i].fid
	}
	return d.apart(acc)
}

// apart drops the fiducial points closer than the refractory period to
// the one before: fiducials of distinct complexes can come that close
// after refinement; the first is kept.
func (d *detector) apart(beats []int) []int {
	out := beats[:0]
	for _, b := range beats {
		if len(out) > 0 && b-out[len(out)-1] < d.refr {
			continue
		}
		out = append(out, b)
	}
	return out
}

// decide runs the threshold logic over the candidates of a block whose
// envelope (unpadded) is env, and returns the indices of the candidates
// taken as beats, ascending. v2 selects ecg.beats@2's refinements
// (detect2.go).
func (d *detector) decide(cands []candidate, env []int64, v2 bool) []int {
	if len(cands) == 0 {
		return nil
	}

	// initLevel is the mean of the 1-second envelope maxima over the 8 s
	// starting at from (fewer if the window is shorter).
	initLevel := func(from int) int64 {
		var h history
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

	var qrs, noise, rr history
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
		beats = append(beats, i)
	}
	isT := func(c candidate) bool {
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
	// isEarlyWeak (ecg.beats@2) reports a candidate that comes within
	// half the mean RR interval of the last beat and is less than half as
	// tall as the mean beat: in noise, most such are artefacts, while an
	// ectopic beat that early is usually as tall as the others or taller.
	isEarlyWeak := func(c candidate) bool {
		return lastPos >= 0 && int64(c.pos-lastPos) < rr.mean()/2 && 2*c.h < qrs.mean()
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
		if c.h > th && !c.bls && !isT(c) && !isP(i) && !(v2 && isEarlyWeak(c)) {
			accept(i)
			continue
		}
		noise.push(c.h)
		th = thresh()
	}
	searchBack(len(env))

	return beats
}

func abs64(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}
