package pipeline

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/pulsegrid/pulsegrid/algorithms/canon"
	"github.com/pulsegrid/pulsegrid/algorithms/signal"
)

func TestTaskRoundTrip(t *testing.T) {
	in := &Task{
		Algorithm: "ecg.beats@1",
		Params:    []byte(`{"lead":"auto"}`),
		Aux:       []byte{1, 2},
		Channels: []signal.Channel{
			{Name: "MLII", Unit: "mV", Rate: 360, Gain: 200, Samples: []float64{0.1, math.NaN(), -0.2}},
			{Name: "HR", Unit: "bpm", Rate: 1.0 / 60, Samples: nil},
		},
	}
	b := in.Encode()
	out, err := DecodeTask(b)
	if err != nil {
		t.Fatal(err)
	}
	if out.Algorithm != in.Algorithm || string(out.Params) != string(in.Params) || !slices.Equal(out.Aux, in.Aux) {
		t.Errorf("header fields: got %+v", out)
	}
	if len(out.Channels) != 2 || out.Channels[0].Name != "MLII" || out.Channels[1].Rate != 1.0/60 {
		t.Fatalf("channels: got %+v", out.Channels)
	}
	if s := out.Channels[0].Samples; len(s) != 3 || !math.IsNaN(s[1]) || s[2] != -0.2 {
		t.Errorf("samples: got %v", s)
	}
	if out.Digest() != in.Digest() {
		t.Errorf("digest changed across a round trip")
	}
}

// TestTaskSampleForms: samples that are integers over the gain travel as
// int16 or int32 and come back bit for bit; anything else as float64.
func TestTaskSampleForms(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name    string
		gain    float64
		samples []float64
		form    uint8
	}{
		{"adc over gain", 200, []float64{0, 1.0 / 200, -2048.0 / 200, nan, 2047.0 / 200, math.Copysign(0, -1)}, samplesI16},
		{"int16 edge", 1, []float64{-32767, 32767}, samplesI16},
		{"beyond int16", 1, []float64{-32768, 40000, nan}, samplesI32},
		{"beyond int32", 1, []float64{1 << 40}, samplesF64},
		{"not k/gain", 200, []float64{1.0 / 3}, samplesF64},
		{"no gain", 0, []float64{1, 2}, samplesF64},
		{"decimals with gain 10", 10, []float64{36.6, 37.2, nan}, samplesI16},
		{"empty", 200, nil, samplesI16},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := sampleForm(tt.samples, tt.gain); got != tt.form {
				t.Errorf("form %d, want %d", got, tt.form)
			}
			in := &Task{Algorithm: "a@1", Channels: []signal.Channel{{Name: "x", Rate: 1, Gain: tt.gain, Samples: tt.samples}}}
			out, err := DecodeTask(in.Encode())
			if err != nil {
				t.Fatal(err)
			}
			got := out.Channels[0].Samples
			if len(got) != len(tt.samples) {
				t.Fatalf("%d samples back, want %d", len(got), len(tt.samples))
			}
			for i := range got {
				if canon.Float64Bits(got[i]) != canon.Float64Bits(tt.samples[i]) || math.Float64bits(got[i]) != canon.Float64Bits(got[i]) {
					t.Errorf("sample %d: %v (bits %x), want %v in canonical form", i, got[i], math.Float64bits(got[i]), tt.samples[i])
				}
			}
		})
	}
	// An ECG task is a quarter of its float64 size.
	samples := make([]float64, 10000)
	for i := range samples {
		samples[i] = float64(i%900-450) / 200
	}
	b := (&Task{Algorithm: "a@1", Channels: []signal.Channel{{Name: "x", Rate: 360, Gain: 200, Samples: samples}}}).Encode()
	if len(b) > 2*len(samples)+200 {
		t.Errorf("a task of %d ADC samples takes %d bytes, want about 2 a sample", len(samples), len(b))
	}
}

func TestDecodeTaskErrors(t *testing.T) {
	good := (&Task{Algorithm: "a@1", Channels: []signal.Channel{{Name: "x", Rate: 1, Samples: []float64{1}}}}).Encode()
	for _, n := range []int{0, 5, len(good) / 2, len(good) - 1} {
		if _, err := DecodeTask(good[:n]); err == nil || !strings.Contains(err.Error(), "byte") {
			t.Errorf("truncated at %d: got %v, want an error naming the byte offset", n, err)
		}
	}
	// The sample form byte sits before the last channel's samples.
	bad := slices.Clone(good)
	bad[len(bad)-4-8-1] = 9
	if _, err := DecodeTask(bad); err == nil || !strings.Contains(err.Error(), "sample form 9") {
		t.Errorf("unknown sample form: got %v", err)
	}
}

func FuzzDecodeTask(f *testing.F) {
	f.Add((&Task{Algorithm: "a@1", Params: []byte("{}"), Channels: []signal.Channel{{Name: "x", Rate: 1, Samples: []float64{1, 2}}}}).Encode())
	f.Add((&Task{Algorithm: "a@1", Channels: []signal.Channel{{Name: "x", Rate: 1, Gain: 200, Samples: []float64{0.5, math.NaN()}}, {Name: "y", Rate: 1, Gain: 1, Samples: []float64{1e6}}}}).Encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		task, err := DecodeTask(b)
		if err != nil {
			return
		}
		if _, err := DecodeTask(task.Encode()); err != nil {
			t.Fatalf("re-encoded task does not decode: %v", err)
		}
	})
}

type fakeAlg struct{ name string }

func (f fakeAlg) Name() string                                                { return f.name }
func (f fakeAlg) Describe() Info                                              { return Info{Name: f.name} }
func (f fakeAlg) Params(json.RawMessage) ([]byte, error)                      { return []byte("{}"), nil }
func (f fakeAlg) Run(*Task, Yielder) ([]byte, error)                          { return nil, nil }
func (f fakeAlg) Merge([]byte, []Part) (Result, error)                        { return nil, nil }
func (f fakeAlg) DecodeResult(b []byte) (Result, error)                       { return nil, nil }
func (f fakeAlg) Split(*signal.Signal, []byte, SplitOptions) ([]Chunk, error) { return nil, nil }

func TestRegistryLookup(t *testing.T) {
	r := NewRegistry(fakeAlg{"ecg.beats@1"}, fakeAlg{"ecg.beats@2"}, fakeAlg{"vitals.summary@1"})
	tests := []struct{ in, want string }{
		{"ecg.beats@1", "ecg.beats@1"},
		{"ecg.beats", "ecg.beats@2"},
		{"vitals.summary", "vitals.summary@1"},
	}
	for _, tc := range tests {
		a, err := r.Lookup(tc.in)
		if err != nil || a.Name() != tc.want {
			t.Errorf("Lookup(%q): got %v, %v; want %s", tc.in, a, err, tc.want)
		}
	}
	if _, err := r.Lookup("ecg.beat"); !errors.Is(err, ErrUnknownAlgorithm) || !strings.Contains(err.Error(), "ecg.beats@1") {
		t.Errorf("unknown name: got %v, want ErrUnknownAlgorithm listing the known names", err)
	}
}

// TestUseRoles: every task channel gets its role, nothing else changes, and
// the signal the chunks share keeps its labels.
func TestUseRoles(t *testing.T) {
	src := []signal.Channel{{Name: "ECG-JDOE", Unit: "mV", Rate: 360, Gain: 200, Samples: []float64{1, 2}}, {Name: "SpO2 Doe", Unit: "%", Rate: 1, Samples: []float64{97}}}
	chunks := []Chunk{{Task: Task{Algorithm: "a", Channels: src}}, {Task: Task{Algorithm: "a", Channels: src[1:]}}}
	UseRoles(chunks)
	for i, want := range [][]string{{"ch0", "ch1"}, {"ch0"}} {
		for j, c := range chunks[i].Task.Channels {
			if c.Name != want[j] {
				t.Errorf("chunk %d channel %d is %q, want %q", i, j, c.Name, want[j])
			}
			if bytes.Contains(chunks[i].Task.Encode(), []byte("JDOE")) || bytes.Contains(chunks[i].Task.Encode(), []byte("Doe")) {
				t.Errorf("chunk %d still encodes a label", i)
			}
		}
	}
	if c := chunks[0].Task.Channels[1]; c.Unit != "%" || c.Rate != 1 || c.Samples[0] != 97 {
		t.Errorf("UseRoles changed more than the label: %+v", c)
	}
	if src[0].Name != "ECG-JDOE" || src[1].Name != "SpO2 Doe" {
		t.Errorf("UseRoles relabelled the source signal: %q, %q", src[0].Name, src[1].Name)
	}
}

// TestTaskEncodingPinned pins the bytes of a task in each sample form (the
// digest was taken from the encoder before it wrote samples in place): a
// faster encoder must write the same bytes, or volunteers of two builds
// would compute on different inputs and the payload digests would move.
func TestTaskEncodingPinned(t *testing.T) {
	nan := math.NaN()
	ecg := make([]float64, 5000)
	for i := range ecg {
		ecg[i] = float64(i%2047-1023) / 200
	}
	ecg[17], ecg[18] = nan, math.Copysign(0, -1)
	task := &Task{Algorithm: "ecg.beats@1", Params: []byte(`{"x":1}`), Aux: []byte{1, 2}, Channels: []signal.Channel{
		{Name: "MLII", Unit: "mV", Rate: 360, Gain: 200, Samples: ecg},
		{Name: "big", Rate: 1, Gain: 1, Samples: []float64{-40000, 0, nan, 70000, math.MaxInt32}},
		{Name: "real", Rate: 0.5, Gain: 3, Samples: []float64{1.0 / 7, nan, -0.0, 2}},
		{Name: "none", Rate: 1, Gain: 200},
	}}
	const want = "072ff05a1bb976226ea085fbf9f856da68b46322442ee466e3359c0396b6ccab"
	if got := canon.Digest(task.Encode()); got != want {
		t.Errorf("task encoding digest %s, want %s", got, want)
	}
}
