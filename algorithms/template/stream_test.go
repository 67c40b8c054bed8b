package template

import (
	"fmt"
	"math"
	"testing"

	"github.com/pulsegrid/pulsegrid/algorithms/signal"
)

// TestCleanerInBlocksEqualsApply: cleaning a recording block by block, in
// blocks of any size, gives the samples and violations of Apply on the
// whole recording, with runs that cross block boundaries counted once.
func TestCleanerInBlocksEqualsApply(t *testing.T) {
	nan := math.NaN()
	var long []float64
	for i := range 5000 {
		v := 60 + float64(i%97)
		switch {
		case i%450 < 7: // runs of 7 out of range
			v = 400
		case i%1300 == 5:
			v = nan
		}
		long = append(long, v)
	}
	cases := []struct {
		template string
		in       *signal.Recording
	}{
		{"icu-vitals", rec(ch("HR", "bpm", 1, long...), ch("SpO2", "%", 1, 97, 101, 102, nan, 99, 120), ch("Weight", "kg", 1, 70, 71))},
		{"icu-vitals", rec(ch("NBPMean", "kPa", 1.0/60, 12, 40, 12, 12), ch("RESP", "pm", 1.0/60, 12, -1, -2, 14))},
		{"ecg", rec(ch("MLII", "uV", 360, 100, 9e6, 9e6, -20), ch("X", "", 360, 1, 2, 3))},
		{"icu-vitals", rec(ch("Weight", "kg", 1, 70))},
	}
	for ci, tc := range cases {
		tpl := mustBuiltin(t, tc.template)
		wantRec, wantVs, wantErr := tpl.Apply(tc.in)
		for _, size := range []int{1, 3, 7, 449, 1 << 20} {
			t.Run(fmt.Sprintf("case%d/block%d", ci, size), func(t *testing.T) {
				c := tpl.Begin(tc.in)
				got := make([][]float64, len(c.Channels()))
				for lo := 0; ; lo += size {
					in := make([][]float64, len(tc.in.Signal.Channels))
					more := false
					for i, ch := range tc.in.Signal.Channels {
						if lo < len(ch.Samples) {
							in[i] = ch.Samples[lo:min(lo+size, len(ch.Samples))]
							more = true
						}
					}
					if !more {
						break
					}
					for i, b := range c.Clean(in) {
						got[i] = append(got[i], b...)
					}
				}
				out, vs, err := c.Finish()
				if fmt.Sprint(err) != fmt.Sprint(wantErr) {
					t.Fatalf("error %v, want %v", err, wantErr)
				}
				if fmt.Sprintf("%+v", vs) != fmt.Sprintf("%+v", wantVs) {
					t.Errorf("violations\n got %+v\nwant %+v", vs, wantVs)
				}
				if err != nil {
					return
				}
				for i := range out.Signal.Channels {
					w := wantRec.Signal.Channels[i]
					if g := out.Signal.Channels[i]; g.Name != w.Name || g.Unit != w.Unit || g.Gain != w.Gain || g.Rate != w.Rate {
						t.Errorf("channel %d: %+v, want %+v", i, g, w)
					}
					if fmt.Sprint(got[i]) != fmt.Sprint(w.Samples) {
						t.Errorf("channel %d samples differ", i)
					}
				}
			})
		}
	}
}

func TestCleanerRejectedFromHeaders(t *testing.T) {
	if c := mustBuiltin(t, "icu-vitals").Begin(rec(ch("Weight", "kg", 1))); !c.Rejected() {
		t.Error("a recording without any vitals channel is not rejected from its headers")
	}
	if c := mustBuiltin(t, "icu-vitals").Begin(rec(ch("HR", "bpm", 1))); c.Rejected() {
		t.Error("a recording with HR is rejected from its headers")
	}
}
