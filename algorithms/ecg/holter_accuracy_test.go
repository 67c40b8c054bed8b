package ecg

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/pulsegrid/pulsegrid/algorithms/ecg/bxb"
	"github.com/pulsegrid/pulsegrid/algorithms/internal/pipetest"
	"github.com/pulsegrid/pulsegrid/algorithms/pipeline"
	"github.com/pulsegrid/pulsegrid/algorithms/signal"
)

// The detector where Holters hurt (issue 13): every MIT-BIH record of the
// shared data, the Noise Stress Test records per SNR, and the fiducial
// error against the reference beats, for ecg.beats@1 and ecg.beats@2 side
// by side. The floors below are what ecg.beats@2 must keep.

// allMITRecords are the 24 MIT-BIH records in ../shared/data/mitdb: the 22
// of DS1 plus 100 and 105.
var allMITRecords = []string{"100", "101", "105", "106", "108", "109", "112", "114", "115", "116", "118", "119",
	"122", "124", "201", "203", "205", "207", "208", "209", "215", "220", "223", "230"}

// nstRecords are the Noise Stress Test records of 118, by SNR.
var nstRecords = []struct {
	name string
	snr  string
}{{"118e24", "24"}, {"118e12", "12"}, {"118e06", "6"}, {"118e00", "0"}, {"118e_6", "-6"}}

// gqrsNST are WFDB gqrs's figures on the Noise Stress Test records as issue
// 13 quotes them (only 6 and 0 dB are given there; gqrs is not run here).
var gqrsNST = map[string]string{"6": "99.3 / 70.5", "0": "96.8 / –"}

// beatsOf runs the named beat detector (default parameters, default
// chunking) and returns the beat samples and the result's lead.
func beatsOf(tb testing.TB, name string, sig *signal.Signal) ([]int64, string) {
	tb.Helper()
	var alg pipeline.Algorithm
	switch name {
	case BeatsName:
		alg = NewBeats()
	case Beats2Name:
		alg = NewBeats2()
	default:
		tb.Fatalf("unknown detector %s", name)
	}
	params, err := alg.Params(nil)
	if err != nil {
		tb.Fatal(err)
	}
	res, _, _ := pipetest.Run(tb, alg, sig, params, pipeline.SplitOptions{})
	r := res.(*BeatsResult)
	return beatSamples(r), r.Lead
}

// fiducialErrors are the signed offsets detection − reference (ms) of the
// matched beats in the scored part of a record (after 5 minutes).
func fiducialErrors(ref []signal.Annotation, det []int64, rate float64) []float64 {
	w := int64(0.150*rate + 0.5)
	start := int64(300*rate + 0.5)
	var out []float64
	j := 0
	for _, a := range ref {
		if !signal.IsQRS(a.Code) || a.Sample < start {
			continue
		}
		for j < len(det) && det[j] < a.Sample-w {
			j++
		}
		best := int64(-1)
		for k := j; k < len(det) && det[k] <= a.Sample+w; k++ {
			if best < 0 || abs64(det[k]-a.Sample) < abs64(best-a.Sample) {
				best = det[k]
			}
		}
		if best >= 0 {
			out = append(out, float64(best-a.Sample)*1000/rate)
		}
	}
	return out
}

// fidStats are the median, mean absolute, SD and 95th percentile of |e|.
type fidStats struct{ median, meanAbs, sd, p95 float64 }

func fiducialStats(e []float64) fidStats {
	if len(e) == 0 {
		return fidStats{}
	}
	s := slices.Clone(e)
	slices.Sort(s)
	var sum, sumAbs float64
	for _, v := range e {
		sum += v
		sumAbs += math.Abs(v)
	}
	mean := sum / float64(len(e))
	var ss float64
	for _, v := range e {
		ss += (v - mean) * (v - mean)
	}
	a := make([]float64, len(e))
	for i, v := range e {
		a[i] = math.Abs(v)
	}
	slices.Sort(a)
	return fidStats{median: s[len(s)/2], meanAbs: sumAbs / float64(len(e)), sd: math.Sqrt(ss / float64(len(e))), p95: a[len(a)*95/100]}
}

// holterFloors are the figures ecg.beats@2 must keep (in %): gross on the
// 24 MIT-BIH records, and per Noise Stress Test SNR.
var holterFloors = struct {
	mitSe, mitPPV float64
	nst           map[string][2]float64
}{
	mitSe: 99.70, mitPPV: 99.70,
	nst: map[string][2]float64{
		"24": {99.9, 99.9}, "12": {99.8, 99.5}, "6": {99.0, 90.0}, "0": {92.0, 75.0}, "-6": {75.0, 60.0},
	},
}

// TestHolterAccuracy scores ecg.beats@1 and ecg.beats@2 on every MIT-BIH
// record and on the Noise Stress Test records, logs the tables of
// docs/algorithms.md and fails when ecg.beats@2 falls below the floors.
// Native only: under js/wasm the digests of TestGoldenBeats2 prove that
// the same outputs are computed.
func TestHolterAccuracy(t *testing.T) {
	if underWasm {
		t.Skip("native only: TestGoldenBeats2 proves js/wasm computes the same beats (beats2_test.go)")
	}
	dets := []string{BeatsName, Beats2Name}
	var rows []string
	gross := make([]bxb.Stats, len(dets))
	var fidAll [2][]float64
	for _, name := range allMITRecords {
		rec := mustReadRecord(t, "mitdb", name)
		line := "| " + name
		for i, d := range dets {
			beats, _ := beatsOf(t, d, &rec.Sig)
			st := bxb.Score(rec.Ann, beats, rec.Rate, bxb.Options{})
			gross[i] = gross[i].Add(st)
			fe := fiducialErrors(rec.Ann, beats, rec.Rate)
			fidAll[i] = append(fidAll[i], fe...)
			fs := fiducialStats(fe)
			line += fmt.Sprintf(" | %.2f | %.2f | %d | %d | %.1f / %.1f", 100*st.Se(), 100*st.PPV(), st.FN, st.FP, fs.median, fs.sd)
		}
		rows = append(rows, line+" |")
	}
	t.Logf("| record | @1 Se | @1 +P | @1 FN | @1 FP | @1 fid. median / SD ms | @2 Se | @2 +P | @2 FN | @2 FP | @2 fid. median / SD ms |\n%s", strings.Join(rows, "\n"))
	for i, d := range dets {
		fs := fiducialStats(fidAll[i])
		t.Logf("%s gross: %v; fiducial median %.1f ms, mean |e| %.1f ms, SD %.1f ms, p95 |e| %.1f ms", d, gross[i], fs.median, fs.meanAbs, fs.sd, fs.p95)
	}
	if g := gross[1]; 100*g.Se() < holterFloors.mitSe || 100*g.PPV() < holterFloors.mitPPV {
		t.Errorf("%s on the 24 MIT-BIH records: %v, want Se >= %.2f%% and +P >= %.2f%%", Beats2Name, g, holterFloors.mitSe, holterFloors.mitPPV)
	}

	rows = rows[:0]
	for _, r := range nstRecords {
		rec := mustReadRecord(t, "nstdb", r.name)
		line := fmt.Sprintf("| %s dB", r.snr)
		var st2 bxb.Stats
		for _, d := range dets {
			beats, _ := beatsOf(t, d, &rec.Sig)
			st := bxb.Score(rec.Ann, beats, rec.Rate, bxb.Options{})
			line += fmt.Sprintf(" | %.2f / %.2f", 100*st.Se(), 100*st.PPV())
			st2 = st
		}
		g := gqrsNST[r.snr]
		if g == "" {
			g = "–"
		}
		rows = append(rows, line+" | "+g+" |")
		f := holterFloors.nst[r.snr]
		if 100*st2.Se() < f[0] || 100*st2.PPV() < f[1] {
			t.Errorf("%s on %s (%s dB): %v, want Se >= %.1f%% and +P >= %.1f%%", Beats2Name, r.name, r.snr, st2, f[0], f[1])
		}
	}
	t.Logf("| SNR | @1 Se / +P | @2 Se / +P | gqrs Se / +P (issue 13) |\n%s", strings.Join(rows, "\n"))
}
