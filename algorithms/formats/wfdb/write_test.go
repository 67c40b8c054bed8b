package wfdb

import (
	"math"
	"strings"
	"testing"

	"github.com/pulsegrid/pulsegrid/algorithms/signal"
)

// TestWriteRecordRoundTrip writes multi-rate signals with missing samples in
// both formats and reads them back through ReadRecord (which verifies the
// checksums the writer computed).
func TestWriteRecordRoundTrip(t *testing.T) {
	n := math.NaN()
	sig := &signal.Signal{Channels: []signal.Channel{
		{Name: "ECG lead II", Unit: "mV", Rate: 360, Gain: 200, Samples: []float64{0, 0.005, -1.2, n, 3.3, 10.235, -10.235}},
		{Name: "HR", Unit: "bpm", Rate: 120, Samples: []float64{60, 61.5, n}},
		{Name: "RESP", Unit: "breaths per min", Rate: 120, Samples: []float64{12}},
	}}
	for _, format := range []int{16, 212} {
		t.Run(itoa(format), func(t *testing.T) {
			hea, dat, err := WriteRecord("syn", sig, format)
			if err != nil {
				t.Fatal(err)
			}
			rec, err := ReadRecord("syn.hea", MapOpener(map[string][]byte{"syn.hea": hea, "syn.dat": dat}))
			if err != nil {
				t.Fatalf("%v\n%s", err, hea)
			}
			for i, c := range rec.Signal.Channels {
				in := sig.Channels[i]
				if c.Name != in.Name || c.Rate != in.Rate {
					t.Errorf("channel %d: got %q %v Hz, want %q %v Hz", i, c.Name, c.Rate, in.Name, in.Rate)
				}
				if want := strings.Join(strings.Fields(in.Unit), "_"); c.Unit != want {
					t.Errorf("channel %d unit: got %q, want %q", i, c.Unit, want)
				}
				// Frames are 1/120 s: 7 ECG samples take 3 frames, so every
				// channel is padded to 3 frames with missing samples.
				spf := int(in.Rate / 120)
				if len(c.Samples) != 3*spf {
					t.Fatalf("channel %d: got %d samples, want %d", i, len(c.Samples), 3*spf)
				}
				for j, v := range c.Samples {
					var want float64 = math.NaN()
					if j < len(in.Samples) {
						want = in.Samples[j]
					}
					if signal.IsMissing(want) != signal.IsMissing(v) || !signal.IsMissing(v) && math.Abs(v-want) > 0.5/c.Gain {
						t.Errorf("channel %d sample %d: got %v, want %v (gain %v)", i, j, v, want, c.Gain)
					}
				}
			}
			if g := rec.Signal.Channels[0].Gain; g != 200 {
				t.Errorf("given gain: got %v, want 200", g)
			}
		})
	}
}

func TestWriteRecordHeader(t *testing.T) {
	sig := &signal.Signal{Channels: []signal.Channel{{Name: "HR", Unit: "bpm", Rate: 1.0 / 60, Samples: []float64{60, 70}}}}
	hea, dat, err := WriteRecord("log", sig, 16)
	if err != nil {
		t.Fatal(err)
	}
	// Gain: the largest power of ten that fits 70 in ±32767 is 100.
	want := "log 1 0.016666666666666666 2\nlog.dat 16 100(0)/bpm 16 0 6000 13000 0 HR\n"
	if string(hea) != want {
		t.Errorf("header:\ngot  %q\nwant %q", hea, want)
	}
	if len(dat) != 4 {
		t.Errorf("got %d data bytes, want 4", len(dat))
	}
	h, err := ParseHeader("log.hea", hea)
	if err != nil || h.Frequency != 1.0/60 {
		t.Errorf("frequency reads back as %v, %v", h.Frequency, err)
	}
}

func TestWriteRecordErrors(t *testing.T) {
	ok := signal.Channel{Name: "a", Rate: 100, Samples: []float64{1}}
	tests := []struct {
		name   string
		record string
		chans  []signal.Channel
		format int
		want   string
	}{
		{"ErrFormat", "r", []signal.Channel{ok}, 80, "format 80: WriteRecord writes formats 16 and 212"},
		{"ErrName", "a b", []signal.Channel{ok}, 16, `record name "a b": expected a plain name without blanks or directories`},
		{"ErrNoChannels", "r", nil, 16, "record r: no channels to write"},
		{"ErrRate", "r", []signal.Channel{{Name: "a", Rate: 0}}, 16, `channel 0 ("a"): sample rate 0 is not a positive number`},
		{"ErrRateRatio", "r", []signal.Channel{ok, {Name: "b", Rate: 150}}, 16, `channel 1 ("b"): rate 150 Hz is not a whole multiple of the lowest rate 100 Hz, which one WFDB record needs`},
		{"ErrRange", "r", []signal.Channel{{Name: "a", Unit: "mV", Rate: 100, Gain: 200, Samples: []float64{11}}}, 212,
			`channel 0 ("a") sample 0: 11 mV at gain 200 gives 2200 ADC units, outside ±2047 of format 212; lower the channel's Gain`},
		{"ErrInf", "r", []signal.Channel{{Name: "a", Rate: 100, Gain: 1, Samples: []float64{math.Inf(1)}}}, 16,
			`channel 0 ("a") sample 0: +Inf at gain 1 gives +Inf ADC units, outside ±32767 of format 16; lower the channel's Gain`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := WriteRecord(tt.record, &signal.Signal{Channels: tt.chans}, tt.format)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("got %v\nwant %q", err, tt.want)
			}
		})
	}
}

func FuzzReadRecord(f *testing.F) {
	f.Add([]byte("r 2 360 3\nr.dat 212 200 11 1024 0 3072 0 MLII\nr.dat 212 200 11 1024 0 3072 0 V1\n"), []byte{0x00, 0x44, 0x00, 0x00, 0x44, 0x00, 0x00, 0x44, 0x00})
	f.Add([]byte("r 2 10\nr.dat 16x2+4 1 16 0 0\nr.dat 16:1+4 1 16 0 0 0 0 b\n"), []byte{9, 9, 9, 9, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0})
	f.Add([]byte("r/3 1 10 5\n~ 2\nr 3\n"), []byte{})
	f.Add([]byte("r 1 10\nr.dat 310 1 10 0 0\n"), []byte{1, 2, 3, 4, 5, 6, 7})
	f.Add([]byte("r 1 10\nr.dat 8 1 10 0 0\n"), []byte{1, 2, 3, 4, 5, 6, 7})
	saved := MaxSamples
	MaxSamples = 1 << 16
	f.Cleanup(func() { MaxSamples = saved })
	f.Fuzz(func(t *testing.T, hea, dat []byte) {
		// The header may name itself as a segment ("r"), which must not loop.
		files := map[string][]byte{"r.hea": hea, "r.dat": dat}
		rec, err := ReadRecord("r.hea", MapOpener(files))
		if err != nil {
			return
		}
		var total int64
		for _, c := range rec.Signal.Channels {
			total += int64(len(c.Samples))
			if !(c.Rate > 0) {
				t.Fatalf("channel %q rate %v", c.Name, c.Rate)
			}
		}
		if total > MaxSamples {
			t.Fatalf("%d samples decoded, limit %d", total, MaxSamples)
		}
	})
}
