// Package csvlog reads vital-sign logs written as CSV in pulsegrid's
// documented dialect (docs/formats.md), for example:
//
//	time,HR [bpm],SpO2 [%],ABP Sys [mmHg]
//	0,72,98,NA
//	60,74,,121
//
// The rules:
//
//   - The first non-comment line is the header. Lines starting with '#' are
//     comments and are skipped. A UTF-8 byte order mark is ignored.
//   - Fields are separated by commas or by semicolons; the header line
//     decides (the one of the two that occurs more there, commas on a tie).
//     With semicolons, a decimal comma is accepted in numbers ("36,6").
//     Fields may be quoted as RFC 4180 says.
//   - One column is the time, named time, t or timestamp (any case),
//     optionally with a unit: [s] (the default), [ms], [min] or [h]. Its
//     values are either all numbers or all ISO-8601 date-times
//     ("2024-03-01T08:00:00Z", "2024-03-01 08:00:00.250", a zone is
//     optional). Date-times become seconds since the first row, and the
//     first row's date-time goes into Identity.RecordedAt.
//   - Every other column is a channel, "NAME [UNIT]"; the unit may be
//     omitted. A blank field, NA, NaN, N/A or "-" (any case) is a missing
//     value.
//   - Rows must be in time order: a time earlier than the row before is an
//     error naming the line. A row that repeats the previous row's time is a
//     duplicate, dropped or rejected as Options say.
//   - The sample rate is inferred from the median step between successive
//     times, and rows are placed on that grid (sample = round(t × rate)), so
//     a gap in time becomes missing samples (NaN).
package csvlog

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pulsegrid/pulsegrid/algorithms/signal"
)

// maxSamples bounds the samples (all channels together) a log may ask for
// by leaving a long gap between two rows. Tests lower it.
var maxSamples = int64(1) << 27

// MaxLineBytes bounds one line of a log, so that a file without line
// breaks (a gigabyte of zeros named .csv) fails at its first 64 KiB
// instead of being read whole into memory. A row of MaxChannels values
// written with full float64 precision takes about 6 KiB.
const MaxLineBytes = 64 << 10

// MaxChannels bounds the channel columns of a log: the server buffers
// every channel while storing it, so memory grows with the column count
// a file asks for. 256 covers high-density EEG exported as CSV.
const MaxChannels = 256

// maxSteps bounds the distinct time steps between successive rows (the
// timeline keeps one count per distinct step): jitter gives a log a few
// hundred, while a hostile one could give every row its own. Tests lower it.
var maxSteps = 1 << 16

// Duplicates says what to do with a row whose time equals the previous row's.
type Duplicates int

const (
	// DropDuplicates keeps the first row of a run of equal times and drops
	// the later ones (the default).
	DropDuplicates Duplicates = iota
	// RejectDuplicates makes a duplicate time an error.
	RejectDuplicates
)

// Options tune the reader.
type Options struct {
	// Duplicates is the policy for rows that repeat a time.
	Duplicates Duplicates
	// Rate, when positive, is the sample rate to use instead of inferring
	// it from the median time step (needed for a log with a single row).
	Rate float64
	// OnDrop, when set, is told about every row that was dropped (a
	// duplicate time, or a time that rounds to the same sample as an
	// earlier row), with its line number and the reason.
	OnDrop func(line int, reason string)
}

// Error is a problem at a place in a CSV log.
type Error struct {
	File   string
	Line   int    // 1-based; 0 when the problem is not on one line
	Column int    // 1-based; 0 when the problem is not in one column
	Name   string // the column's header, when known
	Err    string
}

// Error formats the problem as "FILE: line N, column C (NAME): what".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ": line %d", e.Line)
	}
	if e.Column > 0 {
		fmt.Fprintf(&b, ", column %d", e.Column)
		if e.Name != "" {
			fmt.Fprintf(&b, " (%s)", e.Name)
		}
	}
	b.WriteString(": ")
	b.WriteString(e.Err)
	return b.String()
}

// row is one data line after parsing.
type row struct {
	line   int
	t      float64
	values []float64
}

// Read parses a CSV log. name is the file name, used in errors and kept in
// the Identity.
func Read(name string, data []byte, opt Options) (*signal.Recording, error) {
	sc, err := newScanner(name, data, opt, opt.OnDrop)
	if err != nil {
		return nil, err
	}
	var rows []row
	var tl timeline
	for {
		line, t, values, err := sc.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		rows = append(rows, row{line: line, t: t, values: slices.Clone(values)})
		if err := tl.add(sc, line, t); err != nil {
			return nil, err
		}
	}
	rate, n, err := sc.grid(&tl)
	if err != nil {
		return nil, err
	}
	t0 := tl.t0
	channels := sc.channels
	for k := range channels {
		channels[k].Rate = rate
		channels[k].Samples = make([]float64, n)
		for j := range channels[k].Samples {
			channels[k].Samples[j] = signal.Missing
		}
	}
	prevIdx, prevIdxLine := -1, 0
	for _, rw := range rows {
		idx := gridIndex(rw.t, t0, rate)
		if idx == prevIdx {
			// Jitter put two rows on one sample of the grid: keep the first.
			if err := sc.collision(rw.line, idx, rate, prevIdxLine); err != nil {
				return nil, err
			}
			continue
		}
		for k := range channels {
			channels[k].Samples[idx] = rw.values[k]
		}
		prevIdx, prevIdxLine = idx, rw.line
	}
	rec := sc.recording()
	rec.Signal.Channels = channels
	return rec, nil
}

// timeline is what a log's grid is built from: its first and last times
// and the steps between successive rows, counted by value (a log's steps
// take few distinct values, so even a long one costs no memory per row).
type timeline struct {
	rows     int
	t0, last float64
	lastLine int
	steps    map[float64]int
}

// add records the next kept row.
func (tl *timeline) add(sc *scanner, line int, t float64) error {
	if tl.rows == 0 {
		tl.t0, tl.steps = t, map[float64]int{}
	} else {
		tl.steps[t-tl.last]++
		if len(tl.steps) > maxSteps {
			return sc.fail(line, sc.timeCol+1, sc.header[sc.timeCol], "the steps between successive times take more than %d different values by this row: a log's times must lie on a regular grid (with some jitter)", maxSteps)
		}
	}
	tl.rows++
	tl.last, tl.lastLine = t, line
	return nil
}

// median is the step in the middle of the sorted steps (the upper of the
// middle two for an even count).
func (tl *timeline) median() float64 {
	keys := make([]float64, 0, len(tl.steps))
	for k := range tl.steps {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	seen := 0
	for _, k := range keys {
		seen += tl.steps[k]
		if seen > (tl.rows-1)/2 {
			return k
		}
	}
	return 0
}

// grid returns the log's sample rate (Options.Rate, or inferred from the
// median step) and how many samples each channel has on that grid.
func (sc *scanner) grid(tl *timeline) (rate float64, n int, err error) {
	if tl.rows == 0 {
		return 0, 0, sc.fail(sc.headerLine, 0, "", "no data rows after the header")
	}
	rate = sc.opt.Rate
	if !(rate > 0) {
		if tl.rows < 2 {
			return 0, 0, sc.fail(0, 0, "", "only one row: a sample rate cannot be inferred from a single time")
		}
		if rate, err = inferRate(tl.median(), tl.last-tl.t0); err != nil {
			return 0, 0, sc.fail(0, 0, "", "%v", err)
		}
	}
	n, err = sc.samplesPerChannel(tl.lastLine, tl.last-tl.t0, rate)
	return rate, n, err
}

// gridIndex is the sample a row at time t falls on.
func gridIndex(t, t0, rate float64) int {
	return int(math.Round(float64((t - t0) * rate)))
}

// scanner reads a log's header, then its rows one at a time with every
// check of the dialect: what Read and Open share.
type scanner struct {
	name         string
	opt          Options
	onDrop       func(line int, reason string)
	r            *csv.Reader
	header       []string
	headerLine   int
	timeCol      int
	timeScale    float64
	chanCols     []int
	channels     []signal.Channel // without rates and samples
	decimalComma bool
	isoMode      int // 0 unknown, 1 numbers, 2 date-times
	isoStart     time.Time
	recordedAt   string
	kept         int // rows returned so far
	prevT        float64
	prevLine     int
	values       []float64
	lines        *lineLimiter
}

func (sc *scanner) fail(line, col int, colName, format string, args ...any) error {
	return &Error{File: sc.name, Line: line, Column: col, Name: colName, Err: fmt.Sprintf(format, args...)}
}

// newScanner reads the header. onDrop is told about rows dropped for
// repeating a time (nil: nobody).
func newScanner(name string, data []byte, opt Options, onDrop func(int, string)) (*scanner, error) {
	sc := &scanner{name: name, opt: opt, onDrop: onDrop, timeCol: -1, timeScale: 1}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if off, b, ok := binaryByte(data); ok {
		return nil, sc.fail(0, 0, "", "not a text file: byte %d is 0x%02x, a control character no CSV log holds", off, b)
	}
	sep, err := separator(data)
	if err != nil {
		return nil, sc.fail(0, 0, "", "%v", err)
	}
	sc.lines = &lineLimiter{data: data, line: 1}
	r := csv.NewReader(sc.lines)
	r.Comma = sep
	r.Comment = '#'
	r.TrimLeadingSpace = true
	r.ReuseRecord = true
	sc.r, sc.decimalComma = r, sep == ';'
	header, err := r.Read()
	if err == io.EOF {
		return nil, sc.fail(0, 0, "", "file is empty: expected a header line such as \"time,HR [bpm]\"")
	}
	if err != nil {
		return nil, sc.csvError(err)
	}
	sc.headerLine, _ = r.FieldPos(0)
	if n := len(header) - 1; n > MaxChannels {
		return nil, sc.fail(sc.headerLine, 0, "", "header has %d channel columns; at most %d are accepted", n, MaxChannels)
	}
	sc.header = slices.Clone(header)
	seen := map[string]int{}
	for i, h := range sc.header {
		h = strings.TrimSpace(h)
		colName, unit, err := splitHeader(h)
		if err != nil {
			return nil, sc.fail(sc.headerLine, i+1, h, "%v", err)
		}
		if colName == "" {
			return nil, sc.fail(sc.headerLine, i+1, "", "column has no name: expected \"NAME [UNIT]\"")
		}
		if j, dup := seen[strings.ToLower(colName)]; dup {
			return nil, sc.fail(sc.headerLine, i+1, h, "column name %q repeats column %d", colName, j)
		}
		seen[strings.ToLower(colName)] = i + 1
		switch strings.ToLower(colName) {
		case "time", "t", "timestamp":
			if sc.timeCol >= 0 {
				return nil, sc.fail(sc.headerLine, i+1, h, "second time column (the first is column %d)", sc.timeCol+1)
			}
			scale, ok := timeUnits[unit]
			if !ok {
				return nil, sc.fail(sc.headerLine, i+1, h, "time unit %q: expected [s], [ms], [min] or [h]", unit)
			}
			sc.timeCol, sc.timeScale = i, scale
		default:
			sc.channels = append(sc.channels, signal.Channel{Name: colName, Unit: unit})
			sc.chanCols = append(sc.chanCols, i)
		}
	}
	if sc.timeCol < 0 {
		return nil, sc.fail(sc.headerLine, 0, "", "header has no time column: expected a column named time, t or timestamp")
	}
	if len(sc.channels) == 0 {
		return nil, sc.fail(sc.headerLine, 0, "", "header has no channel column: expected at least one \"NAME [UNIT]\" besides the time")
	}
	sc.values = make([]float64, len(sc.chanCols))
	return sc, nil
}

// next returns the next row that is kept (a row repeating the previous
// time is dropped or rejected as Options say), or io.EOF. values is reused
// by the next call.
func (sc *scanner) next() (line int, t float64, values []float64, err error) {
	for {
		fields, err := sc.r.Read()
		if err == io.EOF {
			return 0, 0, nil, io.EOF
		}
		if err != nil {
			return 0, 0, nil, sc.csvError(err)
		}
		line, _ := sc.r.FieldPos(0)
		tc := sc.timeCol
		raw := strings.TrimSpace(fields[tc])
		colName := sc.header[tc]
		if raw == "" {
			return 0, 0, nil, sc.fail(line, tc+1, colName, "time is empty: every row needs a time")
		}
		if sc.isoMode == 0 {
			sc.isoMode = 1
			if _, _, ok := parseISO(raw); ok {
				sc.isoMode = 2
			}
		}
		if sc.isoMode == 2 {
			ts, zoned, ok := parseISO(raw)
			if !ok {
				return 0, 0, nil, sc.fail(line, tc+1, colName, "%q is not an ISO-8601 date-time like the rows above (e.g. 2024-03-01T08:00:00Z)", raw)
			}
			if sc.kept == 0 {
				sc.isoStart = ts
				sc.recordedAt = ts.Format("2006-01-02T15:04:05.999999999")
				if zoned {
					sc.recordedAt = ts.Format(time.RFC3339Nano)
				}
			}
			t = ts.Sub(sc.isoStart).Seconds()
		} else {
			v, ok := number(raw, sc.decimalComma)
			if !ok || math.IsNaN(v) {
				return 0, 0, nil, sc.fail(line, tc+1, colName, "%q is not a time: expected seconds (a number) like the rows above", raw)
			}
			t = float64(v * sc.timeScale)
		}
		if sc.kept > 0 {
			if t < sc.prevT {
				return 0, 0, nil, sc.fail(line, tc+1, colName, "time %s is earlier than the time on line %d: rows must be in time order", raw, sc.prevLine)
			}
			if t == sc.prevT {
				if sc.opt.Duplicates == RejectDuplicates {
					return 0, 0, nil, sc.fail(line, tc+1, colName, "time %s repeats the time on line %d (duplicate times are rejected)", raw, sc.prevLine)
				}
				if sc.onDrop != nil {
					sc.onDrop(line, fmt.Sprintf("time %s repeats the time on line %d", raw, sc.prevLine))
				}
				continue
			}
		}
		for k, c := range sc.chanCols {
			s := strings.TrimSpace(fields[c])
			if isMissing(s) {
				sc.values[k] = signal.Missing
				continue
			}
			v, ok := number(s, sc.decimalComma)
			if !ok {
				return 0, 0, nil, sc.fail(line, c+1, sc.header[c], "%q is not a number: expected a number, or blank, NA, NaN or - for a missing value", s)
			}
			sc.values[k] = v
		}
		sc.kept++
		sc.prevT, sc.prevLine = t, line
		return line, t, sc.values, nil
	}
}

// samplesPerChannel is the length of the grid from the first row to the
// last one (span seconds after it, on line lastLine), bounded by
// maxSamples.
func (sc *scanner) samplesPerChannel(lastLine int, span, rate float64) (int, error) {
	last := math.Round(float64(span * rate))
	if float64((last+1)*float64(len(sc.channels))) > float64(maxSamples) {
		return 0, sc.fail(lastLine, sc.timeCol+1, sc.header[sc.timeCol],
			"time is %gs after the first row, which at %g Hz would make %.0f samples in each of %d channels (more than %d in all): is a time wrong?",
			span, rate, last+1, len(sc.channels), maxSamples)
	}
	return int(last) + 1, nil
}

// collision handles a row that falls on the grid sample of the row before
// (on line prevLine): rejected or dropped as Options say.
func (sc *scanner) collision(line, idx int, rate float64, prevLine int) error {
	reason := fmt.Sprintf("time falls on sample %d at %g Hz, like line %d", idx, rate, prevLine)
	if sc.opt.Duplicates == RejectDuplicates {
		return sc.fail(line, sc.timeCol+1, sc.header[sc.timeCol], "%s (duplicate times are rejected)", reason)
	}
	if sc.opt.OnDrop != nil {
		sc.opt.OnDrop(line, reason)
	}
	return nil
}

// recording is the log's Recording without channels.
func (sc *scanner) recording() *signal.Recording {
	return &signal.Recording{Identity: signal.Identity{
		Record:     strings.TrimSuffix(path.Base(sc.name), path.Ext(sc.name)),
		FileNames:  []string{sc.name},
		RecordedAt: sc.recordedAt,
	}}
}

var timeUnits = map[string]float64{"": 1, "s": 1, "ms": 0.001, "min": 60, "h": 3600}

// lineLimiter serves a log's bytes to encoding/csv, which holds a whole
// line in memory, and fails on a line longer than MaxLineBytes.
type lineLimiter struct {
	data  []byte
	pos   int
	start int // where the current line starts
	line  int // its 1-based number
}

// lineTooLong is lineLimiter's error: the line and the byte it starts at.
type lineTooLong struct {
	line   int
	offset int
}

func (e *lineTooLong) Error() string {
	return fmt.Sprintf("line %d (from byte %d) is longer than %d bytes", e.line, e.offset, MaxLineBytes)
}

func (l *lineLimiter) Read(p []byte) (int, error) {
	if l.pos >= len(l.data) {
		return 0, io.EOF
	}
	end := min(len(l.data), l.pos+len(p))
	n := l.pos
	for n < end {
		// The current line may hold MaxLineBytes bytes and its line break.
		lim := min(end, l.start+MaxLineBytes+1)
		if n >= lim {
			break
		}
		i := bytes.IndexByte(l.data[n:lim], '\n')
		if i < 0 {
			n = lim
			break
		}
		n += i + 1
		l.line++
		l.start = n
	}
	// Bytes beyond MaxLineBytes of a line not (yet) ended are never served.
	n = min(n, l.start+MaxLineBytes)
	if n <= l.pos {
		return 0, &lineTooLong{line: l.line, offset: l.start}
	}
	copy(p, l.data[l.pos:n])
	k := n - l.pos
	l.pos = n
	return k, nil
}

// binaryByte finds a control character other than tab, CR, LF and FF
// (form feed) in the first 4 KiB, where a binary file betrays itself: a
// NUL never occurs in a text log.
func binaryByte(data []byte) (offset int, b byte, found bool) {
	for i, c := range data[:min(len(data), 4096)] {
		if c < 0x20 && c != '\t' && c != '\r' && c != '\n' && c != '\f' {
			return i, c, true
		}
	}
	return 0, 0, false
}

// separator picks ',' or ';' from the header line.
func separator(data []byte) (rune, error) {
	rest := data
	for len(rest) > 0 {
		// The reader refuses a line longer than MaxLineBytes, so the
		// search for its end stops there.
		line := rest[:min(len(rest), MaxLineBytes+1)]
		if i := bytes.IndexByte(line, '\n'); i >= 0 {
			line, rest = rest[:i], rest[i+1:]
		} else {
			rest = nil
		}
		if len(bytes.TrimSpace(line)) == 0 || line[0] == '#' {
			continue
		}
		if bytes.Count(line, []byte(";")) > bytes.Count(line, []byte(",")) {
			return ';', nil
		}
		return ',', nil
	}
	return 0, errors.New("file is empty: expected a header line such as \"time,HR [bpm]\"")
}

// splitHeader splits "HR [bpm]" into "HR" and "bpm".
func splitHeader(h string) (name, unit string, err error) {
	i := strings.IndexByte(h, '[')
	if i < 0 {
		if strings.ContainsRune(h, ']') {
			return "", "", fmt.Errorf("header %q has ']' without '[': expected \"NAME [UNIT]\"", h)
		}
		return h, "", nil
	}
	if !strings.HasSuffix(h, "]") || strings.Count(h, "[") != 1 || strings.Count(h, "]") != 1 {
		return "", "", fmt.Errorf("header %q: expected \"NAME [UNIT]\" with the unit in brackets at the end", h)
	}
	return strings.TrimSpace(h[:i]), strings.TrimSpace(h[i+1 : len(h)-1]), nil
}

// csvError turns an encoding/csv error into an Error with its position.
func (sc *scanner) csvError(err error) error {
	name := sc.name
	var long *lineTooLong
	if errors.As(err, &long) {
		return &Error{File: name, Line: long.line, Err: fmt.Sprintf("longer than %d KiB (the line starts at byte %d): expected a line break after each row", MaxLineBytes>>10, long.offset)}
	}
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		msg := pe.Err.Error()
		switch {
		case errors.Is(pe.Err, csv.ErrFieldCount):
			msg = "wrong number of fields: every row needs one field per header column"
		case errors.Is(pe.Err, csv.ErrBareQuote):
			msg = `a " inside a field that does not start with one: quote the whole field ("...") and double quotes inside it ("")`
		case errors.Is(pe.Err, csv.ErrQuote):
			msg = `a quoted field is not closed, or a " follows its closing quote: expected "..." with inner quotes doubled`
		}
		return &Error{File: name, Line: pe.Line, Column: pe.Column, Err: msg}
	}
	return &Error{File: name, Err: err.Error()}
}

func isMissing(s string) bool {
	switch strings.ToLower(s) {
	case "", "na", "nan", "n/a", "-":
		return true
	}
	return false
}

// number parses a finite decimal number, with a decimal comma when allowed.
func number(s string, decimalComma bool) (float64, bool) {
	if decimalComma {
		s = strings.Replace(s, ",", ".", 1)
	}
	// ParseFloat also accepts "Inf", "NaN" and hex floats, which no log
	// means as a measurement.
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E') {
			return 0, false
		}
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(v, 0) {
		return 0, false
	}
	return v, true
}

var isoLayouts = []string{
	"2006-01-02T15:04:05.999999999Z07:00",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04",
}

// parseISO parses an ISO-8601 date-time and says whether it had a zone; one
// without a zone is taken as UTC, which does not matter for the differences
// the reader uses.
func parseISO(s string) (t time.Time, zoned, ok bool) {
	if len(s) < 16 || s[4] != '-' {
		return time.Time{}, false, false
	}
	for _, l := range isoLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, strings.HasSuffix(l, "Z07:00"), true
		}
	}
	return time.Time{}, false, false
}

// inferRate returns 1 / the median step between successive rows (the
// upper of the middle two for an even count), snapped to a whole number of
// hertz or of seconds per sample when it is that within 0.01 %. Times
// written with few decimals (0.0078 for 128 Hz) make the median step
// inexact; then the rate over the whole span, which averages the rounding
// out, is used when it snaps.
func inferRate(median, span float64) (float64, error) {
	if !(median > 0) {
		return 0, errors.New("median time step is 0: cannot infer a sample rate")
	}
	if r, ok := snap(1 / median); ok {
		return r, nil
	}
	if r, ok := snap(math.Round(span/median) / span); ok {
		return r, nil
	}
	return 1 / median, nil
}

// snap rounds a rate to whole hertz, or to whole seconds per sample, when
// it is within 0.01 % of one.
func snap(rate float64) (float64, bool) {
	if r := math.Round(rate); r >= 1 && math.Abs(rate-r) <= 1e-4*rate {
		return r, true
	}
	if p := math.Round(1 / rate); p >= 1 && math.Abs(1/rate-p) <= 1e-4*p {
		return 1 / p, true
	}
	return rate, false
}
