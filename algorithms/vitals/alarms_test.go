package vitals

import (
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/pulsegrid/pulsegrid/algorithms/pipeline"
	"github.com/pulsegrid/pulsegrid/algorithms/signal"
)

// hrSignal is an HR channel at 1 Hz.
func hrSignal(v ...float64) *signal.Signal {
	return &signal.Signal{Channels: []signal.Channel{{Name: "HR", Unit: "bpm", Rate: 1, Gain: 10, Samples: v}}}
}

const tachyRule = `{"rules":[{"name":"tachy","channels":["hr"],"op":">","threshold":120,"min_duration_s":3,"max_gap_s":2,"valid_min":0,"valid_max":0}]}`

func TestAlarmsByHand(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name    string
		samples []float64
		want    []Episode
	}{
		{"Simple", []float64{100, 130, 140, 125, 100},
			[]Episode{{StartS: 1, EndS: 4, DurationS: 3, Extreme: 140}}},
		{"TooShort", []float64{100, 130, 140, 100, 130}, nil},
		{"GapTolerated", []float64{130, nan, nan, 131, 100},
			[]Episode{{StartS: 0, EndS: 4, DurationS: 4, Extreme: 131}}},
		{"GapTooLong", []float64{130, 135, nan, nan, nan, 131, 132, 133, 100},
			[]Episode{{StartS: 5, EndS: 8, DurationS: 3, Extreme: 133}}},
		{"ValidBelowBreaks", []float64{130, 131, 110, 132, 133, 134},
			[]Episode{{StartS: 3, EndS: 6, DurationS: 3, Extreme: 134}}},
		{"ThresholdNotMet", []float64{120, 120, 120, 120}, nil},
		{"OpenToTheEnd", []float64{100, 150, 151, 152, nan},
			[]Episode{{StartS: 1, EndS: 4, DurationS: 3, Extreme: 152}}},
	}
	alg := NewAlarms()
	p := mustParams(t, alg, tachyRule)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sig := hrSignal(tt.samples...)
			// every chunk length from 1 sample up: an episode across any
			// boundary must come out once and the same
			var sizes []float64
			for s := 1; s <= len(tt.samples); s++ {
				sizes = append(sizes, float64(s))
			}
			res := checkChunkings(t, alg, sig, p, sizes).(*AlarmsResult)
			for i := range tt.want {
				tt.want[i].Rule, tt.want[i].Channel, tt.want[i].Unit = "tachy", "HR", "bpm"
			}
			if tt.want == nil {
				tt.want = []Episode{}
			}
			if !reflect.DeepEqual(res.Episodes, tt.want) {
				t.Errorf("episodes = %+v\nwant       %+v", res.Episodes, tt.want)
			}
		})
	}
}

func TestAlarmsEpisodeAcrossBoundaryOnce(t *testing.T) {
	// 2 minutes at 1 Hz with tachycardia from 50 s to 80 s; chunks of 60 s
	// cut it in two, and it must be reported once with its full length.
	v := make([]float64, 120)
	for i := range v {
		v[i] = 90
		if i >= 50 && i < 80 {
			v[i] = 130 + float64(i%7)
		}
	}
	alg := NewAlarms()
	p := mustParams(t, alg, tachyRule)
	chunks, err := alg.Split(hrSignal(v...), p, pipeline.SplitOptions{ChunkSeconds: 60})
	if err != nil || len(chunks) != 2 {
		t.Fatalf("split into %d chunks (%v), want 2", len(chunks), err)
	}
	res := runAll(t, alg, hrSignal(v...), p, pipeline.SplitOptions{ChunkSeconds: 60}).(*AlarmsResult)
	want := []Episode{{Rule: "tachy", Channel: "HR", Unit: "bpm", StartS: 50, EndS: 80, DurationS: 30, Extreme: 136}}
	if !reflect.DeepEqual(res.Episodes, want) {
		t.Errorf("episodes = %+v, want %+v", res.Episodes, want)
	}
	if res.Rules[0].Episodes != 1 || res.Rules[0].Channel != "HR" {
		t.Errorf("rule status = %+v", res.Rules[0])
	}
}

func TestAlarmsDefaults(t *testing.T) {
	// 1/60 Hz log: HR 130 for 2 samples (120 s), SpO2 85 for one sample
	// (60 s >= 15 s), ABPSys 0 (line off: implausible, so no hypotension).
	sig := &signal.Signal{Channels: []signal.Channel{
		{Name: "HR", Unit: "bpm", Rate: 1.0 / 60, Samples: []float64{80, 130, 131, 80, 80}},
		{Name: "SpO2", Unit: "%", Rate: 1.0 / 60, Samples: []float64{97, 97, 97, 85, 97}},
		{Name: "ABPSys", Unit: "mmHg", Rate: 1.0 / 60, Samples: []float64{0, 0, 0, 0, 0}},
	}}
	alg := NewAlarms()
	res := runAll(t, alg, sig, mustParams(t, alg, ""), pipeline.SplitOptions{}).(*AlarmsResult)
	want := []Episode{
		{Rule: "tachycardia", Channel: "HR", Unit: "bpm", StartS: 60, EndS: 180, DurationS: 120, Extreme: 131},
		{Rule: "desaturation", Channel: "SpO2", Unit: "%", StartS: 180, EndS: 240, DurationS: 60, Extreme: 85},
	}
	if !reflect.DeepEqual(res.Episodes, want) {
		t.Errorf("episodes = %+v\nwant       %+v", res.Episodes, want)
	}
	if got := res.Summary(); got != "2 alarm episodes: 1 tachycardia, 1 desaturation" {
		t.Errorf("summary %q", got)
	}
	csv, err := res.CSV()
	if err != nil || !strings.Contains(string(csv), "desaturation,SpO2,%,180,240,60,85\n") {
		t.Errorf("CSV (%v):\n%s", err, csv)
	}
}

func TestAlarmsParams(t *testing.T) {
	alg := NewAlarms()
	for _, tt := range []struct{ name, raw, want string }{
		{"ErrOp", `{"rules":[{"name":"x","channels":["HR"],"op":"==","threshold":1}]}`, "op"},
		{"ErrNoName", `{"rules":[{"channels":["HR"],"op":"<","threshold":1}]}`, "no name"},
		{"ErrNoChannel", `{"rules":[{"name":"x","op":"<","threshold":1}]}`, "no channel"},
		{"ErrDup", `{"rules":[{"name":"x","channels":["HR"],"op":"<"},{"name":"x","channels":["HR"],"op":"<"}]}`, "twice"},
		{"ErrRange", `{"rules":[{"name":"x","channels":["HR"],"op":"<","valid_min":5,"valid_max":1}]}`, "valid_min"},
		{"ErrNegGap", `{"rules":[{"name":"x","channels":["HR"],"op":"<","max_gap_s":-1}]}`, "max_gap_s"},
		{"ErrUnknown", `{"rulez":[]}`, "unknown field"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := alg.Params([]byte(tt.raw))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
	p, err := alg.Params(nil)
	if err != nil || !strings.Contains(string(p), `"name":"hypotension"`) {
		t.Errorf("defaults %s, %v", p, err)
	}
	// a record without any rule's channel cannot be split
	sig := &signal.Signal{Channels: []signal.Channel{{Name: "RESP", Rate: 1, Samples: []float64{1}}}}
	if _, err := alg.Split(sig, p, pipeline.SplitOptions{}); err == nil || !strings.Contains(err.Error(), "RESP") {
		t.Errorf("split: err = %v, want it to list the channels", err)
	}
}

func TestAlarmsRealRecordsChunkings(t *testing.T) {
	for _, tc := range []struct {
		header string
		maxS   float64
		n      int
	}{
		{"s00001-2896-10-10-00-31n.hea", 20000, 8},
		{"s25047-2704-05-04-10-44n.hea", 3000, 8},
	} {
		t.Run(tc.header, func(t *testing.T) {
			sig := mustRecord(t, tc.header)
			alg := NewAlarms()
			res := checkChunkings(t, alg, sig, mustParams(t, alg, ""), chunkSizes(uint64(len(tc.header))+1, lighter(tc.n), tc.maxS))
			t.Log(res.Summary())
		})
	}
	// 041s has no vital-sign numerics: a threshold rule on the arterial
	// pressure waveform at 125 Hz exercises the sub-second path.
	sig := mustRecord(t, "041s.hea")
	alg := NewAlarms()
	p := mustParams(t, alg, `{"rules":[{"name":"abp-high","channels":["ABP"],"op":">=","threshold":75,"min_duration_s":0.04,"max_gap_s":0.05}]}`)
	res := checkChunkings(t, alg, sig, p, []float64{0.5, 1, 3.3, 7})
	t.Log(res.Summary())
	if len(res.(*AlarmsResult).Episodes) == 0 {
		t.Error("expected systolic peaks of at least 75 mmHg for 40 ms in 041s ABP (its maximum is 88)")
	}
}

// TestGoldenAlarms pins the result digests of the real records.
func TestGoldenAlarms(t *testing.T) {
	alg := NewAlarms()
	var all []string
	for _, h := range []string{"s00001-2896-10-10-00-31n.hea", "s25047-2704-05-04-10-44n.hea"} {
		res := runAll(t, alg, mustRecord(t, h), mustParams(t, alg, ""), pipeline.SplitOptions{})
		all = append(all, resultDigest(t, res))
	}
	checkGolden(t, "alarms", strings.Join(all, " "))
}

// TestAlarmsPlausibleLikeSummary: alarms and summary exclude the same
// samples of the real ICU log (one notion of a plausible value, the
// icu-vitals template's), and the alarms result says how many and why.
func TestAlarmsPlausibleLikeSummary(t *testing.T) {
	sig := mustRecord(t, "s00001-2896-10-10-00-31n.hea")
	al, su := NewAlarms(), NewSummary()
	ar := runAll(t, al, sig, mustParams(t, al, ""), pipeline.SplitOptions{}).(*AlarmsResult)
	sr := runAll(t, su, sig, mustParams(t, su, ""), pipeline.SplitOptions{}).(*SummaryResult)
	byName := map[string]ChannelSummary{}
	for _, c := range sr.Channels {
		byName[c.Name] = c
	}
	checked := 0
	for _, st := range ar.Rules {
		c, ok := byName[st.Channel]
		if !ok {
			continue
		}
		checked++
		if st.Plausible == nil || c.Plausible == nil || *st.Plausible != *c.Plausible {
			t.Errorf("rule %s on %s: range %+v, summary %+v", st.Rule, st.Channel, st.Plausible, c.Plausible)
		}
		if st.SensorOff != c.Whole.SensorOff || st.OutOfRange != c.Whole.OutOfRange || st.ExclusionText() != c.ExclusionText() {
			t.Errorf("rule %s on %s excluded %q, the summary %q", st.Rule, st.Channel, st.ExclusionText(), c.ExclusionText())
		}
	}
	if checked != 4 {
		t.Errorf("checked %d rules, want all 4 default rules on s00001", checked)
	}
}

// TestAlarmsSensorOffIsNotBradycardia: HR zeros (electrodes off) are
// excluded and counted, not a bradycardia; a rule's own valid range
// overrides the channel's.
func TestAlarmsSensorOffIsNotBradycardia(t *testing.T) {
	hr := []float64{80, 0, 0, 0, 0, 0, 0, 80, 35, 35, 35, 35, 80, 400}
	sig := &signal.Signal{Channels: []signal.Channel{{Name: "HR", Unit: "bpm", Rate: 0.1, Samples: hr}}}
	al := NewAlarms()
	res := checkChunkings(t, al, sig, mustParams(t, al, ""), []float64{10, 30, 70}).(*AlarmsResult)
	if len(res.Episodes) != 1 || res.Episodes[0].StartS != 80 || res.Episodes[0].Extreme != 35 {
		t.Fatalf("episodes %+v, want one bradycardia from 80 s at 35 bpm", res.Episodes)
	}
	brady := res.Rules[1]
	if brady.SensorOff != 6 || brady.OutOfRange != 1 || brady.ExclusionText() != "7 samples excluded: 6 sensor off (0), 1 outside plausible range 10–300 bpm" {
		t.Errorf("bradycardia status %+v (%q)", brady, brady.ExclusionText())
	}
	// A rule that insists 0..500 is plausible sees the zeros as a bradycardia.
	own := `{"rules":[{"name":"brady","channels":["HR"],"op":"<","threshold":40,"min_duration_s":30,"max_gap_s":60,"valid_min":0,"valid_max":500}]}`
	res = checkChunkings(t, al, sig, mustParams(t, al, own), []float64{10, 30}).(*AlarmsResult)
	if len(res.Episodes) != 2 || res.Episodes[0].StartS != 10 || res.Episodes[0].Extreme != 0 || res.Rules[0].Excluded() != 0 {
		t.Errorf("with valid 0..500: episodes %+v, status %+v; want the zeros as an episode from 10 s, then 35 bpm", res.Episodes, res.Rules[0])
	}
}
