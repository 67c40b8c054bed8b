package template

import (
	"fmt"
	"math"
	"strings"

	"github.com/pulsegrid/pulsegrid/algorithms/signal"
)

// Apply checks rec against the template and returns a cleaned copy (rec is
// not modified) with every violation found. The error is non-nil, and the
// recording nil, exactly when a violation's action is ActionReject.
//
// A channel counts as a rule's kind when its name matches, its unit is the
// rule's (or converts to it) and its rate is at least MinRate; a channel
// whose name matches but whose unit or rate does not is reported and then
// handled as an extra channel.
func (t *Template) Apply(rec *signal.Recording) (*signal.Recording, []Violation, error) {
	c := t.Begin(rec)
	in := make([][]float64, len(rec.Signal.Channels))
	for i, ch := range rec.Signal.Channels {
		in[i] = ch.Samples
	}
	out := c.Clean(in)
	cleaned, vs, err := c.Finish()
	if err != nil {
		return nil, vs, err
	}
	for i := range cleaned.Signal.Channels {
		cleaned.Signal.Channels[i].Samples = out[i]
	}
	return cleaned, vs, nil
}

// Cleaner applies a template to a recording whose samples arrive block by
// block (formats.Stream), so that a 24-hour recording is checked without
// being whole in memory. Apply is Begin, one Clean and Finish.
type Cleaner struct {
	t     *Template
	out   signal.Recording
	plans []channelPlan // per input channel
	// header holds the violations found from the channels' names, units
	// and rates, per input channel; tail those about the whole recording.
	header [][]Violation
	tail   []Violation
	ranges []rangeState // per output channel
	bufs   [][]float64  // per output channel, reused by Clean
}

// channelPlan is what becomes of one input channel.
type channelPlan struct {
	out    int     // output channel, -1 when dropped
	factor float64 // unit conversion, 1 when none
	rule   *ChannelRule
}

// rangeState follows runs of out-of-range samples of one output channel
// across blocks.
type rangeState struct {
	name, unit string
	rate       float64
	rule       *ChannelRule
	lo, hi     float64
	action     string
	pos        int64 // samples seen
	inRun      bool
	runStart   int64
	runFirst   float64
	vs         []Violation
	extra      int
	extraRuns  int
}

// Begin checks a recording's channels against the template (their samples
// are not looked at) and returns the Cleaner for its samples.
func (t *Template) Begin(rec *signal.Recording) *Cleaner {
	c := &Cleaner{t: t, out: *rec}
	c.out.Signal.Channels = nil
	c.header = make([][]Violation, len(rec.Signal.Channels))
	found := make([]bool, len(t.Channels))
	for i, ch := range rec.Signal.Channels {
		ch.Samples = nil
		plan, vs := t.planChannel(&ch, found)
		c.header[i] = vs
		if plan.out >= 0 {
			plan.out = len(c.out.Signal.Channels)
			c.out.Signal.Channels = append(c.out.Signal.Channels, ch)
			c.ranges = append(c.ranges, newRangeState(ch, plan.rule))
		}
		c.plans = append(c.plans, plan)
	}
	anyFound := false
	for i, r := range t.Channels {
		anyFound = anyFound || found[i]
		if r.Required && !found[i] {
			c.tail = append(c.tail, Violation{Role: r.Role, Rule: RuleRequired, Action: ActionReject,
				Message: fmt.Sprintf("no %s channel (named %s, in %s%s)", r.Role, strings.Join(append([]string{r.Role}, r.Aliases...), ", "), r.Unit, rateText(r.MinRate))})
		}
	}
	if len(t.Channels) > 0 && !anyFound {
		c.tail = append(c.tail, Violation{Rule: RuleNoMatch, Action: ActionReject,
			Message: fmt.Sprintf("no channel is one that template %s expects (%s)", t.Name, t.roles())})
	}
	c.bufs = make([][]float64, len(c.out.Signal.Channels))
	return c
}

// planChannel decides what becomes of one channel (updating its unit and
// gain in place) and reports what its header breaks.
func (t *Template) planChannel(c *signal.Channel, found []bool) (channelPlan, []Violation) {
	var vs []Violation
	add := func(v Violation) { vs = append(vs, v) }
	plan := channelPlan{out: 0, factor: 1}
	if ri := t.rule(c.Name); ri >= 0 {
		r := &t.Channels[ri]
		ok := true
		factor, known := convert(c.Unit, r.Unit)
		switch {
		case strings.TrimSpace(c.Unit) == "":
			add(Violation{Channel: c.Name, Role: r.Role, Rule: RuleUnit, Action: ActionAssumed,
				Message: fmt.Sprintf("channel %q has no unit; taken to be %s", c.Name, r.Unit)})
			c.Unit = r.Unit
		case !known:
			add(Violation{Channel: c.Name, Role: r.Role, Rule: RuleUnit, Action: ActionKept,
				Message: fmt.Sprintf("channel %q is in %q, expected %s (or a unit convertible to it): not used as %s", c.Name, c.Unit, r.Unit, r.Role)})
			ok = false
		case factor != 1:
			add(Violation{Channel: c.Name, Role: r.Role, Rule: RuleUnit, Action: ActionConverted,
				Message: fmt.Sprintf("channel %q converted from %s to %s (× %g)", c.Name, c.Unit, r.Unit, factor)})
			plan.factor = factor
			c.Gain /= factor
			c.Unit = r.Unit
		default:
			c.Unit = r.Unit
		}
		if ok && c.Rate < r.MinRate {
			add(Violation{Channel: c.Name, Role: r.Role, Rule: RuleRate, Action: ActionKept,
				Message: fmt.Sprintf("channel %q is sampled at %g Hz, below the %g Hz a %s channel needs: not used as %s", c.Name, c.Rate, r.MinRate, r.Role, r.Role)})
			ok = false
		}
		if ok {
			found[ri] = true
			plan.rule = r
			return plan, vs
		}
		// Not this rule's kind after all: an extra channel, in the
		// template's unit if it could be converted.
		plan.rule = nil
	}
	switch t.Extra {
	case "drop":
		add(Violation{Channel: c.Name, Rule: RuleExtra, Action: ActionDropped,
			Message: fmt.Sprintf("channel %q is not a channel of template %s: dropped", c.Name, t.Name)})
		plan.out = -1
	case "reject":
		add(Violation{Channel: c.Name, Rule: RuleExtra, Action: ActionReject,
			Message: fmt.Sprintf("channel %q is not a channel of template %s, which allows no others", c.Name, t.Name)})
		plan.out = -1
	}
	return plan, vs
}

func newRangeState(c signal.Channel, r *ChannelRule) rangeState {
	st := rangeState{name: c.Name, unit: c.Unit, rate: c.Rate, rule: r, lo: math.Inf(-1), hi: math.Inf(1)}
	if r == nil || (r.Min == nil && r.Max == nil) {
		st.rule = nil
		return st
	}
	if r.Min != nil {
		st.lo = *r.Min
	}
	if r.Max != nil {
		st.hi = *r.Max
	}
	st.action = ActionMissing
	switch r.OutOfRange {
	case "reject":
		st.action = ActionReject
	case "keep":
		st.action = ActionKept
	}
	return st
}

// Rejected reports whether the channels' headers alone already reject the
// recording, so that a caller can stop before reading its samples.
func (c *Cleaner) Rejected() bool {
	for _, vs := range append(c.header[:len(c.header):len(c.header)], c.tail) {
		for _, v := range vs {
			if v.Action == ActionReject {
				return true
			}
		}
	}
	return false
}

// Channels are the cleaned recording's channels, without samples: what
// Clean's blocks belong to.
func (c *Cleaner) Channels() []signal.Channel { return c.out.Signal.Channels }

// Clean takes the next samples of every input channel (in[i] continues
// channel i) and returns those of every output channel. in is not
// modified; the result may share memory with in or with the previous
// call's result.
func (c *Cleaner) Clean(in [][]float64) [][]float64 {
	out := make([][]float64, len(c.out.Signal.Channels))
	for i, p := range c.plans {
		if p.out < 0 || i >= len(in) {
			continue
		}
		samples := in[i]
		st := &c.ranges[p.out]
		if p.factor != 1 || (st.rule != nil && st.action == ActionMissing && st.anyOut(samples, p.factor)) {
			b := c.bufs[p.out][:0]
			for _, v := range samples {
				b = append(b, v*p.factor)
			}
			c.bufs[p.out] = b
			samples = b
		}
		st.check(samples)
		out[p.out] = samples
	}
	return out
}

// anyOut reports whether a block (times factor) has an out-of-range sample,
// so that blocks without one are passed on without a copy.
func (st *rangeState) anyOut(samples []float64, factor float64) bool {
	for _, v := range samples {
		if v = v * factor; !signal.IsMissing(v) && (v < st.lo || v > st.hi) {
			return true
		}
	}
	return false
}

// check follows the runs of out-of-range samples in a block (which it
// marks missing when the action says so; the block is then a copy).
func (st *rangeState) check(samples []float64) {
	if st.rule == nil {
		st.pos += int64(len(samples))
		return
	}
	for i, v := range samples {
		out := !signal.IsMissing(v) && (v < st.lo || v > st.hi)
		switch {
		case out && !st.inRun:
			st.inRun, st.runStart, st.runFirst = true, st.pos+int64(i), v
		case !out && st.inRun:
			st.endRun(st.pos + int64(i))
		}
		if out && st.action == ActionMissing {
			samples[i] = signal.Missing
		}
	}
	st.pos += int64(len(samples))
}

// endRun records the run that ended before sample end.
func (st *rangeState) endRun(end int64) {
	st.inRun = false
	n := end - st.runStart
	if len(st.vs) >= MaxRunsPerChannel {
		st.extra += int(n)
		st.extraRuns++
		return
	}
	r, i, v := st.rule, st.runStart, st.runFirst
	what := "sample"
	if n > 1 {
		what = fmt.Sprintf("%d samples", n)
	}
	st.vs = append(st.vs, Violation{Channel: st.name, Role: r.Role, Rule: RuleRange, Sample: i, Count: int(n),
		Time: float64(i) / st.rate, Value: v, Action: st.action,
		Message: fmt.Sprintf("channel %q: %s from sample %d (%s) outside %s %s, first %g", st.name, what, i, clock(float64(i)/st.rate), rangeText(r), r.Unit, v)})
}

// Finish returns the cleaned recording (its channels without samples),
// every violation in channel order, and an error exactly when a violation
// rejects the recording.
func (c *Cleaner) Finish() (*signal.Recording, []Violation, error) {
	var vs []Violation
	for i, p := range c.plans {
		vs = append(vs, c.header[i]...)
		if p.out < 0 {
			continue
		}
		st := &c.ranges[p.out]
		if st.inRun {
			st.endRun(st.pos)
		}
		vs = append(vs, st.vs...)
		if st.extraRuns > 0 {
			vs = append(vs, Violation{Channel: st.name, Role: st.rule.Role, Rule: RuleRange, Count: st.extra, Action: st.action,
				Message: fmt.Sprintf("channel %q: %d more samples in %d more runs outside %s %s", st.name, st.extra, st.extraRuns, rangeText(st.rule), st.rule.Unit)})
			st.extraRuns = 0
		}
	}
	vs = append(vs, c.tail...)
	var rejects []string
	for _, v := range vs {
		if v.Action == ActionReject {
			rejects = append(rejects, v.Message)
		}
	}
	if len(rejects) > 0 {
		return nil, vs, fmt.Errorf("template %s rejects the recording: %s", c.t.Name, strings.Join(rejects, "; "))
	}
	out := c.out
	out.Signal.Channels = append([]signal.Channel(nil), c.out.Signal.Channels...)
	return &out, vs, nil
}
