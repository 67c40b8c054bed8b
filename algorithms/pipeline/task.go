package pipeline

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/pulsegrid/pulsegrid/algorithms/canon"
	"github.com/pulsegrid/pulsegrid/algorithms/signal"
)

// taskMagic tags version 2 of the Task encoding (version 1 sent every
// sample as float64).
const taskMagic = "PGTASK2"

// How a channel's samples travel, the byte after its gain. Recorders store
// integers (ADC units) that readers divide by the gain, so such samples go
// as those integers, a quarter or half the bytes of float64, whenever
// float64(k)/gain gives back every one of them bit for bit: the volunteer
// then computes on exactly the values the server holds, with less to
// download (a volunteer's bandwidth is often what limits it).
const (
	samplesF64 = 0 // canon F64s
	samplesI16 = 1 // canon I16s of k, the sample being float64(k)/gain; math.MinInt16 is missing
	samplesI32 = 2 // the same in I32s; math.MinInt32 is missing
)

// sampleForm picks the smallest exact form for samples.
func sampleForm(samples []float64, gain float64) uint8 {
	if !(gain > 0) || math.IsInf(gain, 0) {
		return samplesF64
	}
	form := uint8(samplesI16)
	for _, v := range samples {
		if v != v {
			continue
		}
		f := math.Round(v * gain)
		if !(math.Abs(f) <= math.MaxInt32) || canon.Float64Bits(f/gain) != canon.Float64Bits(v) {
			return samplesF64
		}
		if math.Abs(f) > math.MaxInt16 {
			form = samplesI32
		}
	}
	return form
}

// writeSamples writes samples in their smallest exact form, straight into
// the encoding (no copy of the samples as integers first). The int16 form
// of recorders' samples is tried in one pass first (writeI16).
func writeSamples(w *canon.Writer, samples []float64, gain float64) {
	if gain > 0 && !math.IsInf(gain, 0) && writeI16(w, samples, gain) {
		return
	}
	form := sampleForm(samples, gain)
	w.U8(form)
	switch form {
	case samplesI16:
		b := w.Packed(len(samples), 2)
		for _, v := range samples {
			k := int16(math.MinInt16)
			if v == v {
				k = int16(math.Round(v * gain))
			}
			binary.LittleEndian.PutUint16(b[:2], uint16(k))
			b = b[2:]
		}
	case samplesI32:
		b := w.Packed(len(samples), 4)
		for _, v := range samples {
			k := int32(math.MinInt32)
			if v == v {
				k = int32(math.Round(v * gain))
			}
			binary.LittleEndian.PutUint32(b[:4], uint32(k))
			b = b[4:]
		}
	default:
		w.F64s(samples)
	}
}

// writeI16 writes samples in the int16 form, checking each as sampleForm
// does as it goes, in one pass instead of sampleForm's and then the
// writing's; at the first sample that does not fit it takes back what it
// wrote and returns false (writeSamples then writes the form that fits).
func writeI16(w *canon.Writer, samples []float64, gain float64) bool {
	mark := w.Len()
	w.U8(samplesI16)
	b := w.Packed(len(samples), 2)
	for _, v := range samples {
		k := int16(math.MinInt16)
		if v == v {
			f := math.Round(v * gain)
			if !(math.Abs(f) <= math.MaxInt16) || canon.Float64Bits(f/gain) != canon.Float64Bits(v) {
				w.Truncate(mark)
				return false
			}
			k = int16(f)
		}
		binary.LittleEndian.PutUint16(b[:2], uint16(k))
		b = b[2:]
	}
	return true
}

var missing = math.Float64frombits(canon.CanonicalNaN)

func readSamples(r *canon.Reader, gain float64) []float64 {
	switch form := r.U8(); form {
	case samplesF64:
		return r.F64s()
	case samplesI16:
		n, b := r.Packed(2, "int16 samples")
		out := make([]float64, n)
		// One pass from the bytes, the slice shrinking by two so that the
		// loop has no bounds checks: on wasm a task is mostly this loop.
		for i := range out {
			if len(b) < 2 {
				break
			}
			k := int16(binary.LittleEndian.Uint16(b[:2]))
			b = b[2:]
			if k == math.MinInt16 {
				out[i] = missing
				continue
			}
			out[i] = float64(k) / gain
		}
		return out
	case samplesI32:
		n, b := r.Packed(4, "int32 samples")
		out := make([]float64, n)
		for i := range out {
			if len(b) < 4 {
				break
			}
			k := int32(binary.LittleEndian.Uint32(b[:4]))
			b = b[4:]
			if k == math.MinInt32 {
				out[i] = missing
				continue
			}
			out[i] = float64(k) / gain
		}
		return out
	default:
		r.Fail(fmt.Sprintf("sample form %d (want 0, 1 or 2)", form))
		return nil
	}
}

// Task is the input of one chunk as a volunteer receives it: the algorithm,
// its canonical parameters and the samples — nothing that identifies a
// patient, a file or a time of day.
type Task struct {
	Algorithm string
	Params    []byte
	// Aux is algorithm-specific framing, e.g. how many leading samples are
	// context only.
	Aux      []byte
	Channels []signal.Channel
}

// Encode returns the canonical binary encoding of the task.
func (t *Task) Encode() []byte {
	w := canon.NewWriter(taskMagic)
	w.String(t.Algorithm)
	w.Blob(t.Params)
	w.Blob(t.Aux)
	w.U32(uint32(len(t.Channels)))
	for i := range t.Channels {
		c := &t.Channels[i]
		w.String(c.Name)
		w.String(c.Unit)
		w.F64(c.Rate)
		w.F64(c.Gain)
		writeSamples(w, c.Samples, c.Gain)
	}
	return w.Bytes()
}

// maxChannels bounds the channel count a decoded task may claim.
const maxChannels = 4096

// DecodeTask parses a Task encoding, naming the byte offset of any fault.
func DecodeTask(b []byte) (*Task, error) {
	r := canon.NewReader(b, taskMagic)
	t := &Task{Algorithm: r.String(), Params: r.Blob(), Aux: r.Blob()}
	n := r.U32()
	if r.Err() == nil && n > maxChannels {
		return nil, fmt.Errorf("decode task: %d channels exceed the limit %d", n, maxChannels)
	}
	for i := 0; i < int(n) && r.Err() == nil; i++ {
		c := signal.Channel{Name: r.String(), Unit: r.String(), Rate: r.F64(), Gain: r.F64()}
		c.Samples = readSamples(r, c.Gain)
		t.Channels = append(t.Channels, c)
	}
	if err := r.Done(); err != nil {
		return nil, fmt.Errorf("decode task: %w", err)
	}
	return t, nil
}

// Digest is the SHA-256 of the task's encoding.
func (t *Task) Digest() string { return canon.Digest(t.Encode()) }
