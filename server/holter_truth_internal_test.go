package server

import (
	"encoding/json"
	"math"
	"slices"
	"testing"

	"github.com/pulsegrid/pulsegrid/algorithms/ecg"
	"github.com/pulsegrid/pulsegrid/algorithms/formats/wfdb"
	"github.com/pulsegrid/pulsegrid/algorithms/pipeline"
	"github.com/pulsegrid/pulsegrid/algorithms/signal"
	"github.com/pulsegrid/pulsegrid/algorithms/synth"
	"github.com/pulsegrid/pulsegrid/server/store"
)

// truthSpec is the simulated Holter of TestHolterReportAgainstTruth: 2 h
// 10 min with every kind of event; with seed 1 an AF episode runs across
// the 2-hour mark, which is also a chunk boundary.
const (
	truthSpec    = "none,pvc=120,svpb=60,couplet=6,triplet=4,nsvt=4,sv_run=4,bigeminy=2,trigeminy=2,pause=6,bradycardia=2,tachycardia=2,af=2"
	truthMinutes = 130
	truthSeed    = 1
)

// truthBeat is a beat of the .atr the simulator wrote.
type truthBeat struct {
	t     float64
	class ecg.Class
}

// simulatedHolter generates the record, runs ecg.classify@1 on it in
// chunks as the grid does, and returns the result, the truth file and the
// true beats.
func simulatedHolter(t *testing.T) (*ecg.ClassifyResult, synth.Truth, []truthBeat, float64) {
	t.Helper()
	ev, err := synth.ParseEvents(truthSpec, truthMinutes)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := synth.NewECG(synth.ECGOptions{Record: "h", Minutes: truthMinutes, Seed: truthSeed, Events: ev})
	if err != nil {
		t.Fatal(err)
	}
	files, err := rec.Files()
	if err != nil {
		t.Fatal(err)
	}
	var truth synth.Truth
	var anns []signal.Annotation
	for _, f := range files {
		switch f.Name {
		case "h.truth.json":
			err = json.Unmarshal(f.Data, &truth)
		case "h.atr":
			anns, err = wfdb.ReadAnnotations(f.Name, f.Data)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	var beats []truthBeat
	for _, a := range anns {
		if c, ok := ecg.ClassOfCode(a.Code); ok {
			beats = append(beats, truthBeat{float64(a.Sample) / truth.Rate, c})
		}
	}
	if len(beats) != truth.Beats["total"] || len(beats) < 8000 {
		t.Fatalf("%d beats in the .atr, truth says %d", len(beats), truth.Beats["total"])
	}

	alg := ecg.NewClassify()
	params, err := alg.Params(json.RawMessage(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	chunks, err := alg.Split(&rec.Signal, params, pipeline.SplitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	parts := make([]pipeline.Part, len(chunks))
	for i := range chunks {
		task, err := pipeline.DecodeTask(chunks[i].Task.Encode())
		if err != nil {
			t.Fatal(err)
		}
		out, err := alg.Run(task, pipeline.NoYield{})
		if err != nil {
			t.Fatal(err)
		}
		parts[i] = pipeline.Part{Spec: chunks[i].Spec, Output: out}
	}
	res, err := alg.Merge(params, parts)
	if err != nil {
		t.Fatal(err)
	}
	return res.(*ecg.ClassifyResult), truth, beats, rec.Signal.Duration()
}

// TestHolterReportAgainstTruth builds the report of a simulated 2 h 10 min
// Holter, classified in chunks, and checks its hourly table and event
// list against the simulator's truth file. The detector finds every true
// beat; their true classes are then applied as a clinician's corrections
// would be (reportResult, as the portal applies them), so that the classifier's own
// errors (it takes the one-beat start of the simulated tachycardia and end
// of the bradycardia for supraventricular runs) do not hide what this test
// is about: the report. Each hour's beats, V, S and pauses must equal the
// truth's count of that hour exactly (an hour bucketing off by one, or a
// beat lost at a chunk edge, fails), its HR min/mean/max must equal one
// computed here from the true beats within 0.5 bpm, and every true event
// must be in the list with its kind, start and end (an event across the
// two-hour mark, split or lost at the boundary, fails).
func TestHolterReportAgainstTruth(t *testing.T) {
	res, truth, beats, dur := simulatedHolter(t)

	// Every true beat is detected (within 150 ms) and takes its true
	// class; the few detections of no true beat are marked Q, as a
	// clinician marks artefact, and stay in their hour's beat count.
	fix := map[int]ecg.Class{}
	matched := make([]bool, len(res.Beats))
	k := 0
	for _, tb := range beats {
		for k < len(res.Beats)-1 && math.Abs(res.Beats[k+1].Time-tb.t) < math.Abs(res.Beats[k].Time-tb.t) {
			k++
		}
		if math.Abs(res.Beats[k].Time-tb.t) > 0.15 || matched[k] {
			t.Fatalf("true beat at %.3f s not detected", tb.t)
		}
		matched[k] = true
		if res.Beats[k].Class != tb.class {
			fix[k] = tb.class
		}
	}
	var extra []float64
	for i, m := range matched {
		if !m {
			fix[i] = ecg.ClassQ
			extra = append(extra, res.Beats[i].Time)
		}
	}
	if len(extra) > 5 {
		t.Fatalf("%d detections of no true beat: %v", len(extra), extra)
	}
	t.Logf("%d of %d beats relabelled to their true class", len(fix), len(beats))
	// As correctedClassify shows it (the tachycardia inside AF grouped),
	// the true classes as a clinician's beat corrections.
	var cs []store.Correction
	for k, c := range fix {
		cs = append(cs, store.Correction{Target: store.CorrectBeat, Sample: res.Beats[k].Sample, To: c.String()})
	}
	res = reportResult(res, cs)
	rep := buildHolterReport(store.Analysis{ID: 1}, store.Dataset{ID: 1, Name: "h", Duration: dur}, res)

	// The hourly table.
	type hour struct {
		beats, v, s, pauses int
		rrSum               float64
		rrN                 int
	}
	nHours := int(math.Ceil(dur / 3600))
	want := make([]hour, nHours)
	// The rates are of the true beats and the extra detections (each
	// splits an RR interval of the report's).
	times := make([]float64, 0, len(beats)+len(extra))
	for _, b := range beats {
		h := &want[int(b.t/3600)]
		h.beats++
		switch b.class {
		case ecg.ClassV:
			h.v++
		case ecg.ClassS:
			h.s++
		}
		times = append(times, b.t)
	}
	for _, x := range extra {
		want[int(x/3600)].beats++
		times = append(times, x)
	}
	slices.Sort(times)
	for i := 1; i < len(times); i++ {
		h := &want[int(times[i]/3600)]
		h.rrSum += times[i] - times[i-1]
		h.rrN++
	}
	for _, e := range truth.Events {
		if e.Kind == "pause" {
			want[int(e.StartS/3600)].pauses++
		}
	}
	// Minute windows of the true RR intervals, as the report defines them.
	wins := map[int][2]float64{}
	for i := 1; i < len(times); i++ {
		w := int(times[i] / 60)
		x := wins[w]
		wins[w] = [2]float64{x[0] + times[i] - times[i-1], x[1] + 1}
	}
	minHR, maxHR := make([]float64, nHours), make([]float64, nHours)
	for w, x := range wins {
		if x[0] < hrWindowCover {
			continue
		}
		hr, h := 60*x[1]/x[0], w/60
		if minHR[h] == 0 || hr < minHR[h] {
			minHR[h] = hr
		}
		maxHR[h] = max(maxHR[h], hr)
	}
	if len(rep.Hours) != nHours {
		t.Fatalf("%d hours in the table, want %d", len(rep.Hours), nHours)
	}
	for i, g := range rep.Hours {
		w := want[i]
		if g.Hour != i || g.Start != float64(i*3600) || g.Beats != w.beats || g.V != w.v || g.S != w.s || g.Pauses != w.pauses {
			t.Errorf("hour %d: got hour %d from %v s, %d beats, V %d, S %d, %d pauses; truth %d beats, V %d, S %d, %d pauses",
				i, g.Hour, g.Start, g.Beats, g.V, g.S, g.Pauses, w.beats, w.v, w.s, w.pauses)
		}
		mean := 60 * float64(w.rrN) / w.rrSum
		if math.Abs(g.MinHR-minHR[i]) > 0.5 || math.Abs(g.MeanHR-mean) > 0.5 || math.Abs(g.MaxHR-maxHR[i]) > 0.5 {
			t.Errorf("hour %d: HR min/mean/max %.1f/%.1f/%.1f, truth %.1f/%.1f/%.1f", i, g.MinHR, g.MeanHR, g.MaxHR, minHR[i], mean, maxHR[i])
		}
	}

	// The events: each true one is in the list.
	kinds := map[string]string{"couplet": ecg.EventVCouplet, "triplet": ecg.EventNSVT, "nsvt": ecg.EventNSVT, "sv_run": ecg.EventSVRun,
		"bigeminy": ecg.EventBigeminy, "trigeminy": ecg.EventTrigeminy, "pause": ecg.EventPause,
		"bradycardia": ecg.EventBrady, "tachycardia": ecg.EventTachy, "af": ecg.EventAF}
	used := make([]bool, len(rep.Events))
	crossing := 0
	for _, te := range truth.Events {
		kind, ok := kinds[te.Kind]
		if !ok {
			continue // isolated beats are counted, not listed
		}
		if int(te.StartS/3600) != int(te.EndS/3600) {
			crossing++
		}
		// Beat events start and end on their beats; bigeminy and trigeminy
		// start one or two beats before their first V; episodes are found
		// from the rate over 8 beats (brady, tachy) or the irregularity
		// over 32 (AF), so their edges move by a few beats.
		startTol, endTol := 0.05, 0.05
		switch te.Kind {
		case "bigeminy", "trigeminy":
			startTol = 2.5
		case "bradycardia", "tachycardia", "af":
			startTol, endTol = 10, 10
		}
		found := false
		for i, e := range rep.Events {
			if !used[i] && e.Kind == kind && math.Abs(e.StartTime-te.StartS) <= startTol && math.Abs(e.EndTime-te.EndS) <= endTol {
				used[i], found = true, true
				break
			}
		}
		if !found {
			t.Errorf("true %s %.2f–%.2f s is not in the report's events", te.Kind, te.StartS, te.EndS)
		}
	}
	if crossing == 0 {
		t.Fatal("no true event crosses an hour boundary: choose another seed")
	}
	rvr := 0
	// And nothing else is: the stretches where AF's ventricular rate is
	// above 100 bpm are its rapid ventricular response, not tachycardia.
	for i, e := range rep.Events {
		if !used[i] {
			t.Errorf("report event %s %.2f–%.2f s is not in the truth", e.Kind, e.StartTime, e.EndTime)
		}
		if e.Kind == ecg.EventAF {
			t.Logf("AF %.0f–%.0f s: %.0f bpm, max %.0f, RVR %.0f s", e.StartTime, e.EndTime, e.RateBPM, e.MaxRateBPM, e.RVRSeconds)
			if fast := e.RateBPM > rep.Params.TachyBPM; fast != (e.RVRSeconds > 0) || e.MaxRateBPM < e.RateBPM || e.RVRSeconds > e.EndTime-e.StartTime {
				t.Errorf("AF %.0f–%.0f s: mean %.0f bpm, max %.0f, %.0f s of rapid ventricular response", e.StartTime, e.EndTime, e.RateBPM, e.MaxRateBPM, e.RVRSeconds)
			}
			if e.RVRSeconds > 0 {
				rvr++
			}
		}
	}
	if rvr == 0 || rep.AFRVREpisodes != rvr {
		t.Errorf("%d AF episodes with rapid ventricular response in the summary, %d in the events (the simulation's AF is fast)", rep.AFRVREpisodes, rvr)
	}
	if rep.AFEpisodes != truth.Counts.AF || math.Abs(rep.AFSeconds-truth.AFSeconds) > 20 {
		t.Errorf("AF: %d episodes, %.0f s; truth %d, %.0f s", rep.AFEpisodes, rep.AFSeconds, truth.Counts.AF, truth.AFSeconds)
	}
}

// TestHolterTrend checks the heart-rate trend: on the simulated Holter one
// bin a minute whose mean equals the true rate of that minute (a trend
// shifted by a bin fails) and whose band holds it; a 24-hour record gets
// five-minute bins (288 of them, not 86,400 beats drawn as a block).
func TestHolterTrend(t *testing.T) {
	res, _, beats, dur := simulatedHolter(t)
	rep := buildHolterReport(store.Analysis{ID: 1}, store.Dataset{ID: 1, Name: "h", Duration: dur}, res)
	if rep.TrendBinSeconds != 60 || len(rep.Trend) != int(math.Ceil(dur/60)) {
		t.Fatalf("trend of %d bins of %v s, want %v of 60", len(rep.Trend), rep.TrendBinSeconds, math.Ceil(dur/60))
	}
	sum, cnt := make([]float64, len(rep.Trend)), make([]int, len(rep.Trend))
	for i := 1; i < len(beats); i++ {
		k := int(beats[i].t / 60)
		sum[k] += beats[i].t - beats[i-1].t
		cnt[k]++
	}
	off := 0
	for k, p := range rep.Trend {
		if p.Time != float64(k*60) {
			t.Fatalf("bin %d starts at %v", k, p.Time)
		}
		if sum[k] < 30 {
			continue
		}
		want := 60 * float64(cnt[k]) / sum[k]
		if math.Abs(p.Mean-want) > 1 {
			off++
			t.Logf("minute %d: mean %.1f bpm, truth %.1f", k, p.Mean, want)
		}
		if !(p.Min <= p.Mean && p.Mean <= p.Max) {
			t.Errorf("minute %d: band %.1f–%.1f does not hold the mean %.1f", k, p.Min, p.Max, p.Mean)
		}
	}
	if off > 3 { // the few detections of no true beat split an interval
		t.Errorf("%d minutes off the true rate", off)
	}

	day := &ecg.ClassifyResult{Rate: 360}
	for i := range 86400 {
		rr := 1.0
		if i == 0 {
			rr = 0
		}
		day.Beats = append(day.Beats, ecg.ClassifiedBeat{Time: float64(i) + 0.5, RR: rr, Class: ecg.ClassN})
	}
	bin, tr := hrTrend(day.Beats, 86400)
	if bin != 300 || len(tr) != 288 || tr[100].Mean != 60 || tr[287].Mean != 60 {
		t.Errorf("24 h: %d bins of %v s, bin 100 %+v", len(tr), bin, tr[100])
	}
}

// TestParseClock checks the jump-to-time input.
func TestParseClock(t *testing.T) {
	for in, want := range map[string]float64{"02:00:00": 7200, "1:02:03": 3723, "05:30": 330, "42": 42, " 00:00:01 ": 1} {
		if got, err := parseClock(in); err != nil || got != want {
			t.Errorf("parseClock(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "1:60:00", "ab", "1:2:3:4", "-1", "00:00:75"} {
		if _, err := parseClock(in); err == nil {
			t.Errorf("parseClock(%q) accepted", in)
		}
	}
}
