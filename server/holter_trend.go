package server

import (
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"

	"github.com/pulsegrid/pulsegrid/algorithms/ecg"
)

// trendPoint is one bin of the report's heart-rate trend.
type trendPoint struct {
	Time float64 `json:"t_s"` // start of the bin, seconds from the start of the record
	// Mean is 60 / the mean RR of the intervals whose second beat falls in
	// the bin; Min and Max are the slowest and fastest rate over 8 beats
	// (as ecg.classify@1 measures brady- and tachycardia) ending in the
	// bin, so that one ectopic beat or a missed one is not a spike; the band
	// always holds the mean. All are 0 when the bin holds less than half
	// its length of RR intervals (the chart leaves a gap).
	Min  float64 `json:"hr_min"`
	Mean float64 `json:"hr_mean"`
	Max  float64 `json:"hr_max"`
}

// trendBin is the bin of the heart-rate trend for a record of the given
// length: a minute up to 6 hours; five minutes beyond, so that a 24-hour
// trend has 288 bins, about two pixels each, and reads as a line with a
// band rather than a solid block.
func trendBin(recording float64) float64 {
	if recording > 6*3600 {
		return 300
	}
	return 60
}

// trendBeats is the number of intervals the band's rates average.
const trendBeats = 8

// hrTrend bins the beats' rates.
func hrTrend(beats []ecg.ClassifiedBeat, recording float64) (float64, []trendPoint) {
	bin := trendBin(recording)
	end := recording
	if len(beats) > 0 {
		end = max(end, beats[len(beats)-1].Time)
	}
	n := max(1, int(math.Ceil(end/bin)))
	out := make([]trendPoint, n)
	sum := make([]float64, n)
	cnt := make([]int, n)
	for i := range out {
		out[i].Time = float64(i) * bin
	}
	for i := 1; i < len(beats); i++ {
		b := beats[i]
		if b.RR <= 0 {
			continue
		}
		k := min(int(b.Time/bin), n-1)
		sum[k] += b.RR
		cnt[k]++
		if i >= trendBeats {
			hr := 60 * trendBeats / (b.Time - beats[i-trendBeats].Time)
			if out[k].Min == 0 || hr < out[k].Min {
				out[k].Min = hr
			}
			out[k].Max = max(out[k].Max, hr)
		}
	}
	for k := range out {
		if sum[k] < bin/2 {
			out[k] = trendPoint{Time: out[k].Time}
			continue
		}
		m := 60 * float64(cnt[k]) / sum[k]
		out[k].Mean = m
		if out[k].Min == 0 || out[k].Min > m {
			out[k].Min = m
		}
		out[k].Max = max(out[k].Max, m)
	}
	return bin, out
}

// parseClock reads a time of the record typed as HH:MM:SS, MM:SS or
// seconds.
func parseClock(s string) (float64, error) {
	s = strings.TrimSpace(s)
	parts := strings.Split(s, ":")
	if len(parts) > 3 || s == "" {
		return 0, fmt.Errorf("time %q: expected HH:MM:SS", s)
	}
	var t float64
	for i, p := range parts {
		v, err := strconv.ParseFloat(p, 64)
		if err != nil || v < 0 || math.IsInf(v, 0) || (i > 0 && v >= 60) {
			return 0, fmt.Errorf("time %q: expected HH:MM:SS (minutes and seconds below 60)", s)
		}
		t = t*60 + v
	}
	return t, nil
}

// jumpQuery turns the report page's ?at=HH:MM:SS into the strip window
// ?from=&to= starting there (10 s, or the width asked for).
func jumpQuery(q url.Values, recording float64) (url.Values, error) {
	at := q.Get("at")
	if at == "" {
		return q, nil
	}
	t, err := parseClock(at)
	if err != nil {
		return q, Errorf(EInvalid, "%v", err)
	}
	if recording > 0 && t >= recording {
		return q, Errorf(EInvalid, "time %s is after the end of the record (%s)", at, clockOf(recording))
	}
	width := 10.0
	if w, err := strconv.ParseFloat(q.Get("width"), 64); err == nil && w > 0 && w <= 300 {
		width = w
	}
	out := url.Values{}
	out.Set("from", strconv.FormatFloat(t, 'f', 3, 64))
	out.Set("to", strconv.FormatFloat(t+width, 'f', 3, 64))
	return out, nil
}

// clockOf formats seconds as HH:MM:SS.
func clockOf(sec float64) string {
	t := int64(max(sec, 0) + 0.5)
	return fmt.Sprintf("%02d:%02d:%02d", t/3600, t/60%60, t%60)
}

// clockMillis formats seconds as HH:MM:SS.mmm, a beat's time.
func clockMillis(sec float64) string {
	ms := int64(math.Round(max(sec, 0) * 1000))
	return fmt.Sprintf("%02d:%02d:%02d.%03d", ms/3600000, ms/60000%60, ms/1000%60, ms%1000)
}
