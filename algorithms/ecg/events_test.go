package ecg

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// rhythm builds beat samples at 100 Hz from a pattern of "class:RR" steps:
// each letter is a beat of that class that comes rr seconds after the
// previous one.
func rhythm(tb testing.TB, steps ...any) ([]int64, []Class) {
	tb.Helper()
	var samples []int64
	var cls []Class
	t := int64(100)
	for k := 0; k < len(steps); k += 3 {
		pattern, rr, times := steps[k].(string), steps[k+1].(float64), steps[k+2].(int)
		for range times {
			for _, c := range pattern {
				t += int64(rr*100 + 0.5)
				samples = append(samples, t)
				cls = append(cls, Class(c))
			}
		}
	}
	return samples, cls
}

func kinds(evs []Event) string {
	var ks []string
	for _, e := range evs {
		ks = append(ks, e.Kind)
	}
	return strings.Join(ks, " ")
}

func TestEvents(t *testing.T) {
	p := DefaultClassifyParams()
	for _, c := range []struct {
		name  string
		steps []any
		p     func(*ClassifyParams)
		want  string
		check func(t *testing.T, evs []Event, rh Rhythm)
	}{
		{name: "Quiet", steps: []any{"N", 0.8, 40}, want: ""},
		{name: "Pause", steps: []any{"N", 0.8, 10, "N", 2.5, 1, "N", 0.8, 10}, want: "pause",
			check: func(t *testing.T, evs []Event, rh Rhythm) {
				if e := evs[0]; e.Beat != e.End || e.RateBPM != 24 || e.Beats != 2 || e.EndTime-e.StartTime != 2.5 || rh.LongestPause != 2.5 {
					t.Errorf("pause %+v, longest %v", e, rh.LongestPause)
				}
			}},
		{name: "PauseParam", steps: []any{"N", 0.8, 10, "N", 2.5, 1, "N", 0.8, 10}, p: func(p *ClassifyParams) { p.PauseSeconds = 3 }, want: ""},
		{name: "PauseExactly", steps: []any{"N", 0.8, 10, "N", 2.0, 1, "N", 0.8, 10}, want: "pause"},
		{name: "PauseJustBelow", steps: []any{"N", 0.8, 10, "N", 1.99, 1, "N", 0.8, 10}, want: ""},
		{name: "Couplet", steps: []any{"N", 0.8, 10, "V", 0.5, 2, "N", 1.0, 10}, want: "v_couplet"},
		{name: "SlowTriplet", steps: []any{"N", 0.8, 10, "V", 0.7, 3, "N", 1.0, 10}, want: "v_triplet"},
		{name: "NSVT", steps: []any{"N", 0.8, 10, "V", 0.4, 6, "N", 1.0, 10}, want: "nsvt",
			check: func(t *testing.T, evs []Event, rh Rhythm) {
				if e := evs[0]; e.Beats != 6 || e.RateBPM != 150 || rh.LongestVRun != 0 || rh.FastestVRun != 0 {
					t.Errorf("nsvt %+v, rhythm %+v", e, rh)
				}
			}},
		{name: "VT", steps: []any{"N", 0.8, 10, "V", 0.4, 80, "N", 1.0, 10}, want: "vt tachy"},
		{name: "IdioventricularRun", steps: []any{"N", 0.8, 10, "V", 0.9, 5, "N", 1.0, 10}, want: "v_run"},
		{name: "Bigeminy", steps: []any{"N", 0.8, 10, "VN", 0.6, 4, "N", 0.8, 10}, want: "bigeminy",
			check: func(t *testing.T, evs []Event, rh Rhythm) {
				if e := evs[0]; e.Beats != 8 || e.Beat != e.Start+60 {
					t.Errorf("bigeminy %+v", e)
				}
			}},
		{name: "TwoCyclesNoBigeminy", steps: []any{"N", 0.8, 10, "VN", 0.6, 2, "N", 0.8, 10}, want: ""},
		{name: "Trigeminy", steps: []any{"N", 0.8, 10, "NNV", 0.6, 5, "N", 0.8, 10}, want: "trigeminy"},
		{name: "SVCoupletAndRun", steps: []any{"N", 0.8, 10, "S", 0.5, 2, "N", 0.9, 10, "S", 0.4, 5, "N", 0.9, 10}, want: "sv_couplet sv_run"},
		{name: "Brady", steps: []any{"N", 0.8, 10, "N", 1.5, 15, "N", 0.8, 10}, want: "brady",
			check: func(t *testing.T, evs []Event, rh Rhythm) {
				if e := evs[0]; e.RateBPM > 50 || e.EndTime-e.StartTime < 10 {
					t.Errorf("brady %+v", e)
				}
			}},
		{name: "BradyTooShort", steps: []any{"N", 0.8, 10, "N", 1.5, 5, "N", 0.8, 10}, want: ""},
		{name: "Tachy", steps: []any{"N", 0.8, 10, "N", 0.5, 40, "N", 0.8, 10}, want: "tachy"},
	} {
		t.Run(c.name, func(t *testing.T) {
			pp := p
			if c.p != nil {
				c.p(&pp)
			}
			samples, cls := rhythm(t, c.steps...)
			evs, rh := events(pp, samples, cls, make([]bool, len(samples)), 100, false)
			if got := kinds(evs); got != c.want {
				t.Fatalf("events %q, want %q (%+v)", got, c.want, evs)
			}
			total := 0
			for _, k := range rh.Counts {
				total += k.Count
			}
			if total != len(evs) || len(rh.Counts) != len(Kinds) {
				t.Errorf("counts %+v for %d events", rh.Counts, len(evs))
			}
			if c.check != nil {
				c.check(t, evs, rh)
			}
		})
	}
}

// TestAFFlags checks the irregularity rule: irregularly irregular RR is
// AF; sinus rhythm with isolated ectopics, and regular bigeminy, are not.
func TestAFFlags(t *testing.T) {
	rnd := rand.New(rand.NewPCG(7, 7))
	var samples []int64
	var cls []Class
	s := int64(0)
	add := func(rr float64, c Class) {
		s += int64(rr * 100)
		samples = append(samples, s)
		cls = append(cls, c)
	}
	for i := range 200 { // sinus with an ectopic every 10 beats
		if i%10 == 5 {
			add(0.5, ClassS)
		} else {
			add(0.8+0.02*rnd.Float64(), ClassN)
		}
	}
	for range 200 { // AF
		add(0.4+0.6*rnd.Float64(), ClassN)
	}
	for i := range 200 { // ventricular bigeminy
		if i%2 == 0 {
			add(0.5, ClassV)
		} else {
			add(1.1, ClassN)
		}
	}
	af := afFlags(samples, cls)
	count := func(lo, hi int) int {
		n := 0
		for _, a := range af[lo:hi] {
			if a {
				n++
			}
		}
		return n
	}
	if n := count(0, 180); n != 0 {
		t.Errorf("sinus with ectopics: %d beats flagged AF", n)
	}
	if n := count(220, 380); n < 150 {
		t.Errorf("AF: %d of 160 beats flagged", n)
	}
	if n := count(420, 600); n != 0 {
		t.Errorf("bigeminy: %d beats flagged AF", n)
	}
	evs, rh := events(DefaultClassifyParams(), samples, cls, af, 100, false)
	if !strings.Contains(kinds(evs), "af") || rh.AFBurden <= 0.2 || rh.AFBurden >= 0.45 {
		t.Errorf("events %q, AF burden %v", kinds(evs), rh.AFBurden)
	}
}

// TestFoldRVR checks that tachycardia inside atrial fibrillation is the AF
// episode's rapid ventricular response (ecg.classify@2), and tachycardia
// mostly outside AF stays an episode of its own.
func TestFoldRVR(t *testing.T) {
	p := DefaultClassifyParams()
	flag := func(n, lo, hi int) []bool {
		af := make([]bool, n)
		for i := lo; i <= hi; i++ {
			af[i] = true
		}
		return af
	}
	t.Run("InsideAF", func(t *testing.T) {
		samples, cls := rhythm(t, "N", 0.8, 20, "N", 0.5, 60, "N", 0.8, 20)
		af := flag(len(samples), 20, 79)
		if evs, _ := events(p, samples, cls, af, 100, false); kinds(evs) != "af tachy" {
			t.Fatalf("@1 events %q, want \"af tachy\"", kinds(evs))
		}
		evs, rh := events(p, samples, cls, af, 100, true)
		if kinds(evs) != "af" || rh.Counts[slices.Index(Kinds, EventTachy)].Count != 0 {
			t.Fatalf("events %q, counts %+v; want the AF episode alone", kinds(evs), rh.Counts)
		}
		a := evs[0]
		// The 8-beat rate passes 100 bpm at the 6th fast beat (beat 25);
		// the AF episode ends at beat 79: 54 intervals of 0.5 s inside.
		if a.MaxRateBPM != 120 || a.RVRSeconds < 26 || a.RVRSeconds > 28 {
			t.Errorf("AF %+v: want max 120 bpm and 27 s of RVR", a)
		}
		if again := FoldRVR(evs, samples, 100); !slices.Equal(again, evs) {
			t.Errorf("folded again: %+v, want %+v", again, evs)
		}
	})
	t.Run("MostlyOutsideAF", func(t *testing.T) {
		samples, cls := rhythm(t, "N", 0.8, 20, "N", 0.5, 80, "N", 0.8, 20)
		af := flag(len(samples), 80, 99)
		evs, _ := events(p, samples, cls, af, 100, true)
		if kinds(evs) != "tachy af" {
			t.Fatalf("events %q, want \"tachy af\"", kinds(evs))
		}
		if a := evs[1]; a.RVRSeconds != 0 || a.MaxRateBPM != 120 {
			t.Errorf("AF %+v: want no RVR time (the tachycardia is mostly outside) and max 120 bpm", a)
		}
	})
	t.Run("NoAF", func(t *testing.T) {
		samples, cls := rhythm(t, "N", 0.8, 10, "N", 0.5, 40, "N", 0.8, 10)
		if evs, _ := events(p, samples, cls, make([]bool, len(samples)), 100, true); kinds(evs) != "tachy" {
			t.Errorf("events %q, want \"tachy\"", kinds(evs))
		}
	})
}
