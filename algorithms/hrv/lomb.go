package hrv

import (
	"math"

	"github.com/pulsegrid/pulsegrid/algorithms/dmath"
)

// lombSums are, at one angular frequency ω, Σh·cos ωt, Σh·sin ωt, Σcos 2ωt
// and Σsin 2ωt over the N points of a window.
type lombSums struct{ c, s, c2, s2 float64 }

// power is Lomb's periodogram from the sums, without normalization by the
// variance (Numerical Recipes, fasper): ½[(Σh·cos ω(t−τ))²/Σcos² ω(t−τ) +
// (Σh·sin ω(t−τ))²/Σsin² ω(t−τ)], with τ from tan 2ωτ = Σsin 2ωt/Σcos 2ωt.
func (l lombSums) power(n float64) float64 {
	hc2wt, hs2wt := 0.5, 0.0
	if hypo := math.Sqrt(float64(l.c2*l.c2) + float64(l.s2*l.s2)); hypo > 0 {
		hc2wt, hs2wt = 0.5*l.c2/hypo, 0.5*l.s2/hypo
	}
	cwt := math.Sqrt(max(0.5+hc2wt, 0))
	swt := math.Copysign(math.Sqrt(max(0.5-hc2wt, 0)), hs2wt)
	den := float64(0.5*n) + float64(hc2wt*l.c2) + float64(hs2wt*l.s2) // Σcos² ω(t−τ)
	p := 0.0
	if den > 1e-9*n {
		a := float64(cwt*l.c) + float64(swt*l.s)
		p += float64(a*a) / den
	}
	if n-den > 1e-9*n {
		b := float64(cwt*l.s) - float64(swt*l.c)
		p += float64(b*b) / (n - den)
	}
	return 0.5 * p
}

// reseed is how many frequency steps the rotation recurrence of lombDirect
// takes before it restarts from exact sines and cosines.
const reseed = 64

// lombDirect is the exact periodogram at f = k·df, k = 1..nf. The phases
// advance by a rotation per frequency step, restarted every reseed steps.
func lombDirect(ts, hs []float64, df float64, nf int) []float64 {
	sums := make([]lombSums, nf)
	t0 := ts[0]
	for j, t := range ts {
		h := hs[j]
		theta := float64(2*math.Pi*df) * (t - t0)
		cb, sb := dmath.Cos(theta), dmath.Sin(theta)
		var c, s float64
		for k := 1; k <= nf; k++ {
			if (k-1)%reseed == 0 {
				a := float64(k) * theta
				c, s = dmath.Cos(a), dmath.Sin(a)
			} else {
				c, s = float64(c*cb)-float64(s*sb), float64(s*cb)+float64(c*sb)
			}
			l := &sums[k-1]
			l.c += float64(h * c)
			l.s += float64(h * s)
			l.c2 += float64(c*c) - float64(s*s)
			l.s2 += float64(2 * float64(s*c))
		}
	}
	p := make([]float64, nf)
	for k := range sums {
		p[k] = sums[k].power(float64(len(ts)))
	}
	return p
}

// meshPerHz is the mesh density of lombFast: mesh points per second of the
// (oversampled) window per Hz of the highest frequency needed (2·0.4 Hz for
// the 2ω sums). 8 puts that frequency at a quarter of the mesh's Nyquist
// rate, where 4-point extirpolation errs by well under 0.1 %.
const meshPerHz = 8

// lombFast is the periodogram at f = k·df, k = 1..nf, by Press & Rybicki's
// method (ApJ 338:277, 1989): extirpolate h and 1 onto a regular mesh (4-point
// Lagrange weights), take one FFT of both, read the sums at mesh frequencies.
func lombFast(ts, hs []float64, df float64, nf, oversample int) []float64 {
	period := 1 / df // seconds the mesh wraps around: oversample × span
	need := int(math.Ceil(float64(meshPerHz*2*HFHi) * period))
	ndim := 1
	for ndim < need || ndim < 4*(nf+1) {
		ndim <<= 1
	}
	rate := float64(ndim) / period
	re := make([]float64, ndim) // h extirpolated at ωt
	im := make([]float64, ndim) // 1 extirpolated at 2ωt
	t0 := ts[0]
	fn := float64(ndim)
	for j, t := range ts {
		x := float64((t - t0) * rate)
		x = x - float64(fn*math.Floor(x/fn))
		spread(re, hs[j], x)
		x2 := float64(2 * x)
		if x2 >= fn {
			x2 -= fn
		}
		spread(im, 1, x2)
	}
	fft(re, im)
	p := make([]float64, nf)
	n := float64(len(ts))
	for k := 1; k <= nf; k++ {
		// Z = A + iB with A, B the transforms of the real meshes re, im.
		zr, zi := re[k], im[k]
		wr, wi := re[ndim-k], -im[ndim-k] // conj(Z[ndim-k])
		ar, ai := 0.5*(zr+wr), 0.5*(zi+wi)
		br, bi := 0.5*(zi-wi), -0.5*(zr-wr)
		// The FFT's e^{-iωt} flips the sign of both sine sums, which the
		// periodogram does not see.
		p[k-1] = lombSums{c: ar, s: ai, c2: br, s2: bi}.power(n)
	}
	return p
}

// spread adds v to the mesh around fractional position x with 4-point
// Lagrange weights, wrapping around the mesh ends.
func spread(mesh []float64, v, x float64) {
	n := len(mesh)
	base := int(math.Floor(x)) - 1
	u := x - float64(base) // in [1, 2)
	a, b, c, d := u, u-1, u-2, u-3
	w := [4]float64{
		float64(float64(-b*c)*d) / 6,
		float64(float64(a*c)*d) / 2,
		float64(float64(-a*b)*d) / 2,
		float64(float64(a*b)*c) / 6,
	}
	for m, wm := range w {
		i := base + m
		if i < 0 {
			i += n
		} else if i >= n {
			i -= n
		}
		mesh[i] += float64(v * wm)
	}
}

// fft is an in-place radix-2 forward transform, X[k] = Σ x[m]·e^{−2πikm/n},
// of the complex sequence re + i·im; len must be a power of two. Twiddles
// come from dmath and every product is rounded before it is added, so the
// result is the same on every platform.
func fft(re, im []float64) {
	n := len(re)
	// bit reversal
	for i, j := 1, 0; i < n; i++ {
		bit := n >> 1
		for ; j&bit != 0; bit >>= 1 {
			j ^= bit
		}
		j |= bit
		if i < j {
			re[i], re[j] = re[j], re[i]
			im[i], im[j] = im[j], im[i]
		}
	}
	cs := make([]float64, n/2)
	sn := make([]float64, n/2)
	for k := range cs {
		a := 2 * math.Pi * float64(k) / float64(n)
		cs[k], sn[k] = dmath.Cos(a), -dmath.Sin(a)
	}
	for size := 2; size <= n; size <<= 1 {
		half, step := size>>1, n/size
		for start := 0; start < n; start += size {
			for j := 0; j < half; j++ {
				wr, wi := cs[j*step], sn[j*step]
				p, q := start+j, start+j+half
				tr := float64(wr*re[q]) - float64(wi*im[q])
				ti := float64(wr*im[q]) + float64(wi*re[q])
				re[q], im[q] = re[p]-tr, im[p]-ti
				re[p] += tr
				im[p] += ti
			}
		}
	}
}
