package synth_test

import (
	"encoding/json"
	"testing"

	"github.com/pulsegrid/pulsegrid/algorithms/ecg"
	"github.com/pulsegrid/pulsegrid/algorithms/ecg/bxb"
	"github.com/pulsegrid/pulsegrid/algorithms/formats/wfdb"
	"github.com/pulsegrid/pulsegrid/algorithms/internal/pipetest"
	"github.com/pulsegrid/pulsegrid/algorithms/pipeline"
	"github.com/pulsegrid/pulsegrid/algorithms/synth"
)

// TestDetectorFindsBeats runs ecg.beats@1 as the grid does on simulated
// records full of ectopy, runs, pauses and AF, and scores it against the
// written .atr as EC57 says (150 ms window, first 5 minutes unscored):
// the simulated beats must be ones a detector can find, at Se and +P of
// 99 % at least.
func TestDetectorFindsBeats(t *testing.T) {
	for _, tc := range []struct {
		spec    string
		minutes float64
		rate    float64
		seed    uint64
	}{
		{"dense", 40, 360, 1},
		{"dense", 40, 250, 2},
		{"default,af=1,nsvt=2,pause=2,bigeminy=1", 30, 360, 3},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			ev, err := synth.ParseEvents(tc.spec, tc.minutes)
			if err != nil {
				t.Fatal(err)
			}
			rec, err := synth.NewECG(synth.ECGOptions{Record: "d", Minutes: tc.minutes, Rate: tc.rate, Seed: tc.seed, Events: ev})
			if err != nil {
				t.Fatal(err)
			}
			files, err := rec.Files()
			if err != nil {
				t.Fatal(err)
			}
			var atr []byte
			for _, f := range files {
				if f.Name == "d.atr" {
					atr = f.Data
				}
			}
			ref, err := wfdb.ReadAnnotations("d.atr", atr)
			if err != nil {
				t.Fatal(err)
			}
			alg := ecg.NewBeats()
			params, err := alg.Params(json.RawMessage(`{}`))
			if err != nil {
				t.Fatal(err)
			}
			res, _, _ := pipetest.Run(t, alg, &rec.Signal, params, pipeline.SplitOptions{})
			var det []int64
			for _, b := range res.(*ecg.BeatsResult).Beats {
				det = append(det, b.Sample)
			}
			st := bxb.Score(ref, det, tc.rate, bxb.Options{})
			t.Logf("%s, %v Hz: %v; truth %v", tc.spec, tc.rate, st, rec.Truth.Beats)
			if st.Se() < 0.99 || st.PPV() < 0.99 {
				t.Errorf("%v, want Se and +P >= 99 %%", st)
			}
		})
	}
}
