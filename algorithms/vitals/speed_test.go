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

func sameMultiset(a, b multiset) bool {
	if a.missing != b.missing || a.sensorOff != b.sensorOff || a.outOfRange != b.outOfRange || len(a.values) != len(b.values) || !slices.Equal(a.counts, b.counts) {
		return false
	}
	if (a.values == nil) != (b.values == nil) || (a.counts == nil) != (b.counts == nil) {
		return false
	}
	for i := range a.values {
		if math.Float64bits(a.values[i]) != math.Float64bits(b.values[i]) {
			return false
		}
	}
	return true
}

// TestMakeMultisetMatchesComparisonSort: the radix-sorted multiset is the
// comparison-sorted one, value bits and counts, with and without a range,
// on values of every sign and magnitude (±0, ±Inf, subnormals, NaN), few
// or many distinct, and lengths from 0 up.
func TestMakeMultisetMatchesComparisonSort(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 2))
	for iter := range 600 {
		n := r.IntN(300)
		if iter%50 == 0 {
			n = 5000 + r.IntN(5000)
		}
		var v []float64
		switch iter % 4 {
		case 0:
			v = randomVitals(r, n)
		case 1: // any bits
			v = make([]float64, n)
			for i := range v {
				v[i] = math.Float64frombits(r.Uint64())
			}
		case 2: // waveform-like: k/gain over a wide range, both signs
			v = make([]float64, n)
			for i := range v {
				v[i] = float64(r.IntN(4001)-2000) / 200
			}
		default: // tiny, subnormal and huge magnitudes
			pool := []float64{5e-324, -5e-324, 1e-310, -1e-310, math.MaxFloat64, -math.MaxFloat64, 1, -1, 0, math.Copysign(0, -1)}
			v = make([]float64, n)
			for i := range v {
				v[i] = pool[r.IntN(len(pool))]
			}
		}
		var rng *taskRange
		if iter%3 == 1 {
			rng = &taskRange{Min: -3, Max: 150}
		}
		got, want := makeMultiset(v, rng), makeMultisetByComparison(v, rng)
		if !sameMultiset(got, want) {
			t.Fatalf("iteration %d (%d samples, range %v):\ngot  %+v\nwant %+v", iter, n, rng != nil, got, want)
		}
	}
}

// makeMultisetByComparison is makeMultiset as it was first written: it sorts a copy of the plausible samples and counts equal
// values; -0 is counted as +0, NaN as missing, and a value outside rng (when
// not nil) as excluded, by reason.
func makeMultisetByComparison(samples []float64, rng *taskRange) multiset {
	v := make([]float64, 0, len(samples))
	var m multiset
	for _, x := range samples {
		if signal.IsMissing(x) {
			m.missing++
			continue
		}
		if rng != nil {
			switch rng.rng().Classify(x) {
			case plausible.SensorOff:
				m.sensorOff++
				continue
			case plausible.OutOfRange:
				m.outOfRange++
				continue
			}
		}
		if x == 0 {
			x = 0 // fold -0 into +0
		}
		v = append(v, x)
	}
	slices.Sort(v)
	for i := 0; i < len(v); {
		j := i + 1
		for j < len(v) && v[j] == v[i] {
			j++
		}
		m.values = append(m.values, v[i])
		m.counts = append(m.counts, int64(j-i))
		i = j
	}
	return m
}

// hourEndBySample is the sample-by-sample scan hourEnd replaced.
func hourEndBySample(first int64, start, n int, rate float64, h int64) int {
	end := start + 1
	for end < n && HourOf(first+int64(end), rate) == h {
		end++
	}
	return end
}

// TestHourEndMatchesScan: the searched end of an hour is the scanned one,
// for rates from a minute log's inexact 1/60 to 1 kHz, channels starting
// anywhere in an hour, and every start that begins an hour in them.
func TestHourEndMatchesScan(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 3))
	rates := []float64{0.0166666666667, 1.0 / 60, 0.2, 1, 7, 62.5, 125, 250, 360, 500, 1000, 3, 1 / 3.0}
	for _, rate := range rates {
		for range 20 {
			perHour := int(3600 * rate)
			n := 1 + r.IntN(3*perHour+10)
			first := int64(r.IntN(5 * (perHour + 1)))
			for start := 0; start < n; {
				h := HourOf(first+int64(start), rate)
				got, want := hourEnd(first, start, n, rate, h), hourEndBySample(first, start, n, rate, h)
				if got != want {
					t.Fatalf("rate %v, first %d, n %d, start %d: hourEnd %d, the scan %d", rate, first, n, start, got, want)
				}
				start = want
			}
		}
	}
	// Absurd magnitudes take the scan itself.
	if got, want := hourEnd(1<<42, 0, 3, 1e-5, HourOf(1<<42, 1e-5)), hourEndBySample(1<<42, 0, 3, 1e-5, HourOf(1<<42, 1e-5)); got != want {
		t.Fatalf("huge index: %d, want %d", got, want)
	}
}
