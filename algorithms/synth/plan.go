package synth

import (
	"fmt"
	"math"

	"github.com/pulsegrid/pulsegrid/algorithms/dmath"
	"github.com/pulsegrid/pulsegrid/algorithms/signal"
)

// Beat kinds of the plan. Each has its own morphology; the annotation code
// is in beatCode.
const (
	beatN  = iota // sinus beat: P wave, narrow QRS
	beatAF        // conducted beat in atrial fibrillation: no P wave
	beatS         // atrial premature beat: early, abnormal P, narrow QRS
	beatV         // premature ventricular beat: no P, wide QRS, opposite T
	beatF         // fusion of a sinus and a ventricular beat
)

var beatCode = [...]int{beatN: signal.CodeNormal, beatAF: signal.CodeNormal, beatS: signal.CodeAPC, beatV: signal.CodePVC, beatF: signal.CodeFusion}

// Rhythm labels written as aux strings of RHYTHM annotations, as in the
// MIT-BIH databases; "(STACH" (sinus tachycardia) has no MIT-BIH label and
// is pulsegrid's.
const (
	rhythmNormal = "(N"
	rhythmAF     = "(AFIB"
	rhythmVT     = "(VT"
	rhythmSVTA   = "(SVTA"
	rhythmBigem  = "(B"
	rhythmTrigem = "(T"
	rhythmBrady  = "(SBR"
	rhythmTachy  = "(STACH"
)

// Limits of the sinus rhythm outside episodes, so that no pause, brady- or
// tachycardia appears where none was planned: 51–98 bpm beat to beat.
const (
	sinusMinRR = 60.0 / 98
	sinusMaxRR = 60.0 / 51
	// postMaxRR caps the interval after an ectopic run, well under a pause.
	postMaxRR = 1.85
	// margin is the least sinus rhythm (s) between two events, at least
	// four sinus beats, so that isolated beats stay isolated.
	margin = 6.0
)

// beat is one planned beat: R-peak time (s), the RR interval before it
// (which sets its QT) and its kind.
type beat struct {
	t, rr float64
	kind  uint8
}

// interval is a stretch of samples [from, to) with a parameter: the noise
// SD of a muscle artefact burst, or the f-wave amplitude of an AF episode.
type interval struct {
	from, to int
	amp      float64
	freq     float64 // f-wave frequency (Hz), AF only
	phase    float64
}

// Event is one event of the ground truth: its kind (as in Events' JSON
// names), its first and last sample (the R peaks of its first and last beat;
// for a pause, the beats before and after it), the same as times, how many
// beats it has (the ectopic beats of a run, the V beats of a bigeminy or
// trigeminy, every beat of an episode) and their rate.
type Event struct {
	Kind        string  `json:"kind"`
	StartSample int64   `json:"start_sample"`
	EndSample   int64   `json:"end_sample"`
	StartS      float64 `json:"start_s"`
	EndS        float64 `json:"end_s"`
	Beats       int     `json:"beats"`
	// RateBPM is 60·(beats−1)/(end−start) for runs and episodes; 0 for
	// single beats and pauses.
	RateBPM float64 `json:"rate_bpm,omitempty"`
	// Rhythm is the aux string of the rhythm annotation that opens the
	// event in the .atr, if it has one ("(VT", "(AFIB", ...).
	Rhythm string `json:"rhythm,omitempty"`
}

// item is an event to place: its kind, size (beats, cycles or seconds) and
// the time it may take, an upper bound.
type item struct {
	kind    string
	size    float64
	reserve float64
	start   float64
}

// plan is a record's beats, rhythm annotations, events and the stretches
// that shape its baseline.
type plan struct {
	beats  []beat
	anns   []signal.Annotation // beats and rhythm changes, in sample order
	events []Event
	bursts []interval // muscle artefact
	af     []interval // fibrillatory waves
}

// sinusModel is the patient's sinus rhythm: a mean rate with a slow drift,
// a circadian swing, respiratory sinus arrhythmia and Mayer waves.
type sinusModel struct {
	meanHR, driftAmp, driftPeriod, driftPhase float64
	circAmp, circPhase                        float64
	respF, respPhase, rsa, mayer, mayerPhase  float64
}

func (m *sinusModel) rr(g *rng, t float64) float64 {
	hr := m.meanHR + sine(m.driftAmp, 1/m.driftPeriod, m.driftPhase, t) + sine(m.circAmp, 1.0/86400, m.circPhase, t)
	mod := 1 + sine(m.rsa, m.respF, m.respPhase, t) + sine(m.mayer, 0.1, m.mayerPhase, t)
	rr := float64(60/hr*mod) + float64(0.008*g.normal())
	return max(sinusMinRR, min(sinusMaxRR, rr))
}

// reserve returns the longest time an event of the kind and size can take
// from the sinus beat before it to its last beat.
func reserve(kind string, size float64) float64 {
	const lead = sinusMaxRR // the sinus beat before the event is up to one RR early
	switch kind {
	case "pvc", "svpb", "fusion":
		return lead + 2*sinusMaxRR + 0.1
	case "pause":
		return lead + 3.5 + 0.1
	case "couplet":
		return lead + 0.7*sinusMaxRR + 0.55 + postMaxRR + 0.1
	case "triplet", "nsvt", "sv_run":
		return lead + 0.7*sinusMaxRR + float64((size-1)*0.6) + postMaxRR + 0.1
	case "bigeminy":
		return lead + float64(size*2*sinusMaxRR) + 0.1
	case "trigeminy":
		return lead + float64(size*3*sinusMaxRR) + 0.1
	default: // episodes of size seconds
		return lead + size + 2
	}
}

// newPlan draws a record's rhythm: it places the events in random order at
// random times with at least margin seconds of sinus rhythm around each,
// then walks the record beat by beat.
func newPlan(g *rng, fs float64, n int, ev Events, m *sinusModel) (*plan, error) {
	dur := float64(n) / fs
	var items []item
	for _, k := range kinds {
		for range *k.field(&ev) {
			var size float64
			switch k.name {
			case "triplet":
				size = 3
			case "nsvt":
				size = float64(4 + g.r.IntN(12))
			case "sv_run":
				size = float64(3 + g.r.IntN(10))
			case "bigeminy":
				size = float64(8 + g.r.IntN(33))
			case "trigeminy":
				size = float64(6 + g.r.IntN(25))
			case "bradycardia", "tachycardia":
				size = g.uniform(60, 300)
			case "af":
				size = g.uniform(120, 1200)
			}
			items = append(items, item{kind: k.name, size: size})
		}
	}
	// Episodes shrink (to a minute at least) when they would fill more
	// than 80 % of what the other events leave free.
	fixed, long := float64(len(items)+1)*margin, 0.0
	for _, it := range items {
		if isEpisode(it.kind) {
			fixed += reserve(it.kind, 0)
			long += it.size
		} else {
			fixed += reserve(it.kind, it.size)
		}
	}
	if free := float64(0.8 * (dur - fixed)); long > free {
		for i := range items {
			if isEpisode(items[i].kind) {
				items[i].size = max(60, float64(items[i].size*max(0, free)/long))
			}
		}
	}
	need := float64(len(items)+1) * margin
	for i := range items {
		items[i].reserve = reserve(items[i].kind, items[i].size)
		need += items[i].reserve
	}
	if len(items) > 0 && need > dur {
		return nil, fmt.Errorf("events %v need at least %.1f minutes of recording; this one has %.1f", ev, need/60, dur/60)
	}
	g.r.Shuffle(len(items), func(i, j int) { items[i], items[j] = items[j], items[i] })
	// The free time is split among the gaps at random (the spacings of
	// uniform points), so events land anywhere, never closer than margin.
	weights := make([]float64, len(items)+1)
	sum := 0.0
	for i := range weights {
		weights[i] = float64(-dmath.Log(float64(g.r.Uint64()>>11+1) * 0x1p-53))
		sum += weights[i]
	}
	t := 0.0
	for i := range items {
		t += margin + float64((dur-need)*weights[i]/sum)
		items[i].start = t
		t += items[i].reserve
	}

	w := &walker{g: g, fs: fs, n: n, m: m, p: &plan{}, pending: rhythmNormal}
	if t0 := g.uniform(0.25, 0.8); w.sample(t0) < int64(n) {
		w.emit(t0, 0.8, beatN)
	} else {
		return w.p, nil // shorter than its first beat
	}
	for _, it := range items {
		for {
			rr := m.rr(g, w.t)
			if w.t+rr >= it.start {
				break
			}
			w.emit(w.t+rr, rr, beatN)
		}
		w.event(it)
	}
	for {
		rr := m.rr(g, w.t)
		if w.sample(w.t+rr) >= int64(n) {
			break
		}
		w.emit(w.t+rr, rr, beatN)
	}

	// Muscle artefact: bursts of 1–4 s of stronger noise, about one every
	// three minutes, as when the patient moves.
	for range int(math.Round(float64(dur/180) * g.uniform(0.5, 1.5))) {
		at, length, sd := g.uniform(0, dur), g.uniform(1, 4), g.uniform(0.03, 0.12)
		w.p.bursts = append(w.p.bursts, interval{from: max(0, int(at*fs)), to: min(n, int(float64(at+length)*fs)), amp: sd})
	}
	sortIntervals(w.p.bursts)
	return w.p, nil
}

func isEpisode(kind string) bool {
	return kind == "bradycardia" || kind == "tachycardia" || kind == "af"
}

// walker lays down beats one after another.
type walker struct {
	g       *rng
	fs      float64
	n       int
	m       *sinusModel
	p       *plan
	t       float64 // time of the last beat
	pending string  // rhythm label the next beat opens, if any
}

func (w *walker) sample(t float64) int64 { return int64(math.Round(t * w.fs)) }

// emit adds a beat at t and its annotation, preceded by a rhythm annotation
// 50 ms before it if a rhythm starts there.
func (w *walker) emit(t, rr float64, kind uint8) {
	w.p.beats = append(w.p.beats, beat{t: t, rr: rr, kind: kind})
	s := w.sample(t)
	if w.pending != "" {
		w.p.anns = append(w.p.anns, signal.Annotation{Sample: s - int64(math.Round(0.05*w.fs)), Code: signal.CodeRhythm, Aux: w.pending})
		w.pending = ""
	}
	w.p.anns = append(w.p.anns, signal.Annotation{Sample: s, Code: beatCode[kind]})
	w.t = t
}

// event lays down the beats of one event after the last sinus beat and
// records it in the truth.
func (w *walker) event(it item) {
	g, m := w.g, w.m
	t0 := w.t
	rr0 := m.rr(g, t0)
	first := len(w.p.beats)
	rhythm := ""
	post := func(last float64) { // the sinus beat after an ectopic run
		rr := min(postMaxRR, float64(rr0*g.uniform(1.2, 1.5)))
		w.emit(last+rr, rr, beatN)
	}
	switch it.kind {
	case "pvc":
		// Premature after 55–70 % of the cycle; the next sinus beat comes on
		// schedule, two cycles after the last one (compensatory pause).
		c := float64(rr0 * g.uniform(0.55, 0.7))
		w.emit(t0+c, c, beatV)
		w.emit(t0+float64(2*rr0), float64(2*rr0)-c, beatN)
	case "svpb":
		// Early with its own P wave; it resets the sinus node, so the next
		// beat comes one cycle after it (no compensatory pause).
		c := float64(rr0 * g.uniform(0.55, 0.72))
		w.emit(t0+c, c, beatS)
	case "fusion":
		// A ventricular beat that fires as the sinus beat arrives.
		c := float64(rr0 * g.uniform(0.92, 0.97))
		w.emit(t0+c, c, beatF)
	case "pause":
		d := g.uniform(2.1, 3.5)
		w.emit(t0+d, d, beatN)
		w.p.events = append(w.p.events, w.truth(it.kind, w.p.beats[first-1].t, w.t, 2, "", false))
		return
	case "couplet", "triplet", "nsvt", "sv_run":
		k, ectopic := 2, uint8(beatV)
		rv := g.uniform(0.4, 0.55)
		lo, hi := 0.38, 0.57
		if it.kind != "couplet" {
			k = int(it.size)
			rv, lo, hi = g.uniform(0.3, 0.55), 0.28, 0.58
			rhythm = rhythmVT
		}
		if it.kind == "sv_run" {
			ectopic, rhythm = beatS, rhythmSVTA
			rv, lo, hi = g.uniform(0.33, 0.55), 0.3, 0.58
		}
		w.pending = rhythm
		c := float64(rr0 * g.uniform(0.55, 0.7))
		w.emit(t0+c, c, ectopic)
		for range k - 1 {
			rr := max(lo, min(hi, float64(rv*(1+float64(0.03*g.normal())))))
			w.emit(w.t+rr, rr, ectopic)
		}
		last := w.t
		if rhythm != "" {
			w.pending = rhythmNormal
		}
		post(last)
		w.p.events = append(w.p.events, w.truth(it.kind, w.p.beats[first].t, last, k, rhythm, true))
		return
	case "bigeminy", "trigeminy":
		rhythm = rhythmBigem
		if it.kind == "trigeminy" {
			rhythm = rhythmTrigem
		}
		w.pending = rhythm
		cf := g.uniform(0.55, 0.7)
		var lastV float64
		for j := range int(it.size) {
			rr := m.rr(g, w.t)
			start := w.t
			c := float64(rr * (cf + g.uniform(-0.01, 0.01)))
			w.emit(start+c, c, beatV)
			lastV = w.t
			if j == int(it.size)-1 {
				w.pending = rhythmNormal
			}
			w.emit(start+float64(2*rr), float64(2*rr)-c, beatN)
			if it.kind == "trigeminy" && j < int(it.size)-1 {
				rr := m.rr(g, w.t)
				w.emit(w.t+rr, rr, beatN)
			}
		}
		w.p.events = append(w.p.events, w.truth(it.kind, w.p.beats[first].t, lastV, int(it.size), rhythm, false))
		return
	case "bradycardia", "tachycardia", "af":
		end := t0 + it.size
		kind := uint8(beatN)
		var next func() float64
		switch it.kind {
		case "bradycardia":
			rhythm = rhythmBrady
			hr := g.uniform(38, 47)
			next = func() float64 {
				return max(60.0/49, min(60.0/36, float64(60/hr*(1+sine(0.02, m.respF, m.respPhase, w.t)))+float64(0.01*g.normal())))
			}
		case "tachycardia":
			rhythm = rhythmTachy
			hr := g.uniform(110, 150)
			next = func() float64 {
				return max(60.0/160, min(60.0/104, float64(60/hr*(1+sine(0.01, m.respF, m.respPhase, w.t)))+float64(0.004*g.normal())))
			}
		case "af":
			// Irregularly irregular: independent log-normal intervals.
			rhythm, kind = rhythmAF, beatAF
			mean, sd := 60/g.uniform(75, 120), g.uniform(0.12, 0.25)
			next = func() float64 { return max(0.33, min(1.6, float64(mean*dmath.Exp(float64(sd*g.normal()))))) }
		}
		w.pending = rhythm
		for {
			rr := next()
			if w.t+rr > end {
				break
			}
			w.emit(w.t+rr, rr, kind)
		}
		w.pending = rhythmNormal
		if it.kind == "af" {
			fs := w.fs
			w.p.af = append(w.p.af, interval{
				from:  int(math.Ceil(float64(t0+0.2) * fs)),
				to:    min(w.n, int(math.Floor(float64(w.t+0.3)*fs))),
				amp:   g.uniform(0.03, 0.1),
				freq:  g.uniform(5, 8),
				phase: g.phase(),
			})
		}
		w.p.events = append(w.p.events, w.truth(it.kind, w.p.beats[first].t, w.t, len(w.p.beats)-first, rhythm, true))
		return
	}
	w.p.events = append(w.p.events, w.truth(it.kind, w.p.beats[first].t, w.p.beats[first].t, 1, "", false))
}

// truth describes an event from its first to its last beat.
func (w *walker) truth(kind string, from, to float64, beats int, rhythm string, rate bool) Event {
	a, b := w.sample(from), w.sample(to)
	e := Event{Kind: kind, StartSample: a, EndSample: b, StartS: float64(a) / w.fs, EndS: float64(b) / w.fs, Beats: beats, Rhythm: rhythm}
	if rate && b > a && beats > 1 {
		e.RateBPM = math.Round(float64(60*float64(beats-1)*w.fs)/float64(b-a)*10) / 10
	}
	return e
}

func sortIntervals(v []interval) {
	for i := 1; i < len(v); i++ {
		for j := i; j > 0 && v[j].from < v[j-1].from; j-- {
			v[j], v[j-1] = v[j-1], v[j]
		}
	}
}
