package wfdb

import (
	"fmt"
	"math"
	"path"
	"regexp"
	"strings"

	"github.com/pulsegrid/pulsegrid/algorithms/signal"
)

// Opener returns the bytes of a file named in a header (e.g. "100.dat", or a
// segment's "041s01.hea"), or an error if it is not at hand (not uploaded).
type Opener func(name string) ([]byte, error)

// MapOpener serves files from memory, keyed by base name, as an upload
// handler holds them.
func MapOpener(files map[string][]byte) Opener {
	return func(name string) ([]byte, error) {
		if b, ok := files[path.Base(name)]; ok {
			return b, nil
		}
		return nil, fmt.Errorf("%s was not uploaded with the record", path.Base(name))
	}
}

// MaxSamples bounds the samples (all channels together) one record may
// decode to, so that a short hostile header cannot claim terabytes. The
// default, 2^28 samples (2 GiB as float64), is far above any real recording.
var MaxSamples int64 = 1 << 28

// invalid is the ADC value that marks a missing sample in each format, as
// WFDB's library defines it. Format 8 stores differences and has none.
var invalid = map[int]int32{16: -32768, 61: -32768, 160: -32768, 80: -128, 212: -2048, 310: -512, 311: -512}

// noInvalid is a sentinel ADC value no format can produce.
const noInvalid = math.MinInt32

// ReadRecord reads the record whose header is headerName: its signals in
// physical units ((ADC value − baseline) / gain), with WFDB's invalid-sample
// markers as missing values, checksums verified, multi-frequency signals at
// their own rates and multi-segment records joined. Files named in headers
// are opened relative to headerName's directory.
func ReadRecord(headerName string, open Opener) (*signal.Recording, error) {
	r := &recordReader{open: open, dir: path.Dir(headerName)}
	data, err := open(headerName)
	if err != nil {
		return nil, fmt.Errorf("open header %s: %w", headerName, err)
	}
	base := path.Base(headerName)
	h, err := ParseHeader(base, data)
	if err != nil {
		return nil, err
	}
	r.addFile(base)
	var chans []signal.Channel
	if h.NumSegments > 0 {
		chans, err = r.readMulti(base, h)
	} else {
		var segs []segmentSignals
		segs, err = r.readSingle(base, h)
		if err == nil {
			chans = make([]signal.Channel, len(segs))
			for i, s := range segs {
				chans[i] = s.channel(h.Frequency)
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

type recordReader struct {
	open     Opener
	dir      string
	files    []string
	comments []string // from segment headers
	budget   int64    // samples decoded so far, against MaxSamples
}

func (r *recordReader) addFile(name string) {
	for _, f := range r.files {
		if f == name {
			return
		}
	}
	r.files = append(r.files, name)
}

func (r *recordReader) openFile(name string) ([]byte, error) {
	p := name
	if r.dir != "." {
		p = path.Join(r.dir, name)
	}
	b, err := r.open(p)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", name, err)
	}
	r.addFile(name)
	return b, nil
}

func (r *recordReader) spend(file string, n int64) error {
	if n < 0 || r.budget+n > MaxSamples || r.budget+n < 0 {
		return fileErr(file, "record holds more than %d samples, more than this reader accepts", MaxSamples)
	}
	r.budget += n
	return nil
}

// segmentSignals is one decoded signal of a single-segment record.
type segmentSignals struct {
	spec    SignalSpec
	samples []float64
}

func (s segmentSignals) channel(frameRate float64) signal.Channel {
	return signal.Channel{
		Name: s.spec.Description,
		Unit: s.spec.Units,
		Rate: frameRate * float64(s.spec.SamplesPerFrame),
		Gain: s.spec.physGain(),
	}
}

// readSingle decodes every signal of a single-segment header.
func (r *recordReader) readSingle(hname string, h *Header) ([]segmentSignals, error) {
	out := make([]segmentSignals, len(h.Signals))
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
		data, err := r.openFile(file)
		if err != nil {
			return nil, err
		}
		frames, err := r.decodeGroup(hname, h, file, data, idx, out)
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
		if err := r.spend(hname, n); err != nil {
			return nil, err
		}
		out[i].samples = make([]float64, n)
		for j := range out[i].samples {
			out[i].samples[j] = signal.Missing
		}
	}
	return out, nil
}

// decodeGroup decodes the signals idx of one signal file into out and
// returns the number of frames read.
func (r *recordReader) decodeGroup(hname string, h *Header, file string, data []byte, idx []int, out []segmentSignals) (int64, error) {
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
	if err := r.spend(file, total); err != nil {
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
			if int(sum) != s.Checksum {
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

// samplesIn is how many whole samples n bytes of a format hold.
func samplesIn(format int, n int64) int64 {
	switch format {
	case 8, 80:
		return n
	case 16, 61, 160:
		return n / 2
	case 212:
		return n / 3 * 2
	case 310, 311:
		return n / 4 * 3
	}
	return 0
}

// bytesFor is how many bytes n samples of a format take. A trailing partial
// group of 212, 310 or 311 takes only the bytes its samples touch, as WFDB
// writes them.
func bytesFor(format int, n int64) int64 {
	switch format {
	case 8, 80:
		return n
	case 16, 61, 160:
		return 2 * n
	case 212:
		return n/2*3 + n%2*2
	case 310:
		return n/3*4 + [3]int64{0, 2, 4}[n%3]
	case 311:
		return n/3*4 + [3]int64{0, 2, 3}[n%3]
	}
	return 0
}

// decoder reads sample k of a sample stream (all signals of a file,
// interleaved) in one storage format.
type decoder struct {
	format int
	b      []byte
}

func newDecoder(format int, b []byte) decoder { return decoder{format: format, b: b} }

func (d decoder) sample(k int64) int32 {
	b := d.b
	switch d.format {
	case 8:
		return int32(int8(b[k]))
	case 80:
		return int32(b[k]) - 128
	case 16:
		return int32(int16(uint16(b[2*k]) | uint16(b[2*k+1])<<8))
	case 61:
		return int32(int16(uint16(b[2*k])<<8 | uint16(b[2*k+1])))
	case 160:
		return int32(uint16(b[2*k])|uint16(b[2*k+1])<<8) - 32768
	case 212:
		p := k / 2 * 3
		var v int32
		if k%2 == 0 {
			v = int32(b[p]) | int32(b[p+1]&0x0f)<<8
		} else {
			v = int32(b[p+2]) | int32(b[p+1]&0xf0)<<4
		}
		return v << 20 >> 20 // sign-extend 12 bits
	case 310:
		p := k / 3 * 4
		var v int32
		switch k % 3 {
		case 0:
			v = int32(b[p])>>1 | int32(b[p+1]&0x07)<<7
		case 1:
			v = int32(b[p+2])>>1 | int32(b[p+3]&0x07)<<7
		default:
			v = int32(b[p+1])>>3 | int32(b[p+3]>>3)<<5
		}
		return v << 22 >> 22
	case 311:
		p := k / 3 * 4
		var v int32
		switch k % 3 {
		case 0:
			v = int32(b[p]) | int32(b[p+1]&0x03)<<8
		case 1:
			v = int32(b[p+1])>>2 | int32(b[p+2]&0x0f)<<6
		default:
			v = int32(b[p+2])>>4 | int32(b[p+3]&0x3f)<<4
		}
		return v << 22 >> 22
	}
	return 0
}

// readMulti joins the segments of a multi-segment record. Channels are those
// of the layout segment (or, without one, of the first segment); each
// segment's signals are matched to them by description, and a channel a
// segment lacks, or a "~" gap, is missing there.
func (r *recordReader) readMulti(master string, h *Header) ([]signal.Channel, error) {
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
		data, err := r.openFile(name)
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
		chans[i] = segmentSignals{spec: s}.channel(h.Frequency)
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
				if err := r.spend(master, m); err != nil {
					return nil, err
				}
				chans[i].Samples = appendMissing(chans[i].Samples, m)
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
		got, err := r.readSingle(sg.seg.Name+".hea", &sh)
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
				if err := r.spend(master, m); err != nil {
					return nil, err
				}
				chans[i].Samples = appendMissing(chans[i].Samples, m)
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

func appendMissing(s []float64, n int64) []float64 {
	for range n {
		s = append(s, signal.Missing)
	}
	return s
}

func sameRate(a, b float64) bool {
	return math.Abs(a-b) <= 1e-9*math.Max(a, b)
}

var (
	// MIT-BIH: "# 69 M 1085 1629 x1" (age, sex, ...).
	mitSex = regexp.MustCompile(`^\s*\d+\s+([MF])\b`)
	// MIMIC and others: "<age>: 60 <sex>: F".
	tagSex = regexp.MustCompile(`<sex>:\s*([MFmf])\b`)
)

// sexFromComments finds the patient's sex in the comment conventions of
// PhysioNet databases, since it is identifying and belongs in Identity.
func sexFromComments(comments []string) string {
	for _, c := range comments {
		if m := tagSex.FindStringSubmatch(c); m != nil {
			return strings.ToUpper(m[1])
		}
		if m := mitSex.FindStringSubmatch(c); m != nil {
			return m[1]
		}
	}
	return ""
}
