package wfdb

// This file keeps the whole-record decoder that refReadRecord used before it
// became OpenRecord plus collecting Next, as an independent oracle: the
// streaming decoder must give bit-identical samples and the same
// error-or-not on every input (TestStreamMatchesReference, FuzzStream).

import (
	"path"

	"github.com/pulsegrid/pulsegrid/algorithms/signal"
)

func refReadRecord(headerName string, open Opener) (*signal.Recording, error) {
	r := &refReader{open: open, dir: path.Dir(headerName)}
	data, err := open(headerName)
	if err != nil {
		return nil, openErr(headerName, err)
	}
	base := path.Base(headerName)
	h, err := ParseHeader(base, data)
	if err != nil {
		return nil, err
	}
	r.refAddFile(base)
	var chans []signal.Channel
	if h.NumSegments > 0 {
		chans, err = r.refReadMulti(base, h)
	} else {
		var segs []refSegmentSignals
		segs, err = r.refReadSingle(base, h)
		if err == nil {
			chans = make([]signal.Channel, len(segs))
			for i, s := range segs {
				chans[i] = s.refChannel(h.Frequency)
				chans[i].Samples = s.samples
			}
		}
	}
	if err != nil {
		return nil, err
	}
	rec := &signal.Recording{Signal: signal.Signal{Channels: chans}}
	rec.Identity = signal.Identity{
		Record:     h.Record,
		RecordedAt: h.RecordedAt(),
		FileNames:  r.files,
		Comments:   append(h.Comments, r.comments...),
		Sex:        sexFromComments(h.Comments),
	}
	return rec, nil
}

type refReader struct {
	open     Opener
	dir      string
	files    []string
	comments []string // from segment headers
	budget   int64    // samples decoded so far, against MaxSamples
}

func (r *refReader) refAddFile(name string) {
	for _, f := range r.files {
		if f == name {
			return
		}
	}
	r.files = append(r.files, name)
}

func (r *refReader) refOpenFile(name string) ([]byte, error) {
	p := name
	if r.dir != "." {
		p = path.Join(r.dir, name)
	}
	b, err := r.open(p)
	if err != nil {
		return nil, openErr(name, err)
	}
	r.refAddFile(name)
	return b, nil
}

func (r *refReader) refSpend(file string, n int64) error {
	if n < 0 || r.budget+n > MaxSamples || r.budget+n < 0 {
		return fileErr(file, "record holds more than %d samples, more than this reader accepts", MaxSamples)
	}
	r.budget += n
	return nil
}

// refSegmentSignals is one decoded signal of a single-segment record.
type refSegmentSignals struct {
	spec    SignalSpec
	samples []float64
}

func (s refSegmentSignals) refChannel(frameRate float64) signal.Channel {
	return signal.Channel{
		Name: s.spec.Description,
		Unit: s.spec.Units,
		Rate: frameRate * float64(s.spec.SamplesPerFrame),
		Gain: s.spec.physGain(),
	}
}

// refReadSingle decodes every signal of a single-segment header.
func (r *refReader) refReadSingle(hname string, h *Header) ([]refSegmentSignals, error) {
	out := make([]refSegmentSignals, len(h.Signals))
	for i, s := range h.Signals {
		out[i].spec = s
	}
	// Signals sharing a file form a group; their samples interleave frame by
	// frame in header order.
	var order []string
	groups := map[string][]int{}
	for i, s := range h.Signals {
		if s.Format == 0 {
			continue
		}
		if _, ok := groups[s.File]; !ok {
			order = append(order, s.File)
		}
		groups[s.File] = append(groups[s.File], i)
	}
	nframes := h.NumSamples
	for _, file := range order {
		idx := groups[file]
		first := h.Signals[idx[0]]
		for _, i := range idx[1:] {
			s := h.Signals[i]
			if s.Format != first.Format {
				return nil, lineErr(hname, s.Line, "signal %d is in %s with format %d, but signal %d in the same file has format %d; one file holds one format", i, file, s.Format, idx[0], first.Format)
			}
			if s.ByteOffset != first.ByteOffset {
				return nil, lineErr(hname, s.Line, "signal %d byte offset %d differs from %d of signal %d in the same file", i, s.ByteOffset, first.ByteOffset, idx[0])
			}
		}
		data, err := r.refOpenFile(file)
		if err != nil {
			return nil, err
		}
		frames, err := r.refDecodeGroup(hname, h, file, data, idx, out)
		if err != nil {
			return nil, err
		}
		if nframes == 0 {
			nframes = frames
		}
	}
	// Null signals (format 0) have no file: all their samples are missing.
	for i, s := range h.Signals {
		if s.Format != 0 {
			continue
		}
		n := nframes * int64(s.SamplesPerFrame)
		if err := r.refSpend(hname, n); err != nil {
			return nil, err
		}
		out[i].samples = make([]float64, n)
		for j := range out[i].samples {
			out[i].samples[j] = signal.Missing
		}
	}
	return out, nil
}

// refDecodeGroup decodes the signals idx of one signal file into out and
// returns the number of frames read.
func (r *refReader) refDecodeGroup(hname string, h *Header, file string, data []byte, idx []int, out []refSegmentSignals) (int64, error) {
	first := h.Signals[idx[0]]
	format := first.Format
	frame := int64(0) // samples per frame in this file
	for _, i := range idx {
		frame += int64(h.Signals[i].SamplesPerFrame)
	}
	if first.ByteOffset > int64(len(data)) {
		return 0, byteErr(file, int64(len(data)), "file ends before the byte offset %d the header (line %d) gives", first.ByteOffset, first.Line)
	}
	body := data[first.ByteOffset:]
	nframes := h.NumSamples
	if nframes == 0 {
		nframes = samplesIn(format, int64(len(body))) / frame
	}
	if nframes > MaxSamples/frame {
		return 0, fileErr(file, "record holds more than %d samples, more than this reader accepts", MaxSamples)
	}
	total := nframes * frame
	if need := bytesFor(format, total); need > int64(len(body)) {
		have := samplesIn(format, int64(len(body))) / frame
		return 0, byteErr(file, first.ByteOffset+int64(len(body)), "file ends after %d complete frames; the header %s announces %d frames of %d samples in format %d, which take %d bytes", have, hname, nframes, frame, format, need)
	}
	if err := r.refSpend(file, total); err != nil {
		return 0, err
	}
	adc := make([][]int32, len(idx))
	for k, i := range idx {
		adc[k] = make([]int32, nframes*int64(h.Signals[i].SamplesPerFrame))
	}
	dec := newDecoder(format, body)
	running := make([]int32, len(idx)) // format 8 keeps a running value per signal
	for k, i := range idx {
		running[k] = int32(h.Signals[i].InitValue)
	}
	var pos int64
	for f := int64(0); f < nframes; f++ {
		for k, i := range idx {
			spf := int64(h.Signals[i].SamplesPerFrame)
			dst := adc[k][f*spf : (f+1)*spf]
			for j := range dst {
				v := dec.sample(pos)
				pos++
				if format == 8 {
					running[k] += v
					v = running[k]
				}
				dst[j] = v
			}
		}
	}
	for k, i := range idx {
		s := h.Signals[i]
		if s.HasChecksum && h.NumSamples > 0 {
			var sum int16
			for _, v := range adc[k] {
				sum += int16(v)
			}
			if uint16(sum) != uint16(s.Checksum) {
				return 0, fileErr(file, "checksum mismatch for signal %d (%s): header %s line %d expects %d, the samples sum to %d", i, s.Description, hname, s.Line, s.Checksum, sum)
			}
		}
		marker := int32(noInvalid)
		if m, ok := invalid[format]; ok {
			marker = m
		}
		vals := adc[k]
		if s.Skew > 0 {
			shift := int64(s.Skew) * int64(s.SamplesPerFrame)
			if shift > int64(len(vals)) {
				shift = int64(len(vals))
			}
			vals = append(vals[shift:], make([]int32, shift)...)
			for j := int64(len(vals)) - shift; j < int64(len(vals)); j++ {
				vals[j] = noInvalid
			}
		}
		g := s.physGain()
		phys := make([]float64, len(vals))
		for j, v := range vals {
			if v == marker || v == noInvalid {
				phys[j] = signal.Missing
				continue
			}
			phys[j] = float64(v-int32(s.Baseline)) / g
		}
		out[i].samples = phys
	}
	return nframes, nil
}

// refReadMulti joins the segments of a multi-segment record. Channels are those
// of the layout segment (or, without one, of the first segment); each
// segment's signals are matched to them by description, and a channel a
// segment lacks, or a "~" gap, is missing there.
func (r *refReader) refReadMulti(master string, h *Header) ([]signal.Channel, error) {
	type segHeader struct {
		seg Segment
		h   *Header
	}
	var segs []segHeader
	var layout *Header
	for i, s := range h.Segments {
		if s.Name == "~" {
			segs = append(segs, segHeader{seg: s})
			continue
		}
		name := s.Name + ".hea"
		data, err := r.refOpenFile(name)
		if err != nil {
			return nil, err
		}
		sh, err := ParseHeader(name, data)
		if err != nil {
			return nil, err
		}
		if sh.NumSegments > 0 {
			return nil, lineErr(master, s.Line, "segment %s is itself a multi-segment record; segments must be single-segment", s.Name)
		}
		if !sameRate(sh.Frequency, h.Frequency) {
			return nil, lineErr(name, 1, "frame rate %v differs from %v of the master header %s", sh.Frequency, h.Frequency, master)
		}
		r.comments = append(r.comments, sh.Comments...)
		if i == 0 && s.NumSamples == 0 {
			layout = sh
			continue
		}
		segs = append(segs, segHeader{seg: s, h: sh})
	}
	if layout == nil {
		for _, s := range segs {
			if s.h != nil {
				layout = s.h
				break
			}
		}
	}
	if layout == nil {
		return nil, fileErr(master, "every segment is a gap (\"~\"); there is no signal to read")
	}
	chans := make([]signal.Channel, len(layout.Signals))
	for i, s := range layout.Signals {
		chans[i] = refSegmentSignals{spec: s}.refChannel(h.Frequency)
	}
	// occurrence[i] tells which of several equally named signals channel i is.
	occurrence := make([]int, len(layout.Signals))
	for i, s := range layout.Signals {
		for _, t := range layout.Signals[:i] {
			if t.Description == s.Description {
				occurrence[i]++
			}
		}
	}
	for _, sg := range segs {
		n := sg.seg.NumSamples
		if sg.h == nil {
			for i := range chans {
				m := n * int64(layout.Signals[i].SamplesPerFrame)
				if err := r.refSpend(master, m); err != nil {
					return nil, err
				}
				chans[i].Samples = refAppendMissing(chans[i].Samples, m)
			}
			continue
		}
		// The master header's count governs; a segment header that says
		// less cannot supply the frames.
		if sg.h.NumSamples != 0 && sg.h.NumSamples < n {
			return nil, lineErr(sg.seg.Name+".hea", 1, "segment has %d samples per signal; the master header %s (line %d) announces %d", sg.h.NumSamples, master, sg.seg.Line, n)
		}
		sh := *sg.h
		sh.NumSamples = n
		if sg.h.NumSamples != n {
			// A checksum covers the segment header's count, not a part of it.
			sh.Signals = append([]SignalSpec(nil), sh.Signals...)
			for i := range sh.Signals {
				sh.Signals[i].HasChecksum = false
			}
		}
		got, err := r.refReadSingle(sg.seg.Name+".hea", &sh)
		if err != nil {
			return nil, err
		}
		for i := range chans {
			want := layout.Signals[i]
			k := -1
			seen := 0
			for j, s := range sh.Signals {
				if s.Description == want.Description {
					if seen == occurrence[i] {
						k = j
						break
					}
					seen++
				}
			}
			m := n * int64(want.SamplesPerFrame)
			if k < 0 {
				if err := r.refSpend(master, m); err != nil {
					return nil, err
				}
				chans[i].Samples = refAppendMissing(chans[i].Samples, m)
				continue
			}
			if sh.Signals[k].SamplesPerFrame != want.SamplesPerFrame {
				return nil, lineErr(sg.seg.Name+".hea", sh.Signals[k].Line, "signal %q has %d samples per frame, the record's layout has %d", want.Description, sh.Signals[k].SamplesPerFrame, want.SamplesPerFrame)
			}
			chans[i].Samples = append(chans[i].Samples, got[k].samples...)
		}
	}
	return chans, nil
}

func refAppendMissing(s []float64, n int64) []float64 {
	for range n {
		s = append(s, signal.Missing)
	}
	return s
}
