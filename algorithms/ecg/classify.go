package ecg

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"github.com/pulsegrid/pulsegrid/algorithms/pipeline"
	"github.com/pulsegrid/pulsegrid/algorithms/signal"
)

// ClassifyName is the registered name of the beat classifier.
const ClassifyName = "ecg.classify@1"

// Classify2Name is the classifier on the beats of ecg.beats@2: the same
// features, rules and events, computed at the beats and fiducial points of
// the ecg.beats@2 detector, with three more supraventricular rules, its
// own sPost and the tachycardia inside AF folded into the AF episodes
// (defaultTuning2).
const Classify2Name = "ecg.classify@2"

// ClassifyParams are the parameters of ecg.classify@1.
type ClassifyParams struct {
	// Lead selects the channel beats are detected on, as for ecg.beats@1.
	// A second ECG lead of the same rate, if any, adds its morphology.
	Lead Lead `json:"lead"`
	// PauseSeconds is the shortest RR interval reported as a pause.
	PauseSeconds float64 `json:"pause_s"`
	// BradyBPM and TachyBPM bound the heart rate outside of which an
	// episode of bradycardia or tachycardia is reported.
	BradyBPM float64 `json:"brady_bpm"`
	TachyBPM float64 `json:"tachy_bpm"`
	// EpisodeSeconds is the shortest bradycardia or tachycardia episode.
	EpisodeSeconds float64 `json:"episode_s"`
	// AFSeconds is the shortest atrial fibrillation episode (30 s is the
	// usual clinical definition).
	AFSeconds float64 `json:"af_s"`
}

// DefaultClassifyParams are the defaults of ecg.classify@1.
func DefaultClassifyParams() ClassifyParams {
	return ClassifyParams{PauseSeconds: 2, BradyBPM: 50, TachyBPM: 100, EpisodeSeconds: 10, AFSeconds: 30}
}

// ParseClassifyParams validates raw JSON parameters (nil or {} for the
// defaults).
func ParseClassifyParams(raw json.RawMessage) (ClassifyParams, error) {
	p := DefaultClassifyParams()
	if t := bytes.TrimSpace(raw); len(t) > 0 && string(t) != "null" {
		dec := json.NewDecoder(bytes.NewReader(t))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&p); err != nil {
			return p, fmt.Errorf("%s parameters: %w (known: \"lead\", \"pause_s\", \"brady_bpm\", \"tachy_bpm\", \"episode_s\", \"af_s\")", ClassifyName, err)
		}
		if dec.More() {
			return p, fmt.Errorf("%s parameters: trailing data after the JSON object", ClassifyName)
		}
	}
	check := func(name string, v, lo, hi float64) error {
		if !(v >= lo && v <= hi) {
			return fmt.Errorf("%s parameters: %s is %v, want %v to %v", ClassifyName, name, v, lo, hi)
		}
		return nil
	}
	for _, c := range []struct {
		name      string
		v, lo, hi float64
	}{
		{"pause_s", p.PauseSeconds, 1, 60},
		{"brady_bpm", p.BradyBPM, 20, 100},
		{"tachy_bpm", p.TachyBPM, 60, 250},
		{"episode_s", p.EpisodeSeconds, 1, 3600},
		{"af_s", p.AFSeconds, 5, 3600},
	} {
		if err := check(c.name, c.v, c.lo, c.hi); err != nil {
			return p, err
		}
	}
	if p.BradyBPM >= p.TachyBPM {
		return p, fmt.Errorf("%s parameters: brady_bpm %v must be below tachy_bpm %v", ClassifyName, p.BradyBPM, p.TachyBPM)
	}
	return p, nil
}

// Canonical returns the canonical JSON of the parameters.
func (p ClassifyParams) Canonical() []byte {
	b, _ := json.Marshal(p) // plain numbers and a lead cannot fail
	return b
}

// Classify is the ecg.classify@1 algorithm, or with v2 ecg.classify@2.
type Classify struct{ v2 bool }

// NewClassify returns the ecg.classify@1 algorithm.
func NewClassify() pipeline.Algorithm { return Classify{} }

// NewClassify2 returns the ecg.classify@2 algorithm.
func NewClassify2() pipeline.Algorithm { return Classify{v2: true} }

func (c Classify) name() string {
	if c.v2 {
		return Classify2Name
	}
	return ClassifyName
}

// Name implements pipeline.Algorithm.
func (c Classify) Name() string { return c.name() }

// Describe implements pipeline.Algorithm.
func (c Classify) Describe() pipeline.Info {
	det := BeatsName
	if c.v2 {
		det = Beats2Name
	}
	return pipeline.Info{
		Name:  c.name(),
		Title: "Beat classes, rhythm and events (Holter)",
		Description: "Detects beats as " + det + " does and labels each with its ANSI/AAMI EC57 class " +
			"(N, S, V, F, Q) from the patient's own dominant morphology (both leads) and RR prematurity; " +
			"reports atrial fibrillation episodes and burden, pauses, bradycardia and tachycardia, " +
			"ventricular and supraventricular couplets and runs, bigeminy and trigeminy.",
		Inputs:        "ECG",
		DefaultParams: DefaultClassifyParams().Canonical(),
		Exports:       []string{"csv", "wfdb"},
	}
}

// Params implements pipeline.Algorithm.
func (Classify) Params(raw json.RawMessage) ([]byte, error) {
	p, err := ParseClassifyParams(raw)
	if err != nil {
		return nil, err
	}
	return p.Canonical(), nil
}

// Split implements pipeline.Algorithm.
func (c Classify) Split(sig *signal.Signal, params []byte, opt pipeline.SplitOptions) ([]pipeline.Chunk, error) {
	p, err := ParseClassifyParams(params)
	if err != nil {
		return nil, err
	}
	return SplitClassify(sig, p.Lead, c.name(), p.Canonical(), opt)
}

// SplitChannels implements pipeline.ChannelPicker: the lead and the second
// lead.
func (Classify) SplitChannels(meta *signal.Signal, params []byte) ([]int, error) {
	p, err := ParseClassifyParams(params)
	if err != nil {
		return nil, err
	}
	i, err := ChooseLead(meta, p.Lead)
	if err != nil {
		return nil, err
	}
	if j := secondLeadMeta(meta, i); j >= 0 {
		return []int{i, j}, nil
	}
	return []int{i}, nil
}

// Run implements pipeline.Algorithm.
// RunReadsNoLabels implements pipeline.LabelBlind: Split picks both leads on the server.
func (Classify) RunReadsNoLabels() {}

func (c Classify) Run(t *pipeline.Task, y pipeline.Yielder) ([]byte, error) {
	if t.Algorithm != c.name() {
		return nil, fmt.Errorf("%s: task is for %q", c.name(), t.Algorithm)
	}
	return runClassifyTask(t, y, c.v2)
}

// Merge implements pipeline.Algorithm.
func (c Classify) Merge(params []byte, parts []pipeline.Part) (pipeline.Result, error) {
	p, err := ParseClassifyParams(params)
	if err != nil {
		return nil, err
	}
	mb, err := mergeFeatures(parts)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.name(), err)
	}
	r := classifyBeats(p, mb, c.v2)
	r.Algorithm = c.name()
	return r, nil
}

// DecodeResult implements pipeline.Algorithm.
func (c Classify) DecodeResult(b []byte) (pipeline.Result, error) {
	var r ClassifyResult
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("decode %s result: %w", c.name(), err)
	}
	if r.Algorithm != c.name() {
		return nil, fmt.Errorf("decode %s result: algorithm %q", c.name(), r.Algorithm)
	}
	return &r, nil
}

// mergedBeats is every beat of the record with its snippets, boundary
// duplicates removed.
type mergedBeats struct {
	info    specInfo
	leads   int
	samples []int64
	snip    [][]int16
	gap     []bool
}

// mergeFeatures joins the chunk outputs in chunk order with MergeBeats'
// rule for duplicates, so the beats are exactly those of ecg.beats@1.
func mergeFeatures(parts []pipeline.Part) (*mergedBeats, error) {
	if len(parts) == 0 {
		return nil, fmt.Errorf("merge: no chunks")
	}
	info, err := decodeSpecInfo(parts[0].Spec.Aux)
	if err != nil {
		return nil, fmt.Errorf("merge: chunk 0: %w", err)
	}
	refr := int64(newDetector(info.rate).refr)
	mb := &mergedBeats{info: info}
	next := int64(0)
	for i, p := range parts {
		if p.Spec.Lo != next {
			return nil, fmt.Errorf("merge: chunk %d starts at sample %d, want %d (chunks missing or out of order)", i, p.Spec.Lo, next)
		}
		next = p.Spec.Hi
		f, err := decodeBeatFeatures(p.Output)
		if err != nil {
			return nil, fmt.Errorf("merge: chunk %d: %w", i, err)
		}
		if i == 0 {
			mb.leads = len(f.snip)
			mb.snip = make([][]int16, mb.leads)
		} else if len(f.snip) != mb.leads {
			return nil, fmt.Errorf("merge: chunk %d has %d leads, chunk 0 has %d", i, len(f.snip), mb.leads)
		}
		prevInChunk := int64(math.MinInt64)
		for k, r := range f.beats {
			s := r + p.Spec.Offset
			if s < p.Spec.Lo || s >= p.Spec.Hi || s <= prevInChunk {
				return nil, fmt.Errorf("merge: chunk %d: beat at sample %d outside [%d, %d) or out of order", i, s, p.Spec.Lo, p.Spec.Hi)
			}
			prevInChunk = s
			if n := len(mb.samples); n > 0 && s-mb.samples[n-1] < refr {
				continue
			}
			mb.samples = append(mb.samples, s)
			mb.gap = append(mb.gap, f.gap[k])
			for l := range mb.leads {
				mb.snip[l] = append(mb.snip[l], f.snip[l][k*SnippetPoints:(k+1)*SnippetPoints]...)
			}
		}
	}
	if next != info.samples {
		return nil, fmt.Errorf("merge: chunks end at sample %d, the lead has %d", next, info.samples)
	}
	return mb, nil
}

// MergeClassify joins the chunk outputs and classifies the record's beats
// as ecg.classify@1 does.
func MergeClassify(p ClassifyParams, parts []pipeline.Part) (*ClassifyResult, error) {
	mb, err := mergeFeatures(parts)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ClassifyName, err)
	}
	return classifyBeats(p, mb, false), nil
}

// Class is an ANSI/AAMI EC57 beat class.
type Class byte

// The EC57 classes.
const (
	ClassN Class = 'N' // normal and bundle branch block beats, escape beats
	ClassS Class = 'S' // supraventricular ectopic
	ClassV Class = 'V' // ventricular ectopic
	ClassF Class = 'F' // fusion of ventricular and normal
	ClassQ Class = 'Q' // paced or unclassifiable
)

// String returns the class letter.
func (c Class) String() string { return string(rune(c)) }

// MarshalJSON writes the class as its letter.
func (c Class) MarshalJSON() ([]byte, error) { return []byte(`"` + c.String() + `"`), nil }

// UnmarshalJSON reads a class letter.
func (c *Class) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	switch s {
	case "N", "S", "V", "F", "Q":
		*c = Class(s[0])
		return nil
	}
	return fmt.Errorf("beat class %q: want N, S, V, F or Q", s)
}

// ClassOfCode maps an MIT annotation code to its EC57 class; ok is false
// for codes that are not beats.
func ClassOfCode(code int) (c Class, ok bool) {
	switch code {
	case signal.CodeNormal, signal.CodeLBBB, signal.CodeRBBB, signal.CodeAESC, signal.CodeNEsc:
		return ClassN, true
	case signal.CodeAPC, signal.CodeAberrated, signal.CodeNPC, signal.CodeSVPB:
		return ClassS, true
	case signal.CodePVC, signal.CodeVEsc:
		return ClassV, true
	case signal.CodeFusion:
		return ClassF, true
	case signal.CodePaced, signal.CodePFUS, signal.CodeUnknown:
		return ClassQ, true
	}
	return 0, false
}

// code is the MIT annotation code written for a class.
func (c Class) code() int {
	switch c {
	case ClassS:
		return signal.CodeAPC
	case ClassV:
		return signal.CodePVC
	case ClassF:
		return signal.CodeFusion
	case ClassQ:
		return signal.CodeUnknown
	}
	return signal.CodeNormal
}

// ClassifyResult is the merged result of ecg.classify@1.
type ClassifyResult struct {
	Algorithm string         `json:"algorithm"`
	Params    ClassifyParams `json:"params"`
	Lead      string         `json:"lead"`       // channel beats are detected on
	LeadIndex int            `json:"lead_index"` // its index in the signal
	Leads     int            `json:"leads"`      // leads whose morphology is compared: 1 or 2
	Rate      float64        `json:"rate"`
	Samples   int64          `json:"samples"`
	Count     int            `json:"count"`
	// Classes counts the beats of each class.
	Classes ClassCounts `json:"classes"`
	// Families are the morphology families, largest (dominant) first in
	// index order as found; each beat names its family.
	Families []Family         `json:"families"`
	Beats    []ClassifiedBeat `json:"beats"`
	Rhythm   Rhythm           `json:"rhythm"`
	Events   []Event          `json:"events"`
}

// ClassCounts counts beats per EC57 class.
type ClassCounts struct {
	N int `json:"N"`
	S int `json:"S"`
	V int `json:"V"`
	F int `json:"F"`
	Q int `json:"Q"`
}

// Add counts one beat of class k.
func (c *ClassCounts) Add(k Class) { c.add(k) }

// Of is the count of class k.
func (c ClassCounts) Of(k Class) int {
	switch k {
	case ClassN:
		return c.N
	case ClassS:
		return c.S
	case ClassV:
		return c.V
	case ClassF:
		return c.F
	case ClassQ:
		return c.Q
	}
	return 0
}

// Most is the class with the most beats, N first on a tie, then S, V, F, Q.
func (c ClassCounts) Most() Class {
	best := ClassN
	for _, k := range []Class{ClassS, ClassV, ClassF, ClassQ} {
		if c.Of(k) > c.Of(best) {
			best = k
		}
	}
	return best
}

func (c *ClassCounts) add(k Class) {
	switch k {
	case ClassN:
		c.N++
	case ClassS:
		c.S++
	case ClassV:
		c.V++
	case ClassF:
		c.F++
	case ClassQ:
		c.Q++
	}
}

// Family is a morphology family (template) of beats.
type Family struct {
	Index int   `json:"index"`
	Beats int   `json:"beats"`
	Class Class `json:"class"` // the class most of its beats have
	// Corr, Width and Amp describe its template against the dominant one:
	// correlation, QRS width ratio, amplitude ratio.
	Corr  float64 `json:"corr"`
	Width float64 `json:"width"`
	Amp   float64 `json:"amp"`
	// Example is the sample of a beat of the family, for a strip.
	Example int64 `json:"example"`
}

// ClassifiedBeat is one beat with its class.
type ClassifiedBeat struct {
	Sample int64   `json:"sample"`
	Time   float64 `json:"time"`
	RR     float64 `json:"rr"` // seconds since the previous beat, 0 for the first
	Class  Class   `json:"class"`
	Family int     `json:"family"`
}

// Summary implements pipeline.Result.
func (r *ClassifyResult) Summary() string {
	c := r.Classes
	return fmt.Sprintf("%d beats: N %d, S %d, V %d, F %d, Q %d; %d events, AF burden %.1f %%", r.Count, c.N, c.S, c.V, c.F, c.Q, len(r.Events), 100*r.Rhythm.AFBurden)
}

// CSV implements pipeline.Result: one row per beat, then one per event.
func (r *ClassifyResult) CSV() ([]byte, error) {
	var buf bytes.Buffer
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	buf.WriteString("sample,time_s,rr_s,class,family\n")
	for _, b := range r.Beats {
		fmt.Fprintf(&buf, "%d,%s,%s,%s,%d\n", b.Sample, f(b.Time), f(b.RR), b.Class, b.Family)
	}
	buf.WriteString("\nevent,start_sample,end_sample,start_s,end_s,beats,rate_bpm,beat_sample\n")
	for _, e := range r.Events {
		fmt.Fprintf(&buf, "%s,%d,%d,%s,%s,%d,%s,%d\n", e.Kind, e.Start, e.End, f(e.StartTime), f(e.EndTime), e.Beats, f(e.RateBPM), e.Beat)
	}
	return buf.Bytes(), nil
}

// Annotations implements pipeline.Annotated: each beat with the MIT code of
// its class (N, A, V, F, Q), which WFDB's bxb scores by class.
func (r *ClassifyResult) Annotations() ([]signal.Annotation, float64) {
	out := make([]signal.Annotation, len(r.Beats))
	for i, b := range r.Beats {
		out[i] = signal.Annotation{Sample: b.Sample, Code: b.Class.code()}
	}
	return out, r.Rate
}
