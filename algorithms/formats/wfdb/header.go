// Package wfdb reads and writes PhysioNet WFDB records: .hea headers, signal
// files in formats 8, 16, 61, 80, 160, 212, 310 and 311, multi-segment and
// multi-frequency records, and MIT-format annotation files (.atr, .qrs).
//
// The package does no I/O of its own: callers hand in bytes, and ReadRecord
// asks an Opener for the files a header names. That keeps it usable on the
// server (uploads held in memory or memory-mapped) and in the browser
// worker alike. OpenRecord reads a record as a Stream, decoding its samples
// block by block from those bytes, so that a long record never has to be
// held as float64 values; ReadRecord is OpenRecord with every block
// collected.
//
// The reference is WFDB's own library (signal.c, annot.c) and its manual
// pages header(5), signal(5) and annot(5); where the two differ, the library
// wins, since files in the wild were written by it.
package wfdb

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Error is a problem found in a WFDB file: which file, where in it, and what
// was expected there.
type Error struct {
	File   string // file name as given to the reader, e.g. "100.hea"
	Line   int    // 1-based line of a header; 0 when not a header line
	Offset int64  // byte offset in a binary file; -1 when not applicable
	Msg    string
}

// Error renders the problem as "FILE line N: ..." or "FILE byte N: ...".
func (e *Error) Error() string {
	switch {
	case e.Line > 0:
		return fmt.Sprintf("%s line %d: %s", e.File, e.Line, e.Msg)
	case e.Offset >= 0:
		return fmt.Sprintf("%s byte %d: %s", e.File, e.Offset, e.Msg)
	default:
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	}
}

func lineErr(file string, line int, format string, args ...any) error {
	return &Error{File: file, Line: line, Offset: -1, Msg: fmt.Sprintf(format, args...)}
}

func byteErr(file string, off int64, format string, args ...any) error {
	return &Error{File: file, Offset: off, Msg: fmt.Sprintf(format, args...)}
}

func fileErr(file string, format string, args ...any) error {
	return &Error{File: file, Offset: -1, Msg: fmt.Sprintf(format, args...)}
}

// MaxHeaderBytes bounds a header file, which is parsed in memory: the
// master header of a multi-day multi-segment record has a few thousand
// lines, about 100 KiB.
const MaxHeaderBytes = 1 << 20

// Defaults that WFDB applies when a header leaves a field out.
const (
	DefaultFrequency = 250 // frames per second
	DefaultGain      = 200 // ADC units per physical unit, also used when the gain is 0 ("uncalibrated")
	DefaultUnits     = "mV"
)

// Header is a parsed .hea file: a single-segment record (Signals) or a
// multi-segment one (Segments).
type Header struct {
	Record      string // record name, e.g. "100"
	NumSegments int    // 0 for a single-segment record
	NumSignals  int
	// Frequency is the frame rate in frames per second. Values PhysioNet
	// writes rounded, such as 0.0166666666667 for one frame a minute, are
	// snapped to the exact reciprocal of the whole number they stand for
	// (1/60), so that sample times of minute logs are whole minutes.
	Frequency        float64
	CounterFrequency float64 // the "/counterfreq" part; 0 when absent
	BaseCounter      float64 // the "(basecounter)" part; 0 when absent
	// NumSamples is the number of frames (WFDB's "samples per signal"); 0
	// when the header does not say, in which case the signal files decide.
	NumSamples int64
	BaseTime   string // as written, e.g. "8:26:04" or "31:25.894"; "" when absent
	BaseDate   string // as written, dd/mm/yyyy; "" when absent
	Signals    []SignalSpec
	Segments   []Segment
	Comments   []string // text of the '#' lines, without the '#' and surrounding blanks
}

// SignalSpec is one signal line of a header.
type SignalSpec struct {
	File            string // signal file name, e.g. "100.dat"
	Format          int    // storage format: 0 (null), 8, 16, 61, 80, 160, 212, 310, 311
	SamplesPerFrame int    // the "x4" of "212x4"; 1 when absent
	Skew            int    // the ":skew" of the format field, in frames
	ByteOffset      int64  // the "+offset" of the format field: bytes to skip at the start of the file
	// Gain is ADC units per physical unit; 0 means uncalibrated, and
	// physical values then use DefaultGain as WFDB does.
	Gain          float64
	Baseline      int    // ADC value of physical zero; ADCZero when absent
	Units         string // DefaultUnits when absent
	ADCResolution int    // bits; the format's natural width when absent
	ADCZero       int
	InitValue     int
	Checksum      int  // 16-bit sum of all samples, signed or unsigned (only the low 16 bits count), valid when HasChecksum
	HasChecksum   bool // the header gave a checksum field
	BlockSize     int
	Description   string // e.g. "MLII"; "record R, signal N" when absent
	Line          int    // line of the header it came from
}

// Segment is one segment line of a multi-segment header. Name "~" is a gap
// of NumSamples frames; a first segment with NumSamples 0 is the layout
// segment, whose header lists the signals of the whole record.
type Segment struct {
	Name       string
	NumSamples int64
	Line       int
}

// formatBits is the natural ADC resolution of each supported format, which
// is also the set of formats the reader accepts.
var formatBits = map[int]int{0: 12, 8: 8, 16: 16, 61: 16, 80: 8, 160: 16, 212: 12, 310: 10, 311: 10}

// maxSignals bounds the signals of one header; real records have at most a
// few dozen, and the bound keeps hostile headers from costing memory.
const maxSignals = 4096

// ParseHeader parses the .hea file called name (used in error messages).
func ParseHeader(name string, data []byte) (*Header, error) {
	if len(data) == 0 {
		return nil, fileErr(name, "empty header file; expected a record line such as \"100 2 360 650000\"")
	}
	if len(data) > MaxHeaderBytes {
		return nil, fileErr(name, "header of %d bytes, more than the %d KiB this reader accepts: is it a signal file named .hea?", len(data), MaxHeaderBytes>>10)
	}
	h := &Header{}
	lines := splitLines(data)
	i := 0
	// The record line is the first line that is neither blank nor a comment.
	for ; i < len(lines); i++ {
		t := strings.TrimSpace(lines[i])
		if t == "" {
			continue
		}
		if t[0] == '#' {
			h.Comments = append(h.Comments, comment(t))
			continue
		}
		break
	}
	if i == len(lines) {
		return nil, fileErr(name, "no record line; expected a line such as \"100 2 360 650000\"")
	}
	if err := h.parseRecordLine(name, i+1, lines[i]); err != nil {
		return nil, err
	}
	i++
	want := h.NumSignals
	if h.NumSegments > 0 {
		want = h.NumSegments
	}
	got := 0
	for ; i < len(lines); i++ {
		t := strings.TrimSpace(lines[i])
		if t == "" {
			continue
		}
		if t[0] == '#' {
			h.Comments = append(h.Comments, comment(t))
			continue
		}
		if got == want {
			// WFDB ignores anything after the signal or segment lines that is
			// not a comment; so do we, rather than reject a usable record.
			continue
		}
		if h.NumSegments > 0 {
			s, err := parseSegmentLine(name, i+1, lines[i])
			if err != nil {
				return nil, err
			}
			h.Segments = append(h.Segments, s)
		} else {
			s, err := parseSignalLine(name, i+1, lines[i], h.Record, got)
			if err != nil {
				return nil, err
			}
			h.Signals = append(h.Signals, s)
		}
		got++
	}
	if got < want {
		what := "signal"
		if h.NumSegments > 0 {
			what = "segment"
		}
		return nil, lineErr(name, len(lines), "header ends after %d %s lines; the record line announces %d", got, what, want)
	}
	if h.NumSegments > 0 {
		for j, s := range h.Segments {
			if s.NumSamples == 0 && j > 0 {
				return nil, lineErr(name, s.Line, "segment %q has 0 samples; only the first (layout) segment may", s.Name)
			}
			if s.Name == "~" && s.NumSamples == 0 {
				return nil, lineErr(name, s.Line, "null segment \"~\" with 0 samples")
			}
		}
	}
	return h, nil
}

// latin1 reads text that is not UTF-8 as ISO 8859-1, the usual encoding of
// "µV" and "°C" in headers converted from EDF.
func latin1(s string) string {
	r := make([]rune, len(s))
	for i := 0; i < len(s); i++ {
		r[i] = rune(s[i])
	}
	return string(r)
}

func comment(t string) string {
	t = strings.TrimSpace(t[1:])
	if !utf8.ValidString(t) {
		t = latin1(t)
	}
	return t
}

// splitLines splits on \n, dropping \r, and keeps invalid UTF-8 as is (units
// such as "µV" are often written in Latin-1).
func splitLines(data []byte) []string {
	data = bytes.TrimSuffix(data, []byte("\n"))
	parts := bytes.Split(data, []byte("\n"))
	out := make([]string, len(parts))
	for i, p := range parts {
		out[i] = string(bytes.TrimRight(p, "\r"))
	}
	return out
}

func (h *Header) parseRecordLine(file string, line int, text string) error {
	f := strings.Fields(text)
	name := f[0]
	if k := strings.IndexByte(name, '/'); k >= 0 {
		n, err := strconv.Atoi(name[k+1:])
		if err != nil || n < 1 || n > 1<<20 {
			return lineErr(file, line, "record name %q: expected NAME/NSEG with a positive number of segments", name)
		}
		h.NumSegments = n
		name = name[:k]
	}
	if err := checkName(name); err != nil {
		return lineErr(file, line, "record name %q: %v", name, err)
	}
	h.Record = name
	h.Frequency = DefaultFrequency
	if len(f) > 1 {
		n, err := strconv.Atoi(f[1])
		if err != nil || n < 0 || n > maxSignals {
			return lineErr(file, line, "number of signals %q: expected a whole number from 0 to %d", f[1], maxSignals)
		}
		h.NumSignals = n
	}
	if len(f) > 2 {
		if err := h.parseFrequency(f[2]); err != nil {
			return lineErr(file, line, "sampling frequency %q: %v", f[2], err)
		}
	}
	if len(f) > 3 {
		n, err := strconv.ParseInt(f[3], 10, 64)
		if err != nil || n < 0 {
			return lineErr(file, line, "number of samples per signal %q: expected a whole number ≥ 0", f[3])
		}
		h.NumSamples = n
	}
	for _, t := range f[min(4, len(f)):] {
		switch {
		case strings.Contains(t, ":") && h.BaseTime == "":
			if _, ok := parseTime(t); !ok {
				return lineErr(file, line, "base time %q: expected hh:mm:ss[.sss] or mm:ss", t)
			}
			h.BaseTime = t
		case strings.Contains(t, "/") && h.BaseDate == "":
			if _, _, _, ok := parseDate(t); !ok {
				return lineErr(file, line, "base date %q: expected dd/mm/yyyy", t)
			}
			h.BaseDate = t
		default:
			return lineErr(file, line, "unexpected field %q after the number of samples; expected a base time (hh:mm:ss) and date (dd/mm/yyyy)", t)
		}
	}
	return nil
}

// parseFrequency reads "freq[/counterfreq[(basecounter)]]".
func (h *Header) parseFrequency(s string) error {
	fs, rest, _ := strings.Cut(s, "/")
	f, err := strconv.ParseFloat(fs, 64)
	if err != nil || !(f > 0) || math.IsInf(f, 0) {
		return fmt.Errorf("expected a positive number of frames per second")
	}
	h.Frequency = snapFrequency(f)
	if rest == "" {
		if strings.Contains(s, "/") {
			return fmt.Errorf("expected a counter frequency after '/'")
		}
		return nil
	}
	cs, bc, hasBC := strings.Cut(rest, "(")
	c, err := strconv.ParseFloat(cs, 64)
	if err != nil || !(c > 0) || math.IsInf(c, 0) {
		return fmt.Errorf("counter frequency %q: expected a positive number", cs)
	}
	h.CounterFrequency = c
	if hasBC {
		bc, ok := strings.CutSuffix(bc, ")")
		v, err := strconv.ParseFloat(bc, 64)
		if !ok || err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
			return fmt.Errorf("base counter value: expected a number in parentheses")
		}
		h.BaseCounter = v
	}
	return nil
}

// snapFrequency turns a sub-Hz rate written with limited precision (PhysioNet
// writes 1/60 Hz as 0.0166666666667) into the reciprocal of the whole number
// of seconds it stands for.
func snapFrequency(f float64) float64 {
	if f >= 1 {
		return f
	}
	p := 1 / f
	r := math.Round(p)
	if r >= 1 && math.Abs(p-r) <= 1e-9*r {
		return 1 / r
	}
	return f
}

func parseSegmentLine(file string, line int, text string) (Segment, error) {
	f := strings.Fields(text)
	if len(f) < 2 {
		return Segment{}, lineErr(file, line, "segment line %q: expected a segment record name and its number of samples", text)
	}
	if f[0] != "~" {
		if err := checkName(f[0]); err != nil {
			return Segment{}, lineErr(file, line, "segment name %q: %v", f[0], err)
		}
	}
	n, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil || n < 0 {
		return Segment{}, lineErr(file, line, "segment %q: number of samples %q is not a whole number ≥ 0", f[0], f[1])
	}
	return Segment{Name: f[0], NumSamples: n, Line: line}, nil
}

func parseSignalLine(file string, line int, text, record string, index int) (SignalSpec, error) {
	s := SignalSpec{SamplesPerFrame: 1, Units: DefaultUnits, Line: line}
	f, desc := fieldsN(text, 8)
	if len(f) < 2 {
		return s, lineErr(file, line, "signal %d: expected at least a file name and a format, got %q", index, strings.TrimSpace(text))
	}
	s.File = f[0]
	if s.File == "-" {
		return s, lineErr(file, line, "signal %d: file \"-\" (standard input) cannot be read here; upload the signal file", index)
	}
	if err := s.parseFormat(f[1]); err != nil {
		return s, lineErr(file, line, "signal %d format %q: %v", index, f[1], err)
	}
	baselineGiven := false
	if len(f) > 2 {
		var err error
		if baselineGiven, err = s.parseGain(f[2]); err != nil {
			return s, lineErr(file, line, "signal %d gain %q: %v", index, f[2], err)
		}
	}
	ints := []struct {
		name string
		dst  *int
	}{{"ADC resolution", &s.ADCResolution}, {"ADC zero", &s.ADCZero}, {"initial value", &s.InitValue}, {"checksum", &s.Checksum}, {"block size", &s.BlockSize}}
	for k, it := range ints {
		if len(f) <= 3+k {
			break
		}
		v, err := strconv.ParseInt(f[3+k], 10, 32)
		if err != nil {
			return s, lineErr(file, line, "signal %d %s %q: expected a whole number", index, it.name, f[3+k])
		}
		*it.dst = int(v)
		if it.name == "checksum" {
			s.HasChecksum = true
		}
	}
	if len(f) <= 5 {
		s.InitValue = s.ADCZero
	}
	if !baselineGiven {
		s.Baseline = s.ADCZero
	}
	if s.ADCResolution == 0 {
		s.ADCResolution = formatBits[s.Format]
	}
	if s.BlockSize < 0 {
		return s, lineErr(file, line, "signal %d block size %d: expected ≥ 0", index, s.BlockSize)
	}
	s.Description = strings.TrimSpace(desc)
	if !utf8.ValidString(s.Description) {
		s.Description = latin1(s.Description)
	}
	if s.Description == "" {
		s.Description = fmt.Sprintf("record %s, signal %d", record, index)
	}
	return s, nil
}

// fieldsN splits s into at most n blank-separated fields and returns the rest
// of the line after them (the signal description, which may hold blanks).
func fieldsN(s string, n int) ([]string, string) {
	var out []string
	for len(out) < n {
		s = strings.TrimLeft(s, " \t")
		if s == "" {
			return out, ""
		}
		k := strings.IndexAny(s, " \t")
		if k < 0 {
			return append(out, s), ""
		}
		out = append(out, s[:k])
		s = s[k:]
	}
	return out, s
}

// parseFormat reads "fmt[xspf][:skew][+offset]".
func (s *SignalSpec) parseFormat(t string) error {
	end := strings.IndexAny(t, "x:+")
	if end < 0 {
		end = len(t)
	}
	v, err := strconv.Atoi(t[:end])
	if err != nil {
		return fmt.Errorf("expected a format number such as 212 or 16")
	}
	if _, ok := formatBits[v]; !ok {
		return fmt.Errorf("format %d is not supported (supported: 0, 8, 16, 61, 80, 160, 212, 310, 311)", v)
	}
	s.Format = v
	t = t[end:]
	for t != "" {
		tag := t[0]
		t = t[1:]
		end := strings.IndexAny(t, "x:+")
		if end < 0 {
			end = len(t)
		}
		num := t[:end]
		t = t[end:]
		n, err := strconv.ParseInt(num, 10, 32)
		if err != nil || n < 0 {
			return fmt.Errorf("%q after '%c': expected a whole number ≥ 0", num, tag)
		}
		switch tag {
		case 'x':
			if n < 1 || n > 1<<16 {
				return fmt.Errorf("samples per frame %d: expected 1 to 65536", n)
			}
			s.SamplesPerFrame = int(n)
		case ':':
			s.Skew = int(n)
		case '+':
			s.ByteOffset = n
		}
	}
	return nil
}

// parseGain reads "gain[(baseline)][/units]" and reports whether a baseline
// was given.
func (s *SignalSpec) parseGain(t string) (bool, error) {
	g, units, hasUnits := strings.Cut(t, "/")
	if hasUnits {
		if units == "" {
			return false, fmt.Errorf("expected units after '/'")
		}
		if !utf8.ValidString(units) {
			units = latin1(units)
		}
		s.Units = units
	}
	baselineGiven := false
	if k := strings.IndexByte(g, '('); k >= 0 {
		b, ok := strings.CutSuffix(g[k+1:], ")")
		if !ok {
			return false, fmt.Errorf("expected the baseline in parentheses, as in 200(1024)/mV")
		}
		v, err := strconv.ParseInt(b, 10, 32)
		if err != nil {
			return false, fmt.Errorf("baseline %q: expected a whole number", b)
		}
		s.Baseline = int(v)
		baselineGiven = true
		g = g[:k]
	}
	v, err := strconv.ParseFloat(g, 64)
	if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
		return false, fmt.Errorf("expected a gain ≥ 0 in ADC units per physical unit, as in 200(1024)/mV")
	}
	s.Gain = v
	return baselineGiven, nil
}

// checkName rejects names WFDB cannot use and names that would reach outside
// the record's directory.
func checkName(n string) error {
	if n == "" {
		return fmt.Errorf("empty")
	}
	if strings.ContainsAny(n, "/\\") || n == "." || n == ".." {
		return fmt.Errorf("expected a plain name without directories")
	}
	return nil
}

// physGain is the gain used to turn ADC units into physical units.
func (s *SignalSpec) physGain() float64 {
	if s.Gain == 0 {
		return DefaultGain
	}
	return s.Gain
}

// parseTime reads WFDB's base time, "[hh:]mm:ss[.sss]", into seconds.
func parseTime(t string) (float64, bool) {
	parts := strings.Split(t, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return 0, false
	}
	last := parts[len(parts)-1]
	sec, err := strconv.ParseFloat(last, 64)
	if err != nil || last == "" || strings.ContainsAny(last, "eE+-xXpPnN_") || sec < 0 || sec >= 61 {
		return 0, false
	}
	var whole int
	for i, p := range parts[:len(parts)-1] {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || strings.ContainsAny(p, "+-") {
			return 0, false
		}
		minutes := i == len(parts)-2
		if minutes && n > 59 || !minutes && n > 23 {
			return 0, false
		}
		whole = whole*60 + n
	}
	return float64(float64(whole)*60) + sec, true
}

// parseDate reads WFDB's base date, dd/mm/yyyy.
func parseDate(t string) (d, m, y int, ok bool) {
	parts := strings.Split(t, "/")
	if len(parts) != 3 {
		return 0, 0, 0, false
	}
	var err [3]error
	d, err[0] = strconv.Atoi(parts[0])
	m, err[1] = strconv.Atoi(parts[1])
	y, err[2] = strconv.Atoi(parts[2])
	if err[0] != nil || err[1] != nil || err[2] != nil || d < 1 || d > 31 || m < 1 || m > 12 || y < 0 || y > 99999 {
		return 0, 0, 0, false
	}
	return d, m, y, true
}

// RecordedAt returns the base date and time as ISO-8601
// ("1994-10-26T08:26:04"), only the time ("08:26:04") when there is no date,
// or "" when the header gives neither.
func (h *Header) RecordedAt() string {
	var ts string
	if h.BaseTime != "" {
		secs, _ := parseTime(h.BaseTime)
		whole := int64(secs)
		frac := secs - float64(whole)
		ts = fmt.Sprintf("%02d:%02d:%02d", whole/3600, whole/60%60, whole%60)
		if frac > 0 {
			// Keep the digits the header gave (milliseconds in practice).
			if k := strings.IndexByte(h.BaseTime, '.'); k >= 0 {
				ts += h.BaseTime[k:]
			}
		}
	}
	if h.BaseDate == "" {
		return ts
	}
	d, m, y, _ := parseDate(h.BaseDate)
	ds := fmt.Sprintf("%04d-%02d-%02d", y, m, d)
	if ts == "" {
		return ds
	}
	return ds + "T" + ts
}
