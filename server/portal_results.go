package server

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"

	"github.com/pulsegrid/pulsegrid/algorithms/ecg"
	"github.com/pulsegrid/pulsegrid/algorithms/ecg/bxb"
	"github.com/pulsegrid/pulsegrid/algorithms/hrv"
	"github.com/pulsegrid/pulsegrid/algorithms/pipeline"
	"github.com/pulsegrid/pulsegrid/algorithms/signal"
	"github.com/pulsegrid/pulsegrid/algorithms/template/plausible"
	"github.com/pulsegrid/pulsegrid/algorithms/vitals"
	"github.com/pulsegrid/pulsegrid/server/store"
	"github.com/pulsegrid/pulsegrid/views"
	"github.com/pulsegrid/pulsegrid/views/charts"
)

// trendPoints bounds the points of a trend chart built from a channel.
const trendPoints = 1500

func beatsOf(res pipeline.Result) (*ecg.BeatsResult, bool) {
	b, ok := res.(*ecg.BeatsResult)
	return b, ok
}

// resultPage fills the result view from a decoded result: the sections
// the algorithm produced.
func (p *portal) resultPage(r *http.Request, a store.Analysis, res pipeline.Result) (views.ResultPage, error) {
	ds, err := p.d.Store.Dataset(r.Context(), a.DatasetID)
	if err != nil {
		return views.ResultPage{}, err
	}
	base := fmt.Sprintf("/analyses/%d/download?format=", a.ID)
	page := views.ResultPage{AnalysisID: a.ID, Algorithm: a.Algorithm, DatasetID: a.DatasetID, DatasetName: ds.Name, DurationSec: ds.Duration,
		Downloads: views.Downloads{CSV: base + "csv", JSON: base + "json"}}
	if _, ok := res.(pipeline.Annotated); ok {
		page.Downloads.WFDB = base + "wfdb"
	}
	switch res := res.(type) {
	case *ecg.BeatsResult:
		b, err := p.beatsView(r, a, ds, res)
		if err != nil {
			return page, err
		}
		page.Beats = &b
	case *hrv.ECGResult:
		page.HRV = hrvView(res)
	case *vitals.SummaryResult:
		v, err := p.vitalsView(r, a.DatasetID, res)
		if err != nil {
			return page, err
		}
		page.Vitals = v
	case *vitals.AlarmsResult:
		page.Alarms = alarmsView(res)
	}
	return page, nil
}

func (p *portal) beatsView(r *http.Request, a store.Analysis, ds store.Dataset, res *ecg.BeatsResult) (views.BeatsResult, error) {
	b := views.BeatsResult{Count: res.Count, MeanHR: res.MeanHR}
	if res.Count < 2 {
		b.MeanHR = math.NaN()
	}
	for _, m := range res.PerMinute {
		b.HRTimes = append(b.HRTimes, float64(m.Minute)*60+30)
		hr := m.HR
		if hr == 0 {
			hr = math.NaN()
		}
		b.HR = append(b.HR, hr)
	}
	for _, bt := range res.Beats[min(1, len(res.Beats)):] {
		b.RRTimes = append(b.RRTimes, bt.Time)
		b.RRMs = append(b.RRMs, bt.RR*1000)
	}
	s, err := p.strip(r, a, ds, res)
	if err != nil {
		return b, err
	}
	b.Strip = s
	refs, err := datasetReferences(r.Context(), p.d, ds)
	if err != nil {
		return b, err
	}
	if ref := qrsAt(refs.anns, refs.rate, res.Rate); len(ref) > 0 {
		det := make([]int64, len(res.Beats))
		for i, bt := range res.Beats {
			det[i] = bt.Sample
		}
		st := bxb.Score(ref, det, res.Rate, bxb.Options{})
		b.Reference = &views.BeatScore{Reference: st.TP + st.FN, TruePositives: st.TP, FalsePositives: st.FP, FalseNegatives: st.FN, Sensitivity: st.Se(), PPV: st.PPV()}
	}
	return b, nil
}

// qrsAt returns the beat annotations resampled from rate from to rate to.
func qrsAt(anns []signal.Annotation, from, to float64) []signal.Annotation {
	var out []signal.Annotation
	for _, an := range anns {
		if !signal.IsQRS(an.Code) {
			continue
		}
		if from > 0 && to > 0 && from != to {
			an.Sample = int64(math.Round(float64(an.Sample) * to / from))
		}
		out = append(out, an)
	}
	return out
}

// strip is the ECG strip of the request's window with detected beats and
// the reference annotations in it.
func (p *portal) strip(r *http.Request, a store.Analysis, ds store.Dataset, res *ecg.BeatsResult) (views.StripView, error) {
	if res.LeadIndex < 0 || res.LeadIndex >= len(ds.Channels) {
		return views.StripView{}, Errorf(EConflict, "the result names lead %d, which the dataset does not have", res.LeadIndex)
	}
	ch := ds.Channels[res.LeadIndex]
	from, to := stripWindow(r, float64(ch.Samples)/ch.Rate)
	s, err := signalWindow(r.Context(), p.d, a, ds, res.LeadIndex, from, to, true)
	if err != nil {
		return s, err
	}
	for _, bt := range within(res.Beats, from, to, func(b ecg.Beat) float64 { return b.Time }) {
		s.Detected = append(s.Detected, charts.Mark{Time: bt.Time})
	}
	refs, err := datasetReferences(r.Context(), p.d, ds)
	if err != nil {
		return s, err
	}
	annRate := refs.rate
	if annRate <= 0 {
		annRate = ch.Rate
	}
	for _, an := range refs.anns {
		t := float64(an.Sample) / annRate
		if t < from || t >= to || !signal.IsQRS(an.Code) {
			continue
		}
		s.Reference = append(s.Reference, charts.Mark{Time: t, Label: signal.Mnemonic(an.Code)})
	}
	return s, nil
}

// otherLead is the channel shown under lead in a strip: the first other
// channel at the same rate and length (the second lead of an ECG
// recording), or -1.
func otherLead(ds store.Dataset, lead int) int {
	c := ds.Channels[lead]
	for i, o := range ds.Channels {
		if i != lead && o.Rate == c.Rate && o.Samples == c.Samples {
			return i
		}
	}
	return -1
}

// cohortCounts are the cohort measures that count things, shown without
// decimals.
var cohortCounts = map[string]bool{"Beats": true, "Alarm episodes": true}

func hrvView(res *hrv.ECGResult) *views.HRVResult {
	rows := []views.HRVRow{
		{Key: "mean_nn", Name: "Mean NN", Value: res.MeanNN, Unit: "ms"},
		{Key: "sdnn", Name: "SDNN", Value: res.SDNN, Unit: "ms"},
		{Key: "rmssd", Name: "RMSSD", Value: res.RMSSD, Unit: "ms"},
		{Key: "pnn50", Name: "pNN50", Value: res.PNN50, Unit: "%"},
		{Key: "mean_hr", Name: "Mean HR", Value: res.MeanHR, Unit: "bpm"},
		{Key: "vlf", Name: "VLF power", Value: res.VLF, Unit: "ms²"},
		{Key: "lf", Name: "LF power", Value: res.LF, Unit: "ms²"},
		{Key: "hf", Name: "HF power", Value: res.HF, Unit: "ms²"},
		{Key: "total_power", Name: "Total power", Value: res.TotalPower, Unit: "ms²"},
		{Key: "lf_hf", Name: "LF/HF", Value: res.LFHF},
		{Key: "lf_nu", Name: "LF", Value: res.LFnu, Unit: "n.u."},
		{Key: "hf_nu", Name: "HF", Value: res.HFnu, Unit: "n.u."},
	}
	out := &views.HRVResult{Rows: rows}
	if _, why := res.SpectrumProblem(); why != "" {
		out.NotComputable = why
		for i := range out.Rows {
			if hrv.IsSpectral(out.Rows[i].Key) {
				out.Rows[i].NotComputable, out.Rows[i].Value = true, math.NaN()
			}
		}
	}
	return out
}

func (p *portal) vitalsView(r *http.Request, datasetID int64, res *vitals.SummaryResult) (*views.VitalsResult, error) {
	ds, err := p.d.Store.Dataset(r.Context(), datasetID)
	if err != nil {
		return nil, err
	}
	v := &views.VitalsResult{}
	for _, c := range res.Channels {
		row := vitalsRow(c)
		v.Rows = append(v.Rows, row)
		if row.ExcludedWhy != "" {
			v.Exclusions = append(v.Exclusions, c.Name+": "+row.ExcludedWhy)
		}
		if i := slices.IndexFunc(ds.Channels, func(ch store.ChannelInfo) bool { return ch.Name == c.Name }); i >= 0 {
			t, err := p.trend(r, datasetID, i, ds.Channels[i])
			if err != nil {
				return nil, err
			}
			v.Trends = append(v.Trends, t)
		}
	}
	return v, nil
}

// vitalsRow is one channel's row of the vitals table: statistics of its
// plausible values (none when it has none), the share of missing samples
// and the count of implausible ones, with the reasons.
func vitalsRow(c vitals.ChannelSummary) views.VitalsRow {
	w := c.Whole
	row := views.VitalsRow{Channel: c.Name, Unit: c.Unit, Mean: w.Mean, Median: w.P50, Min: w.Min, Max: w.Max, P5: w.P5, P95: w.P95,
		MissingPct: math.NaN(), Excluded: w.Excluded(), ExcludedWhy: c.ExclusionText()}
	if n := w.Count + w.Missing + w.Excluded(); n > 0 {
		row.MissingPct = 100 * float64(w.Missing) / float64(n)
	}
	if w.Count == 0 {
		nan := math.NaN()
		row.Mean, row.Median, row.Min, row.Max, row.P5, row.P95 = nan, nan, nan, nan, nan, nan
	}
	return row
}

// trend is one stored channel as a trend chart. A channel long enough for
// a trend point to span several stored summary blocks is drawn from the
// summaries (a 24-hour record is not read); a shorter one is read whole.
func (p *portal) trend(r *http.Request, id int64, ch int, c store.ChannelInfo) (t views.Trend, err error) {
	if c.Samples <= trendPoints*store.SummaryBlock {
		channel := c.Channel()
		channel.Samples, err = p.d.Store.DatasetSamples(r.Context(), id, ch, 0, int64(c.Samples))
		return trendOf(channel), err
	}
	sums, err := p.d.Store.DatasetSummaries(r.Context(), id, ch)
	if err != nil {
		return views.Trend{}, err
	}
	per := (len(sums) + trendPoints - 1) / trendPoints
	span := float64(per * store.SummaryBlock)
	t = views.Trend{Name: c.Name, Unit: c.Unit, Step: span / c.Rate, Start: (span - 1) / 2 / c.Rate}
	for lo := 0; lo < len(sums); lo += per {
		var sum float64
		k := 0
		for _, b := range sums[lo:min(lo+per, len(sums))] {
			sum += b.Sum
			k += b.Count
		}
		if k == 0 {
			t.Samples = append(t.Samples, math.NaN())
		} else {
			t.Samples = append(t.Samples, sum/float64(k))
		}
	}
	return t, nil
}

// trendOf is a channel as a trend of at most trendPoints bucket means
// (missing samples skipped; a bucket of only missing ones is a gap).
func trendOf(c signal.Channel) views.Trend {
	t := views.Trend{Name: c.Name, Unit: c.Unit, Step: 1 / c.Rate}
	n := len(c.Samples)
	if n <= trendPoints {
		t.Samples = slices.Clone(c.Samples)
		return t
	}
	per := (n + trendPoints - 1) / trendPoints
	t.Step = float64(per) / c.Rate
	t.Start = float64(per-1) / 2 / c.Rate
	for lo := 0; lo < n; lo += per {
		var sum float64
		k := 0
		for _, x := range c.Samples[lo:min(lo+per, n)] {
			if x == x {
				sum += x
				k++
			}
		}
		if k == 0 {
			t.Samples = append(t.Samples, math.NaN())
		} else {
			t.Samples = append(t.Samples, sum/float64(k))
		}
	}
	return t
}

func alarmsView(res *vitals.AlarmsResult) *views.AlarmsResult {
	a := &views.AlarmsResult{}
	seen := map[string]bool{}
	for _, st := range res.Rules {
		// Rules on one channel (tachycardia, bradycardia) exclude the same
		// samples: say so once per channel.
		if why := st.ExclusionText(); why != "" && !seen[st.Channel] {
			seen[st.Channel] = true
			a.Exclusions = append(a.Exclusions, st.Channel+": "+why)
		}
	}
	for _, e := range res.Episodes {
		kind := "info"
		switch l := strings.ToLower(e.Rule); {
		case strings.Contains(l, "low") || strings.Contains(l, "brady") || strings.Contains(l, "hypo") || strings.Contains(l, "desat"):
			kind = "low"
		case strings.Contains(l, "high") || strings.Contains(l, "tachy") || strings.Contains(l, "hyper"):
			kind = "high"
		}
		a.Episodes = append(a.Episodes, charts.Episode{Start: e.StartS, End: e.EndS, Label: e.Rule,
			Detail: strings.TrimSpace(fmt.Sprintf("%s reached %s %s", e.Channel, plausible.Readable(e.Extreme), e.Unit)), Kind: kind})
	}
	return a
}

// cohortPage compares the analyses of one algorithm in a batch.
func (p *portal) cohortPage(r *http.Request, batchID int64, as []store.Analysis, alg string) (views.CohortPage, error) {
	if alg == "" || !slices.ContainsFunc(as, func(a store.Analysis) bool { return a.Algorithm == alg }) {
		alg = as[0].Algorithm
	}
	page := views.CohortPage{BatchID: batchID, Algorithm: alg}
	type metric struct{ name, unit string }
	var order []metric
	values := map[metric][]float64{}
	set := func(i int, name, unit string, v float64) {
		m := metric{name, unit}
		if _, ok := values[m]; !ok {
			order = append(order, m)
		}
		for len(values[m]) <= i {
			values[m] = append(values[m], math.NaN())
		}
		values[m][i] = v
	}
	i := 0
	for _, a := range as {
		if a.Algorithm != alg {
			continue
		}
		rec := views.CohortRecording{AnalysisID: a.ID, Status: a.Status}
		if ds, err := p.d.Store.Dataset(r.Context(), a.DatasetID); err == nil {
			rec.DatasetName = ds.Name
		}
		if a.Status == store.StatusDone {
			res, err := decodedResult(r.Context(), p.d, a)
			if err != nil {
				return page, err
			}
			switch res := res.(type) {
			case *ecg.BeatsResult:
				set(i, "Beats", "", float64(res.Count))
				set(i, "Mean HR", "bpm", res.MeanHR)
				for _, m := range res.PerMinute {
					hr := m.HR
					if hr == 0 {
						hr = math.NaN()
					}
					rec.HR = append(rec.HR, hr)
				}
			case *hrv.ECGResult:
				for _, row := range hrvView(res).Rows {
					set(i, row.Name, row.Unit, row.Value)
				}
			case *vitals.SummaryResult:
				for _, c := range res.Channels {
					set(i, c.Name+" mean", c.Unit, c.Whole.Mean)
				}
			case *vitals.AlarmsResult:
				var total float64
				for _, e := range res.Episodes {
					total += e.DurationS
				}
				set(i, "Alarm episodes", "", float64(len(res.Episodes)))
				set(i, "Time in alarm", "s", total)
			}
		}
		page.Recordings = append(page.Recordings, rec)
		i++
	}
	for _, m := range order {
		vs := values[m]
		for len(vs) < len(page.Recordings) {
			vs = append(vs, math.NaN())
		}
		page.Metrics = append(page.Metrics, views.CohortMetric{Name: m.name, Unit: m.unit, Values: vs, Count: cohortCounts[m.name]})
	}
	return page, nil
}

// within is the run of xs, sorted by time, whose times are in [from, to).
func within[T any](xs []T, from, to float64, time func(T) float64) []T {
	at := func(t float64) int {
		i, _ := slices.BinarySearchFunc(xs, t, func(x T, t float64) int {
			if time(x) < t {
				return -1
			}
			return 1
		})
		return i
	}
	lo := at(from)
	return xs[lo:max(lo, at(to))]
}

// signalWindow is the strip of lead over [from, to) without marks: only
// the window is read, so a 24-hour lead is never loaded for a strip; with
// both, the other lead of a two-lead ECG over the same window too. The
// caller has checked that lead is one of ds's channels.
func signalWindow(ctx context.Context, d Deps, a store.Analysis, ds store.Dataset, lead int, from, to float64, both bool) (views.StripView, error) {
	ch := ds.Channels[lead]
	s := views.StripView{AnalysisID: a.ID, From: from, To: to, DurationSec: float64(ch.Samples) / ch.Rate, Lead: ch.Name, Unit: ch.Unit, Rate: ch.Rate}
	i0 := max(int64(math.Floor(from*ch.Rate)), 0)
	i1 := min(int64(math.Ceil(to*ch.Rate)), int64(ch.Samples))
	if i0 >= i1 {
		return s, nil
	}
	s.Start = float64(i0) / ch.Rate
	var err error
	if s.Samples, err = d.Store.DatasetSamples(ctx, a.DatasetID, lead, i0, i1); err != nil {
		return s, err
	}
	if k := otherLead(ds, lead); both && k >= 0 {
		second, err := d.Store.DatasetSamples(ctx, a.DatasetID, k, i0, i1)
		if err != nil {
			return s, err
		}
		s.Second = &charts.StripLead{Lead: ds.Channels[k].Name, Unit: ds.Channels[k].Unit, Start: s.Start, Samples: second}
	}
	return s, nil
}
