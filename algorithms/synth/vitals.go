package synth

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"

	"github.com/pulsegrid/pulsegrid/algorithms/dmath"
	"github.com/pulsegrid/pulsegrid/algorithms/formats/wfdb"
	"github.com/pulsegrid/pulsegrid/algorithms/signal"
)

// VitalsGain is the ADC gain of synthetic vital signs: values are kept to
// 0.1 unit, as the MIMIC minute logs are.
const VitalsGain = 10

// VitalsOptions configures one synthetic vital-sign log.
type VitalsOptions struct {
	Record  string
	Minutes float64
	Rate    float64 // samples per second; 0 means 1 (1/60 gives a minute log)
	Seed    uint64
	Stream  uint64
}

// Rule is an alarm rule as the episodes were injected for: Channel Op
// Threshold held for at least MinSeconds.
type Rule struct {
	Channel    string  `json:"channel"`
	Op         string  `json:"op"` // ">" or "<"
	Threshold  float64 `json:"threshold"`
	MinSeconds float64 `json:"min_s"`
}

// String renders the rule as "HR > 120 for 30 s".
func (r Rule) String() string {
	return fmt.Sprintf("%s %s %v for %v s", r.Channel, r.Op, r.Threshold, r.MinSeconds)
}

func (r Rule) holds(v float64) bool {
	if signal.IsMissing(v) {
		return false
	}
	if r.Op == ">" {
		return v > r.Threshold
	}
	return v < r.Threshold
}

// The rules episodes are injected for: the clinical defaults of the issue.
var (
	RuleTachycardia  = Rule{Channel: "HR", Op: ">", Threshold: 120, MinSeconds: 30}
	RuleDesaturation = Rule{Channel: "SpO2", Op: "<", Threshold: 90, MinSeconds: 15}
	RuleHypotension  = Rule{Channel: "ABPSys", Op: "<", Threshold: 90, MinSeconds: 60}
)

// Episode is one stretch in which a rule holds: from the time of the first
// sample that meets it (StartS) to the time just after the last one (EndS),
// so that EndS−StartS is the number of samples over the rate.
type Episode struct {
	Channel     string  `json:"channel"`
	Rule        string  `json:"rule"`
	Op          string  `json:"op"`
	Threshold   float64 `json:"threshold"`
	MinSeconds  float64 `json:"min_s"`
	StartS      float64 `json:"start_s"`
	EndS        float64 `json:"end_s"`
	FirstSample int     `json:"first_sample"`
	LastSample  int     `json:"last_sample"`
}

// Vitals is a synthetic vital-sign log with its injected alarm episodes.
type Vitals struct {
	Record   string
	Signal   signal.Signal // HR, SpO2, ABPSys, ABPDias, ABPMean, RESP
	Episodes []Episode     // sorted by start
}

// vital is one channel's generator settings: its steady state, how far it
// wanders (OU standard deviation), the measurement noise, and the band it is
// held in outside episodes so that no alarm fires where none was injected.
type vital struct {
	name, unit     string
	lo, hi         float64 // range of the steady state
	wander, noise  float64
	bandLo, bandHi float64
}

var vitalsChannels = []vital{
	{"HR", "bpm", 62, 95, 4, 1, 45, 108},
	{"SpO2", "%", 95, 99, 0.8, 0.4, 93, 100},
	{"ABPSys", "mmHg", 108, 140, 6, 1.5, 98, 175},
	{"ABPDias", "mmHg", 60, 82, 4, 1, 45, 100},
	{"ABPMean", "mmHg", 0, 0, 0, 0, 0, 0}, // derived: DBP + (SBP−DBP)/3
	{"RESP", "breaths/min", 12, 20, 1.5, 0.7, 6, 30},
}

const (
	chHR = iota
	chSpO2
	chSys
	chDias
	chMean
	chResp
)

// NewVitals generates a log: each vital wanders around its own steady state
// (an Ornstein–Uhlenbeck process, 5-minute time constant) with measurement
// noise; sensors drop out for stretches (missing values); and episodes of
// tachycardia (HR > 120), desaturation (SpO2 < 90) and hypotension
// (ABPSys < 90) are injected, each longer than its rule's minimum.
func NewVitals(o VitalsOptions) (*Vitals, error) {
	if o.Rate == 0 {
		o.Rate = 1
	}
	if !(o.Rate >= 1.0/3600 && o.Rate <= 10) {
		return nil, fmt.Errorf("vitals sample rate %v Hz: expected 1/3600 to 10", o.Rate)
	}
	if !(o.Minutes > 0 && o.Minutes <= 7*24*60) {
		return nil, fmt.Errorf("vitals length %v minutes: expected more than 0 and at most a week", o.Minutes)
	}
	if o.Rate < 1 {
		// "0.0166666666667" means one sample a minute, exactly.
		if p := math.Round(1 / o.Rate); math.Abs(1/o.Rate-p) < 1e-9*p {
			o.Rate = 1 / p
		}
	}
	g := newRNG(o.Seed, o.Stream)
	n := int(math.Round(float64(o.Minutes*60) * o.Rate))
	if n < 1 {
		return nil, fmt.Errorf("vitals length %v minutes at %v Hz gives no sample", o.Minutes, o.Rate)
	}
	dt := 1 / o.Rate
	vals := make([][]float64, len(vitalsChannels))
	for i := range vals {
		vals[i] = make([]float64, n)
	}

	// Steady wandering: exact OU steps, so any rate gives the same statistics.
	a := dmath.Exp(-dt / 300)
	b := math.Sqrt(1 - float64(a*a))
	for c, v := range vitalsChannels {
		if c == chMean {
			continue
		}
		mu := g.uniform(v.lo, v.hi)
		x := mu + float64(v.wander*g.normal())
		for i := range n {
			x = mu + float64(a*(x-mu)) + float64(float64(b*v.wander)*g.normal())
			vals[c][i] = min(v.bandHi, max(v.bandLo, x))
		}
	}

	// Episodes: one to three an hour, each in its own slot of the record,
	// with a minute of quiet around each so they never merge.
	type plan struct {
		rule          Rule
		ch            int
		target        float64
		start, ramp   int // samples
		plateau, stop int
	}
	kinds := []struct {
		rule   Rule
		ch     int
		lo, hi float64 // plateau target
	}{{RuleTachycardia, chHR, 128, 150}, {RuleDesaturation, chSpO2, 80, 87}, {RuleHypotension, chSys, 70, 84}}
	nEp := max(1, int(math.Round(float64(o.Minutes/60)*float64(1+g.r.IntN(3)))))
	slot := n / nEp
	var plans []plan
	margin := int(math.Ceil(60 / dt))
	for s := range nEp {
		k := kinds[g.r.IntN(len(kinds))]
		ramp := max(1, int(math.Ceil(3/dt)))
		plateauS := float64(k.rule.MinSeconds*1.5) + g.uniform(10, 120)
		plateau := max(5, int(math.Ceil(plateauS/dt)))
		total := 2*ramp + plateau + 2*margin
		if total > slot {
			continue
		}
		start := s*slot + margin + g.r.IntN(slot-total+1)
		plans = append(plans, plan{rule: k.rule, ch: k.ch, target: g.uniform(k.lo, k.hi), start: start, ramp: ramp, plateau: plateau, stop: start + 2*ramp + plateau})
	}
	// state[c][i] says where sample i of channel c is: outside episodes,
	// on a ramp (no measurement noise, so the ramp crosses the threshold
	// exactly once) or on a plateau (noise, but held beyond the threshold).
	const (
		free = iota
		ramp
		plateau
	)
	state := make([][]uint8, len(vitalsChannels))
	for c := range state {
		state[c] = make([]uint8, n)
	}
	ruleOf := make([]Rule, len(vitalsChannels))
	for _, p := range plans {
		ruleOf[p.ch] = p.rule
		for i := p.start; i < p.stop; i++ {
			var w float64 // 0 outside, 1 on the plateau, linear on the ramps
			st := uint8(ramp)
			switch {
			case i < p.start+p.ramp:
				w = float64(i-p.start+1) / float64(p.ramp+1)
			case i < p.start+p.ramp+p.plateau:
				w, st = 1, plateau
			default:
				w = float64(p.stop-i) / float64(p.ramp+1)
			}
			mix := func(base, target float64) float64 { return float64(base*(1-w)) + float64(target*w) }
			vals[p.ch][i] = mix(vals[p.ch][i], p.target)
			state[p.ch][i] = st
			if p.ch == chSys {
				vals[chDias][i] = mix(vals[chDias][i], float64(0.62*p.target))
				state[chDias][i] = st
			}
		}
	}
	for c, v := range vitalsChannels {
		if c == chMean {
			continue
		}
		r := ruleOf[c]
		for i := range n {
			x := vals[c][i]
			switch state[c][i] {
			case free:
				x = min(v.bandHi, max(v.bandLo, x+float64(v.noise*g.normal())))
			case plateau:
				x += float64(v.noise * g.normal())
				if r.Op == ">" && c == chHR {
					x = max(x, r.Threshold+2)
				} else if r.Op == "<" && (c == chSpO2 || c == chSys) {
					x = min(x, r.Threshold-2)
				}
			}
			vals[c][i] = quantize(x, VitalsGain)
		}
	}
	for i := range n {
		sys, dia := vals[chSys][i], vals[chDias][i]
		vals[chMean][i] = quantize(dia+(sys-dia)/3, VitalsGain)
	}

	// Sensor drop-outs, away from the episodes: the SpO2 probe falls off,
	// the arterial line is flushed (all three pressures), or everything
	// stops (monitor moved).
	drops := [][]int{{chSpO2}, {chSys, chDias, chMean}, {chHR, chSpO2, chSys, chDias, chMean, chResp}}
	for range g.r.IntN(4) {
		length := max(1, int(math.Ceil(g.uniform(10, 180)/dt)))
		if length >= n {
			continue
		}
		start := g.r.IntN(n - length + 1)
		which := drops[g.r.IntN(len(drops))]
		clash := false
		for _, p := range plans {
			if start < p.stop+margin && start+length > p.start-margin {
				clash = true
			}
		}
		if clash {
			continue
		}
		for _, c := range which {
			for i := start; i < start+length; i++ {
				vals[c][i] = signal.Missing
			}
		}
	}

	vs := &Vitals{Record: o.Record}
	for c, v := range vitalsChannels {
		vs.Signal.Channels = append(vs.Signal.Channels, signal.Channel{Name: v.name, Unit: v.unit, Rate: o.Rate, Gain: VitalsGain, Samples: vals[c]})
	}
	// The ground truth is read off the final samples with the rules'
	// semantics, so it is exactly what a correct detector must report.
	for _, r := range []Rule{RuleTachycardia, RuleDesaturation, RuleHypotension} {
		vs.Episodes = append(vs.Episodes, FindEpisodes(vs.Signal.Channels[vs.Signal.Channel(r.Channel)], r)...)
	}
	sortEpisodes(vs.Episodes)
	return vs, nil
}

// FindEpisodes returns the maximal runs of consecutive samples of c that
// meet r (a missing sample breaks a run) and last at least r.MinSeconds,
// counting each sample as 1/rate seconds.
func FindEpisodes(c signal.Channel, r Rule) []Episode {
	var out []Episode
	first := -1
	flush := func(end int) { // end: one past the last sample of the run
		if first < 0 {
			return
		}
		start, stop := sampleTime(first, c.Rate), sampleTime(end, c.Rate)
		if stop-start >= r.MinSeconds {
			out = append(out, Episode{Channel: r.Channel, Rule: r.String(), Op: r.Op, Threshold: r.Threshold, MinSeconds: r.MinSeconds,
				StartS: start, EndS: stop, FirstSample: first, LastSample: end - 1})
		}
		first = -1
	}
	for i, v := range c.Samples {
		if r.holds(v) {
			if first < 0 {
				first = i
			}
		} else {
			flush(i)
		}
	}
	flush(len(c.Samples))
	return out
}

func sortEpisodes(e []Episode) {
	for i := 1; i < len(e); i++ {
		for j := i; j > 0 && (e[j].StartS < e[j-1].StartS || e[j].StartS == e[j-1].StartS && e[j].Channel < e[j-1].Channel); j-- {
			e[j], e[j-1] = e[j-1], e[j]
		}
	}
}

// Files encodes the log in memory as v.Record+".hea"/".dat" (WFDB format
// 16), ".csv" (pulsegrid's CSV dialect) and ".alarms.json" (the episodes).
// Write streams the same bytes.
func (v *Vitals) Files() ([]File, error) {
	hea, dat, err := wfdb.WriteRecord(v.Record, &v.Signal, 16)
	if err != nil {
		return nil, fmt.Errorf("vitals record %s: %w", v.Record, err)
	}
	js, err := v.alarms()
	if err != nil {
		return nil, err
	}
	return []File{
		{v.Record + ".hea", hea},
		{v.Record + ".dat", dat},
		{v.Record + ".csv", writeCSV(&v.Signal)},
		{v.Record + ".alarms.json", js},
	}, nil
}

// VitalsWriters are where Vitals.Write writes a log's files; CSV may be nil
// (not written).
type VitalsWriters struct {
	Header, Signal, CSV, Alarms io.Writer
}

// Write streams the log's files (the bytes of Files) frame by frame, so
// that no encoded copy of the samples is held in memory.
func (v *Vitals) Write(w VitalsWriters) error {
	chans := v.Signal.Channels
	gains := make([]float64, len(chans))
	for i := range gains {
		gains[i] = VitalsGain
	}
	rate := chans[0].Rate
	dat := newDatWriter(w.Signal, 16, gains)
	var csv *csvWriter
	var err error
	if w.CSV != nil {
		if csv, err = newCSVWriter(w.CSV, rate, chans); err != nil {
			return err
		}
	}
	frame := make([]float64, len(chans))
	for i := range chans[0].Samples {
		for c := range chans {
			frame[c] = chans[c].Samples[i]
		}
		if err := dat.put(frame); err != nil {
			return fmt.Errorf("vitals record %s: %w", v.Record, err)
		}
		if csv != nil {
			if err := csv.put(frame); err != nil {
				return err
			}
		}
	}
	if err := dat.close(); err != nil {
		return err
	}
	if csv != nil {
		if err := csv.close(); err != nil {
			return err
		}
	}
	if _, err := w.Header.Write(dat.header(v.Record, rate, chans)); err != nil {
		return err
	}
	js, err := v.alarms()
	if err != nil {
		return err
	}
	_, err = w.Alarms.Write(js)
	return err
}

// alarms encodes the episodes, without HTML escaping, so that rules read
// "HR > 120", not "HR \u003e 120".
func (v *Vitals) alarms() ([]byte, error) {
	eps := v.Episodes
	if eps == nil {
		eps = []Episode{}
	}
	var js bytes.Buffer
	enc := json.NewEncoder(&js)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	err := enc.Encode(struct {
		Record   string    `json:"record"`
		Rules    []Rule    `json:"rules"`
		Episodes []Episode `json:"episodes"`
	}{v.Record, []Rule{RuleTachycardia, RuleDesaturation, RuleHypotension}, eps})
	return js.Bytes(), err
}
