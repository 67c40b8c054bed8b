package server

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"slices"

	"github.com/pulsegrid/pulsegrid/algorithms/ecg"
	"github.com/pulsegrid/pulsegrid/algorithms/pipeline"
	"github.com/pulsegrid/pulsegrid/server/store"
	"github.com/pulsegrid/pulsegrid/views"
)

// The Holter report (issue 13) is computed here from a verified
// ecg.classify@1 result alone, so that the page, GET
// /api/v1/analyses/{id}/report and the FHIR export show the same figures.

// hrWindowSeconds is the averaging window of the report's heart rate
// minimum and maximum: the rate of a window is 60 / the mean of the RR
// intervals whose second beat falls in it. One minute is what Holter
// reports usually state; a beat-to-beat minimum would be one pause.
const hrWindowSeconds = 60

// hrWindowCover is the least time (seconds of RR intervals) a window must
// hold for its rate to count toward the minimum and maximum, so that the
// record's last few seconds or a window after a lead-off are not a
// "minimum" of two beats.
const hrWindowCover = 30

// hrvSegmentSeconds is the segment of SDANN and SDNN index (Task Force 1996).
const hrvSegmentSeconds = 300

// triangularBin is the histogram bin of the HRV triangular index, 1/128 s,
// the Task Force's sampling-rate-independent choice.
const triangularBin = 1.0 / 128

// rateAt is a heart rate and the start of the window it was measured over.
type rateAt struct {
	BPM  float64 `json:"bpm"`
	Time float64 `json:"time_s"` // start of the window, seconds from the start of the record
}

// holterHour is one row of the hourly table.
type holterHour struct {
	Hour   int     `json:"hour"` // 0-based hour of the record
	Start  float64 `json:"start_s"`
	Beats  int     `json:"beats"`
	MinHR  float64 `json:"hr_min"` // over hrWindowSeconds windows; 0 when none is covered
	MeanHR float64 `json:"hr_mean"`
	MaxHR  float64 `json:"hr_max"`
	V      int     `json:"v"`
	S      int     `json:"s"`
	Pauses int     `json:"pauses"`
}

// holterHRV are the time-domain HRV measures over NN intervals.
type holterHRV struct {
	NN               int     `json:"nn_intervals"`
	SDNN             float64 `json:"sdnn_ms"`
	SDANN            float64 `json:"sdann_ms"`
	SDNNIndex        float64 `json:"sdnn_index_ms"`
	RMSSD            float64 `json:"rmssd_ms"`
	PNN50            float64 `json:"pnn50_percent"`
	TriangularIndex  float64 `json:"hrv_triangular_index"`
	Segments         int     `json:"segments_5min"`
	FullDay          bool    `json:"full_day"` // the record is at least 18 h, so the 24-hour norms apply
	TaskForceComment string  `json:"note"`
}

// holterReport is the Holter report of one ecg.classify@1 or @2 analysis.
type holterReport struct {
	AnalysisID       int64           `json:"analysis_id"`
	Algorithm        string          `json:"algorithm"` // the classifier that ran, ecg.classify@1 or @2
	DatasetID        int64           `json:"dataset_id"`
	Record           string          `json:"record"`
	Rate             float64         `json:"rate"` // of the beats' samples
	RecordingSeconds float64         `json:"recording_s"`
	AnalysedSeconds  float64         `json:"analysed_s"`
	Beats            int             `json:"beats"`
	Classes          ecg.ClassCounts `json:"classes"`
	HRWindowSeconds  int             `json:"hr_window_s"`
	MinHR            rateAt          `json:"hr_min"`
	MeanHR           float64         `json:"hr_mean"`
	MaxHR            rateAt          `json:"hr_max"`
	Hours            []holterHour    `json:"hours"`
	EventCounts      []ecg.KindCount `json:"event_counts"`
	AFBurden         float64         `json:"af_burden"` // fraction of the analysed time
	AFSeconds        float64         `json:"af_s"`
	AFEpisodes       int             `json:"af_episodes"`
	// AFRVREpisodes of the AF episodes had tachycardia inside them (rapid
	// ventricular response), for AFRVRSeconds in all (ecg.FoldRVR).
	AFRVREpisodes   int                `json:"af_rvr_episodes"`
	AFRVRSeconds    float64            `json:"af_rvr_s"`
	LongestPause    float64            `json:"longest_pause_s"`
	LongestPauseAt  float64            `json:"longest_pause_at_s"` // time of the beat that ends it
	PauseThreshold  float64            `json:"pause_threshold_s"`
	LongestVRun     *ecg.Event         `json:"longest_v_run"`
	FastestVRun     *ecg.Event         `json:"fastest_v_run"`
	HRV             holterHRV          `json:"hrv"`
	Events          []ecg.Event        `json:"events"`
	TrendBinSeconds float64            `json:"trend_bin_s"`
	Trend           []trendPoint       `json:"trend"`
	Params          ecg.ClassifyParams `json:"params"`
	// Families are the morphology families (templates) of the beats,
	// largest first, with their classes as corrected (holter_families.go).
	Families []holterFamily `json:"families"`
	// Corrected says the report was recomputed with a clinician's
	// corrections (listed oldest first); the verified result is unchanged.
	Corrected   bool               `json:"corrected"`
	Corrections []holterCorrection `json:"corrections"`
}

// classifyOf returns the ecg.classify@1 result in res.
func classifyOf(res pipeline.Result) (*ecg.ClassifyResult, bool) {
	c, ok := res.(*ecg.ClassifyResult)
	return c, ok
}

// buildHolterReport computes the report from a classify result; recording
// is the dataset's length in seconds.
func buildHolterReport(a store.Analysis, ds store.Dataset, res *ecg.ClassifyResult) holterReport {
	rep := holterReport{
		AnalysisID: a.ID, Algorithm: res.Algorithm, DatasetID: ds.ID, Record: ds.Name, Rate: res.Rate,
		RecordingSeconds: ds.Duration, AnalysedSeconds: res.Rhythm.AnalysedSeconds,
		Beats: res.Count, Classes: res.Classes, HRWindowSeconds: hrWindowSeconds,
		EventCounts: res.Rhythm.Counts, AFBurden: res.Rhythm.AFBurden, AFSeconds: res.Rhythm.AFSeconds,
		LongestPause: res.Rhythm.LongestPause, PauseThreshold: res.Params.PauseSeconds,
		Events: res.Events, Params: res.Params,
	}
	if rep.RecordingSeconds <= 0 && res.Rate > 0 {
		rep.RecordingSeconds = float64(res.Samples) / res.Rate
	}
	if rep.Events == nil {
		rep.Events = []ecg.Event{}
	}
	if i := res.Rhythm.LongestVRun; i >= 0 && i < len(res.Events) {
		e := res.Events[i]
		rep.LongestVRun = &e
	}
	if i := res.Rhythm.FastestVRun; i >= 0 && i < len(res.Events) {
		e := res.Events[i]
		rep.FastestVRun = &e
	}
	for _, e := range res.Events {
		if e.Kind == ecg.EventAF {
			rep.AFEpisodes++
			if e.RVRSeconds > 0 {
				rep.AFRVREpisodes++
				rep.AFRVRSeconds += e.RVRSeconds
			}
		}
	}

	// Windows of hrWindowSeconds: RR sum and count of the intervals whose
	// second beat falls in each.
	type acc struct {
		sum float64
		n   int
	}
	nWin := int(rep.RecordingSeconds/hrWindowSeconds) + 1
	if len(res.Beats) > 0 {
		nWin = max(nWin, int(res.Beats[len(res.Beats)-1].Time/hrWindowSeconds)+1)
	}
	wins := make([]acc, nWin)
	var total acc
	for i, b := range res.Beats {
		if i == 0 || b.RR <= 0 {
			continue
		}
		w := int(b.Time / hrWindowSeconds)
		wins[w].sum += b.RR
		wins[w].n++
		total.sum += b.RR
		total.n++
		if b.RR == res.Rhythm.LongestPause && rep.LongestPauseAt == 0 {
			rep.LongestPauseAt = b.Time
		}
	}
	if total.n > 0 {
		rep.MeanHR = 60 * float64(total.n) / total.sum
	}
	end := rep.RecordingSeconds
	if len(res.Beats) > 0 {
		end = max(end, res.Beats[len(res.Beats)-1].Time)
	}
	nHours := max(1, int(math.Ceil(end/3600)))
	hourOf := func(t float64) int { return min(max(int(t/3600), 0), nHours-1) }
	hours := make([]holterHour, nHours)
	hourAcc := make([]acc, nHours)
	for h := range hours {
		hours[h].Hour, hours[h].Start = h, float64(h)*3600
	}
	for w, x := range wins {
		if x.sum < hrWindowCover || x.n == 0 {
			continue
		}
		hr := 60 * float64(x.n) / x.sum
		at := float64(w) * hrWindowSeconds
		if rep.MinHR.BPM == 0 || hr < rep.MinHR.BPM {
			rep.MinHR = rateAt{hr, at}
		}
		if hr > rep.MaxHR.BPM {
			rep.MaxHR = rateAt{hr, at}
		}
		h := &hours[hourOf(at)]
		if h.MinHR == 0 || hr < h.MinHR {
			h.MinHR = hr
		}
		h.MaxHR = max(h.MaxHR, hr)
	}
	for i, b := range res.Beats {
		hi := hourOf(b.Time)
		h := &hours[hi]
		h.Beats++
		switch b.Class {
		case ecg.ClassV:
			h.V++
		case ecg.ClassS:
			h.S++
		}
		if i > 0 && b.RR > 0 {
			hourAcc[hi].sum += b.RR
			hourAcc[hi].n++
		}
	}
	for _, e := range res.Events {
		if e.Kind == ecg.EventPause {
			hours[hourOf(e.StartTime)].Pauses++
		}
	}
	for hi := range hours {
		if x := hourAcc[hi]; x.n > 0 {
			hours[hi].MeanHR = 60 * float64(x.n) / x.sum
		}
	}
	rep.Hours = hours
	rep.HRV = holterHRVOf(res.Beats, rep.RecordingSeconds)
	rep.TrendBinSeconds, rep.Trend = hrTrend(res.Beats, rep.RecordingSeconds)
	return rep
}

// holterHRVOf computes the Task Force time-domain measures over the NN
// intervals: intervals between two consecutive beats both classed N
// (an interval next to an ectopic beat or a missed detection is not NN).
func holterHRVOf(beats []ecg.ClassifiedBeat, recording float64) holterHRV {
	var h holterHRV
	h.FullDay = recording >= 18*3600
	h.TaskForceComment = "The Task Force (1996) norms are for 24-hour recordings."
	if !h.FullDay {
		h.TaskForceComment = fmt.Sprintf("The Task Force (1996) norms are for 24-hour recordings; this one is %s, so SDNN, SDANN and the triangular index are not comparable with them.", views.Duration(recording))
	}
	var nn []float64 // ms
	var diffs []float64
	type seg struct{ nn []float64 }
	segs := map[int]*seg{}
	var segOrder []int
	prevNN := -1.0
	for i := 1; i < len(beats); i++ {
		b, a := beats[i], beats[i-1]
		if b.Class != ecg.ClassN || a.Class != ecg.ClassN || b.RR <= 0 {
			prevNN = -1
			continue
		}
		ms := b.RR * 1000
		nn = append(nn, ms)
		if prevNN >= 0 {
			diffs = append(diffs, ms-prevNN)
		}
		prevNN = ms
		k := int(b.Time / hrvSegmentSeconds)
		s, ok := segs[k]
		if !ok {
			s = &seg{}
			segs[k] = s
			segOrder = append(segOrder, k)
		}
		s.nn = append(s.nn, ms)
	}
	h.NN = len(nn)
	if len(nn) < 2 {
		return h
	}
	h.SDNN = stddev(nn)
	var means, sds []float64
	for _, k := range segOrder {
		s := segs[k]
		if len(s.nn) < 2 {
			continue
		}
		means = append(means, mean(s.nn))
		sds = append(sds, stddev(s.nn))
	}
	h.Segments = len(means)
	if len(means) >= 2 {
		h.SDANN = stddev(means)
	}
	if len(sds) > 0 {
		h.SDNNIndex = mean(sds)
	}
	if len(diffs) > 0 {
		var sq float64
		over := 0
		for _, d := range diffs {
			sq += d * d
			if math.Abs(d) > 50 {
				over++
			}
		}
		h.RMSSD = math.Sqrt(sq / float64(len(diffs)))
		h.PNN50 = 100 * float64(over) / float64(len(diffs))
	}
	bins := map[int]int{}
	peak := 0
	for _, ms := range nn {
		k := int(ms / 1000 / triangularBin)
		bins[k]++
		peak = max(peak, bins[k])
	}
	h.TriangularIndex = float64(len(nn)) / float64(peak)
	return h
}

func mean(x []float64) float64 {
	var s float64
	for _, v := range x {
		s += v
	}
	return s / float64(len(x))
}

// stddev is the sample standard deviation (n − 1), as the Task Force uses.
func stddev(x []float64) float64 {
	m := mean(x)
	var s float64
	for _, v := range x {
		s += (v - m) * (v - m)
	}
	return math.Sqrt(s / float64(len(x)-1))
}

// holter is the Holter report of an analysis and what it was made from.
type holter struct {
	rep       holterReport
	verified  *ecg.ClassifyResult // the verified result
	corrected *ecg.ClassifyResult // with the clinicians' corrections (correctedClassify)
	ds        store.Dataset
}

// classifyResultOf is the verified ecg.classify result of analysis a, or an
// error naming why there is none (not done, another algorithm).
func classifyResultOf(ctx context.Context, d Deps, a store.Analysis) (*ecg.ClassifyResult, error) {
	res, err := decodedResult(ctx, d, a)
	if err != nil {
		return nil, err
	}
	c, ok := classifyOf(res)
	if !ok {
		return nil, Errorf(ENotFound, "analysis %d is %s: a Holter report exists for %s and %s analyses only", a.ID, a.Algorithm, ecg.ClassifyName, ecg.Classify2Name)
	}
	return c, nil
}

// holterOf loads the report of analysis a, recomputed with its
// corrections, with the verified and the corrected result.
func holterOf(r *http.Request, d Deps, a store.Analysis) (holter, error) {
	c, err := classifyResultOf(r.Context(), d, a)
	if err != nil {
		return holter{}, err
	}
	ds, err := d.Store.Dataset(r.Context(), a.DatasetID)
	if err != nil {
		return holter{}, err
	}
	corrected, list, err := correctedClassify(r.Context(), d, a, c)
	if err != nil {
		return holter{}, err
	}
	rep := buildHolterReport(a, ds, corrected)
	rep.Corrected, rep.Corrections = len(list) > 0, list
	rep.Families = holterFamilies(c, corrected)
	return holter{rep: rep, verified: c, corrected: corrected, ds: ds}, nil
}

// handleHolterReport is GET /api/v1/analyses/{id}/report: the figures of
// the report page as JSON (docs/api.md).
func handleHolterReport(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, err := ownAnalysis(d, r)
		if err != nil {
			writeError(w, r, d.Logger, err)
			return
		}
		format := r.URL.Query().Get("format")
		if format != "" && format != "json" && format != "fhir" && format != "pdf" {
			writeError(w, r, d.Logger, Errorf(EInvalid, "format %q: the report is json (the default), fhir (an HL7 FHIR R4 Bundle) or pdf", format))
			return
		}
		h, err := holterOf(r, d, a)
		if err != nil {
			writeError(w, r, d.Logger, err)
			return
		}
		rep, ds := h.rep, h.ds
		if format == "pdf" {
			audit(d, r, "analysis.report", fmt.Sprintf("analysis/%d", a.ID), "pdf")
			if err := writeHolterPDF(r.Context(), w, d, a, h); err != nil {
				writeError(w, r, d.Logger, err)
			}
			return
		}
		if format == "fhir" {
			audit(d, r, "analysis.report", fmt.Sprintf("analysis/%d", a.ID), "fhir")
			writeFHIR(w, holterFHIR(rep, a, ds))
			return
		}
		audit(d, r, "analysis.report", fmt.Sprintf("analysis/%d", a.ID), "json")
		writeJSON(w, http.StatusOK, rep)
	})
}

// handleHolterPage is GET /analyses/{id}/report: the Holter report page,
// with the strip of the record at ?from=&to= (an event row's link).
func (p *portal) handleHolterPage() http.Handler {
	return p.auth(false, func(w http.ResponseWriter, r *http.Request) {
		a, err := p.analysis(r)
		if err != nil {
			p.fail(w, r, err)
			return
		}
		if a.Status != store.StatusDone {
			http.Redirect(w, r, fmt.Sprintf("/analyses/%d", a.ID), http.StatusSeeOther)
			return
		}
		h, err := holterOf(r, p.d, a)
		if err != nil {
			p.fail(w, r, err)
			return
		}
		rep, res, ds := h.rep, h.verified, h.ds
		// ?at=HH:MM:SS (the page's jump form) is the strip there.
		if r.URL.Query().Has("at") {
			q, err := jumpQuery(r.URL.Query(), rep.RecordingSeconds)
			if err != nil {
				p.fail(w, r, err)
				return
			}
			http.Redirect(w, r, fmt.Sprintf("/analyses/%d/report?%s#strip", a.ID, q.Encode()), http.StatusSeeOther)
			return
		}
		// ?seek=WHAT&dir=next|prev (the strip's seek buttons) is the
		// window of the next or previous event or beat of a class.
		if r.URL.Query().Has("seek") {
			p.seek(w, r, a, ds, h.corrected)
			return
		}
		strip, err := p.classifyStrip(r, a, ds, h.corrected)
		if err != nil {
			p.fail(w, r, err)
			return
		}
		audit(p.d, r, "analysis.view", fmt.Sprintf("analysis/%d", a.ID), "report")
		strip.Seek = seekButtons(a.ID, strip, r.URL.Query().Get("cursor"))
		page := holterView(rep, strip)
		if page.Families, err = p.familyViews(r.Context(), rep, ds, res.LeadIndex); err != nil {
			p.fail(w, r, err)
			return
		}
		p.render(w, r, http.StatusOK, fmt.Sprintf("Holter report of analysis #%d", a.ID), "analyses", views.Holter(page))
	})
}

// classifyStrip is the strip of a classify result, as corrected
// (correctedClassify): the beats strip with each non-N beat labelled by
// its class.
func (p *portal) classifyStrip(r *http.Request, a store.Analysis, ds store.Dataset, res *ecg.ClassifyResult) (views.StripView, error) {
	b := &ecg.BeatsResult{Algorithm: res.Algorithm, Lead: res.Lead, LeadIndex: res.LeadIndex, Rate: res.Rate, Samples: res.Samples, Count: res.Count,
		Beats: make([]ecg.Beat, len(res.Beats))}
	for i, bt := range res.Beats {
		b.Beats[i] = ecg.Beat{Sample: bt.Sample, Time: bt.Time, RR: bt.RR}
	}
	s, err := p.strip(r, a, ds, b)
	if err != nil {
		return s, err
	}
	for i := range s.Detected {
		k, ok := slices.BinarySearchFunc(res.Beats, s.Detected[i].Time, func(b ecg.ClassifiedBeat, t float64) int {
			switch {
			case b.Time < t:
				return -1
			case b.Time > t:
				return 1
			}
			return 0
		})
		if ok && res.Beats[k].Class != ecg.ClassN {
			s.Detected[i].Label = res.Beats[k].Class.String()
		}
	}
	return s, nil
}

// holterView is the page model of a report.
func holterView(rep holterReport, strip views.StripView) views.HolterPage {
	rate := rep.Rate
	v := views.HolterPage{
		AnalysisID: rep.AnalysisID, Algorithm: rep.Algorithm, DatasetID: rep.DatasetID, Record: rep.Record,
		RecordingSec: rep.RecordingSeconds, AnalysedSec: rep.AnalysedSeconds,
		Beats: rep.Beats, N: rep.Classes.N, S: rep.Classes.S, V: rep.Classes.V, F: rep.Classes.F, Q: rep.Classes.Q,
		WindowSec: rep.HRWindowSeconds, MinHR: rep.MinHR.BPM, MinHRAt: rep.MinHR.Time, MeanHR: rep.MeanHR,
		MaxHR: rep.MaxHR.BPM, MaxHRAt: rep.MaxHR.Time,
		AFBurden: rep.AFBurden, AFSec: rep.AFSeconds, AFEpisodes: rep.AFEpisodes,
		AFRVREpisodes: rep.AFRVREpisodes, AFRVRSec: rep.AFRVRSeconds, TachyBPM: rep.Params.TachyBPM, EpisodeSec: rep.Params.EpisodeSeconds,
		LongestPause: rep.LongestPause, LongestPauseAt: rep.LongestPauseAt, PauseThreshold: rep.PauseThreshold,
		Strip: strip, FHIR: fmt.Sprintf("/api/v1/analyses/%d/report?format=fhir", rep.AnalysisID),
		JSON: fmt.Sprintf("/api/v1/analyses/%d/report", rep.AnalysisID),
		PDF:  fmt.Sprintf("/api/v1/analyses/%d/report?format=pdf", rep.AnalysisID),
	}
	for _, h := range rep.Hours {
		v.Hours = append(v.Hours, views.HolterHour{Start: h.Start, Beats: h.Beats, MinHR: h.MinHR, MeanHR: h.MeanHR, MaxHR: h.MaxHR, V: h.V, S: h.S, Pauses: h.Pauses,
			Href: fmt.Sprintf("/analyses/%d/report?from=%.3f&to=%.3f#strip", rep.AnalysisID, h.Start, h.Start+10)})
	}
	v.TrendBin = rep.TrendBinSeconds
	for _, t := range rep.Trend {
		v.TrendT = append(v.TrendT, t.Time+rep.TrendBinSeconds/2)
		nan := func(x float64) float64 {
			if x <= 0 {
				return math.NaN()
			}
			return x
		}
		v.TrendMin, v.TrendMean, v.TrendMax = append(v.TrendMin, nan(t.Min)), append(v.TrendMean, nan(t.Mean)), append(v.TrendMax, nan(t.Max))
	}
	for _, c := range rep.EventCounts {
		v.Counts = append(v.Counts, views.HolterCount{Kind: eventTitle(c.Kind), Count: c.Count})
	}
	link := func(e ecg.Event) string {
		from := max(e.StartTime-2, 0)
		to := max(e.EndTime+2, from+10)
		to = min(to, from+60)
		return fmt.Sprintf("/analyses/%d/report?from=%.3f&to=%.3f#strip", rep.AnalysisID, from, to)
	}
	run := func(e *ecg.Event) *views.HolterEvent {
		if e == nil {
			return nil
		}
		x := holterEventView(*e, link(*e))
		return &x
	}
	v.LongestVRun, v.FastestVRun = run(rep.LongestVRun), run(rep.FastestVRun)
	for _, e := range rep.Events {
		v.Events = append(v.Events, holterEventView(e, link(e)))
	}
	v.Corrected, v.CorrectURL = rep.Corrected, fmt.Sprintf("/analyses/%d/report/corrections", rep.AnalysisID)
	for _, c := range rep.Corrections {
		what := "beat at " + clockMillis(c.Time)
		switch c.Target {
		case store.CorrectEvent:
			what = eventTitle(c.EventKind) + " at " + clockOf(c.Time)
		case store.CorrectFamily:
			what = fmt.Sprintf("every beat of family %d", c.Sample)
		}
		v.Corrections = append(v.Corrections, views.HolterCorrection{At: c.CreatedAt.UTC().Format("2006-01-02 15:04:05 UTC"), By: c.By, What: what, From: c.From, To: c.To})
	}
	for _, k := range dismissedEvents(rep.Corrections) {
		t := float64(k.Start) / rate
		v.Dismissed = append(v.Dismissed, views.HolterEvent{Kind: eventTitle(k.Kind), Start: t, KindCode: k.Kind, StartSample: k.Start})
	}
	h := rep.HRV
	v.HRVNote = h.TaskForceComment
	v.HRV = []views.HolterMeasure{
		{Name: "SDNN", Unit: "ms", Value: h.SDNN, Norm: "141 ± 39"},
		{Name: "SDANN", Unit: "ms", Value: h.SDANN, Norm: "127 ± 35"},
		{Name: "SDNN index", Unit: "ms", Value: h.SDNNIndex, Norm: "—"},
		{Name: "RMSSD", Unit: "ms", Value: h.RMSSD, Norm: "27 ± 12"},
		{Name: "pNN50", Unit: "%", Value: h.PNN50, Norm: "—"},
		{Name: "HRV triangular index", Unit: "", Value: h.TriangularIndex, Norm: "37 ± 15"},
	}
	if h.NN < 2 {
		for i := range v.HRV {
			v.HRV[i].Value = math.NaN()
		}
	}
	return v
}

func holterEventView(e ecg.Event, href string) views.HolterEvent {
	return views.HolterEvent{Kind: eventTitle(e.Kind), Start: e.StartTime, Duration: e.EndTime - e.StartTime, Beats: e.Beats, RateBPM: e.RateBPM,
		MaxRateBPM: e.MaxRateBPM, RVRSec: e.RVRSeconds, Href: href, KindCode: e.Kind, StartSample: e.Start}
}

// eventTitle is the report's name of an event kind.
func eventTitle(kind string) string {
	switch kind {
	case ecg.EventAF:
		return "Atrial fibrillation"
	case ecg.EventPause:
		return "Pause"
	case ecg.EventBrady:
		return "Bradycardia"
	case ecg.EventTachy:
		return "Tachycardia"
	case ecg.EventVCouplet:
		return "V couplet"
	case ecg.EventVTriplet:
		return "V triplet"
	case ecg.EventVRun:
		return "V run (idioventricular)"
	case ecg.EventNSVT:
		return "NSVT"
	case ecg.EventVT:
		return "VT (sustained)"
	case ecg.EventSVCouplet:
		return "SV couplet"
	case ecg.EventSVRun:
		return "SV run"
	case ecg.EventBigeminy:
		return "Bigeminy"
	case ecg.EventTrigeminy:
		return "Trigeminy"
	}
	return kind
}
