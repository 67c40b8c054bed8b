// Package edf reads EDF, EDF+ and BDF recordings into a signal.Recording.
//
// EDF (European Data Format, Kemp et al. 1992) stores fixed-length data
// records, each holding a block of 16-bit little-endian samples for every
// signal; BDF is the same layout with 24-bit samples. EDF+ (Kemp & Olivan
// 2003) adds one or more "EDF Annotations" signals whose bytes are
// time-stamped annotation lists (TALs), standardized patient and recording
// subfields, and discontinuous files (EDF+D) whose data records carry their
// own start times.
//
// How EDF+ maps onto pulsegrid's normalized form:
//   - Sample 0 of every channel is the start of the first data record. In an
//     EDF+D file each record is placed at its own start time and the gaps
//     between records are missing samples (NaN).
//   - Annotations become signal.Annotation with Code signal.CodeNote and the
//     annotation text in Aux (one Annotation per text of a TAL). Their Sample
//     counts samples of the fastest signal channel since the start of the
//     first data record (Recording.AnnotationRate is that channel's rate),
//     rounded to the nearest sample; a file with no ordinary signals uses
//     1000 Hz, i.e. milliseconds. Annotation durations are not part of
//     signal.Annotation: Decode returns them in File.TALs.
//   - The patient and recording fields and the start date and time go into
//     signal.Identity, never into the Signal.
//
// Open reads a file as a Stream: header and annotations at once, samples
// block by block, scaled from the file's bytes as they are asked for, so
// that a long recording never has to be held as float64 values. Read and
// Decode are Open with every block collected.
package edf

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/pulsegrid/pulsegrid/algorithms/formats/internal/blocks"
	"github.com/pulsegrid/pulsegrid/algorithms/signal"
)

// MaxAnnotations bounds the annotation texts of one file (each costs
// about 60 bytes in memory plus its text): tens of thousands is a long
// sleep study, a million is a hostile file.
const MaxAnnotations = 1 << 20

// maxSamples bounds the samples (all signals together) that an EDF+D file
// may ask for by spreading its records far apart in time, so a corrupt onset cannot make
// the reader allocate gigabytes. Tests lower it.
var maxSamples = int64(1) << 27

// Header is the fixed part of an EDF/BDF header and its per-signal part.
type Header struct {
	// Version is "0" for EDF and "BIOSEMI" for BDF (whose first byte is 0xFF).
	Version string
	// BDF is true for 24-bit BDF files.
	BDF bool
	// Patient is the local patient identification field (80 characters).
	Patient string
	// Recording is the local recording identification field (80 characters).
	Recording string
	// StartDate ("dd.mm.yy") and StartTime ("hh.mm.ss") as written.
	StartDate, StartTime string
	// HeaderBytes is the size of the header, 256 × (number of signals + 1).
	HeaderBytes int
	// Reserved is "EDF+C" or "EDF+D" for EDF+ ("BDF+C"/"BDF+D", "24BIT" for
	// BDF) and usually empty for plain EDF.
	Reserved string
	// DataRecords is the number of data records (-1 in the header means
	// unknown; Decode then counts the records in the file).
	DataRecords int
	// RecordDuration is the duration of one data record in seconds.
	RecordDuration float64
	// Signals describes each signal, annotation signals included.
	Signals []SignalHeader
}

// SignalHeader is the header of one signal of an EDF file.
type SignalHeader struct {
	Label             string
	Transducer        string
	PhysicalDimension string
	PhysicalMin       float64
	PhysicalMax       float64
	DigitalMin        int
	DigitalMax        int
	Prefiltering      string
	SamplesPerRecord  int
	Reserved          string
}

// IsAnnotations reports whether the signal is an EDF+/BDF+ annotation
// signal rather than a sampled one.
func (s *SignalHeader) IsAnnotations() bool {
	return s.Label == "EDF Annotations" || s.Label == "BDF Annotations"
}

// Rate is the signal's sample rate in samples per second.
func (s *SignalHeader) Rate(recordDuration float64) float64 {
	return float64(s.SamplesPerRecord) / recordDuration
}

// IsPlus reports whether the file is EDF+ or BDF+.
func (h *Header) IsPlus() bool {
	return strings.HasPrefix(h.Reserved, "EDF+") || strings.HasPrefix(h.Reserved, "BDF+")
}

// Discontinuous reports whether the file is EDF+D or BDF+D, whose data
// records may leave gaps in time.
func (h *Header) Discontinuous() bool {
	return h.Reserved == "EDF+D" || h.Reserved == "BDF+D"
}

// bytesPerSample is 2 for EDF and 3 for BDF.
func (h *Header) bytesPerSample() int {
	if h.BDF {
		return 3
	}
	return 2
}

// recordBytes is the size of one data record.
func (h *Header) recordBytes() int {
	n := 0
	for _, s := range h.Signals {
		n += s.SamplesPerRecord
	}
	return n * h.bytesPerSample()
}

// TAL is one time-stamped annotation list of an EDF+ annotation signal.
type TAL struct {
	// Onset is the time in seconds since the file's start date and time.
	Onset float64
	// Duration is the annotation's duration in seconds, when HasDuration.
	Duration    float64
	HasDuration bool
	// Texts are the annotations that share this onset (never empty strings;
	// the empty time-keeping annotation is not kept).
	Texts []string
	// Record is the index of the data record the TAL was found in.
	Record int
}

// File is a decoded EDF file: its header, the recording it normalizes to,
// the TALs of its annotation signals and the start time of each data record.
type File struct {
	Header    Header
	Recording *signal.Recording
	TALs      []TAL
	// RecordStarts is each data record's start in seconds since the file's
	// start time: i × RecordDuration, or the time-keeping TAL's onset in EDF+.
	RecordStarts []float64
}

// Read decodes an EDF, EDF+ or BDF file. name is the file name, used in
// errors and kept in the Identity.
func Read(name string, data []byte) (*signal.Recording, error) {
	f, err := Decode(name, data)
	if err != nil {
		return nil, err
	}
	return f.Recording, nil
}

// Decode decodes an EDF, EDF+ or BDF file and keeps everything it found,
// including the durations of annotations that Read's Recording has no room
// for. It is Open with every block collected, so both give the same
// samples and errors.
func Decode(name string, data []byte) (*File, error) {
	s, starts, err := open(name, data, true)
	if err != nil {
		return nil, err
	}
	if err := blocks.Collect(s.Recording.Signal.Channels, s.lengths, s.Next); err != nil {
		return nil, err
	}
	return &File{Header: *s.Header, Recording: s.Recording, TALs: s.TALs, RecordStarts: starts}, nil
}

// field is one fixed-width ASCII header field.
type field struct {
	name string
	len  int
}

// ParseHeader parses the header of an EDF, EDF+ or BDF file and checks that
// its numbers are consistent with each other and with the file's length.
func ParseHeader(data []byte) (*Header, error) {
	if len(data) < 256 {
		return nil, fmt.Errorf("file is %d bytes, shorter than the 256-byte EDF header", len(data))
	}
	h := &Header{}
	off := 0
	next := func(n int) string {
		s := latin1(data[off : off+n])
		off += n
		return strings.TrimRight(s, " \x00")
	}
	switch {
	case data[0] == 0xFF && string(data[1:8]) == "BIOSEMI":
		h.Version, h.BDF = "BIOSEMI", true
		off = 8
	case string(data[0:8]) == "0       ":
		h.Version = "0"
		off = 8
	default:
		return nil, fmt.Errorf("byte 0: version field is %q, expected \"0\" (EDF) or \"\\xffBIOSEMI\" (BDF)", latin1(data[0:8]))
	}
	h.Patient = next(80)
	h.Recording = next(80)
	h.StartDate = next(8)
	h.StartTime = next(8)
	var err error
	if h.HeaderBytes, err = headerInt(data, 184, 8, "number of header bytes"); err != nil {
		return nil, err
	}
	off = 192
	h.Reserved = strings.TrimSpace(next(44))
	if h.DataRecords, err = headerInt(data, 236, 8, "number of data records"); err != nil {
		return nil, err
	}
	if h.RecordDuration, err = headerFloat(data, 244, 8, "duration of a data record"); err != nil {
		return nil, err
	}
	ns, err := headerInt(data, 252, 4, "number of signals")
	if err != nil {
		return nil, err
	}
	if ns < 1 {
		return nil, fmt.Errorf("byte 252: number of signals is %d, expected at least 1", ns)
	}
	if h.DataRecords < -1 {
		return nil, fmt.Errorf("byte 236: number of data records is %d, expected -1 (unknown) or a count", h.DataRecords)
	}
	if h.RecordDuration < 0 || math.IsNaN(h.RecordDuration) || math.IsInf(h.RecordDuration, 0) {
		return nil, fmt.Errorf("byte 244: duration of a data record is %v, expected a non-negative number of seconds", h.RecordDuration)
	}
	if want := 256 * (ns + 1); h.HeaderBytes != want {
		return nil, fmt.Errorf("byte 184: header size is %d bytes, expected 256 × (%d signals + 1) = %d", h.HeaderBytes, ns, want)
	}
	if len(data) < h.HeaderBytes {
		return nil, fmt.Errorf("file is %d bytes, shorter than its %d-byte header (%d signals)", len(data), h.HeaderBytes, ns)
	}
	h.Signals = make([]SignalHeader, ns)
	// The per-signal header stores each field for all signals in turn.
	base := 256
	text := func(width int, set func(s *SignalHeader, v string)) {
		for i := range h.Signals {
			set(&h.Signals[i], strings.TrimSpace(latin1(data[base+i*width:base+(i+1)*width])))
		}
		base += width * ns
	}
	number := func(width int, what string, set func(s *SignalHeader, v string, at int) error) error {
		for i := range h.Signals {
			at := base + i*width
			if err := set(&h.Signals[i], strings.TrimSpace(latin1(data[at:at+width])), at); err != nil {
				return fmt.Errorf("byte %d: signal %d (%q): %s: %w", at, i+1, h.Signals[i].Label, what, err)
			}
		}
		base += width * ns
		return nil
	}
	text(16, func(s *SignalHeader, v string) { s.Label = v })
	text(80, func(s *SignalHeader, v string) { s.Transducer = v })
	text(8, func(s *SignalHeader, v string) { s.PhysicalDimension = v })
	if err := number(8, "physical minimum", func(s *SignalHeader, v string, _ int) (err error) {
		s.PhysicalMin, err = parseFloat(v)
		return
	}); err != nil {
		return nil, err
	}
	if err := number(8, "physical maximum", func(s *SignalHeader, v string, _ int) (err error) {
		s.PhysicalMax, err = parseFloat(v)
		return
	}); err != nil {
		return nil, err
	}
	if err := number(8, "digital minimum", func(s *SignalHeader, v string, _ int) (err error) {
		s.DigitalMin, err = parseInt(v)
		return
	}); err != nil {
		return nil, err
	}
	if err := number(8, "digital maximum", func(s *SignalHeader, v string, _ int) (err error) {
		s.DigitalMax, err = parseInt(v)
		return
	}); err != nil {
		return nil, err
	}
	text(80, func(s *SignalHeader, v string) { s.Prefiltering = v })
	if err := number(8, "samples per data record", func(s *SignalHeader, v string, _ int) (err error) {
		s.SamplesPerRecord, err = parseInt(v)
		return
	}); err != nil {
		return nil, err
	}
	text(32, func(s *SignalHeader, v string) { s.Reserved = v })

	lo, hi := -32768, 32767
	if h.BDF {
		lo, hi = -8388608, 8388607
	}
	ordinary := 0
	for i, s := range h.Signals {
		where := fmt.Sprintf("signal %d (%q)", i+1, s.Label)
		if s.SamplesPerRecord < 1 || s.SamplesPerRecord > len(data) {
			return nil, fmt.Errorf("%s: %d samples per data record, expected a positive count that fits in the file", where, s.SamplesPerRecord)
		}
		if s.IsAnnotations() {
			continue
		}
		ordinary++
		if s.DigitalMin >= s.DigitalMax || s.DigitalMin < lo || s.DigitalMax > hi {
			return nil, fmt.Errorf("%s: digital minimum %d and maximum %d, expected %d ≤ minimum < maximum ≤ %d", where, s.DigitalMin, s.DigitalMax, lo, hi)
		}
		if s.PhysicalMin == s.PhysicalMax {
			return nil, fmt.Errorf("%s: physical minimum equals physical maximum (%v), so samples cannot be scaled", where, s.PhysicalMin)
		}
	}
	if ordinary > 0 && h.RecordDuration == 0 {
		return nil, fmt.Errorf("byte 244: duration of a data record is 0, allowed only when every signal is an annotation signal")
	}
	rb := h.recordBytes()
	avail := len(data) - h.HeaderBytes
	switch {
	case h.DataRecords == -1:
		h.DataRecords = avail / rb
	case h.DataRecords > avail/rb:
		return nil, fmt.Errorf("file is truncated: header promises %d data records of %d bytes (%d bytes after the header), file has %d bytes after the header", h.DataRecords, rb, int64(h.DataRecords)*int64(rb), avail)
	}
	return h, nil
}

// headerInt parses an integer field of the fixed header.
func headerInt(data []byte, at, width int, what string) (int, error) {
	v, err := parseInt(strings.TrimSpace(latin1(data[at : at+width])))
	if err != nil {
		return 0, fmt.Errorf("byte %d: %s: %w", at, what, err)
	}
	return v, nil
}

// headerFloat parses a decimal field of the fixed header.
func headerFloat(data []byte, at, width int, what string) (float64, error) {
	v, err := parseFloat(strings.TrimSpace(latin1(data[at : at+width])))
	if err != nil {
		return 0, fmt.Errorf("byte %d: %s: %w", at, what, err)
	}
	return v, nil
}

func parseInt(s string) (int, error) {
	v, err := strconv.Atoi(strings.TrimPrefix(s, "+"))
	if err != nil {
		return 0, fmt.Errorf("%q is not an integer", s)
	}
	return v, nil
}

// parseFloat accepts the decimal numbers EDF writers produce, including a
// decimal comma, which some European writers emit despite the standard.
func parseFloat(s string) (float64, error) {
	v, err := strconv.ParseFloat(strings.Replace(s, ",", ".", 1), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%q is not a finite decimal number", s)
	}
	return v, nil
}

// latin1 decodes header bytes, which EDF restricts to ASCII but which real
// files fill with Latin-1 (µV as 0xB5 'V').
func latin1(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	r := make([]rune, len(b))
	for i, c := range b {
		r[i] = rune(c)
	}
	return string(r)
}

// parseTALs parses the bytes of one annotation signal in one data record:
// TALs "+onset[\x15duration]\x14text\x14...\x14\x00", padded with zeros.
// at is the file offset of b, for errors. When timekeeping is set, the first
// TAL must be the record's time-keeping TAL (whose first text is empty); its
// onset is returned as the record's start.
func parseTALs(b []byte, at, record int, timekeeping bool) ([]TAL, float64, error) {
	var tals []TAL
	start := 0.0
	pos := 0
	for pos < len(b) && b[pos] != 0 {
		end := bytes.IndexByte(b[pos:], 0)
		if end < 0 {
			return nil, 0, fmt.Errorf("byte %d: annotation list is not terminated by a 0 byte", at+pos)
		}
		tal, keeping, err := parseTAL(b[pos:pos+end], at+pos)
		if err != nil {
			return nil, 0, err
		}
		tal.Record = record
		if timekeeping && len(tals) == 0 && pos == 0 {
			if !keeping {
				return nil, 0, fmt.Errorf("byte %d: the first annotation of an EDF+ data record must be its time-keeping annotation \"+onset\\x14\\x14\"", at)
			}
			start = tal.Onset
		}
		if len(tal.Texts) > 0 {
			tals = append(tals, tal)
		}
		pos += end + 1
	}
	if timekeeping && pos == 0 {
		return nil, 0, fmt.Errorf("byte %d: data record has no time-keeping annotation (EDF+ requires \"+onset\\x14\\x14\" at the start of every record)", at)
	}
	return tals, start, nil
}

// parseTAL parses one TAL without its terminating 0 byte. Its Texts leave
// out empty texts, which are time keeping rather than annotations; keeping
// reports whether the first text was empty, as in a time-keeping TAL. It
// allocates only for the texts it keeps, so that reading the time keeping
// of every data record of a long EDF+ file costs no memory.
func parseTAL(b []byte, at int) (t TAL, keeping bool, err error) {
	i := bytes.IndexByte(b, 0x14)
	if i < 0 {
		return t, false, fmt.Errorf("byte %d: annotation %q has no 0x14 after its onset", at, latin1(b))
	}
	head := b[:i]
	if len(head) == 0 || (head[0] != '+' && head[0] != '-') {
		return t, false, fmt.Errorf("byte %d: annotation onset %q must start with + or -", at, latin1(head))
	}
	onset, dur, hasDur := head, []byte(nil), false
	if j := bytes.IndexByte(head, 0x15); j >= 0 {
		onset, dur, hasDur = head[:j], head[j+1:], true
	}
	if t.Onset, err = talNumber(onset[1:]); err != nil {
		return t, false, fmt.Errorf("byte %d: annotation onset %q: %w", at, latin1(onset), err)
	}
	if onset[0] == '-' {
		t.Onset = -t.Onset
	}
	if hasDur {
		if t.Duration, err = talNumber(dur); err != nil {
			return t, false, fmt.Errorf("byte %d: annotation duration %q: %w", at+len(onset)+1, latin1(dur), err)
		}
		t.HasDuration = true
	}
	rest := b[i+1:]
	if len(rest) == 0 || rest[len(rest)-1] != 0x14 {
		return t, false, fmt.Errorf("byte %d: annotation texts must each end with 0x14", at+i+1)
	}
	texts := rest[:len(rest)-1]
	for k := 0; ; k++ {
		s, more, found := bytes.Cut(texts, []byte{0x14})
		if !utf8.Valid(s) {
			return t, false, fmt.Errorf("byte %d: annotation text %q is not UTF-8", at+i+1, s)
		}
		if k == 0 {
			keeping = len(s) == 0
		}
		if len(s) > 0 {
			t.Texts = append(t.Texts, string(s))
		}
		if !found {
			break
		}
		texts = more
	}
	return t, keeping, nil
}

// talNumber parses the unsigned decimal of a TAL onset or duration: digits
// with an optional fraction and nothing else.
func talNumber(b []byte) (float64, error) {
	dot := false
	digits := 0
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' && !dot:
			dot = true
		default:
			return 0, fmt.Errorf("expected digits with an optional decimal point")
		}
	}
	if digits == 0 {
		return 0, fmt.Errorf("expected digits with an optional decimal point")
	}
	v, err := strconv.ParseFloat(string(b), 64)
	if err != nil || math.IsInf(v, 0) {
		return 0, fmt.Errorf("number out of range")
	}
	return v, nil
}
