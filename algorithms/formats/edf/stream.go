package edf

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"slices"

	"github.com/pulsegrid/pulsegrid/algorithms/formats/internal/blocks"
	"github.com/pulsegrid/pulsegrid/algorithms/signal"
)

// Stream yields the samples of an EDF, EDF+ or BDF file block by block,
// scaling them from the file's bytes as it goes, so that a long recording
// never has to be held in memory as float64 values. Open checks
// everything a file can get wrong (header, size, annotations, the order of
// EDF+D records) before it returns, so Next does not fail.
type Stream struct {
	// Recording is the recording without its samples: each Channel has its
	// Name, Unit, Rate and Gain, and Samples nil; Identity, Annotations
	// and AnnotationRate are complete.
	Recording *signal.Recording
	// Header is the file's parsed header.
	Header *Header
	// TALs are the time-stamped annotation lists of the annotation
	// signals, with the durations Recording has no room for.
	TALs    []TAL
	lengths []int64
	cut     *blocks.Cutter
}

// Open parses an EDF, EDF+ or BDF file's header and annotations and returns
// a Stream positioned at the first sample. name is the file name, used in
// errors and kept in the Identity. data may be memory-mapped: the Stream
// reads it in place and allocates only per block (an EDF+D file's records
// are placed by re-reading their time-keeping annotations, not from a
// table of start times).
func Open(name string, data []byte) (*Stream, error) {
	s, _, err := open(name, data, false)
	return s, err
}

// open is Open, also returning each data record's start time when
// keepStarts is set (for Decode's File.RecordStarts).
func open(name string, data []byte, keepStarts bool) (*Stream, []float64, error) {
	h, err := ParseHeader(data)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	s, starts, err := openRecords(h, data, keepStarts)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	s.Recording.Identity = identity(name, h)
	return s, starts, nil
}

// openRecords reads the TALs of every data record, checks the records'
// times and prepares a source for each ordinary signal.
func openRecords(h *Header, data []byte, keepStarts bool) (*Stream, []float64, error) {
	s := &Stream{Header: h, Recording: &signal.Recording{}}
	bps := h.bytesPerSample()
	rb := h.recordBytes()

	// Where each signal's samples start inside a data record.
	offsets := make([]int, len(h.Signals))
	o := 0
	firstAnn := -1
	for i, sg := range h.Signals {
		offsets[i] = o
		o += sg.SamplesPerRecord * bps
		if firstAnn < 0 && sg.IsAnnotations() {
			firstAnn = i
		}
	}

	// Pass 1: TALs and the start time of each record.
	var starts []float64
	if keepStarts {
		starts = make([]float64, h.DataRecords)
	}
	t0, last := 0.0, 0.0 // start of the first and the last record
	var order error      // the first EDF+D record out of order, reported after every TAL parsed
	texts := 0           // annotation texts so far
	for r := 0; r < h.DataRecords; r++ {
		start := float64(r) * h.RecordDuration
		first := true
		for i, sg := range h.Signals {
			if !sg.IsAnnotations() {
				continue
			}
			at := h.HeaderBytes + r*rb + offsets[i]
			tals, st, err := parseTALs(data[at:at+sg.SamplesPerRecord*bps], at, r, first && h.IsPlus())
			if err != nil {
				return nil, nil, fmt.Errorf("data record %d, signal %d (%q): %w", r, i+1, sg.Label, err)
			}
			if first && h.IsPlus() {
				start = st
			}
			first = false
			s.TALs = append(s.TALs, tals...)
			for _, t := range tals {
				if texts += len(t.Texts); texts > MaxAnnotations {
					return nil, nil, fmt.Errorf("data record %d, signal %d (%q): more than %d annotations, more than this reader accepts", r, i+1, sg.Label, MaxAnnotations)
				}
			}
		}
		if keepStarts {
			starts[r] = start
		}
		if r == 0 {
			t0 = start
		} else if h.Discontinuous() && order == nil && start < last+h.RecordDuration {
			order = fmt.Errorf("data record %d starts at %gs, before the end of record %d (%gs + %gs): EDF+D records must be in time order and must not overlap",
				r, start, r-1, last, h.RecordDuration)
		}
		last = start
	}
	if order != nil {
		return nil, nil, order
	}

	// Pass 2: the signals' sources.
	var per []int64
	var srcs []blocks.Source
	annRate := 0.0
	total := int64(0) // samples of the gap-filled EDF+D signals so far, against maxSamples
	for i, sg := range h.Signals {
		if sg.IsAnnotations() {
			continue
		}
		rate := sg.Rate(h.RecordDuration)
		annRate = math.Max(annRate, rate)
		spr := sg.SamplesPerRecord
		// EDFlib's scaling: physical = bitvalue × (offset + digital).
		bitvalue := (sg.PhysicalMax - sg.PhysicalMin) / float64(sg.DigitalMax-sg.DigitalMin)
		src := &source{
			data:     data,
			first:    int64(h.HeaderBytes + offsets[i]),
			rb:       int64(rb),
			spr:      int64(spr),
			bps:      bps,
			bitvalue: bitvalue,
			offset:   sg.PhysicalMax/bitvalue - float64(sg.DigitalMax),
			n:        int64(h.DataRecords) * int64(spr),
		}
		if h.Discontinuous() && h.DataRecords > 0 {
			lastAt := float64((last - t0) * rate)
			if lastAt+float64(spr) > float64(maxSamples-total) {
				return nil, nil, fmt.Errorf("signal %d (%q): data record %d starts at %gs, which would make the signal %.0f samples long (more than %d samples in all signals)",
					i+1, sg.Label, h.DataRecords-1, last, lastAt+float64(spr), maxSamples)
			}
			src.gaps = &gaps{
				data:    data,
				rb:      int64(rb),
				records: int64(h.DataRecords),
				ann:     int64(h.HeaderBytes + offsets[firstAnn]),
				annLen:  int64(h.Signals[firstAnn].SamplesPerRecord * bps),
				t0:      t0,
				rate:    rate,
				next:    -1,
			}
			src.n = src.gaps.place(last) + int64(spr)
			total += src.n
		}
		s.Recording.Signal.Channels = append(s.Recording.Signal.Channels, signal.Channel{
			Name: sg.Label,
			Unit: sg.PhysicalDimension,
			Rate: rate,
			Gain: float64(sg.DigitalMax-sg.DigitalMin) / (sg.PhysicalMax - sg.PhysicalMin),
		})
		per = append(per, int64(spr))
		srcs = append(srcs, src)
		s.lengths = append(s.lengths, src.n)
	}

	if annRate == 0 {
		annRate = 1000
	}
	for _, t := range s.TALs {
		x := math.Round(float64((t.Onset - t0) * annRate))
		if math.Abs(x) > 1<<53 {
			return nil, nil, fmt.Errorf("data record %d: annotation onset %gs is out of range", t.Record, t.Onset)
		}
		sample := int64(x)
		for _, text := range t.Texts {
			s.Recording.Annotations = append(s.Recording.Annotations, signal.Annotation{
				Sample: sample,
				Code:   signal.CodeNote,
				Aux:    text,
			})
		}
	}
	slices.SortStableFunc(s.Recording.Annotations, func(a, b signal.Annotation) int {
		switch {
		case a.Sample < b.Sample:
			return -1
		case a.Sample > b.Sample:
			return 1
		}
		return 0
	})
	if len(s.Recording.Annotations) > 0 {
		s.Recording.AnnotationRate = annRate
	}
	s.cut = blocks.NewCutter(per)
	s.cut.Reset(s.lengths, srcs)
	return s, starts, nil
}

// Lengths returns the number of samples of each channel: what the blocks
// of channel i add up to. The slice is the Stream's own.
func (s *Stream) Lengths() []int64 { return s.lengths }

// Next returns the next samples of every channel: out[i] continues channel
// i. Channels at different rates get different lengths; a block holds
// about 2^16 samples in all. After the last block Next returns nil and
// io.EOF. The slices are the Stream's own and are overwritten by the next
// call: copy what must be kept.
func (s *Stream) Next() ([][]float64, error) {
	if out := s.cut.Next(); out != nil {
		return out, nil
	}
	return nil, io.EOF
}

// source scales one ordinary signal's samples out of the data records, in
// order.
type source struct {
	data     []byte
	first    int64 // byte offset of the signal's first sample in record 0
	rb       int64 // bytes per data record
	spr      int64 // samples per data record
	bps      int
	bitvalue float64
	offset   float64
	n        int64 // samples of the channel
	j        int64 // next sample of the channel
	gaps     *gaps // EDF+D: where each record goes; nil for contiguous records
}

// Fill implements blocks.Source.
func (s *source) Fill(dst []float64) {
	if s.gaps == nil {
		s.scale(dst, s.j/s.spr, s.j%s.spr)
		s.j += int64(len(dst))
		return
	}
	g := s.gaps
	if g.next < 0 {
		g.start, g.next = 0, g.end(s.n)
	}
	for len(dst) > 0 {
		// Sample j belongs to the last record that starts at or before it;
		// a later record wins a sample that rounding made two records share.
		for s.j >= g.next && g.r+1 < g.records {
			g.r++
			g.start, g.next = g.next, g.end(s.n)
		}
		n := min(g.next, s.j+int64(len(dst))) - s.j
		k := s.j - g.start
		have := min(max(s.spr-k, 0), n)
		if have > 0 {
			s.scale(dst[:have], g.r, k)
		}
		for i := have; i < n; i++ {
			dst[i] = signal.Missing // the gap after record r
		}
		dst = dst[n:]
		s.j += n
	}
}

// scale converts len(dst) samples starting at sample k of data record r;
// they may run on into the following records.
func (s *source) scale(dst []float64, r, k int64) {
	at := s.first + r*s.rb + k*int64(s.bps)
	data := s.data
	for i := range dst {
		var d int32
		if s.bps == 2 {
			d = int32(int16(uint16(data[at]) | uint16(data[at+1])<<8))
		} else {
			d = int32(uint32(data[at])|uint32(data[at+1])<<8|uint32(data[at+2])<<16) << 8 >> 8
		}
		dst[i] = float64(s.bitvalue * (s.offset + float64(d)))
		at += int64(s.bps)
		if k++; k == s.spr {
			k = 0
			r++
			at = s.first + r*s.rb
		}
	}
}

// gaps places the data records of an EDF+D file on a channel's sample axis
// by their time-keeping annotations, read again as the channel reaches
// each record.
type gaps struct {
	data        []byte
	records     int64
	ann, annLen int64 // the first annotation signal: offset in record 0 and length
	rb          int64
	t0, rate    float64
	r           int64 // the record sample j is in (or in the gap after)
	start, next int64 // first sample of record r and of record r+1; next < 0 before the first Fill
}

// place is the channel's sample index of a time (seconds since the file's
// start), as Decode has always placed records.
func (g *gaps) place(t float64) int64 {
	return int64(math.Round(float64((t - g.t0) * g.rate)))
}

// end is the first sample after record r's stretch: where record r+1
// starts, or n after the last record.
func (g *gaps) end(n int64) int64 {
	if g.r+1 >= g.records {
		return n
	}
	at := g.ann + (g.r+1)*g.rb
	return g.place(recordOnset(g.data[at : at+g.annLen]))
}

// recordOnset is the onset of a data record's time-keeping annotation, the
// first TAL of its first annotation signal, which Open has checked.
func recordOnset(b []byte) float64 {
	if i := bytes.IndexByte(b, 0x14); i >= 0 {
		b = b[:i]
	}
	if j := bytes.IndexByte(b, 0x15); j >= 0 {
		b = b[:j]
	}
	if len(b) == 0 {
		return 0
	}
	v, _ := talNumber(b[1:])
	if b[0] == '-' {
		v = -v
	}
	return v
}
