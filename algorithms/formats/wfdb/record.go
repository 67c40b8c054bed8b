package wfdb

import (
	"fmt"
	"io"
	"math"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/pulsegrid/pulsegrid/algorithms/formats/internal/blocks"
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
// are opened relative to headerName's directory. It is OpenRecord with
// every block collected, so both give the same samples and errors.
func ReadRecord(headerName string, open Opener) (*signal.Recording, error) {
	s, err := OpenRecord(headerName, open)
	if err != nil {
		return nil, err
	}
	if err := blocks.Collect(s.Recording.Signal.Channels, s.lengths, s.Next); err != nil {
		return nil, err
	}
	return s.Recording, nil
}

// Stream yields the samples of a WFDB record block by block, decoding them
// from the signal files as it goes, so that a long record never has to be
// held in memory as float64 values. OpenRecord checks everything a record
// can get wrong (files present, sizes, formats, checksums) before it
// returns, so Next does not fail.
type Stream struct {
	// Recording is the record without its samples: each Channel has its
	// Name, Unit, Rate and Gain, and Samples nil; Identity is complete.
	Recording *signal.Recording
	lengths   []int64
	runs      []run
	cur       int
	cut       *blocks.Cutter
}

// run is a stretch of a record in which each channel reads from one
// source: the whole of a single-segment record, or one segment (or gap) of
// a multi-segment one.
type run struct {
	n    []int64 // samples of each channel
	srcs []blocks.Source
}

// OpenRecord parses the record whose header is headerName (and, for a
// multi-segment record, its segment headers), checks its signal files
// against them and returns a Stream positioned at the first sample. The
// files stay with the Opener's byte slices (which may be memory-mapped);
// the Stream keeps references to them and allocates only per block.
func OpenRecord(headerName string, open Opener) (*Stream, error) {
	r := &recordReader{open: open, dir: path.Dir(headerName)}
	data, err := open(headerName)
	if err != nil {
		return nil, openErr(headerName, err)
	}
	base := path.Base(headerName)
	h, err := ParseHeader(base, data)
	if err != nil {
		return nil, err
	}
	r.addFile(base)
	var chans []signal.Channel
	var runs []run
	var per []int64
	if h.NumSegments > 0 {
		chans, per, runs, err = r.openMulti(base, h)
	} else {
		var sigs []openedSignal
		sigs, err = r.openSingle(base, h)
		if err == nil {
			one := run{n: make([]int64, len(sigs)), srcs: make([]blocks.Source, len(sigs))}
			for i, s := range sigs {
				chans = append(chans, channelOf(s.spec, h.Frequency))
				per = append(per, int64(s.spec.SamplesPerFrame))
				one.n[i], one.srcs[i] = s.n, s.src
			}
			runs = []run{one}
		}
	}
	if err != nil {
		return nil, err
	}
	s := &Stream{
		Recording: &signal.Recording{Signal: signal.Signal{Channels: chans}},
		lengths:   make([]int64, len(chans)),
		runs:      runs,
		cut:       blocks.NewCutter(per),
	}
	for _, rn := range runs {
		for i, n := range rn.n {
			s.lengths[i] += n
		}
	}
	s.Recording.Identity = signal.Identity{
		Record:     h.Record,
		RecordedAt: h.RecordedAt(),
		FileNames:  r.files,
		Comments:   append(h.Comments, r.comments...),
		Sex:        sexFromComments(h.Comments),
	}
	if len(runs) > 0 {
		s.cut.Reset(runs[0].n, runs[0].srcs)
	}
	return s, nil
}

// Lengths returns the number of samples of each channel: what the blocks
// of channel i add up to. The slice is the Stream's own.
func (s *Stream) Lengths() []int64 { return s.lengths }

// Next returns the next samples of every channel: out[i] continues channel
// i. Channels at different rates get different lengths; a block holds
// about 2^16 samples in all and does not straddle segments. After the
// last block Next returns nil and io.EOF. The slices are the Stream's own
// and are overwritten by the next call: copy what must be kept.
func (s *Stream) Next() ([][]float64, error) {
	for s.cur < len(s.runs) {
		if out := s.cut.Next(); out != nil {
			return out, nil
		}
		s.runs[s.cur] = run{} // let the finished segment's sources go
		s.cur++
		if s.cur < len(s.runs) {
			s.cut.Reset(s.runs[s.cur].n, s.runs[s.cur].srcs)
		}
	}
	return nil, io.EOF
}

type recordReader struct {
	open     Opener
	dir      string
	files    []string
	comments []string // from segment headers
	budget   int64    // samples in the record so far, against MaxSamples
}

func (r *recordReader) addFile(name string) {
	for _, f := range r.files {
		if f == name {
			return
		}
	}
	r.files = append(r.files, name)
}

// openErr is an Opener's error for the file name; most name it already
// ("r.dat was not uploaded", "open /data/r.dat: no such file"), and saying
// it twice helps nobody.
func openErr(name string, err error) error {
	if strings.Contains(err.Error(), name) {
		return err
	}
	return fmt.Errorf("open %s: %w", name, err)
}

func (r *recordReader) openFile(name string) ([]byte, error) {
	p := name
	if r.dir != "." {
		p = path.Join(r.dir, name)
	}
	b, err := r.open(p)
	if err != nil {
		return nil, openErr(name, err)
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

// openedSignal is one checked signal of a single-segment header: n samples
// that src yields.
type openedSignal struct {
	spec SignalSpec
	n    int64
	src  blocks.Source
}

// channelOf is the channel a signal becomes, without its samples.
func channelOf(s SignalSpec, frameRate float64) signal.Channel {
	return signal.Channel{
		Name: s.Description,
		Unit: s.Units,
		Rate: frameRate * float64(s.SamplesPerFrame),
		Gain: s.physGain(),
	}
}

// openSingle checks every signal of a single-segment header against its
// file and prepares its source.
func (r *recordReader) openSingle(hname string, h *Header) ([]openedSignal, error) {
	out := make([]openedSignal, len(h.Signals))
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
		frames, err := r.openGroup(hname, h, file, data, idx, out)
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
		out[i].n, out[i].src = n, blocks.Missing{}
	}
	return out, nil
}

// openGroup checks the signal file of the signals idx (its size, and the
// checksums the header gives), prepares their sources in out and returns
// the number of frames the file holds for them.
func (r *recordReader) openGroup(hname string, h *Header, file string, data []byte, idx []int, out []openedSignal) (int64, error) {
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
	marker := int32(noInvalid)
	if m, ok := invalid[format]; ok {
		marker = m
	}
	srcs := make([]*sigSource, len(idx))
	off := int64(0)
	for k, i := range idx {
		s := h.Signals[i]
		spf := int64(s.SamplesPerFrame)
		srcs[k] = &sigSource{
			dec:      newDecoder(format, body),
			stride:   frame,
			off:      off,
			spf:      spf,
			total:    nframes * spf,
			running:  int32(s.InitValue),
			marker:   marker,
			baseline: int32(s.Baseline),
			gain:     s.physGain(),
		}
		off += spf
	}
	if h.NumSamples > 0 && slices.ContainsFunc(idx, func(i int) bool { return h.Signals[i].HasChecksum }) {
		sums := groupChecksums(srcs)
		for k, i := range idx {
			s := h.Signals[i]
			// libwfdb compares the low 16 bits: wfdb-python writes the
			// sum unsigned (0–65535), the C library signed.
			if s.HasChecksum && uint16(sums[k]) != uint16(s.Checksum) {
				got := int(sums[k])
				if s.Checksum > 32767 {
					got = int(uint16(sums[k])) // say it as the header does
				}
				return 0, fileErr(file, "checksum mismatch for signal %d (%s): header %s line %d expects %d, the samples sum to %d", i, s.Description, hname, s.Line, s.Checksum, got)
			}
		}
	}
	for k, i := range idx {
		s := h.Signals[i]
		// A skewed signal's sample j is the file's sample j + skew frames;
		// the last skew frames are missing.
		if s.Skew > 0 {
			srcs[k].skip(min(int64(s.Skew)*srcs[k].spf, srcs[k].total))
		}
		out[i].n, out[i].src = srcs[k].total, srcs[k]
	}
	return nframes, nil
}

// groupChecksums decodes a signal file once and returns the 16-bit sum of
// each signal's ADC values (format 8's running values), as WFDB's
// checksums are defined.
func groupChecksums(srcs []*sigSource) []int16 {
	sums := make([]int16, len(srcs))
	running := make([]int32, len(srcs))
	var layout []int // which signal each sample of a frame belongs to
	for k, s := range srcs {
		running[k] = s.running
		for range s.spf {
			layout = append(layout, k)
		}
	}
	dec := srcs[0].dec
	n := srcs[0].total / srcs[0].spf * int64(len(layout))
	b := dec.b
	j := 0 // position in the frame
	for pos := int64(0); pos < n; pos++ {
		var v int32
		switch dec.format {
		case 212:
			v = sample212(b, pos)
		case 16:
			v = sample16(b, pos)
		default:
			v = dec.sample(pos)
		}
		k := layout[j]
		if j++; j == len(layout) {
			j = 0
		}
		if dec.format == 8 {
			running[k] += v
			v = running[k]
		}
		sums[k] += int16(v)
	}
	return sums
}

// sigSource decodes one signal of a signal file, in order.
type sigSource struct {
	dec      decoder
	stride   int64 // samples per frame in the file (all signals of the group)
	off      int64 // this signal's first sample within a frame
	spf      int64 // this signal's samples per frame
	total    int64 // this signal's samples in the file
	k        int64 // next sample of this signal to decode
	running  int32 // format 8: the value the next difference applies to
	marker   int32
	baseline int32
	gain     float64
}

// skip moves past the next n samples without converting them.
func (s *sigSource) skip(n int64) {
	if s.dec.format == 8 {
		for range n {
			s.running += s.dec.sample(s.pos())
			s.k++
		}
		return
	}
	s.k += n
}

// pos is where sample s.k of the signal is in the file's sample stream.
func (s *sigSource) pos() int64 {
	return s.k/s.spf*s.stride + s.off + s.k%s.spf
}

// Fill implements blocks.Source.
func (s *sigSource) Fill(dst []float64) {
	n := min(int64(len(dst)), max(s.total-s.k, 0))
	if n > 0 {
		s.fill(dst[:n])
	}
	for i := n; i < int64(len(dst)); i++ {
		dst[i] = signal.Missing // the tail of a skewed signal
	}
}

// fill converts the next len(dst) samples, all inside the file.
func (s *sigSource) fill(dst []float64) {
	p := s.pos()
	j := s.k % s.spf
	s.k += int64(len(dst))
	b, format := s.dec.b, s.dec.format
	for i := range dst {
		var v int32
		switch format {
		case 212:
			v = sample212(b, p)
		case 16:
			v = sample16(b, p)
		default:
			v = s.dec.sample(p)
		}
		p++
		if j++; j == s.spf {
			j = 0
			p += s.stride - s.spf
		}
		if format == 8 {
			s.running += v
			v = s.running
		}
		if v == s.marker || v == noInvalid {
			dst[i] = signal.Missing
			continue
		}
		dst[i] = float64(v-s.baseline) / s.gain
	}
}

// openMulti checks the segments of a multi-segment record and prepares a
// run for each. Channels are those of the layout segment (or, without one,
// of the first segment); each segment's signals are matched to them by
// description, and a channel a segment lacks, or a "~" gap, is missing
// there. per is each channel's samples per frame.
func (r *recordReader) openMulti(master string, h *Header) (chans []signal.Channel, per []int64, runs []run, err error) {
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
			return nil, nil, nil, err
		}
		sh, err := ParseHeader(name, data)
		if err != nil {
			return nil, nil, nil, err
		}
		if sh.NumSegments > 0 {
			return nil, nil, nil, lineErr(master, s.Line, "segment %s is itself a multi-segment record; segments must be single-segment", s.Name)
		}
		if !sameRate(sh.Frequency, h.Frequency) {
			return nil, nil, nil, lineErr(name, 1, "frame rate %v differs from %v of the master header %s", sh.Frequency, h.Frequency, master)
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
		return nil, nil, nil, fileErr(master, "every segment is a gap (\"~\"); there is no signal to read")
	}
	chans = make([]signal.Channel, len(layout.Signals))
	per = make([]int64, len(layout.Signals))
	for i, s := range layout.Signals {
		chans[i] = channelOf(s, h.Frequency)
		per[i] = int64(s.SamplesPerFrame)
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
		rn := run{n: make([]int64, len(chans)), srcs: make([]blocks.Source, len(chans))}
		runs = append(runs, rn)
		if sg.h == nil {
			for i := range chans {
				m := n * per[i]
				if err := r.spend(master, m); err != nil {
					return nil, nil, nil, err
				}
				rn.n[i], rn.srcs[i] = m, blocks.Missing{}
			}
			continue
		}
		// The master header's count governs; a segment header that says
		// less cannot supply the frames.
		if sg.h.NumSamples != 0 && sg.h.NumSamples < n {
			return nil, nil, nil, lineErr(sg.seg.Name+".hea", 1, "segment has %d samples per signal; the master header %s (line %d) announces %d", sg.h.NumSamples, master, sg.seg.Line, n)
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
		got, err := r.openSingle(sg.seg.Name+".hea", &sh)
		if err != nil {
			return nil, nil, nil, err
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
					return nil, nil, nil, err
				}
				rn.n[i], rn.srcs[i] = m, blocks.Missing{}
				continue
			}
			if sh.Signals[k].SamplesPerFrame != want.SamplesPerFrame {
				return nil, nil, nil, lineErr(sg.seg.Name+".hea", sh.Signals[k].Line, "signal %q has %d samples per frame, the record's layout has %d", want.Description, sh.Signals[k].SamplesPerFrame, want.SamplesPerFrame)
			}
			rn.n[i], rn.srcs[i] = got[k].n, got[k].src
		}
	}
	return chans, per, runs, nil
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

// sample212 is sample k of a format 212 stream: two 12-bit samples in
// three bytes. It is small enough to inline into the decoding loops.
func sample212(b []byte, k int64) int32 {
	p := k >> 1 * 3
	var v int32
	if k&1 == 0 {
		v = int32(b[p]) | int32(b[p+1]&0x0f)<<8
	} else {
		v = int32(b[p+2]) | int32(b[p+1]&0xf0)<<4
	}
	return v << 20 >> 20 // sign-extend 12 bits
}

// sample16 is sample k of a format 16 stream (16-bit little-endian).
func sample16(b []byte, k int64) int32 {
	return int32(int16(uint16(b[2*k]) | uint16(b[2*k+1])<<8))
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
		return sample16(b, k)
	case 61:
		return int32(int16(uint16(b[2*k])<<8 | uint16(b[2*k+1])))
	case 160:
		return int32(uint16(b[2*k])|uint16(b[2*k+1])<<8) - 32768
	case 212:
		return sample212(b, k)
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
