package vitals

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/pulsegrid/pulsegrid/algorithms/pipeline"
	"github.com/pulsegrid/pulsegrid/algorithms/signal"
	"github.com/pulsegrid/pulsegrid/algorithms/template/plausible"
)

// The loops of Run were rewritten for speed under wasm (issue 15). These
// tests keep the first, plainer forms and compare the new ones with them
// bit for bit on random inputs, beside the golden digests.

// yieldLog records every Yield call.
type yieldLog struct{ calls [][2]int64 }

func (l *yieldLog) Yield(done, total int64) error {
	l.calls = append(l.calls, [2]int64{done, total})
	return nil
}

// randomVitals are n samples drawn from a few values around a threshold,
// with NaN, ±0, ±Inf and values outside a range mixed in.
func randomVitals(r *rand.Rand, n int) []float64 {
	pool := []float64{math.NaN(), 0, math.Copysign(0, -1), math.Inf(1), math.Inf(-1), 119.9, 120, 120.1, 30, 250, -5, 99, 121}
	v := make([]float64, n)
	for i := range v {
		switch r.IntN(4) {
		case 0:
			v[i] = pool[r.IntN(len(pool))]
		case 1:
			v[i] = float64(r.IntN(300)-20) / 10
		default:
			v[i] = 110 + float64(r.IntN(21))
		}
	}
	return v
}

func sameScan(a, b scan) bool {
	if a.LeadMissing != b.LeadMissing || a.LeadBreak != b.LeadBreak || a.TrailMissing != b.TrailMissing || a.TrailBreak != b.TrailBreak || len(a.Runs) != len(b.Runs) {
		return false
	}
	for i := range a.Runs {
		x, y := a.Runs[i], b.Runs[i]
		if x.First != y.First || x.Last != y.Last || math.Float64bits(x.Extreme) != math.Float64bits(y.Extreme) {
			return false
		}
	}
	return true
}

// TestScanSamplesMatchesBySample: scanSamples gives what appending one
// sample at a time gives (runs, extremes to the bit, lead and trail
// counts, exclusions, and the same Yield calls), for every operator (and
// an unknown one, which means >=), with and without a plausible range, on
// lengths across the yield interval.
func TestScanSamplesMatchesBySample(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 1))
	ops := []string{"<", "<=", ">", ">=", "?"}
	for iter := range 400 {
		n := r.IntN(200)
		if iter%40 == 0 {
			n = yieldEvery*2 + r.IntN(3) - 1
		}
		v := randomVitals(r, n)
		rule := Rule{Op: ops[iter%len(ops)], Threshold: 120, MaxGapS: float64(r.IntN(4))}
		if iter%7 == 0 {
			rule.Threshold = math.NaN()
		}
		var rng *plausible.Range
		if iter%3 != 0 {
			rng = &plausible.Range{Min: 20, Max: 200}
		}
		rate := []float64{1, 0.5, 1.0 / 60}[iter%3]
		first := int64(r.IntN(1000))
		var wantEx, gotEx excluded
		var wantY, gotY yieldLog
		wantDone, gotDone := int64(r.IntN(10)), int64(0)
		gotDone = wantDone
		want, err1 := scanSamplesBySample(v, first, rule, rng, rate, &wantY, &wantDone, 1<<40, &wantEx)
		got, err2 := scanSamples(v, first, rule, rng, rate, &gotY, &gotDone, 1<<40, &gotEx)
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		if !sameScan(got, want) || gotEx != wantEx || gotDone != wantDone || !slices.Equal(gotY.calls, wantY.calls) {
			t.Fatalf("iteration %d (op %q, range %v, %d samples):\ngot  %+v %+v %d %v\nwant %+v %+v %d %v", iter, rule.Op, rng != nil, n,
				got, gotEx, gotDone, gotY.calls, want, wantEx, wantDone, wantY.calls)
		}
	}
}

var _ pipeline.Yielder = (*yieldLog)(nil)

// scanSamplesBySample is scanSamples as it was written first: the history of one rule over samples whose first has
// record index first; a value outside rng (when not nil) counts as missing
// and in ex.
func scanSamplesBySample(samples []float64, first int64, r Rule, rng *plausible.Range, rate float64, y pipeline.Yielder, done *int64, total int64, ex *excluded) (scan, error) {
	var s scan
	single := make([]run, 1) // appendScan copies runs, so one buffer serves
	for i, v := range samples {
		var one scan
		why := plausible.Included
		if rng != nil && !signal.IsMissing(v) {
			why = rng.Classify(v)
		}
		switch {
		case signal.IsMissing(v) || why != plausible.Included:
			one.LeadMissing = 1
			if why == plausible.SensorOff {
				ex.SensorOff++
			} else if why == plausible.OutOfRange {
				ex.OutOfRange++
			}
		case r.meets(v):
			idx := first + int64(i)
			single[0] = run{First: idx, Last: idx, Extreme: v}
			one.Runs = single
		default:
			one.LeadBreak = true
		}
		appendScan(&s, one, r, rate)
		if (i+1)%yieldEvery == 0 {
			if err := y.Yield(*done+int64(i+1), total); err != nil {
				return scan{}, err
			}
		}
	}
	*done += int64(len(samples))
	return s, nil
}
