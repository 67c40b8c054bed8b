package ecg

import "testing"

// sinusFacts are the facts of beats of one shape (every beat like the
// dominant one, P wave included) at the given RR intervals (seconds), so
// that only the timing can make a beat supraventricular.
func sinusFacts(rr []float64) *beatFacts {
	n := len(rr) + 1
	ones := func() []float64 {
		v := make([]float64, n)
		for i := range v {
			v[i] = 1
		}
		return v
	}
	m := &morphology{n: n, family: make([]int, n), size: []int{n}, tmpl: [][]float64{nil},
		corr: ones(), width: ones(), amp: ones(), pCorr: ones(),
		famCorr: []float64{1}, famWidth: []float64{1}, famAmp: []float64{1}}
	f := &beatFacts{m: m, pre: make([]float64, n), post: make([]float64, n)}
	for i, d := range rr {
		f.pre[i+1], f.post[i] = d, d
	}
	f.local = f.localRR(nil)
	return f
}

// TestSinusRateChangeIsNotPremature pins what ecg.classify@2 takes for
// prematurity when the P wave is the sinus one: a sinus rate that changes
// gradually (interval by interval by less than sOnset) is not
// supraventricular ectopy, however far it goes, while the same change in
// one beat is, as it would be for a supraventricular tachycardia, which
// starts so, unless it brings back the rate of the last five minutes.
// The simulator's tachycardia starts in one beat and its bradycardia ends
// in one, which is why ecg.classify called S the beats after them (issue
// 13; docs/algorithms.md).
func TestSinusRateChangeIsNotPremature(t *testing.T) {
	ramp := func(from, to float64, beats int) []float64 {
		var v []float64
		for k := range beats {
			v = append(v, from+(to-from)*float64(k)/float64(beats-1))
		}
		return v
	}
	steady := func(rr float64, beats int) []float64 { return ramp(rr, rr, beats) }
	join := func(parts ...[]float64) []float64 {
		var v []float64
		for _, p := range parts {
			v = append(v, p...)
		}
		return v
	}
	for _, c := range []struct {
		name   string
		rr     []float64
		wantS  int
		atMost bool
	}{
		// Bradycardia (43 bpm) back to 75 bpm over 12 beats: 4–5 % per beat.
		{"BradyEndsGradually", join(steady(1.4, 40), ramp(1.4, 0.8, 12), steady(0.8, 60)), 0, false},
		// 72 to 130 bpm over 20 beats.
		{"TachyStartsGradually", join(steady(0.83, 40), ramp(0.83, 0.46, 20), steady(0.46, 60)), 0, false},
		// The same changes in one beat.
		{"BradyEndsAtOnce", join(steady(1.4, 40), steady(0.8, 60)), 60, true},
		{"TachyStartsAtOnce", join(steady(0.83, 40), steady(0.46, 60)), 60, true},
		{"TachyStartsAtOnceAfterFiveMinutes", join(steady(0.83, 400), steady(0.46, 60)), 60, true},
		// But a rate back in one beat to the patient's usual one (five
		// minutes at 75 bpm, then a minute at 43) is not premature.
		{"BackToTheUsualRateAtOnce", join(steady(0.8, 400), steady(1.4, 40), steady(0.8, 60)), 0, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			cls := sinusFacts(c.rr).classes(defaultTuning2)
			s := 0
			for _, k := range cls {
				if k == ClassS {
					s++
				}
			}
			if c.atMost && (s == 0 || s > c.wantS) || !c.atMost && s != c.wantS {
				t.Errorf("%d S beats, want %v", s, map[bool]string{true: "the beats after the change", false: "none"}[c.atMost])
			}
		})
	}
}
