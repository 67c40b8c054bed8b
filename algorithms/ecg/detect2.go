package ecg

import "slices"

// The ecg.beats@2 detector: the decisions of ecg.beats@1 (detect.go) on an
// envelope that combines both leads, each normalised by its own level.
//
//   unusable   a sample of a lead is unusable when it is missing or part of
//              a run of identical values of 60 ms or more (the ADC held at
//              its limit, a disconnected or flat lead: a real ECG never
//              stays on one integer that long, see TestFlatRuns); an
//              envelope position whose filter support holds an unusable
//              sample is not used on that lead
//   level      per lead, the median over the block's window of the
//              2-second maxima of its usable envelope: the height of its
//              QRS complexes, or of its noise when that is larger
//   combined   the sum over the usable leads of envelope / level: a lead
//              that saturates or goes flat drops out where it does, a noisy
//              lead weighs less, and a complex seen on both leads counts
//              twice where noise on one of them counts once
//   features   slopes and fiducial point of a candidate on the first lead
//              where it is usable there, else on the second
//
// Every lead-dependent quantity comes from the block's own window, so the
// block design (beats.go) still gives the same beats in any chunking. The
// scaling is one IEEE division per lead and block and one multiplication
// per sample, truncated to an integer: the same on every platform.

// levelScale is the combined envelope of a complex as tall as a lead's level.
const levelScale = 4096

// leadView is one lead's features for detect2, unpadded (block indices).
type leadView struct {
	bp, env []int64
	ok      []bool  // the envelope position saw no unusable sample
	noisy   []bool  // per level window: an artefact on this lead
	k       float64 // levelScale / level; 0 when the lead is unusable throughout
	level   int64   // median 2-second maximum of the usable envelope
	floor   int64   // median usable envelope
}

// usable reports whether envelope position p of the lead saw no unusable
// sample.
func (l *leadView) usable(p int) bool { return l.k != 0 && l.ok[p] }

// flatSamples is the shortest run of identical samples taken as a
// saturated or flat lead (60 ms).
func (d *detector) flatSamples() int { return max(2, (6*d.sec+50)/100) }

// view computes the features of the lead in ws and its unusable samples.
func (d *detector) view(ws *workspace, missing []bool) leadView {
	bp, env, _ := d.features(ws)
	p := d.pad()
	x := ws.x[p:]
	n := len(x)
	if cap(ws.bad) < n+1 {
		ws.bad = make([]int32, n+1)
	}
	bad := ws.bad[:n+1]
	bad[0] = 0
	flat := d.flatSamples()
	for i := 0; i < n; {
		j := i + 1
		for j < n && x[j] == x[i] {
			j++
		}
		run := j-i >= flat
		for k := i; k < j; k++ {
			u := run || (missing != nil && missing[k])
			bad[k+1] = bad[k]
			if u {
				bad[k+1]++
			}
		}
		i = j
	}
	if cap(ws.ok) < n {
		ws.ok = make([]bool, n)
	}
	ok := ws.ok[:n]
	span, ahead := d.nw+d.nd+2*d.n1+d.nh, d.nh/2+1
	for q := range ok {
		ok[q] = bad[min(n, q+ahead)] == bad[max(0, q-span)]
	}
	l := leadView{bp: bp[p:], env: env[p:], ok: ok}
	win := d.levelWindow()
	nwin := (n + win - 1) / win
	if cap(ws.wmax) < 2*nwin {
		ws.wmax = make([]int64, 2*nwin)
	}
	if cap(ws.noisy) < nwin {
		ws.noisy = make([]bool, nwin)
	}
	wmax, wmean, noisy := ws.wmax[:nwin], ws.wmax[nwin:2*nwin], ws.noisy[:nwin]
	lv := ws.levels[:0]
	for w := range wmax {
		lo, hi := w*win, min(n, (w+1)*win)
		var m, sum, cnt int64
		for q := lo; q < hi; q++ {
			if l.ok[q] {
				m = max(m, l.env[q])
				sum += l.env[q]
				cnt++
			}
		}
		wmax[w] = m
		wmean[w] = 0
		if cnt > 0 {
			wmean[w] = sum / cnt
		}
		if m > 0 {
			lv = append(lv, m)
		}
	}
	if len(lv) > 0 {
		slices.Sort(lv)
		l.level = lv[len(lv)/2]
	}
	// The typical window mean, with the level samples' memory.
	mv := lv[len(lv):]
	for w, m := range wmax {
		if m > 0 {
			mv = append(mv, wmean[w])
		}
	}
	var meanLevel int64
	if len(mv) > 0 {
		slices.Sort(mv)
		meanLevel = mv[len(mv)/2]
	}
	for w, m := range wmax {
		noisy[w] = m > noisyLevels*l.level || wmean[w] > noisyMeans*meanLevel
	}
	l.noisy = noisy
	// The floor: the median usable envelope, every 4th sample.
	fl := lv[len(lv):]
	for q := 0; q < n; q += 4 {
		if l.ok[q] {
			fl = append(fl, l.env[q])
		}
	}
	if len(fl) > 0 {
		slices.Sort(fl)
		l.floor = fl[len(fl)/2]
	}
	ws.levels = lv[:0]
	if l.level > 0 {
		l.k = levelScale / float64(l.level)
	}
	return l
}

// levelWindow is the window of the level maxima (2 s).
func (d *detector) levelWindow() int { return 2 * d.sec }

// noisyLevels: a level window whose maximum exceeds this many times the
// lead's level holds an artefact (or noise) on that lead.
const noisyLevels = 3

// noisyMeans: a level window whose mean envelope exceeds this many times
// the lead's typical window mean is noisy on that lead (muscle noise, or
// electrode motion that moves the baseline without one large artefact).
const noisyMeans = 2

// uses reports which of the leads position p is read from: each lead
// where it is usable, except that of two usable leads one that is noisy
// in p's level window is left out while the other is not.
func (d *detector) uses(leads []leadView, p int) (a, b bool) {
	a = leads[0].usable(p)
	if len(leads) == 1 {
		return a, false
	}
	b = leads[1].usable(p)
	if a && b {
		w := p / d.levelWindow()
		na, nb := leads[0].noisy[w], leads[1].noisy[w]
		a, b = !na || nb, !nb || na
	}
	return a, b
}

// detect2 is the ecg.beats@2 detector on the block in ws (the first lead)
// and, when ws2 is not nil, the same samples of the second lead in ws2.
func (d *detector) detect2(ws *workspace, missing []bool, ws2 *workspace, missing2 []bool) []int {
	leads := []leadView{d.view(ws, missing)}
	if ws2 != nil {
		leads = append(leads, d.view(ws2, missing2))
	}
	n := len(leads[0].env)
	if cap(ws.comb) < n {
		ws.comb = make([]int64, n)
	}
	env := ws.comb[:n]
	d.combine(env, leads)
	peaks := localMaxima(ws.peaks, env)
	ws.peaks = peaks
	cands := ws.cands[:0]
	for k, pk := range peaks {
		h := env[pk]
		keep := h > 0
		for j := k - 1; keep && j >= 0 && pk-peaks[j] <= d.refr; j-- {
			if env[peaks[j]] >= h {
				keep = false
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
		ua, ub := d.uses(leads, pk)
		li := 0
		switch {
		case ua:
		case ub:
			li = 1
		default:
			continue
		}
		l := &leads[li]
		c := candidate{pos: pk, h: h, lead: li}
		lo := max(0, pk-d.nw-d.nd)
		maxUp, maxDown, upAt, downAt, fid := slopes(l.bp, lo, pk, d.nd)
		c.slope = int64(float64(max(maxUp, maxDown)) * l.k)
		c.bls = !(maxUp > maxDown/8 && maxDown > maxUp/8 && abs(upAt-downAt) < d.blsSpan)
		c.fid = max(0, fid-d.delay)
		cands = append(cands, c)
	}
	ws.cands = cands
	acc := d.decide(cands, env, true)
	for k, i := range acc {
		acc[k] = cands[i].fid
	}
	return d.apart(acc)
}

// combine writes the combined envelope of the leads to env: at each
// position the weighted mean over the leads usable there of envelope ×
// levelScale / level. A lead's weight is the square of its quality (level
// / floor: how far its complexes stand out of its own noise) relative to
// the best lead's, so that a lead whose P and T waves or noise are as
// steep as its QRS complexes adds little where both are usable, and all
// it has where it is the only one.
func (d *detector) combine(env []int64, leads []leadView) {
	clear(env)
	var q [2]float64
	best := 0.0
	for i := range leads {
		if l := &leads[i]; l.k != 0 && l.floor > 0 {
			q[i] = float64(l.level) / float64(l.floor)
		} else if l.k != 0 {
			q[i] = levelScale // no floor: nothing but complexes
		}
		best = max(best, q[i])
	}
	if len(leads) == 1 || q[1] == 0 || q[0] == 0 {
		for i := range leads {
			l := &leads[i]
			for p, e := range l.env {
				if l.usable(p) {
					env[p] = int64(float64(e) * l.k)
				}
			}
			if q[0] != 0 {
				// Where the first lead is usable the second is not needed
				// when it is unusable throughout; else it fills the gaps.
				break
			}
		}
		if q[0] != 0 && len(leads) == 2 && q[1] == 0 {
			return
		}
		return
	}
	var w [2]float64
	for i := range w {
		r := q[i] / best
		w[i] = float64(r * r)
	}
	sum := w[0] + w[1]
	a, b := &leads[0], &leads[1]
	ka, kb := float64(a.k*w[0])/sum, float64(b.k*w[1])/sum
	for p := range env {
		oa, ob := d.uses(leads, p)
		switch {
		case oa && ob:
			env[p] = int64(float64(a.env[p])*ka) + int64(float64(b.env[p])*kb)
		case oa:
			env[p] = int64(float64(a.env[p]) * a.k)
		case ob:
			env[p] = int64(float64(b.env[p]) * b.k)
		}
	}
}
