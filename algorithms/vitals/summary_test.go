package vitals

import (
	"math"
	"strings"
	"testing"

	"github.com/pulsegrid/pulsegrid/algorithms/pipeline"
	"github.com/pulsegrid/pulsegrid/algorithms/signal"
)

func TestSummaryByHand(t *testing.T) {
	// 1..10 at 1/600 Hz: samples 0..5 in hour 0, 6..9 in hour 1, with a
	// missing sample in hour 1. Type-7 percentiles of 1..10: h = 9p/100.
	nan := math.NaN()
	// A level in cm is no vital sign with a plausible range: nothing is
	// excluded.
	sig := &signal.Signal{Channels: []signal.Channel{{Name: "Level", Unit: "cm", Rate: 1.0 / 600,
		Samples: []float64{3, 1, 2, 6, 5, 4, nan, 10, 8, 7, 9}}}}
	alg := NewSummary()
	p := mustParams(t, alg, "")
	res := runAll(t, alg, sig, p, pipeline.SplitOptions{Whole: true}).(*SummaryResult)
	if len(res.Channels) != 1 {
		t.Fatalf("got %d channels, want 1", len(res.Channels))
	}
	c := res.Channels[0]
	want := Stats{Count: 10, Missing: 1, Mean: 5.5, SD: math.Sqrt(82.5 / 9), Min: 1, Max: 10,
		P5: 1.45, P25: 3.25, P50: 5.5, P75: 7.75, P95: 9.55}
	if !statsClose(c.Whole, want) {
		t.Errorf("whole = %+v\nwant   %+v", c.Whole, want)
	}
	if len(c.Hours) != 2 {
		t.Fatalf("got %d hours, want 2", len(c.Hours))
	}
	// hour 1: 10, 8, 7, 9 and one missing
	h1 := Stats{Count: 4, Missing: 1, Mean: 8.5, SD: math.Sqrt(5.0 / 3), Min: 7, Max: 10,
		P5: 7.15, P25: 7.75, P50: 8.5, P75: 9.25, P95: 9.85}
	if c.Hours[1].Hour != 1 || !statsClose(c.Hours[1].Stats, h1) {
		t.Errorf("hour 1 = %+v\nwant %+v", c.Hours[1], h1)
	}
	checkChunkings(t, alg, sig, p, []float64{600, 1200, 1800, 3600, 4000})
	csv, err := res.CSV()
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Count(string(csv), "\n"); lines != 4 {
		t.Errorf("CSV has %d lines, want header + whole + 2 hours:\n%s", lines, csv)
	}
}

func statsClose(a, b Stats) bool {
	if a.Count != b.Count || a.Missing != b.Missing {
		return false
	}
	av := []float64{a.Mean, a.SD, a.Min, a.Max, a.P5, a.P25, a.P50, a.P75, a.P95}
	bv := []float64{b.Mean, b.SD, b.Min, b.Max, b.P5, b.P25, b.P50, b.P75, b.P95}
	for i := range av {
		if math.Abs(av[i]-bv[i]) > 1e-12*math.Max(1, math.Abs(bv[i])) {
			return false
		}
	}
	return true
}

func TestSummaryAllMissingHourAndSingleValue(t *testing.T) {
	nan := math.NaN()
	sig := &signal.Signal{Channels: []signal.Channel{
		{Name: "SpO2", Unit: "%", Rate: 1.0 / 1800, Samples: []float64{97, nan, nan, nan, 95}},
	}}
	alg := NewSummary()
	res := runAll(t, alg, sig, mustParams(t, alg, `{"channels":["SpO2"]}`), pipeline.SplitOptions{}).(*SummaryResult)
	hours := res.Channels[0].Hours
	if len(hours) != 3 || hours[1].Count != 0 || hours[1].Missing != 2 {
		t.Fatalf("hours = %+v, want hour 1 with count 0 and 2 missing", hours)
	}
	if h := hours[2]; h.Count != 1 || h.Mean != 95 || h.SD != 0 || h.P5 != 95 || h.P95 != 95 {
		t.Errorf("hour 2 = %+v, want a single value 95 with SD 0", h)
	}
	csv, _ := res.CSV()
	if !strings.Contains(string(csv), "SpO2,%,hour,1,0,2,0,0,20,100,,,,,,,,,\n") {
		t.Errorf("an all-missing hour must have blank statistics in the CSV:\n%s", csv)
	}
}

func TestSummaryParams(t *testing.T) {
	alg := NewSummary()
	tests := []struct {
		name, raw, want string
	}{
		{"Default", "", `{"channels":[]}`},
		{"Null", "null", `{"channels":[]}`},
		{"Channels", `{"channels":["HR","SpO2"]}`, `{"channels":["HR","SpO2"]}`},
		{"ErrUnknown", `{"chanels":["HR"]}`, "unknown field"},
		{"ErrDuplicate", `{"channels":["HR","HR"]}`, "twice"},
		{"ErrTrailing", `{"channels":[]} {}`, "after"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := alg.Params([]byte(tt.raw))
			if strings.HasPrefix(tt.name, "Err") {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("err = %v, want it to mention %q", err, tt.want)
				}
				return
			}
			if err != nil || string(got) != tt.want {
				t.Errorf("Params(%s) = %s, %v; want %s", tt.raw, got, err, tt.want)
			}
		})
	}
	sig := &signal.Signal{Channels: []signal.Channel{{Name: "HR", Rate: 1, Samples: []float64{1}}}}
	if _, err := alg.Split(sig, mustParams(t, alg, `{"channels":["ABP"]}`), pipeline.SplitOptions{}); err == nil || !strings.Contains(err.Error(), `"ABP"`) {
		t.Errorf("split with an absent channel: err = %v, want it to name the channel", err)
	}
}

func TestSummaryChunksNeverCrossHours(t *testing.T) {
	sig := mustRecord(t, "s00001-2896-10-10-00-31n.hea")
	alg := NewSummary()
	chunks, err := alg.Split(sig, mustParams(t, alg, ""), pipeline.SplitOptions{ChunkSeconds: 1234})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range chunks {
		first, err := decodeAux(c.Task.Aux, len(c.Task.Channels))
		if err != nil {
			t.Fatal(err)
		}
		for k, ch := range c.Task.Channels {
			if n := int64(len(ch.Samples)); n > 0 && HourOf(first[k], ch.Rate) != HourOf(first[k]+n-1, ch.Rate) {
				t.Errorf("chunk %d channel %s spans hours %d..%d", c.Spec.Index, ch.Name, HourOf(first[k], ch.Rate), HourOf(first[k]+n-1, ch.Rate))
			}
		}
	}
}

func TestSummaryRealRecordsChunkings(t *testing.T) {
	for _, tc := range []struct {
		header string
		maxS   float64
		n      int
	}{
		{"s00001-2896-10-10-00-31n.hea", 20000, 8},
		{"s25047-2704-05-04-10-44n.hea", 3000, 8},
		{"041s.hea", 10, 4},
	} {
		t.Run(tc.header, func(t *testing.T) {
			sig := mustRecord(t, tc.header)
			alg := NewSummary()
			checkChunkings(t, alg, sig, mustParams(t, alg, ""), chunkSizes(uint64(len(tc.header)), lighter(tc.n), tc.maxS))
		})
	}
}

// TestGoldenSummary pins the result digests of the real records.
func TestGoldenSummary(t *testing.T) {
	alg := NewSummary()
	var all []string
	for _, h := range []string{"s00001-2896-10-10-00-31n.hea", "s25047-2704-05-04-10-44n.hea", "041s.hea"} {
		sig := mustRecord(t, h)
		res := runAll(t, alg, sig, mustParams(t, alg, ""), pipeline.SplitOptions{})
		all = append(all, resultDigest(t, res))
		if h == "s00001-2896-10-10-00-31n.hea" {
			t.Log(res.Summary())
		}
	}
	checkGolden(t, "summary", strings.Join(all, " "))
}

// TestSummaryExcludesImplausible: a 0 SpO2 (the probe off the finger) and
// an SpO2 of 15 % are not in the mean, the median or the minimum; they are
// counted, by reason, in the result, its text and its CSV. A channel with
// no plausible range (PLETH) keeps its zeros. Fails if zeros count again.
func TestSummaryExcludesImplausible(t *testing.T) {
	nan := math.NaN()
	sig := &signal.Signal{Channels: []signal.Channel{
		{Name: "SpO2", Unit: "%", Rate: 1.0 / 60, Samples: []float64{97, 0, 0, 96, 15, 98, nan, 0}},
		{Name: "ABP Sys", Unit: "mmHg", Rate: 1.0 / 60, Samples: []float64{0, 0, 0, 0, 0, 0, 0, 0}},
		{Name: "PLETH", Unit: "", Rate: 1.0 / 60, Samples: []float64{0, 1, 0, 1, 0, 1, 0, 1}},
	}}
	alg := NewSummary()
	p := mustParams(t, alg, "")
	res := checkChunkings(t, alg, sig, p, []float64{60, 120, 181, 3600}).(*SummaryResult)
	spo2, abp, pleth := res.Channels[0], res.Channels[1], res.Channels[2]
	want := Stats{Count: 3, Missing: 1, SensorOff: 3, OutOfRange: 1, Mean: 97, SD: 1, Min: 96, Max: 98,
		P5: 96.1, P25: 96.5, P50: 97, P75: 97.5, P95: 97.9}
	if !statsClose(spo2.Whole, want) || spo2.Whole.SensorOff != 3 || spo2.Whole.OutOfRange != 1 {
		t.Errorf("SpO2 = %+v\nwant %+v", spo2.Whole, want)
	}
	if spo2.Plausible == nil || spo2.Plausible.Min != 20 || spo2.Plausible.Max != 100 || spo2.Plausible.Role != "SpO2" {
		t.Errorf("SpO2 plausible range %+v, want SpO2 20..100", spo2.Plausible)
	}
	if got, w := spo2.ExclusionText(), "4 samples excluded: 3 sensor off (0), 1 outside plausible range 20–100 %"; got != w {
		t.Errorf("SpO2 exclusions %q, want %q", got, w)
	}
	if abp.Whole.Count != 0 || abp.Whole.SensorOff != 8 || abp.ExclusionText() != "8 samples excluded: 8 sensor off (0)" {
		t.Errorf("ABP Sys = %+v (%q), want every sample excluded as sensor off", abp.Whole, abp.ExclusionText())
	}
	if pleth.Plausible != nil || pleth.Whole.Count != 8 || pleth.Whole.Min != 0 || pleth.Whole.Excluded() != 0 || pleth.ExclusionText() != "" {
		t.Errorf("PLETH = %+v (range %+v), want its zeros kept", pleth.Whole, pleth.Plausible)
	}
	if sum := res.Summary(); !strings.Contains(sum, "SpO2 4 samples excluded: 3 sensor off (0), 1 outside plausible range 20–100 %") ||
		!strings.Contains(sum, "ABP Sys 8 samples excluded") {
		t.Errorf("summary %q does not say what was excluded", sum)
	}
	csv, _ := res.CSV()
	for _, line := range []string{
		"SpO2,%,whole,,3,1,3,1,20,100,97,1,96,96.1,96.5,97,97.5,97.9,98\n",
		"ABP Sys,mmHg,whole,,0,0,8,0,20,300,,,,,,,,,\n",
		"PLETH,,whole,,8,0,0,0,,,0.5,",
	} {
		if !strings.Contains(string(csv), line) {
			t.Errorf("CSV lacks %q:\n%s", line, csv)
		}
	}
}

// TestSummaryICULogSensorOff: the real ICU log s00001, whose SpO2 and
// arterial line were off for hours (zeros). Its SpO2 mean was 78.9 % with
// a median of 96.5 % and a minimum of 0 when the zeros counted, and the
// systolic ABP mean 0.5 mmHg. Now every zero is excluded and counted, and
// the mean lies near the median.
func TestSummaryICULogSensorOff(t *testing.T) {
	sig := mustRecord(t, "s00001-2896-10-10-00-31n.hea")
	alg := NewSummary()
	res := runAll(t, alg, sig, mustParams(t, alg, ""), pipeline.SplitOptions{}).(*SummaryResult)
	for _, c := range res.Channels {
		raw := sig.Channels[sig.Channel(c.Name)].Samples
		var zeros int64
		for _, v := range raw {
			if v == 0 {
				zeros++
			}
		}
		w := c.Whole
		switch c.Name {
		case "SpO2", "ABPSys", "HR":
			if c.Plausible == nil || w.SensorOff != zeros || zeros == 0 {
				t.Errorf("%s: %d excluded as sensor off, the log has %d zeros (range %+v)", c.Name, w.SensorOff, zeros, c.Plausible)
			}
			if w.Count > 0 && (w.Min < c.Plausible.Min || math.Abs(w.Mean-w.P50) > 15) {
				t.Errorf("%s: min %v, mean %v, median %v: implausible values still count", c.Name, w.Min, w.Mean, w.P50)
			}
		}
		if got := w.Count + w.Missing + w.Excluded(); got != int64(len(raw)) {
			t.Errorf("%s: %d counted + missing + excluded, the log has %d samples", c.Name, got, len(raw))
		}
	}
	t.Log(res.Summary())
}
