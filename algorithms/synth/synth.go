// Package synth makes synthetic recordings with known ground truth: ECGs
// whose every beat position and type is known, and vital-sign logs with
// injected alarm episodes. They let the pipeline be tested and benchmarked on
// any amount of data without patient records, and let its answers be scored.
//
// The package does no I/O: generators return structs, and Files encodes them
// as the bytes of WFDB, CSV and JSON files for the caller to write. The same
// options (seed and stream included) give the same bytes on every platform:
// randomness comes from a seeded PCG, and transcendental functions from
// algorithms/dmath, with products rounded before they are added (no FMA).
package synth

import (
	"bytes"
	"math"
	"math/rand/v2"
	"strconv"

	"github.com/pulsegrid/pulsegrid/algorithms/dmath"
	"github.com/pulsegrid/pulsegrid/algorithms/signal"
)

// File is one file a generator produced: a base name and its contents.
type File struct {
	Name string
	Data []byte
}

// rng draws the random numbers of one record.
type rng struct{ r *rand.Rand }

func newRNG(seed, stream uint64) *rng {
	// The stream is mixed so that consecutive record numbers give unrelated
	// sequences, not merely shifted ones.
	return &rng{rand.New(rand.NewPCG(seed, stream*0x9e3779b97f4a7c15+0x632be59bd9b4e019))}
}

// uniform returns a number in [a, b).
func (g *rng) uniform(a, b float64) float64 { return a + float64((b-a)*g.r.Float64()) }

// chance reports true with probability p.
func (g *rng) chance(p float64) bool { return g.r.Float64() < p }

// normal returns a standard normal number (Box–Muller with dmath, so that
// it is the same everywhere, unlike rand's NormFloat64 which uses math.Exp).
func (g *rng) normal() float64 {
	u1 := float64(g.r.Uint64()>>11+1) * 0x1p-53 // (0, 1], never 0 for the log
	u2 := g.r.Float64()
	return float64(math.Sqrt(float64(-2*dmath.Log(u1))) * dmath.Cos(float64(2*math.Pi*u2)))
}

// normalPair returns two independent standard normal numbers, both of one
// Box–Muller draw.
func (g *rng) normalPair() (float64, float64) {
	u1 := float64(g.r.Uint64()>>11+1) * 0x1p-53
	u2 := g.r.Float64()
	r := math.Sqrt(float64(-2 * dmath.Log(u1)))
	a := float64(2 * math.Pi * u2)
	return float64(r * dmath.Cos(a)), float64(r * dmath.Sin(a))
}

// phase returns a random phase in [0, 2π).
func (g *rng) phase() float64 { return g.uniform(0, 2*math.Pi) }

// sine is A·sin(ω t + φ) with the product rounded before the addition.
func sine(amp, freq, phase, t float64) float64 {
	return float64(amp * dmath.Sin(float64(float64(2*math.Pi*freq)*t)+phase))
}

// quantize rounds x to the nearest multiple of 1/gain, the value a WFDB
// reader gives back for it, so that the WFDB and CSV files of a record hold
// the same numbers.
func quantize(x, gain float64) float64 { return math.Round(x*gain) / gain }

// sampleTime is the time in seconds of sample i at rate: exact whole seconds
// for rates that are the reciprocal of a whole number (1/60 Hz).
func sampleTime(i int, rate float64) float64 {
	if rate < 1 {
		if p := math.Round(1 / rate); math.Abs(1/rate-p) < 1e-9*p {
			return float64(i) * p
		}
	}
	return float64(i) / rate
}

// writeCSV encodes a signal in pulsegrid's CSV dialect: a header row
// "time,NAME [UNIT],...", time in seconds, one row per sample of the
// fastest channel, blank cells for missing samples (and for slower channels
// between their samples).
func writeCSV(sig *signal.Signal) []byte {
	var b bytes.Buffer
	b.WriteString("time")
	rate := 0.0
	n := 0
	for _, c := range sig.Channels {
		b.WriteString("," + c.Name + " [" + c.Unit + "]")
		if c.Rate > rate {
			rate = c.Rate
			n = len(c.Samples)
		}
	}
	b.WriteByte('\n')
	var buf []byte
	for i := range n {
		buf = strconv.AppendFloat(buf[:0], sampleTime(i, rate), 'f', -1, 64)
		b.Write(buf)
		for _, c := range sig.Channels {
			b.WriteByte(',')
			// A slower channel's sample j falls on row j·(rate/c.Rate).
			step := int(math.Round(rate / c.Rate))
			if i%step != 0 || i/step >= len(c.Samples) {
				continue
			}
			v := c.Samples[i/step]
			if signal.IsMissing(v) {
				continue
			}
			buf = strconv.AppendFloat(buf[:0], v, 'f', -1, 64)
			b.Write(buf)
		}
		b.WriteByte('\n')
	}
	return b.Bytes()
}
