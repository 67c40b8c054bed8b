package edf

// This file keeps the whole-file decoder that Decode used before it became
// Open plus collecting Next, as an independent oracle: the streaming
// decoder must give bit-identical samples and the same error-or-not on
// every input (TestStreamMatchesReference, FuzzStream).

import (
	"fmt"
	"math"
	"slices"

	"github.com/pulsegrid/pulsegrid/algorithms/signal"
)

// refDecode is Decode as it was.
func refDecode(name string, data []byte) (*File, error) {
	h, err := ParseHeader(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	f, err := refDecodeRecords(h, data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	f.Recording.Identity = identity(name, h)
	return f, nil
}

// refDecodeRecords reads the data records: samples of ordinary signals scaled
// to physical values, and TALs of annotation signals.
func refDecodeRecords(h *Header, data []byte) (*File, error) {
	f := &File{Header: *h, Recording: &signal.Recording{}}
	bps := h.bytesPerSample()
	rb := h.recordBytes()

	// Where each signal's samples start inside a data record.
	offsets := make([]int, len(h.Signals))
	o := 0
	for i, s := range h.Signals {
		offsets[i] = o
		o += s.SamplesPerRecord * bps
	}

	// Pass 1: TALs and the start time of each record.
	f.RecordStarts = make([]float64, h.DataRecords)
	for r := 0; r < h.DataRecords; r++ {
		f.RecordStarts[r] = float64(r) * h.RecordDuration
		first := true
		for i, s := range h.Signals {
			if !s.IsAnnotations() {
				continue
			}
			at := h.HeaderBytes + r*rb + offsets[i]
			tals, start, err := parseTALs(data[at:at+s.SamplesPerRecord*bps], at, r, first && h.IsPlus())
			if err != nil {
				return nil, fmt.Errorf("data record %d, signal %d (%q): %w", r, i+1, s.Label, err)
			}
			if first && h.IsPlus() {
				f.RecordStarts[r] = start
			}
			first = false
			f.TALs = append(f.TALs, tals...)
		}
	}

	// t0 is the time of sample 0: the start of the first data record.
	t0 := 0.0
	if h.DataRecords > 0 {
		t0 = f.RecordStarts[0]
	}
	if h.Discontinuous() {
		for r := 1; r < h.DataRecords; r++ {
			if f.RecordStarts[r] < f.RecordStarts[r-1]+h.RecordDuration {
				return nil, fmt.Errorf("data record %d starts at %gs, before the end of record %d (%gs + %gs): EDF+D records must be in time order and must not overlap",
					r, f.RecordStarts[r], r-1, f.RecordStarts[r-1], h.RecordDuration)
			}
		}
	}

	// Pass 2: samples.
	annRate := 0.0
	total := int64(0) // samples of the gap-filled EDF+D signals so far, against maxSamples
	for i, s := range h.Signals {
		if s.IsAnnotations() {
			continue
		}
		rate := s.Rate(h.RecordDuration)
		annRate = math.Max(annRate, rate)
		spr := s.SamplesPerRecord
		// EDFlib's scaling: physical = bitvalue × (offset + digital).
		bitvalue := (s.PhysicalMax - s.PhysicalMin) / float64(s.DigitalMax-s.DigitalMin)
		offset := s.PhysicalMax/bitvalue - float64(s.DigitalMax)
		// start[r] is the sample index of record r's first sample.
		start := func(r int) int64 { return int64(r) * int64(spr) }
		n := int64(h.DataRecords) * int64(spr)
		if h.Discontinuous() && h.DataRecords > 0 {
			start = func(r int) int64 { return int64(math.Round(float64((f.RecordStarts[r] - t0) * rate))) }
			last := float64((f.RecordStarts[h.DataRecords-1] - t0) * rate)
			if last+float64(spr) > float64(maxSamples-total) {
				return nil, fmt.Errorf("signal %d (%q): data record %d starts at %gs, which would make the signal %.0f samples long (more than %d samples in all signals)",
					i+1, s.Label, h.DataRecords-1, f.RecordStarts[h.DataRecords-1], last+float64(spr), maxSamples)
			}
			n = start(h.DataRecords-1) + int64(spr)
			total += n
		}
		samples := make([]float64, n)
		if h.Discontinuous() {
			for j := range samples {
				samples[j] = signal.Missing
			}
		}
		for r := 0; r < h.DataRecords; r++ {
			at := h.HeaderBytes + r*rb + offsets[i]
			dst := samples[start(r):]
			// Rounding onsets to samples can make two records of an EDF+D
			// file touch; a later record wins the shared sample.
			if len(dst) > spr {
				dst = dst[:spr]
			}
			for k := range dst {
				var d int32
				if bps == 2 {
					d = int32(int16(uint16(data[at]) | uint16(data[at+1])<<8))
				} else {
					d = int32(uint32(data[at])|uint32(data[at+1])<<8|uint32(data[at+2])<<16) << 8 >> 8
				}
				at += bps
				dst[k] = float64(bitvalue * (offset + float64(d)))
			}
		}
		f.Recording.Signal.Channels = append(f.Recording.Signal.Channels, signal.Channel{
			Name:    s.Label,
			Unit:    s.PhysicalDimension,
			Rate:    rate,
			Gain:    float64(s.DigitalMax-s.DigitalMin) / (s.PhysicalMax - s.PhysicalMin),
			Samples: samples,
		})
	}

	if annRate == 0 {
		annRate = 1000
	}
	for _, t := range f.TALs {
		x := math.Round(float64((t.Onset - t0) * annRate))
		if math.Abs(x) > 1<<53 {
			return nil, fmt.Errorf("data record %d: annotation onset %gs is out of range", t.Record, t.Onset)
		}
		sample := int64(x)
		for _, text := range t.Texts {
			f.Recording.Annotations = append(f.Recording.Annotations, signal.Annotation{
				Sample: sample,
				Code:   signal.CodeNote,
				Aux:    text,
			})
		}
	}
	slices.SortStableFunc(f.Recording.Annotations, func(a, b signal.Annotation) int {
		switch {
		case a.Sample < b.Sample:
			return -1
		case a.Sample > b.Sample:
			return 1
		}
		return 0
	})
	if len(f.Recording.Annotations) > 0 {
		f.Recording.AnnotationRate = annRate
	}
	return f, nil
}
