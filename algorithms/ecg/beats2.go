package ecg

import (
	"encoding/json"
	"fmt"

	"github.com/pulsegrid/pulsegrid/algorithms/canon"
	"github.com/pulsegrid/pulsegrid/algorithms/pipeline"
	"github.com/pulsegrid/pulsegrid/algorithms/signal"
)

// Beats2Name is the registered name of the second beat detector: the
// detector of ecg.beats@1 with a noise-adaptive threshold, a second lead
// used where the first one is saturated, flat or noisy, and a fiducial
// point kept on the same feature of each complex (detect2.go). Its beats
// differ from ecg.beats@1's, so it is a version of its own: a volunteer
// advertises the exact names it can run, and one whose cached worker only
// knows ecg.beats@1 is never leased an ecg.beats@2 chunk, where it would
// disagree with the up-to-date ones.
const Beats2Name = "ecg.beats@2"

// Beats2 is the ecg.beats@2 algorithm. Its parameters, result and exports
// are those of ecg.beats@1.
type Beats2 struct{}

// NewBeats2 returns the ecg.beats@2 algorithm.
func NewBeats2() pipeline.Algorithm { return Beats2{} }

// Name implements pipeline.Algorithm.
func (Beats2) Name() string { return Beats2Name }

// Describe implements pipeline.Algorithm.
func (Beats2) Describe() pipeline.Info {
	return pipeline.Info{
		Name:  Beats2Name,
		Title: "QRS detection and heart rate (noise-robust, both leads)",
		Description: "Detects QRS complexes (Hamilton–Tompkins style, integer arithmetic, 100 to 2048 Hz) " +
			"with a threshold that follows the noise, falls back on a second ECG lead where the first " +
			"is saturated, flat or noisy, and puts each beat's fiducial point on the same feature of " +
			"the complex; reports beat times, RR intervals, instantaneous and per-minute heart rate.",
		Inputs:        "ECG",
		DefaultParams: BeatsParams{}.Canonical(),
		Exports:       []string{"csv", "wfdb"},
	}
}

// Params implements pipeline.Algorithm (the parameters of ecg.beats@1).
func (Beats2) Params(raw json.RawMessage) ([]byte, error) {
	p, err := ParseBeatsParams(raw)
	if err != nil {
		return nil, err
	}
	return p.Canonical(), nil
}

// Split implements pipeline.Algorithm: ecg.beats@1's blocks and chunks,
// with the second lead as a second channel when the record has one.
func (Beats2) Split(sig *signal.Signal, params []byte, opt pipeline.SplitOptions) ([]pipeline.Chunk, error) {
	p, err := ParseBeatsParams(params)
	if err != nil {
		return nil, err
	}
	return SplitClassify(sig, p.Lead, Beats2Name, p.Canonical(), opt)
}

// SplitChannels implements pipeline.ChannelPicker: the lead and the second
// lead.
func (Beats2) SplitChannels(meta *signal.Signal, params []byte) ([]int, error) {
	p, err := ParseBeatsParams(params)
	if err != nil {
		return nil, err
	}
	return BothLeads(meta, p.Lead)
}

// BothLeads returns the chosen lead and, if there is one, the second lead
// (SecondLead), from the channels' names and rates alone.
func BothLeads(meta *signal.Signal, lead Lead) ([]int, error) {
	i, err := ChooseLead(meta, lead)
	if err != nil {
		return nil, err
	}
	if j := secondLeadMeta(meta, i); j >= 0 {
		return []int{i, j}, nil
	}
	return []int{i}, nil
}

// RunReadsNoLabels implements pipeline.LabelBlind: Split picks both leads on the server.
func (Beats2) RunReadsNoLabels() {}

// Run implements pipeline.Algorithm.
func (Beats2) Run(t *pipeline.Task, y pipeline.Yielder) ([]byte, error) {
	if t.Algorithm != Beats2Name {
		return nil, fmt.Errorf("%s: task is for %q", Beats2Name, t.Algorithm)
	}
	return RunBeats2(t, y)
}

// RunBeats2 detects the beats of one chunk with the ecg.beats@2 detector,
// on the task's first channel with its second (if any) as the fallback
// lead. The output is encoded as ecg.beats@1's.
func RunBeats2(t *pipeline.Task, y pipeline.Yielder) ([]byte, error) {
	beats, err := detectOwned2(t.Channels, t.Aux, y, "beats task")
	if err != nil {
		return nil, err
	}
	w := canon.NewWriter(outputMagic)
	w.I64s(beats)
	return w.Bytes(), nil
}

// Merge implements pipeline.Algorithm: ecg.beats@1's merge.
func (Beats2) Merge(params []byte, parts []pipeline.Part) (pipeline.Result, error) {
	return MergeBeats2(parts)
}

// MergeBeats2 is MergeBeats for ecg.beats@2 outputs.
func MergeBeats2(parts []pipeline.Part) (*BeatsResult, error) {
	r, err := MergeBeats(parts)
	if err != nil {
		return nil, err
	}
	r.Algorithm = Beats2Name
	return r, nil
}

// DecodeResult implements pipeline.Algorithm.
func (Beats2) DecodeResult(b []byte) (pipeline.Result, error) {
	var r BeatsResult
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("decode %s result: %w", Beats2Name, err)
	}
	if r.Algorithm != Beats2Name {
		return nil, fmt.Errorf("decode %s result: algorithm %q", Beats2Name, r.Algorithm)
	}
	return &r, nil
}
