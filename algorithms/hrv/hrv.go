// Package hrv computes heart rate variability from a beat series as the Task
// Force of the European Society of Cardiology and the North American Society
// of Pacing and Electrophysiology defined it (Circulation 93(5), 1996): time
// domain statistics of the NN intervals and Lomb–Scargle band powers.
//
// Compute is a pure function of its inputs; it uses package dmath for sines
// and cosines and rounds every product before it is added, so results are
// bit-identical natively, in js/wasm and on arm64. The package also provides
// the pipeline algorithm ecg.hrv@1 (NewECG), which runs the beat detector
// of package ecg and then Compute.
package hrv

import (
	"errors"
	"fmt"
	"math"
)

// Frequency bands of the Task Force, in Hz. A band holds the periodogram
// frequencies f with Lo <= f < Hi (HF includes its upper edge 0.4 Hz).
const (
	VLFLo = 0.0033
	LFLo  = 0.04
	HFLo  = 0.15
	HFHi  = 0.4
)

// Options tune the NN interval rules and the spectrum. The zero value is not
// valid; start from DefaultOptions.
type Options struct {
	// MinRR and MaxRR are the physiological limits of an RR interval in
	// seconds; intervals outside are artefacts. Defaults 0.3 s (200 bpm) and
	// 2 s (30 bpm). The EC57 test patterns need MaxRR = 4 s.
	MinRR float64 `json:"min_rr_s"`
	MaxRR float64 `json:"max_rr_s"`
	// MaxDeviation is the largest relative difference between an interval
	// and the mean of its neighbours (see LocalBeats) for it to count as NN;
	// default 0.2 (20 %). 0 disables the rule.
	MaxDeviation float64 `json:"max_deviation"`
	// LocalBeats is how many plausible intervals on each side form the local
	// mean; default 5.
	LocalBeats int `json:"local_beats"`
	// WindowSeconds is the length of the spectral windows whose band powers
	// are averaged (Task Force: 300 s). 0 means the whole record as a single
	// window, as the EC57 test patterns require.
	WindowSeconds float64 `json:"window_s"`
	// MinCoverage is the fraction of a window that NN intervals must cover
	// for the window to enter the average; default 0.5.
	MinCoverage float64 `json:"min_coverage"`
	// Oversample is the periodogram's frequency oversampling: the grid step
	// is 1/(Oversample × window span). Default 4.
	Oversample int `json:"oversample"`
}

// DefaultOptions are the Task Force settings: 5-minute windows, limits of
// 0.3–2 s, the 20 % rule.
func DefaultOptions() Options {
	return Options{MinRR: 0.3, MaxRR: 2, MaxDeviation: 0.2, LocalBeats: 5, WindowSeconds: 300, MinCoverage: 0.5, Oversample: 4}
}

// EC57Options are the settings of the PhysioNet toolbox for the ANSI/AAMI
// EC57 test patterns: upper limit 4 s and the whole record as one window.
func EC57Options() Options {
	o := DefaultOptions()
	o.MaxRR = 4
	o.WindowSeconds = 0
	return o
}

// Validate reports the first option out of range.
func (o Options) Validate() error {
	switch {
	case !(o.MinRR > 0) || !(o.MaxRR > o.MinRR):
		return fmt.Errorf("hrv options: need 0 < min_rr_s < max_rr_s, got %v and %v", o.MinRR, o.MaxRR)
	case !(o.MaxDeviation >= 0):
		return fmt.Errorf("hrv options: max_deviation %v must be >= 0", o.MaxDeviation)
	case o.LocalBeats < 1 || o.LocalBeats > 100:
		return fmt.Errorf("hrv options: local_beats %d must be 1..100", o.LocalBeats)
	case !(o.WindowSeconds >= 0) || (o.WindowSeconds > 0 && o.WindowSeconds < 30):
		return fmt.Errorf("hrv options: window_s %v must be 0 (whole record) or >= 30", o.WindowSeconds)
	case !(o.MinCoverage >= 0 && o.MinCoverage <= 1):
		return fmt.Errorf("hrv options: min_coverage %v must be in [0, 1]", o.MinCoverage)
	case o.Oversample < 1 || o.Oversample > 16:
		return fmt.Errorf("hrv options: oversample %d must be 1..16", o.Oversample)
	}
	return nil
}

// Report is the HRV of one beat series. Intervals in ms, powers in ms².
type Report struct {
	// Beats is the number of beats given; Intervals the RR intervals between
	// consecutive beats (Beats-1).
	Beats     int `json:"beats"`
	Intervals int `json:"intervals"`
	// NNCount intervals passed every rule; Excluded = Intervals - NNCount.
	NNCount  int `json:"nn_count"`
	Excluded int `json:"excluded"`

	MeanNN float64 `json:"mean_nn_ms"`
	SDNN   float64 `json:"sdnn_ms"`
	RMSSD  float64 `json:"rmssd_ms"`
	// PNN50 is the percentage of successive NN differences above 50 ms.
	PNN50  float64 `json:"pnn50_pct"`
	MeanHR float64 `json:"mean_hr_bpm"`

	// Windows is how many spectral windows were averaged (0: too little data
	// for a spectrum; the powers are then 0).
	Windows int     `json:"windows"`
	VLF     float64 `json:"vlf_ms2"`
	LF      float64 `json:"lf_ms2"`
	HF      float64 `json:"hf_ms2"`
	// TotalPower is the power from the lowest periodogram frequency up to
	// 0.4 Hz (so it includes ULF in long windows).
	TotalPower float64 `json:"total_power_ms2"`
	LFHF       float64 `json:"lf_hf"`
	// LFnu and HFnu are LF and HF in normalized units, 100·LF/(LF+HF).
	LFnu float64 `json:"lf_nu"`
	HFnu float64 `json:"hf_nu"`
}

// ErrTooFewBeats is returned when fewer than three NN intervals remain.
var ErrTooFewBeats = errors.New("hrv: fewer than 3 NN intervals")

// Compute returns the HRV of beats at times (seconds, increasing) with
// normal[i] telling whether beat i is a normal (sinus) beat.
func Compute(times []float64, normal []bool, opt Options) (Report, error) {
	if err := opt.Validate(); err != nil {
		return Report{}, err
	}
	if len(times) != len(normal) {
		return Report{}, fmt.Errorf("hrv: %d beat times but %d labels", len(times), len(normal))
	}
	for i, t := range times {
		if math.IsNaN(t) || math.IsInf(t, 0) {
			return Report{}, fmt.Errorf("hrv: beat %d has time %v", i, t)
		}
		if i > 0 && !(t > times[i-1]) {
			return Report{}, fmt.Errorf("hrv: beat %d at %v s is not after beat %d at %v s", i, t, i-1, times[i-1])
		}
	}
	nn := NN(times, normal, opt)
	r := Report{Beats: len(times), Intervals: max(len(times)-1, 0), NNCount: len(nn)}
	r.Excluded = r.Intervals - r.NNCount
	if len(nn) < 3 {
		return r, ErrTooFewBeats
	}
	timeDomain(&r, nn)
	frequencyDomain(&r, nn, opt)
	return r, nil
}

// Interval is one NN interval: it ends at beat End (index into the beat
// series) at time T seconds, and lasts RR seconds.
type Interval struct {
	End int
	T   float64
	RR  float64
}

// NN returns the NN intervals of a beat series. Interval i (from beat i-1 to
// beat i) is NN when
//  1. both beats are normal,
//  2. MinRR <= RR <= MaxRR (physiological limits; a longer interval is a gap
//     or a missed beat, a shorter one an artefact), and
//  3. RR differs by at most MaxDeviation (20 %) from the local mean: the mean
//     of up to LocalBeats intervals on each side that pass rules 1 and 2
//     (the interval itself not included).
func NN(times []float64, normal []bool, opt Options) []Interval {
	type cand struct {
		end int
		rr  float64
	}
	var ok []cand
	for i := 1; i < len(times); i++ {
		rr := times[i] - times[i-1]
		if normal[i] && normal[i-1] && rr >= opt.MinRR && rr <= opt.MaxRR {
			ok = append(ok, cand{i, rr})
		}
	}
	// prefix sums (in order, so deterministic) for the local means
	pre := make([]float64, len(ok)+1)
	for i, c := range ok {
		pre[i+1] = pre[i] + c.rr
	}
	var out []Interval
	k := opt.LocalBeats
	for i, c := range ok {
		if opt.MaxDeviation > 0 {
			lo, hi := max(i-k, 0), min(i+k+1, len(ok))
			n := hi - lo - 1
			if n > 0 {
				mean := (pre[hi] - pre[lo] - c.rr) / float64(n)
				if math.Abs(c.rr-mean) > opt.MaxDeviation*mean {
					continue
				}
			}
		}
		out = append(out, Interval{End: c.end, T: times[c.end], RR: c.rr})
	}
	return out
}

// timeDomain fills the Task Force time-domain statistics.
func timeDomain(r *Report, nn []Interval) {
	n := float64(len(nn))
	sum := 0.0
	for _, v := range nn {
		sum += float64(v.RR * 1000)
	}
	mean := sum / n
	ss := 0.0
	for _, v := range nn {
		d := float64(v.RR*1000) - mean
		ss += float64(d * d)
	}
	r.MeanNN = mean
	r.SDNN = math.Sqrt(ss / (n - 1)) // sample SD, as most HRV software
	r.MeanHR = 60000 / mean
	// successive differences only between NN intervals that share a beat
	var sq float64
	var diffs, over50 int
	for i := 1; i < len(nn); i++ {
		if nn[i].End-1 != nn[i-1].End {
			continue
		}
		d := (nn[i].RR - nn[i-1].RR) * 1000
		sq += float64(d * d)
		diffs++
		if math.Abs(d) > 50 {
			over50++
		}
	}
	if diffs > 0 {
		r.RMSSD = math.Sqrt(sq / float64(diffs))
		r.PNN50 = 100 * float64(over50) / float64(diffs)
	}
}

// Bands are the powers of one spectrum, ms².
type Bands struct {
	VLF, LF, HF, Total float64
}

// frequencyDomain averages the band powers of the spectral windows.
func frequencyDomain(r *Report, nn []Interval, opt Options) {
	var acc Bands
	for _, w := range windows(nn, opt) {
		b := WindowBands(w, opt.Oversample)
		acc.VLF += b.VLF
		acc.LF += b.LF
		acc.HF += b.HF
		acc.Total += b.Total
		r.Windows++
	}
	if r.Windows == 0 {
		return
	}
	n := float64(r.Windows)
	r.VLF, r.LF, r.HF, r.TotalPower = acc.VLF/n, acc.LF/n, acc.HF/n, acc.Total/n
	if r.HF > 0 {
		r.LFHF = r.LF / r.HF
	}
	if s := r.LF + r.HF; s > 0 {
		r.LFnu = 100 * r.LF / s
		r.HFnu = 100 * r.HF / s
	}
}

// windows cuts the NN series into consecutive windows of WindowSeconds from
// the first NN interval, keeping those that NN intervals cover enough.
func windows(nn []Interval, opt Options) [][]Interval {
	if opt.WindowSeconds == 0 {
		if len(nn) < 3 {
			return nil
		}
		return [][]Interval{nn}
	}
	var out [][]Interval
	t0 := nn[0].T - nn[0].RR
	start := 0
	for start < len(nn) {
		w := math.Floor((nn[start].T - t0) / opt.WindowSeconds)
		end := float64(w*opt.WindowSeconds) + t0 + opt.WindowSeconds
		stop := start
		covered := 0.0
		for stop < len(nn) && nn[stop].T < end {
			covered += nn[stop].RR
			stop++
		}
		if stop-start >= 3 && covered >= opt.MinCoverage*opt.WindowSeconds {
			out = append(out, nn[start:stop])
		}
		start = stop
	}
	return out
}

// WindowBands is the Lomb–Scargle spectrum of one window of NN intervals
// (values RR in ms at times T), integrated over the Task Force bands.
//
// Scaling: with N points spanning T seconds, the classical periodogram
// P(f) = ½[(Σh·cos)²/Σcos² + (Σh·sin)²/Σsin²] (h = RR − mean, phases taken
// at Lomb's τ) gives the one-sided density S(f) = 2·P(f)·T/N ms²/Hz, so a
// frequency step df = 1/(Oversample·T) contributes 2·P/(N·Oversample). A
// sinusoid of amplitude A then has power A²/2 and the sum over all
// frequencies up to the mean Nyquist rate (N−1)/(2T) is the variance
// (Parseval). The spectrum stops at 0.4 Hz or at that Nyquist rate,
// whichever is lower.
func WindowBands(w []Interval, oversample int) Bands {
	n := len(w)
	ts := make([]float64, n)
	hs := make([]float64, n)
	sum := 0.0
	for _, v := range w {
		sum += float64(v.RR * 1000)
	}
	mean := sum / float64(n)
	for i, v := range w {
		ts[i] = v.T
		hs[i] = float64(v.RR*1000) - mean
	}
	span := ts[n-1] - ts[0]
	if !(span > 0) {
		return Bands{}
	}
	df := 1 / (float64(oversample) * span)
	// Above the mean Nyquist rate the periodogram only shows aliases (a
	// heart rate below 48 bpm puts it under 0.4 Hz), so stop there.
	fmax := min(HFHi, float64(n-1)/(2*span))
	nf := int(math.Floor(fmax / df))
	if nf < 1 {
		return Bands{}
	}
	var p []float64
	if float64(n)*float64(nf) <= directLimit {
		p = lombDirect(ts, hs, df, nf)
	} else {
		p = lombFast(ts, hs, df, nf, oversample)
	}
	var b Bands
	scale := 2 / (float64(n) * float64(oversample))
	for k := 1; k <= nf; k++ {
		f := float64(k) * df
		v := float64(p[k-1] * scale)
		b.Total += v
		switch {
		case f < VLFLo:
		case f < LFLo:
			b.VLF += v
		case f < HFLo:
			b.LF += v
		default:
			b.HF += v
		}
	}
	return b
}

// directLimit is the number of point×frequency pairs up to which the exact
// O(N·F) periodogram is used; above it, Press & Rybicki's O(N log N) method.
const directLimit = 4e6
