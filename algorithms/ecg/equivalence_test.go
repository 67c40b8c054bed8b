package ecg

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// equivalenceSignal makes a hard test signal: a wandering baseline with
// noise, QRS-like spikes of random height and spacing, and (by kind)
// half-unit values that test the rounding, values beyond the ±2^24 clamp,
// runs of missing samples, and flat stretches.
func equivalenceSignal(rnd *rand.Rand, n int, rate float64, kind int) []float64 {
	v := make([]float64, n)
	amp := []float64{1, 0.01, 50, 1e5}[kind%4]
	base := 0.0
	next := 0
	for i := range v {
		base += rnd.NormFloat64() * 0.01 * amp
		x := base + rnd.NormFloat64()*0.02*amp
		if i >= next {
			x += (rnd.Float64()*3 - 1) * amp
			next = i + int(rate*(0.25+rnd.Float64()*1.5))
		}
		v[i] = x
	}
	if kind%3 == 1 {
		for i := range v {
			v[i] = math.Round(v[i]*1000)/1000 + 0.0005 // half-way between units at scale 1000
		}
	}
	if kind%5 == 2 {
		for k := 0; k < 4; k++ {
			at, l := rnd.IntN(n), rnd.IntN(int(rate)+1)
			for i := at; i < min(n, at+l); i++ {
				v[i] = math.NaN()
			}
		}
	}
	if kind%7 == 3 {
		at := rnd.IntN(n)
		for i := at; i < min(n, at+int(rate)*3); i++ {
			v[i] = v[at]
		}
	}
	return v
}

// TestDetectMatchesReference checks that the rewritten detector (padded
// single-pass filters, float64 truncating division, pooled memory, toInt
// without math.Round) gives exactly what the original code in
// reference_test.go gives: the integers, the band-passed signal, the
// envelope and the beats, on random signals at many rates and gains.
func TestDetectMatchesReference(t *testing.T) {
	rnd := rand.New(rand.NewPCG(4, 4))
	rates := []float64{100, 128, 200, 250, 257.3, 360, 500, 1000, 1024, 2048}
	tries := 20
	if underWasm || testing.Short() {
		tries = 4
	}
	for _, rate := range rates {
		for try := 0; try < tries; try++ {
			kind := rnd.IntN(210)
			n := 1 + rnd.IntN(int(rate*20))
			if try == 0 {
				n = 1 + rnd.IntN(40) // shorter than the filters
			}
			v := equivalenceSignal(rnd, n, rate, kind)
			gain := []float64{0, 200, 1, 1e-3, 1e9}[rnd.IntN(5)]
			unit := []string{"mV", "uV", "V"}[rnd.IntN(3)]

			wantX, wantMiss := refToInt(nil, nil, v, gain, unit)
			ref := newRefDetector(rate)
			wantBP, _, wantEnv := ref.features(wantX)
			wantBP, wantEnv = slices.Clone(wantBP), slices.Clone(wantEnv)
			want := ref.detect(wantX, wantMiss)

			d := newDetector(rate)
			p := d.pad()
			ws := workspaces.Get().(*workspace)
			// Dirty memory from a previous use must not matter.
			for i := range ws.x {
				ws.x[i] = int32(rnd.Uint32())
			}
			var miss []bool
			ws.x, miss = toInt(ws.x, p, ws.miss, v, gain, unit)
			if miss != nil {
				ws.miss = miss
			}
			if !slices.Equal(ws.x[p:], wantX) {
				t.Fatalf("%v Hz kind %d gain %v: toInt differs from the reference", rate, kind, gain)
			}
			if !slices.Equal(miss, wantMiss) {
				t.Fatalf("%v Hz kind %d: missing marks differ from the reference", rate, kind)
			}
			bp, env, _ := d.features(ws)
			if !slices.Equal(bp[p:], wantBP) || !slices.Equal(env[p:], wantEnv) {
				t.Fatalf("%v Hz kind %d gain %v n %d: band-pass or envelope differs from the reference", rate, kind, gain, n)
			}
			ws.x, _ = toInt(ws.x, p, ws.miss, v, gain, unit)
			got := d.detect(ws, miss)
			workspaces.Put(ws)
			if !slices.Equal(got, want) {
				t.Fatalf("%v Hz kind %d gain %v n %d: beats %v, want %v", rate, kind, gain, n, got, want)
			}
		}
	}
}

// TestDivision checks the float64 division the moving averages use
// against integer division where it is most likely to fail: exact
// multiples, remainders of 1 and n-1, of both signs, for every window
// length up to 1024 and quotients up to 2^32 (the largest a window can
// hold: |x| <= 2^24 scaled by 2^8).
func TestDivision(t *testing.T) {
	rnd := rand.New(rand.NewPCG(7, 7))
	step := 1
	if underWasm || testing.Short() {
		step = 7
	}
	for n := int64(1); n <= 1024; n += int64(step) {
		f := float64(n)
		qs := []int64{0, 1, 2, 3, 1<<24 - 1, 1 << 24, 1<<32 - 1, 1 << 32}
		for range 40 {
			qs = append(qs, rnd.Int64N(1<<32), rnd.Int64N(1<<20), int64(rnd.IntN(1000)))
		}
		for _, q := range qs {
			for _, rem := range []int64{0, 1, n - 1, n / 2, rnd.Int64N(n)} {
				for _, s := range []int64{q*n + rem, -(q*n + rem)} {
					if got, want := int64(float64(s)/f), s/n; got != want {
						t.Fatalf("int64(float64(%d)/%d) = %d, want %d", s, n, got, want)
					}
				}
			}
		}
	}
}

// TestToIntAbsurdGain: an infinite or absurd gain must not reach the
// integer conversion as NaN (0 × Inf), whose result differs by platform;
// it falls back to the unit's scale like an unknown gain.
func TestToIntAbsurdGain(t *testing.T) {
	v := []float64{0, 0.5, -1.25, 2}
	want, _ := toInt(nil, 0, make([]bool, len(v)), v, 0, "mV")
	for _, gain := range []float64{math.Inf(1), 1e300, math.NaN(), -200} {
		got, _ := toInt(nil, 0, make([]bool, len(v)), v, gain, "mV")
		if !slices.Equal(got, want) {
			t.Errorf("gain %v: got %v, want the unit's scale %v", gain, got, want)
		}
	}
}

// TestToIntEdgesMatchReference: toInt's branch-free rounding, clamp and
// missing-sample selects (issue 15) give the reference's integers and
// marks on the values where they could differ: halves of both signs,
// the clamp limits and just past them, values beyond int64 (whose
// conversion differs between amd64 and wasm), infinities, -0 and NaN
// first, in runs and last.
func TestToIntEdgesMatchReference(t *testing.T) {
	const l = 1 << 24
	edges := []float64{0, math.Copysign(0, -1), 0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 0.49999999999999994, -0.49999999999999994,
		l, -l, l - 0.5, -l + 0.5, l + 0.5, -l - 0.5, l - 1, l + 1, 1 << 31, -(1 << 31), 1 << 40, 1e19, -1e19, 1 << 63, -(1 << 63),
		1e300, -1e300, math.Inf(1), math.Inf(-1), math.NaN(), math.MaxFloat64, 5e-324, 4503599627370495.5, -4503599627370495.5}
	rnd := rand.New(rand.NewPCG(15, 15))
	for iter := range 300 {
		n := 1 + rnd.IntN(60)
		v := make([]float64, n)
		for i := range v {
			v[i] = edges[rnd.IntN(len(edges))]
			if iter%3 == 0 {
				v[i] = float64(rnd.IntN(2001)-1000) / 2
			}
		}
		if iter%5 == 0 {
			v[0] = math.NaN()
		}
		gain := []float64{0, 1, 1e-3, 200, 1e6}[iter%5]
		unit := []string{"mV", "uV", "V"}[iter%3]
		wantX, wantMiss := refToInt(nil, nil, v, gain, unit)
		gotX, gotMiss := toInt(nil, 3, nil, v, gain, unit)
		if !slices.Equal(gotX[3:], wantX) || !slices.Equal(gotMiss, wantMiss) {
			t.Fatalf("gain %v unit %s, %v:\ngot  %v %v\nwant %v %v", gain, unit, v, gotX[3:], gotMiss, wantX, wantMiss)
		}
	}
}

// TestRoundKernelsAgree: the two forms of toInt's loop (natively
// roundBranches runs, under wasm roundSelects) give the same integers
// wherever the sample is not missing, and both report a missing one; run
// natively and under wasm, so each form is checked on both platforms'
// float-to-integer conversions.
func TestRoundKernelsAgree(t *testing.T) {
	const l = clampLimit
	edges := []float64{0, math.Copysign(0, -1), 0.5, -0.5, 1.5, -2.5, 0.49999999999999994, l, -l, l - 0.5, -l + 0.5, l + 0.5, -l - 0.5,
		1 << 31, -(1 << 31), 1e19, -1e19, 1 << 63, -(1 << 63), 1e300, math.Inf(1), math.Inf(-1), math.NaN(), 4503599627370495.5}
	rnd := rand.New(rand.NewPCG(15, 16))
	for iter := range 500 {
		v := make([]float64, 1+rnd.IntN(80))
		for i := range v {
			if iter%2 == 0 {
				v[i] = edges[rnd.IntN(len(edges))]
			} else {
				v[i] = math.Float64frombits(rnd.Uint64())
			}
		}
		scale := []float64{1, 1e3, 200, 1e-3, 1e6}[iter%5]
		a, b := make([]int32, len(v)), make([]int32, len(v))
		na, nb := roundBranches(a, v, scale), roundSelects(b, v, scale)
		if na != nb || na != slices.ContainsFunc(v, math.IsNaN) {
			t.Fatalf("missing reported %v and %v for %v", na, nb, v)
		}
		for i, s := range v {
			if s == s && a[i] != b[i] {
				t.Fatalf("scale %v, sample %v: roundBranches %d, roundSelects %d", scale, s, a[i], b[i])
			}
		}
	}
}

// TestLocalMaximaMatchesAppend: the branch-free local maxima (issue 15)
// are the ones the plain loop appends, on plateaus, ramps and noise, with
// a dirty reused buffer.
func TestLocalMaximaMatchesAppend(t *testing.T) {
	rnd := rand.New(rand.NewPCG(15, 17))
	buf := make([]int, 0, 7)
	for iter := range 400 {
		env := make([]int64, rnd.IntN(300))
		for i := range env {
			env[i] = int64(rnd.IntN(1 + iter%6))
		}
		var want []int
		for i := 1; i+1 < len(env); i++ {
			if env[i] > env[i-1] && env[i] >= env[i+1] {
				want = append(want, i)
			}
		}
		for i := range buf[:cap(buf)] {
			buf[:cap(buf)][i] = -1
		}
		buf = localMaxima(buf, env)
		if !slices.Equal(buf, want) && len(buf)+len(want) > 0 {
			t.Fatalf("env %v: maxima %v, want %v", env, buf, want)
		}
	}
}

// TestSlopesMatchesBranches: the select form of a candidate's slope scan
// (issue 15) gives the if/else-if loop's maxima and first positions,
// including ties, windows that start at the block's first sample (the
// lag clamped to it) and flat stretches.
func TestSlopesMatchesBranches(t *testing.T) {
	rnd := rand.New(rand.NewPCG(15, 18))
	for iter := range 2000 {
		bp := make([]int64, 1+rnd.IntN(120))
		for i := range bp {
			bp[i] = int64(rnd.IntN(1+iter%9)) - int64(iter%9)/2
		}
		nd := 1 + rnd.IntN(6)
		pk := rnd.IntN(len(bp))
		lo := max(0, pk-rnd.IntN(40))
		var wUp, wDown int64
		wUpAt, wDownAt, wFid := lo, lo, 0
		best := int64(-1)
		for i := lo; i <= pk; i++ {
			if s := bp[i] - bp[max(0, i-nd)]; s > wUp {
				wUp, wUpAt = s, i
			} else if -s > wDown {
				wDown, wDownAt = -s, i
			}
			if a := abs64(bp[i]); a > best {
				best, wFid = a, i
			}
		}
		up, down, upAt, downAt, fid := slopes(bp, lo, pk, nd)
		if up != wUp || down != wDown || upAt != wUpAt || downAt != wDownAt || fid != wFid {
			t.Fatalf("bp %v lo %d pk %d nd %d: got %d %d %d %d %d, want %d %d %d %d %d", bp, lo, pk, nd, up, down, upAt, downAt, fid, wUp, wDown, wUpAt, wDownAt, wFid)
		}
	}
}
