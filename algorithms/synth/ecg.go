package synth

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"github.com/pulsegrid/pulsegrid/algorithms/dmath"
	"github.com/pulsegrid/pulsegrid/algorithms/formats/wfdb"
	"github.com/pulsegrid/pulsegrid/algorithms/signal"
)

// ECGGain is the ADC gain of synthetic ECG leads (as MIT-BIH: 200 units/mV,
// so format 212 holds ±10.2 mV).
const ECGGain = 200

// ECGOptions configures one synthetic ECG record.
type ECGOptions struct {
	Record  string  // record name, e.g. "ecg001"
	Minutes float64 // length
	Rate    float64 // samples per second; 0 means 360
	Seed    uint64  // same Seed and Stream, same record
	Stream  uint64  // record number within a seed, so that records differ
	Events  Events  // arrhythmia events to include; the zero value is sinus rhythm only
}

// ECG is a synthetic two-lead ECG with its ground truth, generated whole in
// memory (NewECG). Long records are better streamed with WriteECG, which
// writes the same bytes.
type ECG struct {
	Record string
	Signal signal.Signal // leads "MLII" and "V1" in mV, quantized to 1/ECGGain
	// Annotations are the true beats (N, A, V or F at the sample of the R
	// peak, the centre of the main QRS deflection) and the rhythm changes
	// (RHYTHM annotations whose aux is "(N", "(AFIB", "(VT", ...), in
	// sample order: the contents of the .atr.
	Annotations []signal.Annotation
	Truth       *Truth
}

// Truth is the ground truth of a record, written as NAME.truth.json: the
// events in time order and counts of beats and events.
type Truth struct {
	Record  string  `json:"record"`
	Rate    float64 `json:"rate"`
	Samples int64   `json:"samples"`
	Seed    uint64  `json:"seed"`
	Stream  uint64  `json:"stream"`
	MeanHR  float64 `json:"mean_hr_setting"` // the sinus rate setting, bpm
	// Beats counts the beats per ANSI/AAMI EC57 class (N, S, V, F; no Q
	// beats are generated) and in all.
	Beats map[string]int `json:"beats"`
	// Counts counts the events per kind; always equal to the Events asked for.
	Counts Events `json:"counts"`
	// AFSeconds is the time in AF, each episode from its first to its last
	// beat; AFBurden is that over the record's length.
	AFSeconds     float64 `json:"af_seconds"`
	AFBurden      float64 `json:"af_burden"`
	LongestPauseS float64 `json:"longest_pause_s"`
	Events        []Event `json:"events"`
}

// wave is one Gaussian component of a beat: offset from the R peak (s),
// amplitude (mV) and width (s, the standard deviation).
type wave struct{ at, amp, width float64 }

// morphology is a record's individual scaling of the waves.
type morphology struct{ p, r, t, pvcPolarity float64 }

// appendShape appends the components of a beat on both leads. QT and the T
// wave scale with √RR (Bazett, RR capped at 1.5 s); a PVC has no P wave, a
// wide QRS and a T wave of opposite polarity, as on a monitor; an atrial
// premature beat has an inverted, earlier P; a beat in AF has no P; a
// fusion beat is half sinus, half ventricular.
func appendShape(l1, l2 []wave, kind uint8, rr float64, m *morphology) ([]wave, []wave) {
	q := math.Sqrt(min(rr, 1.5))
	if kind == beatV {
		s := m.pvcPolarity
		l1 = append(l1,
			wave{-0.02, float64(-0.15 * s), 0.02},
			wave{0, float64(1.5 * s * m.r), 0.028},
			wave{0.06, float64(-0.55 * s * m.r), 0.03},
			wave{float64(0.32 * q), float64(-0.45 * s * m.t), float64(0.075 * q)})
		l2 = append(l2,
			wave{0, float64(1.2 * m.r), 0.03},
			wave{0.065, float64(-0.3 * m.r), 0.03},
			wave{float64(0.33 * q), float64(-0.35 * m.t), float64(0.08 * q)})
		return l1, l2
	}
	k := 1.0 // share of the sinus complex
	switch kind {
	case beatS:
		l1 = append(l1, wave{-0.14, float64(-0.09 * m.p), 0.02})
		l2 = append(l2, wave{-0.14, float64(0.08 * m.p), 0.02})
	case beatN, beatF:
		l1 = append(l1, wave{-0.17, float64(0.12 * m.p), 0.022})
		l2 = append(l2, wave{-0.17, float64(0.06 * m.p), 0.022})
	}
	if kind == beatF {
		k = 0.5
	}
	l1 = append(l1,
		wave{-0.03, float64(-0.10 * k * m.r), 0.008},
		wave{0, float64(1.1 * k * m.r), 0.010},
		wave{0.03, float64(-0.22 * k * m.r), 0.010},
		wave{float64(0.27 * q), float64(0.30 * k * m.t), float64(0.055 * q)},
		wave{float64(0.33 * q), float64(0.08 * k * m.t), float64(0.04 * q)})
	l2 = append(l2,
		wave{0, float64(0.30 * k * m.r), 0.009},
		wave{0.025, float64(-0.90 * k * m.r), 0.012},
		wave{float64(0.27 * q), float64(0.15 * k * m.t), float64(0.06 * q)})
	if kind == beatF {
		s := m.pvcPolarity
		l1 = append(l1,
			wave{0.01, float64(0.75 * s * m.r), 0.022},
			wave{float64(0.32 * q), float64(-0.2 * s * m.t), float64(0.07 * q)})
		l2 = append(l2, wave{0.02, float64(0.6 * m.r), 0.024})
	}
	return l1, l2
}

// Every wave of a beat lies within [t−reachBefore, t+reachAfter] of its R
// peak (±4 widths), which is how far back and ahead a block looks.
const reachBefore, reachAfter = 0.5, 1.5

// ECGStream generates a record block by block: the beats and events are
// planned up front (a few MB for 24 hours), the samples computed as they are
// read, so memory does not grow with the length. Any block sizes give the
// same samples.
type ECGStream struct {
	fs     float64
	n      int
	record string
	plan   *plan
	truth  *Truth
	m      morphology
	resp   sinusModel // breathing, for the amplitude swing and the wander
	noise  *rng
	base   baseline
	next   int // first sample not read yet
	beatAt int // first beat whose waves may reach the next block
	burst  int // first burst not yet over
	afAt   int // first AF stretch not yet over
	w1, w2 []wave
}

// baseline is what a record adds besides the beats.
type baseline struct {
	wander1, wander2, slowF, slowPhase float64
	hum, humF, humPhase, noise         float64
}

// NewECGStream plans a record. It fails on options out of range and on
// events that do not fit in the record.
func NewECGStream(o ECGOptions) (*ECGStream, error) {
	if o.Rate == 0 {
		o.Rate = 360
	}
	if !(o.Rate >= 50 && o.Rate <= 10000) {
		return nil, fmt.Errorf("ECG sample rate %v Hz: expected 50 to 10000", o.Rate)
	}
	if !(o.Minutes > 0 && o.Minutes <= 24*60) {
		return nil, fmt.Errorf("ECG length %v minutes: expected more than 0 and at most 1440", o.Minutes)
	}
	for _, k := range kinds {
		if *k.field(&o.Events) < 0 {
			return nil, fmt.Errorf("events: %s count %d is negative", k.name, *k.field(&o.Events))
		}
	}
	g := newRNG(o.Seed, o.Stream)
	fs := o.Rate
	n := int(math.Round(float64(o.Minutes*60) * fs))
	s := &ECGStream{fs: fs, n: n, record: o.Record, noise: newRNG(o.Seed^0x6e6f697365, o.Stream)}
	sm := sinusModel{meanHR: g.uniform(62, 80)}
	sm.driftAmp, sm.driftPeriod, sm.driftPhase = g.uniform(2, 6), g.uniform(240, 720), g.phase()
	sm.circAmp, sm.circPhase = g.uniform(3, 6), g.phase()
	sm.respF, sm.respPhase = g.uniform(0.2, 0.33), g.phase()
	sm.rsa = g.uniform(0.02, 0.04)
	sm.mayer, sm.mayerPhase = g.uniform(0.01, 0.02), g.phase()
	s.resp = sm
	s.m = morphology{p: g.uniform(0.7, 1.3), r: g.uniform(0.8, 1.3), t: g.uniform(0.7, 1.3), pvcPolarity: 1}
	if g.chance(0.3) {
		s.m.pvcPolarity = -1
	}
	b := &s.base
	b.wander1, b.wander2 = g.uniform(0.05, 0.2), g.uniform(0.03, 0.15)
	b.slowF, b.slowPhase = g.uniform(0.02, 0.06), g.phase()
	b.humF = 60.0
	if g.chance(0.5) {
		b.humF = 50
	}
	b.hum = g.uniform(0, 0.02)
	if fs < 2.5*b.humF {
		b.hum = 0 // the hum would alias; real front ends filter it before sampling
	}
	b.humPhase = g.phase()
	b.noise = g.uniform(0.005, 0.03)

	p, err := newPlan(g, fs, n, o.Events, &sm)
	if err != nil {
		return nil, fmt.Errorf("ECG record %s: %w", o.Record, err)
	}
	s.plan = p
	s.truth = newTruth(o, fs, n, p, sm.meanHR)
	return s, nil
}

func newTruth(o ECGOptions, fs float64, n int, p *plan, meanHR float64) *Truth {
	t := &Truth{Record: o.Record, Rate: fs, Samples: int64(n), Seed: o.Seed, Stream: o.Stream,
		MeanHR: math.Round(meanHR*10) / 10, Beats: map[string]int{"N": 0, "S": 0, "V": 0, "F": 0}, Events: p.events}
	for _, b := range p.beats {
		t.Beats[[...]string{beatN: "N", beatAF: "N", beatS: "S", beatV: "V", beatF: "F"}[b.kind]]++
	}
	t.Beats["total"] = len(p.beats)
	for _, e := range p.events {
		for _, k := range kinds {
			if k.name == e.Kind {
				*k.field(&t.Counts)++
			}
		}
		d := float64(e.EndSample-e.StartSample) / fs
		switch e.Kind {
		case "af":
			t.AFSeconds += d
		case "pause":
			t.LongestPauseS = max(t.LongestPauseS, d)
		}
	}
	t.AFSeconds = math.Round(t.AFSeconds*1000) / 1000
	t.LongestPauseS = math.Round(t.LongestPauseS*1000) / 1000
	t.AFBurden = math.Round(t.AFSeconds/(float64(n)/fs)*1e6) / 1e6
	if t.Events == nil {
		t.Events = []Event{}
	}
	return t
}

// Len is the number of samples per lead.
func (s *ECGStream) Len() int { return s.n }

// Rate is the sample rate in Hz.
func (s *ECGStream) Rate() float64 { return s.fs }

// Annotations returns the record's true beats and rhythm changes in sample
// order, as the .atr holds them.
func (s *ECGStream) Annotations() []signal.Annotation { return s.plan.anns }

// Truth returns the record's ground truth.
func (s *ECGStream) Truth() *Truth { return s.truth }

// Read fills lead1 and lead2 (of equal length) with the next samples in mV,
// quantized to 1/ECGGain and clipped to format 212's range, and returns how
// many it filled: fewer than asked only at the end, 0 after it.
func (s *ECGStream) Read(lead1, lead2 []float64) int {
	k := min(len(lead1), len(lead2), s.n-s.next)
	if k <= 0 {
		return 0
	}
	a, b := s.next, s.next+k
	x1, x2 := lead1[:k], lead2[:k]
	clear(x1)
	clear(x2)
	fs := s.fs
	beats := s.plan.beats
	for s.beatAt < len(beats) && float64(beats[s.beatAt].t+reachAfter)*fs < float64(a) {
		s.beatAt++
	}
	for j := s.beatAt; j < len(beats) && float64(beats[j].t-reachBefore)*fs < float64(b); j++ {
		bt := beats[j]
		s.w1, s.w2 = appendShape(s.w1[:0], s.w2[:0], bt.kind, bt.rr, &s.m)
		// Breathing moves the heart's axis: amplitudes swing a little.
		scale := 1 + sine(0.05, s.resp.respF, s.resp.respPhase, bt.t)
		addWaves(x1, a, s.w1, bt.t, scale, fs)
		addWaves(x2, a, s.w2, bt.t, scale, fs)
	}
	// Baseline wander (breathing and slow drift), mains hum, fibrillatory
	// waves in AF, white noise and muscle artefact bursts.
	bl := &s.base
	bursts, af := s.plan.bursts, s.plan.af
	for i := a; i < b; i++ {
		for s.burst < len(bursts) && bursts[s.burst].to <= i {
			s.burst++
		}
		for s.afAt < len(af) && af[s.afAt].to <= i {
			s.afAt++
		}
		sd := bl.noise
		for j := s.burst; j < len(bursts) && bursts[j].from <= i; j++ {
			if i < bursts[j].to {
				sd += bursts[j].amp
				break
			}
		}
		ti := float64(i) / fs
		resp := sine(1, s.resp.respF, s.resp.respPhase, ti)
		slow := sine(1, bl.slowF, bl.slowPhase, ti)
		h := sine(bl.hum, bl.humF, bl.humPhase, ti)
		var f float64
		if s.afAt < len(af) && af[s.afAt].from <= i {
			v := &af[s.afAt]
			f = float64(v.amp*(1+sine(0.3, 0.2, v.phase, ti))) * (sine(1, v.freq, v.phase, ti) + sine(0.5, float64(1.37*v.freq), float64(2*v.phase), ti))
		}
		z1, z2 := s.noise.normalPair()
		o := i - a
		x1[o] += float64(bl.wander1*resp) + float64(float64(0.5*bl.wander1)*slow) + h + f + float64(sd*z1)
		x2[o] += float64(bl.wander2*resp) - float64(float64(0.7*bl.wander2)*slow) + h + float64(1.6*f) + float64(sd*z2)
	}
	lim := 2047.0 / ECGGain
	for o := range k {
		x1[o] = quantize(max(-lim, min(lim, x1[o])), ECGGain)
		x2[o] = quantize(max(-lim, min(lim, x2[o])), ECGGain)
	}
	s.next = b
	return k
}

// addWaves adds a beat's Gaussian waves centred around time t to x, which
// holds samples from first on, over ±4 widths of each.
func addWaves(x []float64, first int, ws []wave, t, scale, fs float64) {
	for _, w := range ws {
		c := t + w.at
		amp := w.amp * scale
		lo := max(first, int(math.Ceil(float64(c-float64(4*w.width))*fs)))
		hi := min(first+len(x)-1, int(math.Floor(float64(c+float64(4*w.width))*fs)))
		k := -1 / float64(2*w.width*w.width)
		for i := lo; i <= hi; i++ {
			d := float64(i)/fs - c
			x[i-first] += float64(amp * dmath.Exp(float64(d*d)*k))
		}
	}
}

// NewECG generates a whole record in memory: a sinus rhythm whose rate
// drifts slowly, swings over the day and follows respiration (respiratory
// sinus arrhythmia), the events of o.Events, baseline wander, mains hum,
// noise and bursts of muscle artefact.
func NewECG(o ECGOptions) (*ECG, error) {
	s, err := NewECGStream(o)
	if err != nil {
		return nil, err
	}
	l1, l2 := make([]float64, s.n), make([]float64, s.n)
	s.Read(l1, l2)
	return &ECG{
		Record: o.Record,
		Signal: signal.Signal{Channels: []signal.Channel{
			{Name: "MLII", Unit: "mV", Rate: s.fs, Gain: ECGGain, Samples: l1},
			{Name: "V1", Unit: "mV", Rate: s.fs, Gain: ECGGain, Samples: l2},
		}},
		Annotations: s.plan.anns,
		Truth:       s.truth,
	}, nil
}

// Beats returns the beat annotations only (no rhythm changes).
func (e *ECG) Beats() []signal.Annotation {
	var out []signal.Annotation
	for _, a := range e.Annotations {
		if signal.IsQRS(a.Code) {
			out = append(out, a)
		}
	}
	return out
}

// Files encodes the record in memory as e.Record+".hea"/".dat" (WFDB
// format 212), ".atr" (the true beats and rhythm changes, MIT format),
// ".truth.json" (the events), ".csv" (the leads in pulsegrid's CSV dialect)
// and ".beats.csv" (sample,time_s,code,symbol per beat). WriteECG streams
// the same bytes.
func (e *ECG) Files() ([]File, error) {
	hea, dat, err := wfdb.WriteRecord(e.Record, &e.Signal, 212)
	if err != nil {
		return nil, fmt.Errorf("ECG record %s: %w", e.Record, err)
	}
	atr, err := wfdb.EncodeAnnotations(e.Annotations)
	if err != nil {
		return nil, fmt.Errorf("ECG record %s annotations: %w", e.Record, err)
	}
	truth, err := encodeTruth(e.Truth)
	if err != nil {
		return nil, err
	}
	var beats bytes.Buffer
	writeBeatsCSV(&beats, e.Annotations, e.Signal.Channels[0].Rate)
	return []File{
		{e.Record + ".hea", hea},
		{e.Record + ".dat", dat},
		{e.Record + ".atr", atr},
		{e.Record + ".truth.json", truth},
		{e.Record + ".csv", writeCSV(&e.Signal)},
		{e.Record + ".beats.csv", beats.Bytes()},
	}, nil
}

func encodeTruth(t *Truth) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(t); err != nil {
		return nil, fmt.Errorf("ECG record %s ground truth: %w", t.Record, err)
	}
	return b.Bytes(), nil
}

// writeBeatsCSV writes one row per beat annotation.
func writeBeatsCSV(b *bytes.Buffer, anns []signal.Annotation, rate float64) {
	b.WriteString("sample,time_s,code,symbol\n")
	var buf []byte
	for _, a := range anns {
		if !signal.IsQRS(a.Code) {
			continue
		}
		buf = strconv.AppendInt(buf[:0], a.Sample, 10)
		buf = append(buf, ',')
		buf = strconv.AppendFloat(buf, float64(a.Sample)/rate, 'f', -1, 64)
		buf = append(buf, ',')
		buf = strconv.AppendInt(buf, int64(a.Code), 10)
		buf = append(buf, ',')
		buf = append(buf, signal.Mnemonic(a.Code)...)
		buf = append(buf, '\n')
		b.Write(buf)
	}
}
