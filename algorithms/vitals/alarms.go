package vitals

import (
	"bytes"
	"cmp"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/pulsegrid/pulsegrid/algorithms/canon"
	"github.com/pulsegrid/pulsegrid/algorithms/pipeline"
	"github.com/pulsegrid/pulsegrid/algorithms/signal"
	"github.com/pulsegrid/pulsegrid/algorithms/template/plausible"
)

// AlarmsName is the registered name of the alarms algorithm.
const AlarmsName = "vitals.alarms@1"

// Alarms is vitals.alarms@1: episodes during which a channel meets a rule's
// condition (e.g. HR > 120 bpm) for at least the rule's minimum duration.
//
// Each sample stands for the span [t, t + 1/rate). An episode is a maximal
// run of samples meeting the condition; missing samples inside a run are
// tolerated while the missing stretch lasts at most MaxGapS seconds, and any
// valid sample that does not meet the condition ends the run. The episode
// lasts from its first meeting sample to one sample period after its last.
//
// Chunking: a chunk outputs its runs together with the missing stretch
// before the first and after the last, and whether a valid non-meeting
// sample lies there; Merge joins runs across chunk boundaries by the same
// rule and only then applies the minimum duration, so an episode that
// spans a boundary is reported once, exactly as in a whole-record run.
type Alarms struct{}

// NewAlarms returns the vitals.alarms@1 algorithm.
func NewAlarms() *Alarms { return &Alarms{} }

// Rule is one alarm condition.
type Rule struct {
	// Name labels the episodes, e.g. "tachycardia".
	Name string `json:"name"`
	// Channels are aliases of the channel to watch, tried in order; names
	// match ignoring case, spaces, '_' and '-'. A rule whose channel is
	// absent is skipped and listed as such in the result.
	Channels []string `json:"channels"`
	// Op is one of <, <=, >, >=: the condition is "value Op Threshold".
	Op        string  `json:"op"`
	Threshold float64 `json:"threshold"`
	// MinDurationS is the shortest episode reported, in seconds.
	MinDurationS float64 `json:"min_duration_s"`
	// MaxGapS is the longest stretch of missing samples tolerated inside an
	// episode, in seconds.
	MaxGapS float64 `json:"max_gap_s"`
	// ValidMin and ValidMax bound the plausible values: a value outside
	// [ValidMin, ValidMax] is an artefact (a monitor logs 0 mmHg when the
	// arterial line is off) and counts as missing. Both 0 (the default):
	// the plausible range of the watched channel's kind of vital sign,
	// the one vitals.summary@1 and the icu-vitals template use
	// (plausible.Lookup), or no bound when the channel has none.
	ValidMin float64 `json:"valid_min"`
	ValidMax float64 `json:"valid_max"`
}

// AlarmsParams are the parameters of vitals.alarms@1.
type AlarmsParams struct {
	Rules []Rule `json:"rules"`
}

// DefaultRules are the clinical defaults: tachycardia (HR > 120 bpm for
// 30 s), bradycardia (HR < 40 bpm for 30 s), desaturation (SpO2 < 90 % for
// 15 s) and hypotension (systolic arterial pressure < 90 mmHg for 60 s).
// Up to 60 s of missing data is tolerated inside an episode, so that one
// missing sample of a minute-by-minute log does not split it. Implausible
// values (outside plausible.Lookup's range for the channel: HR 10–300
// bpm, SpO2 20–100 %, arterial pressure 20–300 mmHg) are artefacts and
// count as missing.
func DefaultRules() []Rule {
	hr := []string{"HR", "Heart Rate", "HeartRate"}
	return []Rule{
		{Name: "tachycardia", Channels: hr, Op: ">", Threshold: 120, MinDurationS: 30, MaxGapS: 60},
		{Name: "bradycardia", Channels: hr, Op: "<", Threshold: 40, MinDurationS: 30, MaxGapS: 60},
		{Name: "desaturation", Channels: []string{"SpO2", "SaO2", "%SpO2"}, Op: "<", Threshold: 90, MinDurationS: 15, MaxGapS: 60},
		{Name: "hypotension", Channels: []string{"ABPSys", "ABP Sys", "ART Sys", "SBP", "ABP Systolic"}, Op: "<", Threshold: 90, MinDurationS: 60, MaxGapS: 60},
	}
}

// plausibleRange is the range a rule treats as plausible on a channel
// named name in unit: the rule's own when it sets one, else the channel's
// kind's (plausible.Lookup); ok is false for no bound.
func (r Rule) plausibleRange(name, unit string) (plausible.Range, bool) {
	if r.ValidMin != 0 || r.ValidMax != 0 {
		return plausible.Range{Min: r.ValidMin, Max: r.ValidMax, Unit: unit}, true
	}
	return plausible.Lookup(name, unit)
}

// Name implements pipeline.Algorithm.
func (*Alarms) Name() string { return AlarmsName }

// Describe implements pipeline.Algorithm.
func (a *Alarms) Describe() pipeline.Info {
	p, _ := a.Params(nil)
	return pipeline.Info{
		Name:  AlarmsName,
		Title: "Vital-sign alarm episodes",
		Description: "Rule-based episodes (tachycardia, bradycardia, desaturation, hypotension by default): " +
			"a channel beyond a threshold for at least a minimum duration, tolerating short missing stretches.",
		Inputs:        "vitals",
		DefaultParams: p,
		Exports:       []string{"csv"},
	}
}

// Params implements pipeline.Algorithm.
func (*Alarms) Params(raw json.RawMessage) ([]byte, error) {
	var p AlarmsParams
	if err := decodeStrict(raw, &p); err != nil {
		return nil, fmt.Errorf("%s params: %w", AlarmsName, err)
	}
	if p.Rules == nil {
		p.Rules = DefaultRules()
	}
	names := map[string]bool{}
	for i, r := range p.Rules {
		switch {
		case r.Name == "":
			return nil, fmt.Errorf("%s params: rule %d has no name", AlarmsName, i)
		case names[r.Name]:
			return nil, fmt.Errorf("%s params: rule name %q used twice", AlarmsName, r.Name)
		case len(r.Channels) == 0:
			return nil, fmt.Errorf("%s params: rule %q names no channel", AlarmsName, r.Name)
		case r.Op != "<" && r.Op != "<=" && r.Op != ">" && r.Op != ">=":
			return nil, fmt.Errorf("%s params: rule %q has op %q, want one of <, <=, >, >=", AlarmsName, r.Name, r.Op)
		case math.IsNaN(r.Threshold) || math.IsInf(r.Threshold, 0):
			return nil, fmt.Errorf("%s params: rule %q threshold %v is not a number", AlarmsName, r.Name, r.Threshold)
		case !(r.MinDurationS >= 0) || math.IsInf(r.MinDurationS, 0):
			return nil, fmt.Errorf("%s params: rule %q min_duration_s %v must be >= 0", AlarmsName, r.Name, r.MinDurationS)
		case !(r.MaxGapS >= 0) || math.IsInf(r.MaxGapS, 0):
			return nil, fmt.Errorf("%s params: rule %q max_gap_s %v must be >= 0", AlarmsName, r.Name, r.MaxGapS)
		case math.IsNaN(r.ValidMin) || math.IsNaN(r.ValidMax) || r.ValidMin > r.ValidMax:
			return nil, fmt.Errorf("%s params: rule %q needs valid_min <= valid_max, got %v and %v", AlarmsName, r.Name, r.ValidMin, r.ValidMax)
		}
		for _, c := range r.Channels {
			if strings.TrimSpace(c) == "" {
				return nil, fmt.Errorf("%s params: rule %q has an empty channel alias", AlarmsName, r.Name)
			}
		}
		names[r.Name] = true
	}
	return json.Marshal(p)
}

// resolve finds the channel of a rule among names: the first alias, in
// order, that some channel matches; -1 if none.
func (r Rule) resolve(names []string) int {
	for _, a := range r.Channels {
		for i, n := range names {
			if normName(n) == normName(a) {
				return i
			}
		}
	}
	return -1
}

// meets tells whether a valid value meets the rule's condition.
func (r Rule) meets(v float64) bool {
	switch r.Op {
	case "<":
		return v < r.Threshold
	case "<=":
		return v <= r.Threshold
	case ">":
		return v > r.Threshold
	default:
		return v >= r.Threshold
	}
}

// worse tells whether a is more extreme than b in the rule's direction.
func (r Rule) worse(a, b float64) bool {
	if r.Op == "<" || r.Op == "<=" {
		return a < b
	}
	return a > b
}

// Split implements pipeline.Algorithm. A task carries only the channels
// some rule uses.
func (*Alarms) Split(sig *signal.Signal, params []byte, opt pipeline.SplitOptions) ([]pipeline.Chunk, error) {
	var p AlarmsParams
	if err := json.Unmarshal(params, &p); err != nil {
		return nil, fmt.Errorf("%s: params: %w", AlarmsName, err)
	}
	names := make([]string, len(sig.Channels))
	for i, c := range sig.Channels {
		names[i] = c.Name
	}
	used := make([]bool, len(names))
	for _, r := range p.Rules {
		if i := r.resolve(names); i >= 0 {
			used[i] = true
		}
	}
	var chans []int
	task := make([]int, len(names)) // record channel -> task channel
	for i, u := range used {
		if u {
			task[i] = len(chans)
			chans = append(chans, i)
		}
	}
	if len(chans) == 0 {
		return nil, fmt.Errorf("%s: no rule applies to this record (channels %s)", AlarmsName, strings.Join(names, ", "))
	}
	// The rules resolve their aliases here, on the server, which sees the
	// labels; a volunteer gets each rule's condition and the index of its
	// channel in the task, never an alias or a label.
	tp := alarmsTask{Rules: make([]taskRule, len(p.Rules))}
	for k, r := range p.Rules {
		tr := taskRule{Channel: -1, Op: r.Op, Threshold: r.Threshold, MaxGapS: r.MaxGapS, ValidMin: r.ValidMin, ValidMax: r.ValidMax}
		if i := r.resolve(names); i >= 0 {
			tr.Channel = task[i]
			tr.ValidMin, tr.ValidMax = 0, 0
			if pr, ok := r.plausibleRange(names[i], sig.Channels[i].Unit); ok {
				tr.ValidMin, tr.ValidMax, tr.Bounded = pr.Min, pr.Max, true
			}
		}
		tp.Rules[k] = tr
	}
	b, err := json.Marshal(tp)
	if err != nil {
		return nil, err
	}
	return split(AlarmsName, sig, chans, b, opt)
}

// RunReadsNoLabels implements pipeline.LabelBlind: Split resolves every
// rule's channel, Run reads only the task's rule conditions and samples,
// and Merge names channels from the specs.
func (*Alarms) RunReadsNoLabels() {}

// alarmsTask is the parameters a task carries: what Run needs of each
// rule, in the analysis's rule order.
type alarmsTask struct {
	Rules []taskRule `json:"rules"`
}

// taskRule is one rule as a volunteer sees it: the index of its channel in
// the task (-1 when the record has none of its aliases) and its condition.
type taskRule struct {
	Channel   int     `json:"channel"`
	Op        string  `json:"op"`
	Threshold float64 `json:"threshold"`
	MaxGapS   float64 `json:"max_gap_s"`
	// Bounded says whether [ValidMin, ValidMax] bounds the plausible
	// values (Split resolved the rule's or the channel's range).
	Bounded  bool    `json:"bounded"`
	ValidMin float64 `json:"valid_min"`
	ValidMax float64 `json:"valid_max"`
}

// rule is the condition as a Rule, for the scanning shared with Merge.
func (tr taskRule) rule() Rule {
	return Rule{Op: tr.Op, Threshold: tr.Threshold, MaxGapS: tr.MaxGapS}
}

// rng is the plausible range, or nil for none.
func (tr taskRule) rng() *plausible.Range {
	if !tr.Bounded {
		return nil
	}
	return &plausible.Range{Min: tr.ValidMin, Max: tr.ValidMax}
}

// run is a stretch of samples meeting a rule: first and last meeting sample
// (record indices) and the most extreme value.
type run struct {
	First, Last int64
	Extreme     float64
}

// scan is the condition history of one rule over a span of samples. With no
// runs, LeadMissing/LeadBreak describe the whole span.
type scan struct {
	// LeadMissing missing samples precede the first run, and LeadBreak says
	// whether a valid non-meeting sample does.
	LeadMissing int64
	LeadBreak   bool
	Runs        []run
	// TrailMissing and TrailBreak are the same after the last run.
	TrailMissing int64
	TrailBreak   bool
}

// joins says whether two runs separated by missing samples and possibly a
// valid non-meeting sample form one episode.
func joins(missing int64, broken bool, rate, maxGap float64) bool {
	return !broken && float64(missing)/rate <= maxGap
}

// appendScan appends the history b (which follows a) to a: the one rule by
// which chunks are joined and by which a single chunk is scanned.
func appendScan(a *scan, b scan, r Rule, rate float64) {
	if len(b.Runs) == 0 {
		if len(a.Runs) == 0 {
			a.LeadMissing += b.LeadMissing
			a.LeadBreak = a.LeadBreak || b.LeadBreak
		} else {
			a.TrailMissing += b.LeadMissing
			a.TrailBreak = a.TrailBreak || b.LeadBreak
		}
		return
	}
	if len(a.Runs) == 0 {
		a.LeadMissing += b.LeadMissing
		a.LeadBreak = a.LeadBreak || b.LeadBreak
		a.Runs = append(a.Runs, b.Runs...)
	} else if last := &a.Runs[len(a.Runs)-1]; joins(a.TrailMissing+b.LeadMissing, a.TrailBreak || b.LeadBreak, rate, r.MaxGapS) {
		last.Last = b.Runs[0].Last
		if r.worse(b.Runs[0].Extreme, last.Extreme) {
			last.Extreme = b.Runs[0].Extreme
		}
		a.Runs = append(a.Runs, b.Runs[1:]...)
	} else {
		a.Runs = append(a.Runs, b.Runs...)
	}
	a.TrailMissing, a.TrailBreak = b.TrailMissing, b.TrailBreak
}

// excluded counts the samples a rule treated as missing because they lay
// outside its plausible range, by reason.
type excluded struct{ SensorOff, OutOfRange int64 }

// scanSamples is the history of one rule over samples whose first has
// record index first; a value outside rng (when not nil) counts as missing
// and in ex.
//
// It gives what appending each sample's own one-sample scan with
// appendScan would (scanSamplesBySample in the tests is that), in one
// loop whose common cases are a few selects: the samples are classified
// with the rule's operator decoded once, not compared as a string per
// sample, and no scan value is built or copied per sample (under wasm
// each sample's call and struct copy cost more than the comparisons).
func scanSamples(samples []float64, first int64, r Rule, rng *plausible.Range, rate float64, y pipeline.Yielder, done *int64, total int64, ex *excluded) (scan, error) {
	var s scan
	// lo, hi: the plausible range, or (-Inf, +Inf) when there is none,
	// which every non-missing value is inside (Classify's test).
	lo, hi := math.Inf(-1), math.Inf(1)
	if rng != nil {
		lo, hi = rng.Min, rng.Max
	}
	// meets's cases: < and <= look below the threshold, anything else
	// above; only < and > are strict (an unknown op means >=).
	below := r.Op == "<" || r.Op == "<="
	orEqual := r.Op != "<" && r.Op != ">"
	th := r.Threshold
	// missing and broken are the pending LeadMissing/LeadBreak while
	// there is no run, TrailMissing/TrailBreak after one.
	var missing int64
	var broken bool
	var sensorOff, outOfRange int64
	for start := 0; start < len(samples); start += yieldEvery {
		part := samples[start:min(start+yieldEvery, len(samples))]
		for i, v := range part {
			// Not (v >= lo && v <= hi) is what Classify excludes; a NaN
			// (missing) fails it too.
			if !(v >= lo && v <= hi) {
				missing++
				if v == v && rng != nil {
					if v == 0 {
						sensorOff++
					} else {
						outOfRange++
					}
				}
				continue
			}
			var meets bool
			if below {
				meets = v < th || (orEqual && v == th)
			} else {
				meets = v > th || (orEqual && v == th)
			}
			if !meets {
				broken = true
				continue
			}
			idx := first + int64(start+i)
			if len(s.Runs) == 0 {
				s.LeadMissing, s.LeadBreak = missing, broken
				s.Runs = append(s.Runs, run{First: idx, Last: idx, Extreme: v})
			} else if last := &s.Runs[len(s.Runs)-1]; joins(missing, broken, rate, r.MaxGapS) {
				last.Last = idx
				if r.worse(v, last.Extreme) {
					last.Extreme = v
				}
			} else {
				s.Runs = append(s.Runs, run{First: idx, Last: idx, Extreme: v})
			}
			missing, broken = 0, false
		}
		if end := start + len(part); end%yieldEvery == 0 {
			if err := y.Yield(*done+int64(end), total); err != nil {
				return scan{}, err
			}
		}
	}
	if len(s.Runs) == 0 {
		s.LeadMissing, s.LeadBreak = missing, broken
	} else {
		s.TrailMissing, s.TrailBreak = missing, broken
	}
	ex.SensorOff += sensorOff
	ex.OutOfRange += outOfRange
	*done += int64(len(samples))
	return s, nil
}

// alarmsMagic tags version 3 of the alarms chunk output (version 1
// carried each watched channel's label and unit, version 2 no counts of
// implausible samples).
const alarmsMagic = "PGVALRC3"

// Run implements pipeline.Algorithm.
func (*Alarms) Run(t *pipeline.Task, y pipeline.Yielder) ([]byte, error) {
	first, err := checkTask(AlarmsName, t)
	if err != nil {
		return nil, err
	}
	var p alarmsTask
	if err := json.Unmarshal(t.Params, &p); err != nil {
		return nil, fmt.Errorf("%s: task params: %w", AlarmsName, err)
	}
	var total int64
	for _, c := range t.Channels {
		total += int64(len(c.Samples))
	}
	total *= int64(max(len(p.Rules), 1))
	var done int64
	w := canon.NewWriter(alarmsMagic)
	w.U32(uint32(len(p.Rules)))
	for k, tr := range p.Rules {
		ci := tr.Channel
		if ci < -1 || ci >= len(t.Channels) {
			return nil, fmt.Errorf("%s: task rule %d watches channel %d of %d", AlarmsName, k, ci, len(t.Channels))
		}
		w.I64(int64(ci))
		if ci < 0 {
			continue
		}
		c := &t.Channels[ci]
		w.F64(c.Rate)
		if tr.Bounded && !(tr.ValidMin <= tr.ValidMax) {
			return nil, fmt.Errorf("%s: task rule %d: plausible range %v..%v is empty", AlarmsName, k, tr.ValidMin, tr.ValidMax)
		}
		var ex excluded
		s, err := scanSamples(c.Samples, first[ci], tr.rule(), tr.rng(), c.Rate, y, &done, total, &ex)
		if err != nil {
			return nil, err
		}
		writeScan(w, s)
		w.I64(ex.SensorOff)
		w.I64(ex.OutOfRange)
		if err := y.Yield(done, total); err != nil {
			return nil, err
		}
	}
	return w.Bytes(), nil
}

func writeScan(w *canon.Writer, s scan) {
	w.I64(s.LeadMissing)
	w.Bool(s.LeadBreak)
	w.U32(uint32(len(s.Runs)))
	for _, r := range s.Runs {
		w.I64(r.First)
		w.I64(r.Last)
		w.F64(r.Extreme)
	}
	w.I64(s.TrailMissing)
	w.Bool(s.TrailBreak)
}

func readScan(r *canon.Reader) scan {
	s := scan{LeadMissing: r.I64(), LeadBreak: r.Bool()}
	n := r.U32()
	for i := uint32(0); i < n && r.Err() == nil; i++ {
		s.Runs = append(s.Runs, run{First: r.I64(), Last: r.I64(), Extreme: r.F64()})
	}
	s.TrailMissing, s.TrailBreak = r.I64(), r.Bool()
	return s
}

// Episode is one alarm episode; times are seconds from the record start.
type Episode struct {
	Rule      string  `json:"rule"`
	Channel   string  `json:"channel"`
	Unit      string  `json:"unit"`
	StartS    float64 `json:"start_s"`
	EndS      float64 `json:"end_s"`
	DurationS float64 `json:"duration_s"`
	// Extreme is the highest value (for > and >=) or the lowest (for < and
	// <=) during the episode.
	Extreme float64 `json:"extreme"`
}

// RuleStatus says which channel a rule watched ("" when the record has
// none of its aliases), how many episodes it found, and how many of the
// channel's samples it treated as missing because they were implausible.
type RuleStatus struct {
	Rule     string `json:"rule"`
	Channel  string `json:"channel"`
	Episodes int    `json:"episodes"`
	// Plausible is the range outside which values were treated as
	// missing; nil for no bound.
	Plausible *plausible.Range `json:"plausible,omitempty"`
	// SensorOff and OutOfRange count the samples outside it: zeros, and
	// other values.
	SensorOff  int64 `json:"excluded_sensor_off"`
	OutOfRange int64 `json:"excluded_out_of_range"`
}

// Excluded is the number of samples treated as missing as implausible.
func (st RuleStatus) Excluded() int64 { return st.SensorOff + st.OutOfRange }

// ExclusionText says how many samples the rule treated as missing because
// they were implausible, and why; "" when none.
func (st RuleStatus) ExclusionText() string {
	return exclusionText(st.SensorOff, st.OutOfRange, st.Plausible)
}

// AlarmsResult is the merged result of vitals.alarms@1: episodes ordered by
// start time, then by rule order.
type AlarmsResult struct {
	Rules    []RuleStatus `json:"rules"`
	Episodes []Episode    `json:"episodes"`
}

// Merge implements pipeline.Algorithm.
func (*Alarms) Merge(params []byte, parts []pipeline.Part) (pipeline.Result, error) {
	var p AlarmsParams
	if err := json.Unmarshal(params, &p); err != nil {
		return nil, fmt.Errorf("%s: params: %w", AlarmsName, err)
	}
	if len(parts) == 0 {
		return nil, fmt.Errorf("%s: nothing to merge", AlarmsName)
	}
	names, units, err := channelsOf(AlarmsName, parts)
	if err != nil {
		return nil, err
	}
	// A part gives, for each rule, the channel it watched (index in the
	// task, whose label and unit the specs hold) and its rate, identical
	// in every chunk.
	type watched struct {
		idx  int64
		rate float64
	}
	acc := make([]scan, len(p.Rules))
	exs := make([]excluded, len(p.Rules))
	chans := make([]watched, len(p.Rules))
	for pi, part := range parts {
		r := canon.NewReader(part.Output, alarmsMagic)
		n := r.U32()
		if r.Err() == nil && int(n) != len(p.Rules) {
			return nil, fmt.Errorf("%s: chunk %d output has %d rules, params have %d", AlarmsName, part.Spec.Index, n, len(p.Rules))
		}
		for k, rule := range p.Rules {
			c := watched{idx: r.I64()}
			if c.idx >= 0 {
				c.rate = r.F64()
			}
			if r.Err() != nil {
				break
			}
			if c.idx < -1 || c.idx >= int64(len(names)) {
				return nil, fmt.Errorf("%s: chunk %d: rule %q watches channel %d of %d", AlarmsName, part.Spec.Index, rule.Name, c.idx, len(names))
			}
			if pi == 0 {
				if c.idx >= 0 && (!(c.rate > 0) || math.IsInf(c.rate, 0)) {
					return nil, fmt.Errorf("%s: chunk %d: rule %q channel %q has sample rate %v", AlarmsName, part.Spec.Index, rule.Name, names[c.idx], c.rate)
				}
				chans[k] = c
			} else if c != chans[k] {
				return nil, fmt.Errorf("%s: chunk %d: rule %q watches %+v, chunk %d watched %+v", AlarmsName, part.Spec.Index, rule.Name, c, parts[0].Spec.Index, chans[k])
			}
			if c.idx < 0 {
				continue
			}
			s := readScan(r)
			off, out := r.I64(), r.I64()
			if r.Err() != nil {
				break
			}
			if off < 0 || out < 0 || off > maxCount || out > maxCount {
				return nil, fmt.Errorf("%s: chunk %d: rule %q excluded %d and %d samples", AlarmsName, part.Spec.Index, rule.Name, off, out)
			}
			exs[k].SensorOff += off
			exs[k].OutOfRange += out
			appendScan(&acc[k], s, rule, c.rate)
		}
		if err := r.Done(); err != nil {
			return nil, fmt.Errorf("%s: chunk %d output: %w", AlarmsName, part.Spec.Index, err)
		}
	}
	res := &AlarmsResult{Rules: []RuleStatus{}, Episodes: []Episode{}}
	for k, rule := range p.Rules {
		st := RuleStatus{Rule: rule.Name}
		if c := chans[k]; c.idx >= 0 {
			name, unit := names[c.idx], units[c.idx]
			st.Channel = name
			if pr, ok := rule.plausibleRange(name, unit); ok {
				st.Plausible = &pr
			}
			st.SensorOff, st.OutOfRange = exs[k].SensorOff, exs[k].OutOfRange
			for _, run := range acc[k].Runs {
				start := SampleMicros(run.First, c.rate)
				end := SampleMicros(run.Last+1, c.rate)
				e := Episode{
					Rule: rule.Name, Channel: name, Unit: unit,
					StartS: float64(start) / microsPerSecond, EndS: float64(end) / microsPerSecond,
					DurationS: float64(end-start) / microsPerSecond, Extreme: run.Extreme,
				}
				if e.DurationS >= rule.MinDurationS {
					res.Episodes = append(res.Episodes, e)
					st.Episodes++
				}
			}
		}
		res.Rules = append(res.Rules, st)
	}
	order := make(map[string]int, len(p.Rules))
	for k, rule := range p.Rules {
		order[rule.Name] = k
	}
	slices.SortStableFunc(res.Episodes, func(a, b Episode) int {
		if c := cmp.Compare(a.StartS, b.StartS); c != 0 {
			return c
		}
		return cmp.Compare(order[a.Rule], order[b.Rule])
	})
	return res, nil
}

// DecodeResult implements pipeline.Algorithm.
func (*Alarms) DecodeResult(b []byte) (pipeline.Result, error) {
	var r AlarmsResult
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: decode result: %w", AlarmsName, err)
	}
	return &r, nil
}

// Summary implements pipeline.Result.
func (r *AlarmsResult) Summary() string {
	if len(r.Episodes) == 0 {
		return "no alarm episodes"
	}
	var parts []string
	for _, st := range r.Rules {
		if st.Episodes > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", st.Episodes, st.Rule))
		}
	}
	return fmt.Sprintf("%d alarm episodes: %s", len(r.Episodes), strings.Join(parts, ", "))
}

// CSV implements pipeline.Result: one row per episode.
func (r *AlarmsResult) CSV() ([]byte, error) {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write([]string{"rule", "channel", "unit", "start_s", "end_s", "duration_s", "extreme"})
	for _, e := range r.Episodes {
		w.Write([]string{e.Rule, e.Channel, e.Unit, fmtFloat(e.StartS), fmtFloat(e.EndS), fmtFloat(e.DurationS), fmtFloat(e.Extreme)})
	}
	w.Flush()
	return buf.Bytes(), w.Error()
}
