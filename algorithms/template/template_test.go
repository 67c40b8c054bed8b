package template

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/pulsegrid/pulsegrid/algorithms/formats"
	"github.com/pulsegrid/pulsegrid/algorithms/formats/csvlog"
	"github.com/pulsegrid/pulsegrid/algorithms/formats/edf"
	"github.com/pulsegrid/pulsegrid/algorithms/signal"
)

func mustBuiltin(tb testing.TB, name string) *Template {
	tb.Helper()
	t, err := Builtin(name)
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

func rec(chs ...signal.Channel) *signal.Recording {
	return &signal.Recording{Signal: signal.Signal{Channels: chs}}
}

func ch(name, unit string, rate float64, samples ...float64) signal.Channel {
	return signal.Channel{Name: name, Unit: unit, Rate: rate, Samples: samples}
}

// short renders violations as "rule/action/channel@sample×count" for
// comparison.
func short(vs []Violation) []string {
	var s []string
	for _, v := range vs {
		x := v.Rule + "/" + v.Action
		if v.Channel != "" {
			x += "/" + v.Channel
		} else if v.Role != "" {
			x += "/" + v.Role
		}
		if v.Count > 0 {
			x += fmt.Sprintf("@%d×%d", v.Sample, v.Count)
		}
		s = append(s, x)
	}
	return s
}

func TestApply(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name     string
		template string
		in       *signal.Recording
		want     []string    // short violations
		wantErr  string      // "" when the recording is accepted
		channels []string    // names of the channels kept
		units    []string    // their units
		samples  [][]float64 // their samples, when given
	}{
		{
			name: "ECGClean", template: "ecg",
			in:       rec(ch("MLII", "mV", 360, 0.1, -0.2, 1.5), ch("V5", "millivolt", 360, 0, 0, 0)),
			channels: []string{"MLII", "V5"}, units: []string{"mV", "mV"},
		},
		{
			name: "ECGOutOfRangeMissing", template: "ecg",
			in:       rec(ch("II", "mV", 250, 0.1, 12, 15, 0.2, -11, nan, -10)),
			want:     []string{"range/missing/II@1×2", "range/missing/II@4×1"},
			channels: []string{"II"}, units: []string{"mV"},
			samples: [][]float64{{0.1, nan, nan, 0.2, nan, nan, -10}},
		},
		{
			name: "ECGMicrovoltsConverted", template: "ecg",
			in:       rec(ch("ECG", "uV", 200, 1000, -20000), ch("sine 1 Hz", "uV", 200, 1, 2)),
			want:     []string{"unit/converted/ECG", "range/missing/ECG@1×1"},
			channels: []string{"ECG", "sine 1 Hz"}, units: []string{"mV", "uV"},
			samples: [][]float64{{1, nan}, {1, 2}},
		},
		{
			name: "ECGTooSlowRejected", template: "ecg",
			in:      rec(ch("ECG1", "mV", 50, 0.1)),
			want:    []string{"rate/kept/ECG1", "required/reject/ECG", "no-match/reject"},
			wantErr: "template ecg rejects the recording: no ECG channel",
		},
		{
			name: "ECGWrongUnitAndNoLead", template: "ecg",
			in:      rec(ch("ECG", "mmHg", 250, 1), ch("ABP", "mmHg", 250, 80)),
			want:    []string{"unit/kept/ECG", "required/reject/ECG", "no-match/reject"},
			wantErr: `no ECG channel (named ECG, ECG*`,
		},
		{
			name: "ECGMissingUnitAssumed", template: "ecg",
			in:       rec(ch("ecg lead 2", "", 500, 0.5)),
			want:     []string{"unit/assumed/ecg lead 2"},
			channels: []string{"ecg lead 2"}, units: []string{"mV"},
		},
		{
			name: "VitalsMIMICNames", template: "icu-vitals",
			in: rec(ch("HR", "bpm", 1.0/60, 80, 350, 82), ch("PULSE", "bpm", 1.0/60, 81, 81, 81),
				ch("RESP", "pm", 1.0/60, 12, -1, 14), ch("SpO2", "%", 1.0/60, 97, 101, nan),
				ch("ABPSys", "mmHg", 1.0/60, 120, 118, 400), ch("NBPMean", "kPa", 1.0/60, 12, 12, 12),
				ch("Weight", "kg", 1.0/60, 70, 70, 70)),
			want: []string{"range/kept/HR@1×1", "range/kept/RESP@1×1", "range/kept/SpO2@1×1",
				"range/kept/ABPSys@2×1", "unit/converted/NBPMean"},
			channels: []string{"HR", "PULSE", "RESP", "SpO2", "ABPSys", "NBPMean", "Weight"},
			units:    []string{"bpm", "bpm", "/min", "%", "mmHg", "mmHg", "kg"},
		},
		{
			name: "VitalsNothingMatches", template: "icu-vitals",
			in:      rec(ch("Weight", "kg", 1, 70)),
			want:    []string{"no-match/reject"},
			wantErr: "no channel is one that template icu-vitals expects (HR, SpO2, ABP, NBP, PAP, CVP, RESP, Temp)",
		},
		{
			name: "AnyKeepsEverything", template: "any",
			in:       rec(ch("X", "furlongs", 3, 1e9)),
			channels: []string{"X"}, units: []string{"furlongs"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tpl := mustBuiltin(t, tt.template)
			before := fmt.Sprint(tt.in.Signal.Channels)
			out, vs, err := tpl.Apply(tt.in)
			if fmt.Sprint(tt.in.Signal.Channels) != before {
				t.Errorf("Apply modified its input")
			}
			if got, want := strings.Join(short(vs), " "), strings.Join(tt.want, " "); got != want {
				t.Errorf("violations\n got %s\nwant %s", got, want)
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || out != nil {
					t.Fatalf("got %v (recording %v), want error containing %q and no recording", err, out != nil, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names, units []string
			for _, c := range out.Signal.Channels {
				names = append(names, c.Name)
				units = append(units, c.Unit)
			}
			if fmt.Sprint(names) != fmt.Sprint(tt.channels) || fmt.Sprint(units) != fmt.Sprint(tt.units) {
				t.Errorf("channels %v in %v, want %v in %v", names, units, tt.channels, tt.units)
			}
			for i, want := range tt.samples {
				if got := out.Signal.Channels[i].Samples; fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("channel %d samples %v, want %v", i, got, want)
				}
			}
			for _, v := range vs {
				if v.Message == "" {
					t.Errorf("violation %+v has no message", v)
				}
			}
		})
	}
}

func TestApplyRules(t *testing.T) {
	tpl, err := Parse([]byte(`{
		"name": "strict",
		"channels": [
			{"role": "HR", "unit": "bpm", "min": 20, "max": 250, "out_of_range": "reject", "required": true},
			{"role": "SpO2", "unit": "%", "max": 100, "out_of_range": "keep"},
			{"role": "Temp", "unit": "°C", "required": true}
		],
		"duplicates": "reject",
		"extra": "reject"
	}`))
	if err != nil {
		t.Fatal(err)
	}
	in := rec(ch("hr", "/min", 1, 10, 60, 300, 300), ch("SPO2", "%", 1, 101, 99, 102, 103), ch("CO2", "mmHg", 1, 40))
	_, vs, err := tpl.Apply(in)
	want := "range/reject/hr@0×1 range/reject/hr@2×2 range/kept/SPO2@0×1 range/kept/SPO2@2×2 extra/reject/CO2 required/reject/Temp"
	if got := strings.Join(short(vs), " "); got != want {
		t.Errorf("violations\n got %s\nwant %s", got, want)
	}
	if err == nil || !strings.Contains(err.Error(), "no Temp channel") || !strings.Contains(err.Error(), `channel "CO2" is not a channel of template strict`) {
		t.Errorf("error %v should list every rejection", err)
	}
	if tpl.CSVOptions().Duplicates != csvlog.RejectDuplicates {
		t.Errorf("duplicates reject should give csvlog.RejectDuplicates")
	}

	// Extra "drop" removes unknown channels and says so.
	tpl.Extra = "drop"
	tpl.Channels = tpl.Channels[:1]
	out, vs, err := tpl.Apply(rec(ch("HR", "bpm", 1, 60), ch("CO2", "mmHg", 1, 40)))
	if err != nil || len(out.Signal.Channels) != 1 || strings.Join(short(vs), " ") != "extra/dropped/CO2" {
		t.Errorf("drop: got %v, %v, %v", err, out, short(vs))
	}
}

func TestApplyCapsRuns(t *testing.T) {
	samples := make([]float64, 2*(MaxRunsPerChannel+10))
	for i := range samples {
		samples[i] = 80
		if i%2 == 0 {
			samples[i] = 400 // every other sample out of range: one run each
		}
	}
	_, vs, err := mustBuiltin(t, "icu-vitals").Apply(rec(ch("HR", "bpm", 1, samples...)))
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != MaxRunsPerChannel+1 {
		t.Fatalf("got %d violations, want %d", len(vs), MaxRunsPerChannel+1)
	}
	if last := vs[len(vs)-1]; last.Count != 10 || !strings.Contains(last.Message, "10 more samples in 10 more runs") {
		t.Errorf("last violation %+v should sum up the rest", last)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string
	}{
		{"ErrJSON", `{"name": "x",`, []string{"template JSON"}},
		{"ErrUnknownField", `{"name": "x", "channels": [], "colour": "red"}`, []string{`unknown field "colour"`}},
		{"ErrTwoValues", `{"name": "x", "channels": []} {}`, []string{"more than one value"}},
		{"ErrEverything", `{"name": "Bad Name", "duplicates": "keep", "extra": "maybe", "channels": [
			{"role": "", "unit": "bpm"},
			{"role": "HR", "unit": "", "min": 10, "max": 5, "out_of_range": "clip", "min_rate": -1, "aliases": ["P*LSE"]},
			{"role": "hr", "unit": "bpm"}]}`, []string{
			`template name "Bad Name"`, `duplicates "keep"`, `extra "maybe"`, "channels[0]: role is empty",
			"channels[1] (HR): alias \"P*LSE\"", "channels[1] (HR): unit is empty", "channels[1] (HR): min 10 is above max 5",
			`channels[1] (HR): out_of_range "clip"`, "channels[1] (HR): min_rate -1", "channels[2] (hr): role repeats channels[1]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.in))
			if err == nil {
				t.Fatal("got no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\nlacks %q", err, w)
				}
			}
		})
	}
}

func TestBuiltins(t *testing.T) {
	bs := Builtins()
	if len(bs) != 3 {
		t.Fatalf("got %d built-in templates, want 3", len(bs))
	}
	for _, b := range bs {
		// A template survives a JSON round trip unchanged, as the server
		// stores them.
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		back, err := Parse(j)
		if err != nil {
			t.Fatalf("%s: %v", b.Name, err)
		}
		j2, _ := json.Marshal(back)
		if string(j) != string(j2) {
			t.Errorf("%s changed in a JSON round trip", b.Name)
		}
	}
	if _, err := Builtin("nope"); err == nil {
		t.Error("Builtin(nope) should fail")
	}
}

func TestMatches(t *testing.T) {
	ecg := mustBuiltin(t, "ecg").Channels[0]
	vitals := mustBuiltin(t, "icu-vitals")
	for _, n := range []string{"ECG", "ecg", "ECG II", "EKG", "MLII", "ml  ii", "II", "v5", "aVF"} {
		if !ecg.Matches(n) {
			t.Errorf("ECG rule should match %q", n)
		}
	}
	for _, n := range []string{"ABP", "PLETH", "RESP", "time"} {
		if ecg.Matches(n) {
			t.Errorf("ECG rule should not match %q", n)
		}
	}
	for n, role := range map[string]string{"HR": "HR", "PULSE": "HR", "SPO2": "SpO2", "%SpO2": "SpO2", "ABP Sys": "ABP",
		"ABPMean": "ABP", "NBPDias": "NBP", "RESP": "RESP", "PAP": "PAP", "Temp": "Temp"} {
		i := vitals.rule(n)
		if i < 0 || vitals.Channels[i].Role != role {
			t.Errorf("%q matched rule %d, want %s", n, i, role)
		}
	}
}

// TestRealFiles runs the built-in templates on real recordings.
func TestRealFiles(t *testing.T) {
	b, err := os.ReadFile("../../../shared/data/edf/test_generator_2.edf")
	if err != nil {
		t.Fatal(err)
	}
	r, err := edf.Read("test_generator_2.edf", b)
	if err != nil {
		t.Fatal(err)
	}
	out, vs, err := mustBuiltin(t, "ecg").Apply(r)
	if err != nil {
		t.Fatal(err)
	}
	// Its "ECG" channel is in µV at 200 Hz: converted to mV, no sample out of ±10 mV.
	if got := strings.Join(short(vs), " "); got != "unit/converted/ECG" {
		t.Errorf("violations %s, want unit/converted/ECG", got)
	}
	e := out.Signal.Channels[out.Signal.Channel("ECG")]
	if e.Unit != "mV" || math.Abs(e.Gain-32767.5) > 1e-6 {
		t.Errorf("ECG unit %q gain %v, want mV and 32767.5", e.Unit, e.Gain)
	}
	if _, _, err := mustBuiltin(t, "icu-vitals").Apply(r); err == nil {
		t.Error("icu-vitals should reject a signal generator recording")
	}

	log := "time,HR [bpm],SpO2 [%],RESP [/min]\n0,80,97,14\n60,82,,15\n60,99,99,99\n120,400,98,NA\n"
	r, err = csvlog.Read("log.csv", []byte(log), mustBuiltin(t, "icu-vitals").CSVOptions())
	if err != nil {
		t.Fatal(err)
	}
	out, vs, err = mustBuiltin(t, "icu-vitals").Apply(r)
	if err != nil {
		t.Fatal(err)
	}
	// icu-vitals keeps implausible values as recorded and reports them:
	// the vitals analyses exclude them, and say why.
	if got := strings.Join(short(vs), " "); got != "range/kept/HR@2×1" {
		t.Errorf("violations %s, want range/kept/HR@2×1", got)
	}
	if hr := out.Signal.Channels[0].Samples; fmt.Sprint(hr) != "[80 82 400]" {
		t.Errorf("HR %v, want [80 82 400]", hr)
	}
}

func FuzzParse(f *testing.F) {
	for _, n := range builtinNames {
		b, _ := builtinJSON(n)
		f.Add(b)
	}
	f.Add([]byte(`{"name":"x","channels":[{"role":"HR","unit":"bpm","min":1,"max":0}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		tpl, err := Parse(b)
		if err != nil {
			return
		}
		// A template that parses applies to any recording without panicking.
		_, _, _ = tpl.Apply(rec(ch("HR", "bpm", 1, 70, 400, math.NaN()), ch("ECG", "uV", 250, 1e6, -1), ch("X", "", 1)))
	})
}

// TestRealRecords applies the built-in templates to PhysioNet records read
// through the format dispatcher.
func TestRealRecords(t *testing.T) {
	read := func(dir string, names ...string) *signal.Recording {
		var fs []formats.File
		for _, n := range names {
			b, err := os.ReadFile("../../../shared/data/" + dir + "/" + n)
			if err != nil {
				t.Fatal(err)
			}
			fs = append(fs, formats.File{Name: n, Data: b})
		}
		r, err := formats.Read(fs)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	tests := []struct {
		name, template string
		rec            *signal.Recording
		want           string
		wantErr        bool
	}{
		{"MITBIH100", "ecg", read("mitdb", "100.hea", "100.dat"), "", false},
		{"SVDB800", "ecg", read("svdb", "800.hea", "800.dat"), "", false},
		// Its sensors were off for hours (zeros): reported and kept.
		{"MinuteLogVitals", "icu-vitals", read("vitals", "s00001-2896-10-10-00-31n.hea", "3975656n.dat"), "range/kept/SpO2@290×189", false},
		{"MinuteLogIsNotECG", "ecg", read("vitals", "s00001-2896-10-10-00-31n.hea", "3975656n.dat"), "no-match/reject", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, vs, err := mustBuiltin(t, tt.template).Apply(tt.rec)
			got := strings.Join(short(vs), " ")
			if tt.wantErr {
				if err == nil || !strings.Contains(got, tt.want) {
					t.Errorf("got %v with violations %s, want a rejection with %s", err, got, tt.want)
				}
				return
			}
			if err != nil || !strings.Contains(got, tt.want) || (tt.want == "" && got != "") {
				t.Errorf("got %v, violations %q; want %q", err, got, tt.want)
			}
			for _, v := range vs {
				if tt.want != "" && (v.Rule != RuleRange || v.Action != ActionKept) {
					t.Errorf("violation %+v, want only kept range violations", v)
				}
			}
		})
	}
}
