// Package ecg holds the ECG algorithms: ecg.beats@1 (QRS detection, RR
// intervals and heart rate) and the block-wise chunking that other ECG
// algorithms reuse.
package ecg

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"runtime"
	"strconv"

	"github.com/pulsegrid/pulsegrid/algorithms/canon"
	"github.com/pulsegrid/pulsegrid/algorithms/pipeline"
	"github.com/pulsegrid/pulsegrid/algorithms/signal"
)

// BeatsName is the registered name of the beat detector.
const BeatsName = "ecg.beats@1"

// Block design. The record is analysed in blocks of BlockSeconds aligned to
// sample 0. Each block is detected from scratch on its samples plus
// LeadInSeconds before (detector warm-up, detections discarded) and
// LeadOutSeconds after (context for the decisions near its end), and owns
// the beats whose fiducial point falls inside it. A block's beats thus
// depend only on its own window of samples, so any grouping of whole blocks
// into chunks gives the same beats as the whole record in one chunk.
const (
	BlockSeconds        = 60
	LeadInSeconds       = 8
	LeadOutSeconds      = 3
	DefaultChunkSeconds = 600
	// MinRate and MaxRate bound the sample rates the detector accepts.
	MinRate = 100
	MaxRate = 2048
)

// Canonical encoding tags.
const (
	outputMagic = "PGBEATS1" // chunk output: beat samples relative to the task
	taskMagic   = "PGBEATT1" // Task.Aux: block geometry, relative to the task
	specMagic   = "PGBEATP1" // Spec.Aux: lead and record facts, server side
)

// BeatsParams are the parameters of ecg.beats@1.
type BeatsParams struct {
	// Lead selects the channel: "auto" (default), a name, or an index.
	Lead Lead `json:"lead"`
}

// ParseBeatsParams validates raw JSON parameters (nil or {} for defaults).
func ParseBeatsParams(raw json.RawMessage) (BeatsParams, error) {
	var p BeatsParams
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		return p, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return p, fmt.Errorf("%s parameters: %w (known: \"lead\")", BeatsName, err)
	}
	if dec.More() {
		return p, fmt.Errorf("%s parameters: trailing data after the JSON object", BeatsName)
	}
	return p, nil
}

// Canonical returns the canonical JSON of the parameters.
func (p BeatsParams) Canonical() []byte {
	b, _ := json.Marshal(p) // a struct of a string or an int cannot fail
	return b
}

// Beats is the ecg.beats@1 algorithm.
type Beats struct{}

// NewBeats returns the ecg.beats@1 algorithm.
func NewBeats() pipeline.Algorithm { return Beats{} }

// Name implements pipeline.Algorithm.
func (Beats) Name() string { return BeatsName }

// Describe implements pipeline.Algorithm.
func (Beats) Describe() pipeline.Info {
	return pipeline.Info{
		Name:  BeatsName,
		Title: "QRS detection and heart rate",
		Description: "Detects QRS complexes on one ECG lead (Hamilton–Tompkins style, " +
			"integer arithmetic, any rate from 100 to 1000 Hz) and reports beat times, " +
			"RR intervals, instantaneous and per-minute heart rate.",
		Inputs:        "ECG",
		DefaultParams: BeatsParams{}.Canonical(),
		Exports:       []string{"csv", "wfdb"},
	}
}

// Params implements pipeline.Algorithm.
func (Beats) Params(raw json.RawMessage) ([]byte, error) {
	p, err := ParseBeatsParams(raw)
	if err != nil {
		return nil, err
	}
	return p.Canonical(), nil
}

// Split implements pipeline.Algorithm.
func (b Beats) Split(sig *signal.Signal, params []byte, opt pipeline.SplitOptions) ([]pipeline.Chunk, error) {
	p, err := ParseBeatsParams(params)
	if err != nil {
		return nil, err
	}
	return SplitBeats(sig, p.Lead, BeatsName, p.Canonical(), opt)
}

// SplitChannels implements pipeline.ChannelPicker: only the chosen lead.
func (Beats) SplitChannels(meta *signal.Signal, params []byte) ([]int, error) {
	p, err := ParseBeatsParams(params)
	if err != nil {
		return nil, err
	}
	i, err := ChooseLead(meta, p.Lead)
	return []int{i}, err
}

// Run implements pipeline.Algorithm.
// RunReadsNoLabels implements pipeline.LabelBlind: Split picks the lead (Channels[0]) on the server.
func (Beats) RunReadsNoLabels() {}

func (Beats) Run(t *pipeline.Task, y pipeline.Yielder) ([]byte, error) { return RunBeats(t, y) }

// Merge implements pipeline.Algorithm.
func (Beats) Merge(params []byte, parts []pipeline.Part) (pipeline.Result, error) {
	return MergeBeats(parts)
}

// DecodeResult implements pipeline.Algorithm.
func (Beats) DecodeResult(b []byte) (pipeline.Result, error) { return DecodeBeatsResult(b) }

// geometry is the block layout of one chunk, in samples.
type geometry struct {
	block, leadIn, leadOut int64
}

func geometryFor(rate float64) geometry {
	return geometry{
		block:   int64(msToSamples(BlockSeconds*1000, rate)),
		leadIn:  int64(msToSamples(LeadInSeconds*1000, rate)),
		leadOut: int64(msToSamples(LeadOutSeconds*1000, rate)),
	}
}

// specInfo is what Merge needs to know about the record (Spec.Aux).
type specInfo struct {
	rate      float64
	lead      string
	leadIndex int
	samples   int64
}

func (s specInfo) encode() []byte {
	w := canon.NewWriter(specMagic)
	w.F64(s.rate)
	w.String(s.lead)
	w.Int(s.leadIndex)
	w.I64(s.samples)
	return w.Bytes()
}

func decodeSpecInfo(b []byte) (specInfo, error) {
	r := canon.NewReader(b, specMagic)
	s := specInfo{rate: r.F64(), lead: r.String(), leadIndex: r.Int(), samples: r.I64()}
	if err := r.Done(); err != nil {
		return s, fmt.Errorf("chunk spec aux: %w", err)
	}
	return s, nil
}

// SplitBeats cuts the chosen lead of sig into chunks of whole blocks for
// the beat detector. algorithm and params go into each Task unchanged, so
// that other ECG algorithms (ecg.hrv) can reuse RunBeats and MergeBeats
// under their own name.
func SplitBeats(sig *signal.Signal, lead Lead, algorithm string, params []byte, opt pipeline.SplitOptions) ([]pipeline.Chunk, error) {
	idx, err := ChooseLead(sig, lead)
	if err != nil {
		return nil, err
	}
	ch := sig.Channels[idx]
	if !(ch.Rate >= MinRate && ch.Rate <= MaxRate) {
		return nil, fmt.Errorf("lead %q: sample rate %v Hz is outside %d..%d Hz", ch.Name, ch.Rate, MinRate, MaxRate)
	}
	n := int64(len(ch.Samples))
	if n == 0 {
		return nil, fmt.Errorf("lead %q has no samples", ch.Name)
	}
	g := geometryFor(ch.Rate)
	nblocks := (n + g.block - 1) / g.block
	per := nblocks
	if !opt.Whole {
		secs := opt.ChunkSeconds
		if !(secs > 0) {
			secs = DefaultChunkSeconds
		}
		per = int64(secs/BlockSeconds + 0.5)
		per = max(1, min(per, nblocks))
	}
	info := specInfo{rate: ch.Rate, lead: ch.Name, leadIndex: idx, samples: n}.encode()
	var chunks []pipeline.Chunk
	for b0 := int64(0); b0 < nblocks; b0 += per {
		lo := b0 * g.block
		hi := min((b0+per)*g.block, n)
		from := max(0, lo-g.leadIn)
		to := min(n, hi+g.leadOut)
		w := canon.NewWriter(taskMagic)
		w.I64(g.block)
		w.I64(g.leadIn)
		w.I64(g.leadOut)
		w.I64(lo - from)
		w.I64(hi - from)
		c := ch
		c.Samples = ch.Samples[from:to:to]
		chunks = append(chunks, pipeline.Chunk{
			Spec: pipeline.Spec{Index: len(chunks), Lo: lo, Hi: hi, Offset: from, Aux: info},
			Task: pipeline.Task{
				Algorithm: algorithm,
				Params:    params,
				Aux:       w.Bytes(),
				Channels:  []signal.Channel{c},
			},
		})
	}
	return chunks, nil
}

// RunBeats detects the beats of one chunk: every block it owns, each from
// scratch on its own window. The output holds the beat samples relative to
// the first sample of the task.
func RunBeats(t *pipeline.Task, y pipeline.Yielder) ([]byte, error) {
	if len(t.Channels) != 1 {
		return nil, fmt.Errorf("beats task: %d channels, want 1", len(t.Channels))
	}
	beats, err := detectOwned(&t.Channels[0], t.Aux, y, "beats task")
	if err != nil {
		return nil, err
	}
	w := canon.NewWriter(outputMagic)
	w.I64s(beats)
	return w.Bytes(), nil
}

// detectOwned detects the beats of the blocks a task owns (its Aux is the
// block geometry SplitBeats writes) on channel ch, and returns their
// samples relative to the first sample of the task. what names the task in
// errors.
func detectOwned(ch *signal.Channel, aux []byte, y pipeline.Yielder, what string) ([]int64, error) {
	return detectBlocks([]signal.Channel{*ch}, aux, y, what, false)
}

// detectOwned2 is detectOwned with the ecg.beats@2 detector: chs[0] is the
// lead, chs[1] (if present, same rate and length) the second lead.
func detectOwned2(chs []signal.Channel, aux []byte, y pipeline.Yielder, what string) ([]int64, error) {
	if len(chs) < 1 || len(chs) > 2 {
		return nil, fmt.Errorf("%s: %d channels, want 1 or 2", what, len(chs))
	}
	if len(chs) == 2 && (chs[1].Rate != chs[0].Rate || len(chs[1].Samples) != len(chs[0].Samples)) {
		return nil, fmt.Errorf("%s: channel 1 has %d samples at %v Hz, want %d at %v Hz", what, len(chs[1].Samples), chs[1].Rate, len(chs[0].Samples), chs[0].Rate)
	}
	return detectBlocks(chs, aux, y, what, true)
}

// detectBlocks is detectOwned and detectOwned2: v2 selects the ecg.beats@2
// detector, which also reads chs[1] when there is one.
func detectBlocks(chs []signal.Channel, aux []byte, y pipeline.Yielder, what string, v2 bool) ([]int64, error) {
	ch := &chs[0]
	if !(ch.Rate >= MinRate && ch.Rate <= MaxRate) {
		return nil, fmt.Errorf("%s: sample rate %v Hz is outside %d..%d Hz", what, ch.Rate, MinRate, MaxRate)
	}
	r := canon.NewReader(aux, taskMagic)
	block, leadIn, leadOut, lo, hi := r.I64(), r.I64(), r.I64(), r.I64(), r.I64()
	if err := r.Done(); err != nil {
		return nil, fmt.Errorf("%s aux: %w", what, err)
	}
	n := int64(len(ch.Samples))
	if g := geometryFor(ch.Rate); block != g.block || leadIn != g.leadIn || leadOut != g.leadOut {
		return nil, fmt.Errorf("%s aux: block geometry %d/%d/%d, want %d/%d/%d for %v Hz",
			what, block, leadIn, leadOut, g.block, g.leadIn, g.leadOut, ch.Rate)
	}
	if lo < 0 || hi <= lo || hi > n {
		return nil, fmt.Errorf("%s aux: owned samples [%d, %d) do not fit in %d samples", what, lo, hi, n)
	}
	det := newDetector(ch.Rate)
	pad := det.pad()
	ws := workspaces.Get().(*workspace)
	defer workspaces.Put(ws)
	var ws2 *workspace
	if v2 && len(chs) > 1 {
		ws2 = workspaces.Get().(*workspace)
		defer workspaces.Put(ws2)
	}
	total := (hi - lo + block - 1) / block
	var beats []int64
	for k := int64(0); k < total; k++ {
		if err := y.Yield(k, total); err != nil {
			return nil, err
		}
		bs := lo + k*block
		be := min(bs+block, hi)
		from := max(0, bs-leadIn)
		to := min(n, be+leadOut)
		var missing []bool
		ws.x, missing = toInt(ws.x, pad, ws.miss, ch.Samples[from:to], ch.Gain, ch.Unit)
		if missing != nil {
			ws.miss = missing
		}
		var found []int
		switch {
		case !v2:
			found = det.detect(ws, missing)
		case ws2 == nil:
			found = det.detect2(ws, missing, nil, nil)
		default:
			var missing2 []bool
			ws2.x, missing2 = toInt(ws2.x, pad, ws2.miss, chs[1].Samples[from:to], chs[1].Gain, chs[1].Unit)
			if missing2 != nil {
				ws2.miss = missing2
			}
			found = det.detect2(ws, missing, ws2, missing2)
		}
		for _, f := range found {
			if s := from + int64(f); s >= bs && s < be {
				beats = append(beats, s)
			}
		}
	}
	if err := y.Yield(total, total); err != nil {
		return nil, err
	}
	return beats, nil
}

// toInt converts physical samples to integers: ADC units when the gain is
// known, else microvolts (thousandths of the unit if it is not a volt
// unit), rounded half away from zero and clamped to ±2^24. It returns dst
// resized to pad+len(v) with the integers after pad unused slots. A
// missing sample repeats the previous value of the window (0 at its
// start), so a gap looks like a flat line; the returned miss marks them
// (nil when none is missing; miss's memory is reused if it is big enough).
func toInt(dst []int32, pad int, miss []bool, v []float64, gain float64, unit string) ([]int32, []bool) {
	scale := gain
	// An unknown, absurd or infinite gain falls back to the unit's scale:
	// 0 × Inf would be NaN, whose integer conversion differs by platform.
	if !(scale > 0) || scale > 1e12 {
		switch unit {
		case "uV", "µV":
			scale = 1
		case "V":
			scale = 1e6
		default:
			scale = 1000
		}
	}
	if cap(dst) < pad+len(v) {
		dst = make([]int32, pad+len(v))
	}
	dst = dst[:pad+len(v)]
	out := dst[pad:]
	out = out[:len(v)]
	var nans bool
	if runtime.GOARCH == "wasm" {
		nans = roundSelects(out, v, scale)
	} else {
		nans = roundBranches(out, v, scale)
	}
	if !nans {
		return dst, nil
	}
	if cap(miss) < len(v) {
		miss = make([]bool, len(v))
	}
	miss = miss[:len(v)]
	var prev int32
	for i, s := range v {
		miss[i] = s != s
		if s != s {
			out[i] = prev
		}
		prev = out[i]
	}
	return dst, miss
}

// clampLimit bounds toInt's integers.
const clampLimit = 1 << 24

// roundBranches and roundSelects set out[i] to v[i]*scale clamped to
// ±clampLimit and rounded half away from zero, and report whether some
// v[i] is NaN (whose out[i] they leave arbitrary: toInt sets it). They
// give the same integers (TestRoundKernelsAgree); toInt uses the first
// natively, where its branches are predicted and cost nothing, and the
// second under wasm, where every taken branch goes through the function's
// block dispatcher and a float comparison that chooses a float compiles
// to a branch.
//
// Clamping before rounding gives what clamping the rounded value would
// (the limits are integers). The truncating conversion and the exact
// difference f-t round half away from zero as math.Round does, without
// its bit manipulation; the increments compile to selects. (Not the
// builtin min and max: for floats they are runtime calls on wasm.)
func roundBranches(out []int32, v []float64, scale float64) bool {
	out = out[:len(v)]
	missing := false
	for i, s := range v {
		if s != s {
			missing = true
			continue
		}
		f := float64(s * scale) // rounded here: no fused multiply-add with the subtraction below
		if f > clampLimit {
			f = clampLimit
		}
		if f < -clampLimit {
			f = -clampLimit
		}
		t := int32(f)
		r := f - float64(t)
		var up, down int32
		if r >= 0.5 {
			up = 1
		}
		if r <= -0.5 {
			down = 1
		}
		out[i] = t + up - down
	}
	return missing
}

// roundSelects is roundBranches without a branch in the loop: the clamp
// chooses among integers. Where f is beyond the limits (or NaN), t and r
// are whatever the platform's conversion gives (it differs between amd64
// and wasm) and the selects replace the result; everywhere else they are
// the exact truncation and remainder.
func roundSelects(out []int32, v []float64, scale float64) bool {
	out = out[:len(v)]
	var nans int
	for i, s := range v {
		f := float64(s * scale) // rounded here: no fused multiply-add with the subtraction below
		t := int64(f)
		r := f - float64(t)
		var up, down int64
		if r >= 0.5 {
			up = 1
		}
		if r <= -0.5 {
			down = 1
		}
		x := t + up - down
		if f > clampLimit {
			x = clampLimit
		}
		if f < -clampLimit {
			x = -clampLimit
		}
		var nan int
		if s != s {
			nan = 1
		}
		nans += nan
		out[i] = int32(x)
	}
	return nans > 0
}

// DecodeBeatsOutput parses a chunk output: beat samples relative to the
// first sample of the chunk's task.
func DecodeBeatsOutput(b []byte) ([]int64, error) {
	r := canon.NewReader(b, outputMagic)
	v := r.I64s()
	if err := r.Done(); err != nil {
		return nil, fmt.Errorf("beats output: %w", err)
	}
	return v, nil
}

// MergeBeats joins chunk outputs (in chunk order) into the result. Blocks
// are detected independently, so the same complex can be found on both
// sides of a block boundary with slightly different fiducials: a beat
// closer than the refractory period to the previous one is dropped. The
// rule is applied to the concatenation of all blocks, so it gives the same
// answer for any chunking.
func MergeBeats(parts []pipeline.Part) (*BeatsResult, error) {
	if len(parts) == 0 {
		return nil, fmt.Errorf("merge beats: no chunks")
	}
	info, err := decodeSpecInfo(parts[0].Spec.Aux)
	if err != nil {
		return nil, fmt.Errorf("merge beats: chunk 0: %w", err)
	}
	refr := int64(newDetector(info.rate).refr)
	var beats []int64
	next := int64(0)
	for i, p := range parts {
		if p.Spec.Lo != next {
			return nil, fmt.Errorf("merge beats: chunk %d starts at sample %d, want %d (chunks missing or out of order)", i, p.Spec.Lo, next)
		}
		next = p.Spec.Hi
		rel, err := DecodeBeatsOutput(p.Output)
		if err != nil {
			return nil, fmt.Errorf("merge beats: chunk %d: %w", i, err)
		}
		prevInChunk := int64(math.MinInt64)
		for _, r := range rel {
			s := r + p.Spec.Offset
			if s < p.Spec.Lo || s >= p.Spec.Hi || s <= prevInChunk {
				return nil, fmt.Errorf("merge beats: chunk %d: beat at sample %d outside [%d, %d) or out of order", i, s, p.Spec.Lo, p.Spec.Hi)
			}
			prevInChunk = s
			if len(beats) > 0 && s-beats[len(beats)-1] < refr {
				continue
			}
			beats = append(beats, s)
		}
	}
	if next != info.samples {
		return nil, fmt.Errorf("merge beats: chunks end at sample %d, the lead has %d", next, info.samples)
	}
	return NewBeatsResult(beats, info.rate, info.lead, info.leadIndex, info.samples), nil
}

// BeatsResult is the merged result of ecg.beats@1.
type BeatsResult struct {
	Algorithm string  `json:"algorithm"`
	Lead      string  `json:"lead"`       // channel analysed
	LeadIndex int     `json:"lead_index"` // its index in the signal
	Rate      float64 `json:"rate"`       // samples per second of the lead
	Samples   int64   `json:"samples"`    // length of the lead in samples
	Count     int     `json:"count"`      // number of beats
	// MeanHR is 60 × (beats − 1) / (time from first to last beat), bpm.
	MeanHR float64 `json:"mean_hr"`
	Beats  []Beat  `json:"beats"`
	// PerMinute is the heart rate of each minute of the record.
	PerMinute []MinuteHR `json:"per_minute"`
}

// Beat is one detected QRS complex.
type Beat struct {
	Sample int64   `json:"sample"` // fiducial point, sample index of the lead
	Time   float64 `json:"time"`   // seconds from the start of the record
	RR     float64 `json:"rr"`     // seconds since the previous beat, 0 for the first
	HR     float64 `json:"hr"`     // 60/RR in bpm, 0 for the first
}

// MinuteHR is the heart rate over one minute of the record.
type MinuteHR struct {
	Minute int `json:"minute"` // 0-based minute of the record
	Beats  int `json:"beats"`  // beats whose fiducial falls in the minute
	// HR is 60 / mean RR of the intervals that end in the minute, bpm; 0
	// when no interval ends in it.
	HR float64 `json:"hr"`
}

// NewBeatsResult derives RR intervals and heart rates from beat samples.
func NewBeatsResult(beats []int64, rate float64, lead string, leadIndex int, samples int64) *BeatsResult {
	res := &BeatsResult{
		Algorithm: BeatsName, Lead: lead, LeadIndex: leadIndex, Rate: rate, Samples: samples,
		Count: len(beats), Beats: make([]Beat, len(beats)),
	}
	perMin := msToSamples(60000, rate)
	nmin := int((samples + int64(perMin) - 1) / int64(perMin))
	res.PerMinute = make([]MinuteHR, nmin)
	rrSum := make([]int64, nmin)
	rrN := make([]int, nmin)
	for i, s := range beats {
		b := Beat{Sample: s, Time: float64(s) / rate}
		m := int(s / int64(perMin))
		if m < nmin {
			res.PerMinute[m].Beats++
		}
		if i > 0 {
			d := s - beats[i-1]
			b.RR = float64(d) / rate
			b.HR = 60 * rate / float64(d)
			if m < nmin {
				rrSum[m] += d
				rrN[m]++
			}
		}
		res.Beats[i] = b
	}
	for m := range res.PerMinute {
		res.PerMinute[m].Minute = m
		if rrN[m] > 0 {
			res.PerMinute[m].HR = 60 * rate * float64(rrN[m]) / float64(rrSum[m])
		}
	}
	if len(beats) > 1 {
		span := beats[len(beats)-1] - beats[0]
		res.MeanHR = 60 * rate * float64(len(beats)-1) / float64(span)
	}
	return res
}

// DecodeBeatsResult parses a stored ecg.beats@1 result.
func DecodeBeatsResult(b []byte) (*BeatsResult, error) {
	var r BeatsResult
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("decode %s result: %w", BeatsName, err)
	}
	if r.Algorithm != BeatsName {
		return nil, fmt.Errorf("decode %s result: algorithm %q", BeatsName, r.Algorithm)
	}
	return &r, nil
}

// Summary implements pipeline.Result.
func (r *BeatsResult) Summary() string {
	return fmt.Sprintf("%d beats, mean HR %.0f bpm (lead %s)", r.Count, r.MeanHR, r.Lead)
}

// CSV implements pipeline.Result: one row per beat.
func (r *BeatsResult) CSV() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString("sample,time_s,rr_s,hr_bpm\n")
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	for _, b := range r.Beats {
		// The first beat has no interval before it (RR 0): its rr and hr
		// cells are empty, not 0, which a spreadsheet would average.
		rr, hr := "", ""
		if b.RR > 0 {
			rr, hr = f(b.RR), f(b.HR)
		}
		fmt.Fprintf(&buf, "%d,%s,%s,%s\n", b.Sample, f(b.Time), rr, hr)
	}
	return buf.Bytes(), nil
}

// Annotations implements pipeline.Annotated: a normal-beat (N) annotation
// at each detected beat.
func (r *BeatsResult) Annotations() ([]signal.Annotation, float64) {
	out := make([]signal.Annotation, len(r.Beats))
	for i, b := range r.Beats {
		out[i] = signal.Annotation{Sample: b.Sample, Code: signal.CodeNormal}
	}
	return out, r.Rate
}
