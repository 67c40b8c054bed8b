package hrv

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/pulsegrid/pulsegrid/algorithms/ecg"
	"github.com/pulsegrid/pulsegrid/algorithms/pipeline"
	"github.com/pulsegrid/pulsegrid/algorithms/signal"
)

// ECGName is the registered name of the ECG heart rate variability algorithm.
const ECGName = "ecg.hrv@1"

// ECG2Name is ecg.hrv@1 on the beats of ecg.beats@2 (noise-robust, both
// leads): the same HRV from a different beat list, hence a version of its
// own.
const ECG2Name = "ecg.hrv@2"

// ECG is ecg.hrv@1: the beats of ecg.beats@1, then Compute on them. It
// reuses the beat detector's Split and Run unchanged (the chunk outputs are
// those of ecg.beats@1) and its Merge, so the HRV of a chunked run equals
// that of the whole record exactly.
//
// The detector does not classify beats, so every detected beat counts as
// normal; ectopic beats and missed or extra detections are excluded by the
// interval rules of NN (physiological limits and the 20 % rule).
//
// With v2 set it is ecg.hrv@2, on the beats of ecg.beats@2.
type ECG struct{ v2 bool }

// NewECG returns the ecg.hrv@1 algorithm.
func NewECG() pipeline.Algorithm { return ECG{} }

// NewECG2 returns the ecg.hrv@2 algorithm.
func NewECG2() pipeline.Algorithm { return ECG{v2: true} }

func (e ECG) name() string {
	if e.v2 {
		return ECG2Name
	}
	return ECGName
}

// ECGParams are the parameters of ecg.hrv@1: the lead (as for ecg.beats@1)
// and the HRV options.
type ECGParams struct {
	Lead ecg.Lead `json:"lead"`
	Options
}

// ParseECGParams validates raw JSON parameters, filling DefaultOptions.
func ParseECGParams(raw json.RawMessage) (ECGParams, error) {
	p := ECGParams{Options: DefaultOptions()}
	if err := decodeStrict(raw, &p); err != nil {
		return p, fmt.Errorf("%s parameters: %w", ECGName, err)
	}
	if err := p.Options.Validate(); err != nil {
		return p, fmt.Errorf("%s parameters: %w", ECGName, err)
	}
	return p, nil
}

// decodeStrict parses JSON into v, rejecting unknown fields and trailing
// data; nil or empty input leaves v as it is.
func decodeStrict(raw json.RawMessage, v any) error {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || string(t) == "null" {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(t))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON object")
	}
	return nil
}

// Name implements pipeline.Algorithm.
func (e ECG) Name() string { return e.name() }

// Describe implements pipeline.Algorithm.
func (e ECG) Describe() pipeline.Info {
	p, _ := e.Params(nil)
	return pipeline.Info{
		Name:  e.name(),
		Title: "Heart rate variability",
		Description: "Task Force 1996 HRV from detected beats: mean NN, SDNN, RMSSD, pNN50, mean HR; " +
			"VLF, LF, HF (ms²), LF/HF and normalized units by Lomb–Scargle on the NN series, " +
			"averaged over 5-minute windows; ectopic and artefact intervals excluded.",
		Inputs:        "ECG",
		DefaultParams: p,
		Exports:       []string{"csv"},
	}
}

// Params implements pipeline.Algorithm.
func (ECG) Params(raw json.RawMessage) ([]byte, error) {
	p, err := ParseECGParams(raw)
	if err != nil {
		return nil, err
	}
	return json.Marshal(p)
}

// Split implements pipeline.Algorithm: ecg.beats@1's split under our name.
func (e ECG) Split(sig *signal.Signal, params []byte, opt pipeline.SplitOptions) ([]pipeline.Chunk, error) {
	p, err := ParseECGParams(params)
	if err != nil {
		return nil, err
	}
	canon, _ := json.Marshal(p)
	if e.v2 {
		return ecg.SplitClassify(sig, p.Lead, ECG2Name, canon, opt)
	}
	return ecg.SplitBeats(sig, p.Lead, ECGName, canon, opt)
}

// SplitChannels implements pipeline.ChannelPicker: only the chosen lead.
func (e ECG) SplitChannels(meta *signal.Signal, params []byte) ([]int, error) {
	p, err := ParseECGParams(params)
	if err != nil {
		return nil, err
	}
	if e.v2 {
		return ecg.BothLeads(meta, p.Lead)
	}
	i, err := ecg.ChooseLead(meta, p.Lead)
	return []int{i}, err
}

// Run implements pipeline.Algorithm: ecg.beats@1's Run.
// RunReadsNoLabels implements pipeline.LabelBlind: Split picks the lead on the server.
func (ECG) RunReadsNoLabels() {}

func (e ECG) Run(t *pipeline.Task, y pipeline.Yielder) ([]byte, error) {
	if t.Algorithm != e.name() {
		return nil, fmt.Errorf("%s: task is for %q", e.name(), t.Algorithm)
	}
	if e.v2 {
		return ecg.RunBeats2(t, y)
	}
	return ecg.RunBeats(t, y)
}

// ECGResult is the merged result of ecg.hrv@1.
type ECGResult struct {
	Algorithm string  `json:"algorithm"`
	Lead      string  `json:"lead"`
	Rate      float64 `json:"rate"`
	Options   Options `json:"options"`
	Report
	// Note explains an empty report, e.g. too few beats.
	Note string `json:"note,omitempty"`
}

// Merge implements pipeline.Algorithm: the beats' Merge, then Compute.
func (e ECG) Merge(params []byte, parts []pipeline.Part) (pipeline.Result, error) {
	p, err := ParseECGParams(params)
	if err != nil {
		return nil, err
	}
	beats, err := ecg.MergeBeats(parts)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", e.name(), err)
	}
	times := make([]float64, len(beats.Beats))
	normal := make([]bool, len(beats.Beats))
	for i, b := range beats.Beats {
		times[i] = b.Time
		normal[i] = true
	}
	res := &ECGResult{Algorithm: e.name(), Lead: beats.Lead, Rate: beats.Rate, Options: p.Options}
	res.Report, err = Compute(times, normal, p.Options)
	if errors.Is(err, ErrTooFewBeats) {
		res.Note = fmt.Sprintf("%d beats detected: too few NN intervals for HRV", len(times))
	} else if err != nil {
		return nil, fmt.Errorf("%s: %w", e.name(), err)
	}
	return res, nil
}

// DecodeResult implements pipeline.Algorithm.
func (e ECG) DecodeResult(b []byte) (pipeline.Result, error) {
	var r ECGResult
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("decode %s result: %w", e.name(), err)
	}
	if r.Algorithm != e.name() {
		return nil, fmt.Errorf("decode %s result: algorithm %q", e.name(), r.Algorithm)
	}
	return &r, nil
}

// Summary implements pipeline.Result.
func (r *ECGResult) Summary() string {
	if r.Note != "" {
		return r.Note
	}
	lfhf := strconv.FormatFloat(r.LFHF, 'f', 2, 64)
	if why, _ := r.SpectrumProblem(); why != "" {
		lfhf = "not computable (" + why + ")"
	}
	return fmt.Sprintf("SDNN %.1f ms, RMSSD %.1f ms, LF/HF %s (%d NN, %d excluded)", r.SDNN, r.RMSSD, lfhf, r.NNCount, r.Excluded)
}

// CSV implements pipeline.Result: one row per measure. A frequency-domain
// measure that is not computable (SpectrumProblem) has no value and says
// why in the note column.
func (r *ECGResult) CSV() ([]byte, error) {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write([]string{"measure", "value", "unit", "note"})
	why, _ := r.SpectrumProblem()
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	i := func(v int) string { return strconv.Itoa(v) }
	for _, row := range [][3]string{
		{"beats", i(r.Beats), ""}, {"nn_count", i(r.NNCount), ""}, {"excluded", i(r.Excluded), ""},
		{"mean_nn", f(r.MeanNN), "ms"}, {"sdnn", f(r.SDNN), "ms"}, {"rmssd", f(r.RMSSD), "ms"},
		{"pnn50", f(r.PNN50), "%"}, {"mean_hr", f(r.MeanHR), "bpm"}, {"windows", i(r.Windows), ""},
		{"vlf", f(r.VLF), "ms2"}, {"lf", f(r.LF), "ms2"}, {"hf", f(r.HF), "ms2"},
		{"total_power", f(r.TotalPower), "ms2"}, {"lf_hf", f(r.LFHF), ""},
		{"lf_nu", f(r.LFnu), "nu"}, {"hf_nu", f(r.HFnu), "nu"},
	} {
		note := ""
		if why != "" && IsSpectral(row[0]) {
			row[1], note = "", "not computable: "+why
		}
		w.Write([]string{row[0], row[1], row[2], note})
	}
	w.Flush()
	return buf.Bytes(), w.Error()
}
