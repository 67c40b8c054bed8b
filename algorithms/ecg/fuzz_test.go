package ecg

import (
	"encoding/binary"
	"encoding/json"
	"testing"

	"github.com/pulsegrid/pulsegrid/algorithms/canon"
	"github.com/pulsegrid/pulsegrid/algorithms/pipeline"
	"github.com/pulsegrid/pulsegrid/algorithms/signal"
)

func FuzzBeatsParams(f *testing.F) {
	for _, s := range []string{``, `{}`, `{"lead":"MLII"}`, `{"lead":3}`, `{"lead":null}`, `{"lead":-1}`, `{"x":1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := NewBeats().Params(json.RawMessage(b))
		if err != nil {
			return
		}
		again, err := NewBeats().Params(c)
		if err != nil || string(again) != string(c) {
			t.Fatalf("canonical params %s re-parse to %s, %v", c, again, err)
		}
	})
}

func FuzzDecodeBeatsOutput(f *testing.F) {
	w := canon.NewWriter(outputMagic)
	w.I64s([]int64{1, 500, 900})
	f.Add(w.Bytes())
	f.Add([]byte("PGBEATS1"))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := DecodeBeatsOutput(b)
		if err != nil {
			return
		}
		w := canon.NewWriter(outputMagic)
		w.I64s(v)
		if string(w.Bytes()) != string(b) {
			t.Fatalf("decoded output does not re-encode to the same bytes")
		}
	})
}

// FuzzRunBeats runs the detector on arbitrary samples (16-bit values at an
// arbitrary rate): it must not panic, and its beats must lie in the owned
// region, ascending and at least a refractory period apart.
func FuzzRunBeats(f *testing.F) {
	f.Add(uint16(360), []byte{0, 0, 10, 0, 200, 1, 0, 0})
	f.Add(uint16(100), make([]byte, 4000))
	f.Fuzz(func(t *testing.T, rate uint16, raw []byte) {
		r := float64(MinRate) + float64(rate)/65535*(MaxRate-MinRate)
		s := make([]float64, len(raw)/2)
		for i := range s {
			v := int16(binary.LittleEndian.Uint16(raw[2*i:]))
			if v == -32768 {
				s[i] = signal.Missing
			} else {
				s[i] = float64(v) / 200
			}
		}
		if len(s) == 0 {
			return
		}
		sig := &signal.Signal{Channels: []signal.Channel{{Name: "II", Unit: "mV", Rate: r, Gain: 200, Samples: s}}}
		chunks, err := NewBeats().Split(sig, nil, pipeline.SplitOptions{})
		if err != nil {
			t.Fatal(err)
		}
		parts := make([]pipeline.Part, len(chunks))
		for i := range chunks {
			out, err := NewBeats().Run(&chunks[i].Task, pipeline.NoYield{})
			if err != nil {
				t.Fatal(err)
			}
			parts[i] = pipeline.Part{Spec: chunks[i].Spec, Output: out}
		}
		res, err := MergeBeats(parts)
		if err != nil {
			t.Fatal(err)
		}
		refr := int64(newDetector(r).refr)
		for i, b := range res.Beats {
			if b.Sample < 0 || b.Sample >= int64(len(s)) || (i > 0 && b.Sample-res.Beats[i-1].Sample < refr) {
				t.Fatalf("beat %d at sample %d (previous %v) of %d", i, b.Sample, res.Beats[max(i-1, 0)].Sample, len(s))
			}
		}
	})
}
