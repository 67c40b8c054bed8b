package vitals

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/pulsegrid/pulsegrid/algorithms/canon"
	"github.com/pulsegrid/pulsegrid/algorithms/pipeline"
	"github.com/pulsegrid/pulsegrid/algorithms/signal"
	"github.com/pulsegrid/pulsegrid/algorithms/template/plausible"
)

// SummaryName is the registered name of the summary algorithm.
const SummaryName = "vitals.summary@1"

// Summary is vitals.summary@1: per channel count, missing, mean, SD, min,
// max and the 5/25/50/75/95th percentiles, over the whole record and per
// hour from the record start.
//
// Plausibility: a channel that is a kind of vital sign the icu-vitals
// template knows (plausible.Lookup: HR, SpO2, ABP...) has its values
// outside the plausible range excluded from every statistic and counted by
// reason: a 0 as "sensor off", anything else as "outside the plausible
// range". A pulse oximeter off the finger logs SpO2 0 for hours; counted,
// those zeros would pull the mean SpO2 to 79 % with a median of 96 %.
//
// Exactness: each chunk outputs, per channel and hour, the exact multiset of
// its values (sorted distinct values with their counts) and its missing
// count. Merge adds the multisets and computes every statistic from them in
// a fixed order, so any chunking gives the same bits as the whole record.
// WFDB and EDF values are quantized, so the multisets stay small.
type Summary struct{}

// NewSummary returns the vitals.summary@1 algorithm.
func NewSummary() *Summary { return &Summary{} }

// SummaryParams are the parameters of vitals.summary@1.
type SummaryParams struct {
	// Channels names the channels to summarize; empty means all.
	Channels []string `json:"channels"`
}

// Name implements pipeline.Algorithm.
func (*Summary) Name() string { return SummaryName }

// Describe implements pipeline.Algorithm.
func (s *Summary) Describe() pipeline.Info {
	p, _ := s.Params(nil)
	return pipeline.Info{
		Name:  SummaryName,
		Title: "Vital-sign summary",
		Description: "Per channel: count, missing, mean, SD, min, max and 5/25/50/75/95th percentiles " +
			"(linear interpolation between closest ranks), over the whole record and per hour.",
		Inputs:        "vitals",
		DefaultParams: p,
		Exports:       []string{"csv"},
	}
}

// Params implements pipeline.Algorithm.
func (*Summary) Params(raw json.RawMessage) ([]byte, error) {
	var p SummaryParams
	if err := decodeStrict(raw, &p); err != nil {
		return nil, fmt.Errorf("%s params: %w", SummaryName, err)
	}
	if p.Channels == nil {
		p.Channels = []string{}
	}
	seen := map[string]bool{}
	for _, c := range p.Channels {
		if c == "" {
			return nil, fmt.Errorf("%s params: empty channel name", SummaryName)
		}
		if seen[c] {
			return nil, fmt.Errorf("%s params: channel %q listed twice", SummaryName, c)
		}
		seen[c] = true
	}
	return json.Marshal(p)
}

// decodeStrict parses JSON parameters, rejecting unknown fields and
// trailing data; nil or empty input leaves the defaults.
func decodeStrict(raw json.RawMessage, v any) error {
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("unexpected data after the parameters object")
	}
	return nil
}

// selectChannels resolves channel names to indices of sig (all when empty).
func selectChannels(sig *signal.Signal, names []string) ([]int, error) {
	if len(names) == 0 {
		idx := make([]int, len(sig.Channels))
		for i := range idx {
			idx[i] = i
		}
		return idx, nil
	}
	var idx []int
	for _, n := range names {
		i := sig.Channel(n)
		if i < 0 {
			var have []string
			for _, c := range sig.Channels {
				have = append(have, c.Name)
			}
			return nil, fmt.Errorf("%s: no channel %q (the record has %s)", SummaryName, n, strings.Join(have, ", "))
		}
		idx = append(idx, i)
	}
	return idx, nil
}

// Split implements pipeline.Algorithm.
func (*Summary) Split(sig *signal.Signal, params []byte, opt pipeline.SplitOptions) ([]pipeline.Chunk, error) {
	var p SummaryParams
	if err := json.Unmarshal(params, &p); err != nil {
		return nil, fmt.Errorf("%s: params: %w", SummaryName, err)
	}
	chans, err := selectChannels(sig, p.Channels)
	if err != nil {
		return nil, err
	}
	// The task carries none of the user's parameters: the channel
	// selection, which names the recording's labels, happened here. It
	// carries each channel's plausible range, found here by its label.
	tp := summaryTask{Ranges: make([]*taskRange, len(chans))}
	for k, c := range chans {
		if r, ok := plausible.Lookup(sig.Channels[c].Name, sig.Channels[c].Unit); ok {
			tp.Ranges[k] = &taskRange{Min: r.Min, Max: r.Max}
		}
	}
	b, err := json.Marshal(tp)
	if err != nil {
		return nil, err
	}
	return split(SummaryName, sig, chans, b, opt)
}

// summaryTask is the parameters a summary task carries: the plausible
// range of each of its channels, in task order (null: no range).
type summaryTask struct {
	Ranges []*taskRange `json:"ranges"`
}

// taskRange is a plausible range as a task carries it.
type taskRange struct {
	Min float64 `json:"min"`
	Max float64 `json:"max"`
}

func (r *taskRange) rng() plausible.Range { return plausible.Range{Min: r.Min, Max: r.Max} }

// plausibleOf is the plausible range of a result's channel, found again
// from the label and unit the chunk specs kept on the server, exactly as
// Split found it.
func plausibleOf(name, unit string) *plausible.Range {
	if r, ok := plausible.Lookup(name, unit); ok {
		return &r
	}
	return nil
}

// RunReadsNoLabels implements pipeline.LabelBlind: Run reads only samples,
// rates and the framing; Merge names channels from the specs.
func (*Summary) RunReadsNoLabels() {}

// summaryMagic tags version 3 of the summary chunk output (version 1
// carried the channels' labels and units, version 2 had no exclusions).
const summaryMagic = "PGVSUMC3"

// multiset is the exact multiset of a channel's plausible values in one
// hour: distinct values in increasing order with their counts; the missing
// count, and the counts of values excluded as implausible by reason.
type multiset struct {
	values     []float64
	counts     []int64
	missing    int64
	sensorOff  int64
	outOfRange int64
}

// cell is one channel in one hour of a chunk output.
type cell struct {
	channel int
	hour    int64
	m       multiset
}

// Run implements pipeline.Algorithm.
func (*Summary) Run(t *pipeline.Task, y pipeline.Yielder) ([]byte, error) {
	first, err := checkTask(SummaryName, t)
	if err != nil {
		return nil, err
	}
	var tp summaryTask
	if err := json.Unmarshal(t.Params, &tp); err != nil {
		return nil, fmt.Errorf("%s: task params: %w", SummaryName, err)
	}
	if tp.Ranges != nil && len(tp.Ranges) != len(t.Channels) {
		return nil, fmt.Errorf("%s: task has %d plausible ranges for %d channels", SummaryName, len(tp.Ranges), len(t.Channels))
	}
	for i, r := range tp.Ranges {
		if r != nil && !(r.Min <= r.Max) {
			return nil, fmt.Errorf("%s: channel %d: plausible range %v..%v is empty", SummaryName, i, r.Min, r.Max)
		}
	}
	var total int64
	for _, c := range t.Channels {
		total += int64(len(c.Samples))
	}
	var done int64
	var cells []cell
	for ci, c := range t.Channels {
		var rng *taskRange
		if tp.Ranges != nil {
			rng = tp.Ranges[ci]
		}
		// samples of one hour are contiguous: cut the channel at hour changes
		start := 0
		for start < len(c.Samples) {
			h := HourOf(first[ci]+int64(start), c.Rate)
			end := hourEnd(first[ci], start, len(c.Samples), c.Rate, h)
			// The progress calls a sample-by-sample scan made on its way
			// to end (hourEndBySample in the tests).
			for k := yieldEvery; k <= end-start; k += yieldEvery {
				if err := y.Yield(done+int64(k), total); err != nil {
					return nil, err
				}
			}
			cells = append(cells, cell{channel: ci, hour: h, m: makeMultiset(c.Samples[start:end], rng)})
			done += int64(end - start)
			if err := y.Yield(done, total); err != nil {
				return nil, err
			}
			start = end
		}
	}
	w := canon.NewWriter(summaryMagic)
	w.U32(uint32(len(t.Channels)))
	w.U32(uint32(len(cells)))
	for _, c := range cells {
		w.U32(uint32(c.channel))
		w.I64(c.hour)
		w.I64(c.m.missing)
		w.I64(c.m.sensorOff)
		w.I64(c.m.outOfRange)
		w.F64s(c.m.values)
		w.I64s(c.m.counts)
	}
	return w.Bytes(), nil
}

// hourEnd is the first index after start, at most n, of a sample of the
// channel (whose sample 0 is record sample first) that is not in hour h,
// the hour of sample start.
//
// HourOf is non-decreasing in the index wherever SampleMicros's quotient
// converts to int64 without overflow (every step of it is a monotonic
// rounding), so the end of the hour is found by an exponential and then a
// binary search, a few dozen HourOf calls per hour instead of one per
// sample. Where the quotient could overflow (absurd rates or indices),
// the samples are scanned one by one as before.
func hourEnd(first int64, start, n int, rate float64, h int64) int {
	const safe = 1 << 62
	if lo, hi := float64(first+int64(start))*microsPerSecond/rate, float64(first+int64(n-1))*microsPerSecond/rate; !(lo > -safe && lo < safe && hi > -safe && hi < safe) {
		end := start + 1
		for end < n && HourOf(first+int64(end), rate) == h {
			end++
		}
		return end
	}
	in := func(i int) bool { return HourOf(first+int64(i), rate) == h }
	// in(lo) holds and in(hi) does not (or hi == n).
	lo, step := start, 1
	hi := n
	for lo+step < n {
		if !in(lo + step) {
			hi = lo + step
			break
		}
		lo += step
		step *= 2
	}
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if in(mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi
}

// makeMultiset sorts a copy of the plausible samples and counts equal
// values; -0 is counted as +0, NaN as missing, and a value outside rng (when
// not nil) as excluded, by reason.
//
// The sort is a radix sort of the values' bits mapped to unsigned integers
// in the order of the values (sortKeys), not a comparison sort: the values
// are neither NaN nor -0, so equal values have equal bits and any correct
// sort gives the same multiset, and the radix passes have no data-dependent
// branch, which matters under wasm, where every taken branch goes through
// the function's block dispatcher (makeMultisetByComparison in the tests is
// the comparison form, which this must match).
func makeMultiset(samples []float64, rng *taskRange) multiset {
	var m multiset
	// lo, hi: the plausible range, or (-Inf, +Inf) when there is none,
	// which every non-missing value is inside (Classify's test).
	lo, hi := math.Inf(-1), math.Inf(1)
	if rng != nil {
		lo, hi = rng.Min, rng.Max
	}
	keys := make([]uint64, len(samples))
	n := 0
	for _, x := range samples {
		if !(x >= lo && x <= hi) {
			switch {
			case x != x:
				m.missing++
			case x == 0:
				m.sensorOff++
			default:
				m.outOfRange++
			}
			continue
		}
		keys[n] = sortKey(x)
		n++
	}
	keys = sortKeys(keys[:n])
	for i := 0; i < len(keys); {
		j := i + 1
		for j < len(keys) && keys[j] == keys[i] {
			j++
		}
		m.values = append(m.values, fromSortKey(keys[i]))
		m.counts = append(m.counts, int64(j-i))
		i = j
	}
	return m
}

// sortKey maps a value that is not NaN to an unsigned integer in the same
// order, folding -0 into +0: a positive value's bits with the sign bit set,
// a negative value's bits inverted.
func sortKey(x float64) uint64 {
	if x == 0 {
		x = 0 // fold -0 into +0
	}
	b := math.Float64bits(x)
	mask := uint64(int64(b)>>63) | 1<<63
	return b ^ mask
}

// fromSortKey inverts sortKey.
func fromSortKey(k uint64) float64 {
	mask := uint64(int64(^k)>>63) | 1<<63
	return math.Float64frombits(k ^ mask)
}

// sortKeys sorts keys ascending by least-significant-digit radix sort on
// bytes, skipping the bytes every key shares; it returns the sorted keys,
// in keys or in a buffer of the same length.
func sortKeys(keys []uint64) []uint64 {
	if len(keys) < 2 {
		return keys
	}
	if len(keys) > math.MaxInt32 {
		// Beyond the int32 counts below (a cell is one hour: at most
		// 3.6e8 samples at maxRate); never reached by a valid task.
		slices.Sort(keys)
		return keys
	}
	var hist [8][256]int32
	for _, k := range keys {
		hist[0][k&0xff]++
		hist[1][k>>8&0xff]++
		hist[2][k>>16&0xff]++
		hist[3][k>>24&0xff]++
		hist[4][k>>32&0xff]++
		hist[5][k>>40&0xff]++
		hist[6][k>>48&0xff]++
		hist[7][k>>56]++
	}
	var tmp []uint64
	src := keys
	for d := range 8 {
		h := &hist[d]
		shift := uint(8 * d)
		if h[src[0]>>shift&0xff] == int32(len(src)) {
			continue // every key has this byte
		}
		if tmp == nil {
			tmp = make([]uint64, len(keys))
		}
		dst := tmp[:len(src)]
		var pos [256]int32
		var sum int32
		for b, c := range h {
			pos[b] = sum
			sum += c
		}
		for _, k := range src {
			b := k >> shift & 0xff
			dst[pos[b]] = k
			pos[b]++
		}
		src, tmp = dst, src
	}
	return src
}

// add merges two multisets.
func (a multiset) add(b multiset) multiset {
	out := multiset{missing: a.missing + b.missing, sensorOff: a.sensorOff + b.sensorOff, outOfRange: a.outOfRange + b.outOfRange}
	i, j := 0, 0
	for i < len(a.values) || j < len(b.values) {
		switch {
		case j == len(b.values) || (i < len(a.values) && a.values[i] < b.values[j]):
			out.values, out.counts = append(out.values, a.values[i]), append(out.counts, a.counts[i])
			i++
		case i == len(a.values) || b.values[j] < a.values[i]:
			out.values, out.counts = append(out.values, b.values[j]), append(out.counts, b.counts[j])
			j++
		default:
			out.values, out.counts = append(out.values, a.values[i]), append(out.counts, a.counts[i]+b.counts[j])
			i++
			j++
		}
	}
	return out
}

// maxCount bounds a value's count in a chunk output, so that sums of counts
// cannot overflow.
const maxCount = 1 << 40

// decodeSummaryChunk parses one chunk output of a task with nch channels.
func decodeSummaryChunk(b []byte, nch int) (cells []cell, err error) {
	r := canon.NewReader(b, summaryMagic)
	if n := r.U32(); r.Err() == nil && int64(n) != int64(nch) {
		return nil, fmt.Errorf("%d channels, the chunk's task had %d", n, nch)
	}
	nc := r.U32()
	for i := uint32(0); i < nc && r.Err() == nil; i++ {
		c := cell{channel: int(r.U32()), hour: r.I64()}
		c.m.missing = r.I64()
		c.m.sensorOff, c.m.outOfRange = r.I64(), r.I64()
		c.m.values = r.F64s()
		c.m.counts = r.I64s()
		if r.Err() != nil {
			break
		}
		if c.channel >= nch || c.hour < 0 || c.hour > 1<<30 || c.m.missing < 0 || c.m.missing > maxCount ||
			c.m.sensorOff < 0 || c.m.sensorOff > maxCount || c.m.outOfRange < 0 || c.m.outOfRange > maxCount || len(c.m.values) != len(c.m.counts) {
			return nil, fmt.Errorf("cell %d: channel %d hour %d missing %d with %d values and %d counts is inconsistent",
				i, c.channel, c.hour, c.m.missing, len(c.m.values), len(c.m.counts))
		}
		for k := range c.m.values {
			if c.m.counts[k] <= 0 || c.m.counts[k] > maxCount || (k > 0 && !(c.m.values[k] > c.m.values[k-1])) || math.IsNaN(c.m.values[k]) || math.IsInf(c.m.values[k], 0) {
				return nil, fmt.Errorf("cell %d: value %d is not a distinct increasing value with a positive count", i, k)
			}
		}
		cells = append(cells, c)
	}
	if err := r.Done(); err != nil {
		return nil, err
	}
	return cells, nil
}

// Stats are the descriptive statistics of one channel over some span. When
// Count is 0 (every sample missing or excluded) the figures are 0 and
// meaningless.
type Stats struct {
	// Count is the samples the statistics are of: valid and plausible.
	Count int64 `json:"count"`
	// Missing is the samples the recording marks missing.
	Missing int64 `json:"missing"`
	// SensorOff and OutOfRange are the samples excluded as implausible
	// (ChannelSummary.Plausible): zeros, and other values outside the range.
	SensorOff  int64   `json:"excluded_sensor_off"`
	OutOfRange int64   `json:"excluded_out_of_range"`
	Mean       float64 `json:"mean"`
	// SD is the sample standard deviation (n−1 denominator; 0 for n = 1).
	SD  float64 `json:"sd"`
	Min float64 `json:"min"`
	Max float64 `json:"max"`
	P5  float64 `json:"p5"`
	P25 float64 `json:"p25"`
	P50 float64 `json:"p50"`
	P75 float64 `json:"p75"`
	P95 float64 `json:"p95"`
}

// HourStats are a channel's statistics in hour Hour (0 = the first hour of
// the record).
type HourStats struct {
	Hour int64 `json:"hour"`
	Stats
}

// Excluded is the number of samples excluded as implausible.
func (s Stats) Excluded() int64 { return s.SensorOff + s.OutOfRange }

// ChannelSummary is one channel's result.
type ChannelSummary struct {
	Name string `json:"name"`
	Unit string `json:"unit"`
	// Plausible is the range outside which values were excluded; nil when
	// the channel is no vital sign with a known range, and nothing was.
	Plausible *plausible.Range `json:"plausible,omitempty"`
	// Whole and Hours are the statistics of the record and of each hour.
	Whole Stats       `json:"whole"`
	Hours []HourStats `json:"hours"`
}

// SummaryResult is the merged result of vitals.summary@1.
type SummaryResult struct {
	Channels []ChannelSummary `json:"channels"`
}

// Merge implements pipeline.Algorithm.
func (*Summary) Merge(params []byte, parts []pipeline.Part) (pipeline.Result, error) {
	names, units, err := channelsOf(SummaryName, parts)
	if err != nil {
		return nil, err
	}
	type key struct {
		ch   int
		hour int64
	}
	acc := map[key]multiset{}
	for _, p := range parts {
		cells, err := decodeSummaryChunk(p.Output, len(names))
		if err != nil {
			return nil, fmt.Errorf("%s: chunk %d output: %w", SummaryName, p.Spec.Index, err)
		}
		for _, c := range cells {
			k := key{c.channel, c.hour}
			acc[k] = acc[k].add(c.m)
		}
	}
	res := &SummaryResult{Channels: []ChannelSummary{}}
	for ci := range names {
		var hours []int64
		for k := range acc {
			if k.ch == ci {
				hours = append(hours, k.hour)
			}
		}
		slices.Sort(hours)
		cs := ChannelSummary{Name: names[ci], Unit: units[ci], Plausible: plausibleOf(names[ci], units[ci]), Hours: []HourStats{}}
		var whole multiset
		for _, h := range hours {
			m := acc[key{ci, h}]
			cs.Hours = append(cs.Hours, HourStats{Hour: h, Stats: m.stats()})
			whole = whole.add(m)
		}
		cs.Whole = whole.stats()
		res.Channels = append(res.Channels, cs)
	}
	return res, nil
}

// stats computes the statistics of a multiset, summing in increasing order
// of value so the result depends on the multiset alone.
func (m multiset) stats() Stats {
	s := Stats{Missing: m.missing, SensorOff: m.sensorOff, OutOfRange: m.outOfRange}
	for _, c := range m.counts {
		s.Count += c
	}
	if s.Count == 0 {
		return s
	}
	n := float64(s.Count)
	sum := 0.0
	for i, v := range m.values {
		sum += float64(v * float64(m.counts[i]))
	}
	s.Mean = sum / n
	ss := 0.0
	for i, v := range m.values {
		d := v - s.Mean
		ss += float64(float64(d*d) * float64(m.counts[i]))
	}
	if s.Count > 1 {
		s.SD = math.Sqrt(ss / (n - 1))
	}
	s.Min, s.Max = m.values[0], m.values[len(m.values)-1]
	s.P5, s.P25, s.P50, s.P75, s.P95 = m.percentile(s.Count, 5), m.percentile(s.Count, 25),
		m.percentile(s.Count, 50), m.percentile(s.Count, 75), m.percentile(s.Count, 95)
	return s
}

// percentile is the p-th percentile by linear interpolation between closest
// ranks (Hyndman & Fan type 7, the default of R and NumPy): with the n
// values sorted as x[0..n-1] and h = (n−1)·p/100, it is
// x[⌊h⌋] + (h−⌊h⌋)·(x[⌊h⌋+1] − x[⌊h⌋]).
func (m multiset) percentile(n int64, p int64) float64 {
	num := (n - 1) * p // h = num/100 exactly
	lo := num / 100
	frac := float64(num%100) / 100
	a := m.at(lo)
	if frac == 0 {
		return a
	}
	b := m.at(lo + 1)
	return a + float64(frac*(b-a))
}

// at is the value of rank r (0-based) in the sorted multiset.
func (m multiset) at(r int64) float64 {
	for i, c := range m.counts {
		if r < c {
			return m.values[i]
		}
		r -= c
	}
	return m.values[len(m.values)-1]
}

// DecodeResult implements pipeline.Algorithm.
func (*Summary) DecodeResult(b []byte) (pipeline.Result, error) {
	var r SummaryResult
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: decode result: %w", SummaryName, err)
	}
	return &r, nil
}

// Summary implements pipeline.Result.
func (r *SummaryResult) Summary() string {
	if len(r.Channels) == 0 {
		return "no channels"
	}
	hours := 0
	var parts []string
	for _, c := range r.Channels {
		hours = max(hours, len(c.Hours))
		if len(parts) < 3 && c.Whole.Count > 0 {
			parts = append(parts, strings.TrimSpace(fmt.Sprintf("%s median %s %s", c.Name, plausible.Readable(c.Whole.P50), c.Unit)))
		}
	}
	s := fmt.Sprintf("%d channels, %d hours", len(r.Channels), hours)
	if len(parts) > 0 {
		s += ": " + strings.Join(parts, ", ")
	}
	var excl []string
	for _, c := range r.Channels {
		if t := c.ExclusionText(); t != "" {
			excl = append(excl, c.Name+" "+t)
		}
	}
	if len(excl) > 0 {
		s += "; " + strings.Join(excl, "; ")
	}
	return s
}

// ExclusionText says how many of the channel's samples were excluded as
// implausible and why, e.g. "312 samples excluded: 300 sensor off (0), 12
// outside plausible range 20–100 %"; "" when none was.
func (c ChannelSummary) ExclusionText() string {
	return exclusionText(c.Whole.SensorOff, c.Whole.OutOfRange, c.Plausible)
}

func exclusionText(off, out int64, r *plausible.Range) string {
	if off+out == 0 {
		return ""
	}
	var why []string
	if off > 0 {
		why = append(why, fmt.Sprintf("%d sensor off (0)", off))
	}
	if out > 0 {
		w := fmt.Sprintf("%d outside plausible range", out)
		if r != nil {
			w += " " + r.Text()
		}
		why = append(why, w)
	}
	return fmt.Sprintf("%d %s excluded: %s", off+out, plural(off+out, "sample", "samples"), strings.Join(why, ", "))
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// CSV implements pipeline.Result: one row per channel and span ("whole" or
// an hour); statistics are blank when the span has no valid sample. The
// samples excluded as implausible are counted by reason, next to the
// plausible range (blank when the channel has none).
func (r *SummaryResult) CSV() ([]byte, error) {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write([]string{"channel", "unit", "span", "hour", "count", "missing", "excluded_sensor_off", "excluded_out_of_range", "plausible_min", "plausible_max",
		"mean", "sd", "min", "p5", "p25", "p50", "p75", "p95", "max"})
	row := func(c ChannelSummary, span, hour string, s Stats) {
		lo, hi := "", ""
		if c.Plausible != nil {
			lo, hi = fmtFloat(c.Plausible.Min), fmtFloat(c.Plausible.Max)
		}
		rec := []string{c.Name, c.Unit, span, hour, strconv.FormatInt(s.Count, 10), strconv.FormatInt(s.Missing, 10),
			strconv.FormatInt(s.SensorOff, 10), strconv.FormatInt(s.OutOfRange, 10), lo, hi}
		for _, v := range []float64{s.Mean, s.SD, s.Min, s.P5, s.P25, s.P50, s.P75, s.P95, s.Max} {
			if s.Count == 0 {
				rec = append(rec, "")
			} else {
				rec = append(rec, fmtFloat(v))
			}
		}
		w.Write(rec)
	}
	for _, c := range r.Channels {
		row(c, "whole", "", c.Whole)
		for _, h := range c.Hours {
			row(c, "hour", strconv.FormatInt(h.Hour, 10), h.Stats)
		}
	}
	w.Flush()
	return buf.Bytes(), w.Error()
}

func fmtFloat(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
