package synth

import (
	"bytes"
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
}

// ECG is a synthetic two-lead ECG with its ground truth.
type ECG struct {
	Record string
	Signal signal.Signal // leads "MLII" and "V1" in mV, quantized to 1/ECGGain
	// Beats are the true beats: Code signal.CodeNormal or signal.CodePVC at
	// the sample of the R peak (the centre of the main QRS deflection).
	Beats  []signal.Annotation
	MeanHR float64 // the record's mean heart rate setting, bpm
}

// wave is one Gaussian component of a beat: offset from the R peak (s),
// amplitude (mV) and width (s, the standard deviation).
type wave struct{ at, amp, width float64 }

// beatShape returns the components of a beat on both leads. QT and the T
// wave scale with √RR (Bazett); a PVC has no P wave, a wide QRS and a T wave
// of opposite polarity, as on a monitor.
func beatShape(pvc bool, rr float64, m *morphology) (lead1, lead2 []wave) {
	q := math.Sqrt(rr)
	if !pvc {
		lead1 = []wave{
			{-0.17, float64(0.12 * m.p), 0.022},
			{-0.03, float64(-0.10 * m.r), 0.008},
			{0, float64(1.1 * m.r), 0.010},
			{0.03, float64(-0.22 * m.r), 0.010},
			{float64(0.27 * q), float64(0.30 * m.t), float64(0.055 * q)},
			{float64(0.33 * q), float64(0.08 * m.t), float64(0.04 * q)},
		}
		lead2 = []wave{
			{-0.17, float64(0.06 * m.p), 0.022},
			{0, float64(0.30 * m.r), 0.009},
			{0.025, float64(-0.90 * m.r), 0.012},
			{float64(0.27 * q), float64(0.15 * m.t), float64(0.06 * q)},
		}
		return lead1, lead2
	}
	s := m.pvcPolarity
	lead1 = []wave{
		{-0.02, float64(-0.15 * s), 0.02},
		{0, float64(1.5 * s * m.r), 0.028},
		{0.06, float64(-0.55 * s * m.r), 0.03},
		{float64(0.32 * q), float64(-0.45 * s * m.t), float64(0.075 * q)},
	}
	lead2 = []wave{
		{0, float64(1.2 * m.r), 0.03},
		{0.065, float64(-0.3 * m.r), 0.03},
		{float64(0.33 * q), float64(-0.35 * m.t), float64(0.08 * q)},
	}
	return lead1, lead2
}

// morphology is a record's individual scaling of the waves.
type morphology struct{ p, r, t, pvcPolarity float64 }

// NewECG generates a record: a sinus rhythm whose rate drifts slowly and
// follows respiration (respiratory sinus arrhythmia), premature ventricular
// beats with a compensatory pause, baseline wander, mains hum, noise and
// bursts of muscle artefact.
func NewECG(o ECGOptions) (*ECG, error) {
	if o.Rate == 0 {
		o.Rate = 360
	}
	if !(o.Rate >= 50 && o.Rate <= 10000) {
		return nil, fmt.Errorf("ECG sample rate %v Hz: expected 50 to 10000", o.Rate)
	}
	if !(o.Minutes > 0 && o.Minutes <= 24*60) {
		return nil, fmt.Errorf("ECG length %v minutes: expected more than 0 and at most 1440", o.Minutes)
	}
	g := newRNG(o.Seed, o.Stream)
	fs := o.Rate
	n := int(math.Round(float64(o.Minutes*60) * fs))
	dur := float64(n) / fs

	meanHR := g.uniform(55, 95)
	driftAmp, driftPeriod, driftPhase := g.uniform(3, 10), g.uniform(240, 720), g.phase()
	respF, respPhase := g.uniform(0.2, 0.33), g.phase()
	rsa := g.uniform(0.02, 0.06)
	mayer, mayerPhase := g.uniform(0.01, 0.03), g.phase()
	pvcProb := 0.0
	if g.chance(0.8) {
		pvcProb = g.uniform(0.005, 0.06)
	}
	m := &morphology{p: g.uniform(0.7, 1.3), r: g.uniform(0.8, 1.3), t: g.uniform(0.7, 1.3), pvcPolarity: 1}
	if g.chance(0.3) {
		m.pvcPolarity = -1
	}

	// Beat times. rrAt is the sinus RR interval at time t.
	rrAt := func(t float64) float64 {
		hr := meanHR + sine(driftAmp, 1/driftPeriod, driftPhase, t)
		rr := 60 / hr
		mod := 1 + sine(rsa, respF, respPhase, t) + sine(mayer, 0.1, mayerPhase, t)
		return float64(rr*mod) + float64(0.008*g.normal())
	}
	type beat struct {
		t, rr float64
		pvc   bool
	}
	var beats []beat
	t := g.uniform(0.25, 0.8)
	for t < dur {
		rr := rrAt(t)
		beats = append(beats, beat{t: t, rr: rr})
		if g.chance(pvcProb) {
			// Premature beat after 55–70 % of the cycle; the next sinus beat
			// comes on schedule, two cycles after this one (full pause).
			coupling := float64(rr * g.uniform(0.55, 0.7))
			if t+coupling < dur {
				beats = append(beats, beat{t: t + coupling, rr: coupling, pvc: true})
			}
			t += float64(2 * rr)
			continue
		}
		t += rr
	}

	lead1 := make([]float64, n)
	lead2 := make([]float64, n)
	e := &ECG{Record: o.Record, MeanHR: meanHR}
	for _, b := range beats {
		w1, w2 := beatShape(b.pvc, b.rr, m)
		// Breathing moves the heart's axis: amplitudes swing a little.
		scale := 1 + sine(0.05, respF, respPhase, b.t)
		addWaves(lead1, w1, b.t, scale, fs)
		addWaves(lead2, w2, b.t, scale, fs)
		code := signal.CodeNormal
		if b.pvc {
			code = signal.CodePVC
		}
		if s := int64(math.Round(b.t * fs)); s < int64(n) {
			e.Beats = append(e.Beats, signal.Annotation{Sample: s, Code: code})
		}
	}

	// Baseline wander (breathing and slow drift), mains hum, white noise.
	wander1, wander2 := g.uniform(0.05, 0.2), g.uniform(0.03, 0.15)
	slowF, slowPhase := g.uniform(0.02, 0.06), g.phase()
	humF := 60.0
	if g.chance(0.5) {
		humF = 50
	}
	hum := g.uniform(0, 0.02)
	if fs < 2.5*humF {
		hum = 0 // the hum would alias; real front ends filter it before sampling
	}
	humPhase := g.phase()
	noise := g.uniform(0.005, 0.03)
	// Muscle artefact: bursts of 1–4 s of stronger noise, about one every
	// three minutes, as when the patient moves.
	burst := make([]float64, n)
	for range int(math.Round(float64(dur/180) * g.uniform(0.5, 1.5))) {
		at, length, sd := g.uniform(0, dur), g.uniform(1, 4), g.uniform(0.03, 0.12)
		for i := max(0, int(at*fs)); i < min(n, int(float64(at+length)*fs)); i++ {
			burst[i] = sd
		}
	}
	for i := range n {
		ti := float64(i) / fs
		resp := sine(1, respF, respPhase, ti)
		slow := sine(1, slowF, slowPhase, ti)
		h := sine(hum, humF, humPhase, ti)
		sd := noise + burst[i]
		lead1[i] += float64(wander1*resp) + float64(0.5*wander1*slow) + h + float64(sd*g.normal())
		lead2[i] += float64(wander2*resp) - float64(0.7*wander2*slow) + h + float64(sd*g.normal())
	}
	lim := 2047.0 / ECGGain
	for _, lead := range [][]float64{lead1, lead2} {
		for i, v := range lead {
			lead[i] = quantize(max(-lim, min(lim, v)), ECGGain)
		}
	}
	e.Signal = signal.Signal{Channels: []signal.Channel{
		{Name: "MLII", Unit: "mV", Rate: fs, Gain: ECGGain, Samples: lead1},
		{Name: "V1", Unit: "mV", Rate: fs, Gain: ECGGain, Samples: lead2},
	}}
	return e, nil
}

// addWaves adds a beat's Gaussian waves centred around time t to x,
// over ±4 widths of each.
func addWaves(x []float64, ws []wave, t, scale, fs float64) {
	for _, w := range ws {
		c := t + w.at
		amp := w.amp * scale
		lo := max(0, int(math.Ceil(float64(c-float64(4*w.width))*fs)))
		hi := min(len(x)-1, int(math.Floor(float64(c+float64(4*w.width))*fs)))
		k := -1 / float64(2*w.width*w.width)
		for i := lo; i <= hi; i++ {
			d := float64(i)/fs - c
			x[i] += float64(amp * dmath.Exp(float64(d*d)*k))
		}
	}
}

// Files encodes the record as e.Record+".hea"/".dat" (WFDB format 212),
// ".atr" (the true beats, MIT format), ".csv" (the leads in pulsegrid's CSV
// dialect) and ".beats.csv" (sample,time_s,code,symbol per beat).
func (e *ECG) Files() ([]File, error) {
	hea, dat, err := wfdb.WriteRecord(e.Record, &e.Signal, 212)
	if err != nil {
		return nil, fmt.Errorf("ECG record %s: %w", e.Record, err)
	}
	atr, err := wfdb.EncodeAnnotations(e.Beats)
	if err != nil {
		return nil, fmt.Errorf("ECG record %s annotations: %w", e.Record, err)
	}
	var beats bytes.Buffer
	beats.WriteString("sample,time_s,code,symbol\n")
	rate := e.Signal.Channels[0].Rate
	for _, b := range e.Beats {
		fmt.Fprintf(&beats, "%d,%s,%d,%s\n", b.Sample, strconv.FormatFloat(float64(b.Sample)/rate, 'f', -1, 64), b.Code, signal.Mnemonic(b.Code))
	}
	return []File{
		{e.Record + ".hea", hea},
		{e.Record + ".dat", dat},
		{e.Record + ".atr", atr},
		{e.Record + ".csv", writeCSV(&e.Signal)},
		{e.Record + ".beats.csv", beats.Bytes()},
	}, nil
}
