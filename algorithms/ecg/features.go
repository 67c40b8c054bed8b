package ecg

import (
	"fmt"

	"github.com/pulsegrid/pulsegrid/algorithms/canon"
	"github.com/pulsegrid/pulsegrid/algorithms/pipeline"
	"github.com/pulsegrid/pulsegrid/algorithms/signal"
)

// The volunteer's half of beat classification: detect the beats of a chunk
// exactly as ecg.beats@1 does, and cut from each lead a short, coarse,
// rate-independent picture of every beat (its "snippet"). Everything that
// needs the whole record (the patient's dominant morphology, RR intervals
// across chunk boundaries, the classes and the rhythm events) is left to
// Merge, which sees every beat.
//
// A snippet is SnippetPoints values of a lead at SnippetStepMs steps from
// SnippetFirstMs before the fiducial point to SnippetLastMs after it: each
// value is the mean of the samples within about ±5 ms of its time, in the
// integer units of toInt (ADC units when the gain is known), minus the
// value at the fiducial point, clamped to int16. 10 ms steps resolve QRS
// widths (80–100 ms normal, 120 ms and more for ventricular beats) and
// leave the P wave and the ST–T segment visible, at 2 bytes a point: a
// 24-hour Holter of 100 000 beats makes about 24 MB of chunk outputs for
// two leads. Only integer arithmetic is used.
const (
	SnippetStepMs  = 10
	SnippetFirstMs = -250
	SnippetLastMs  = 350
	// SnippetPoints is the number of values per lead and beat.
	SnippetPoints = (SnippetLastMs-SnippetFirstMs)/SnippetStepMs + 1
	// snippetZero is the index of the fiducial point in a snippet.
	snippetZero = -SnippetFirstMs / SnippetStepMs
)

const featMagic = "PGCLSF01" // chunk output of ecg.classify@1

// beatFeatures is one chunk's output: the beats (relative to the task) and
// their snippets on each lead, beat after beat.
type beatFeatures struct {
	beats []int64
	// snip[l] holds len(beats)*SnippetPoints values of lead l.
	snip [][]int16
	// gap marks the beats whose snippet window holds a missing sample or
	// reaches beyond the record on any lead.
	gap []bool
}

func (f *beatFeatures) encode() []byte {
	w := canon.NewWriter(featMagic)
	w.I64s(f.beats)
	w.Int(len(f.snip))
	for _, s := range f.snip {
		w.I16s(s)
	}
	b := make([]byte, len(f.gap))
	for i, g := range f.gap {
		if g {
			b[i] = 1
		}
	}
	w.Blob(b)
	return w.Bytes()
}

// decodeBeatFeatures parses and checks a chunk output.
func decodeBeatFeatures(b []byte) (*beatFeatures, error) {
	r := canon.NewReader(b, featMagic)
	f := &beatFeatures{beats: r.I64s()}
	nl := r.Int()
	if r.Err() == nil && (nl < 1 || nl > 2) {
		r.Fail(fmt.Sprintf("%d leads, want 1 or 2", nl))
	}
	for l := 0; l < nl && r.Err() == nil; l++ {
		s := r.I16s()
		if r.Err() == nil && len(s) != len(f.beats)*SnippetPoints {
			r.Fail(fmt.Sprintf("lead %d: %d snippet values for %d beats, want %d", l, len(s), len(f.beats), len(f.beats)*SnippetPoints))
		}
		f.snip = append(f.snip, s)
	}
	g := r.Blob()
	if r.Err() == nil && len(g) != len(f.beats) {
		r.Fail(fmt.Sprintf("%d gap flags for %d beats", len(g), len(f.beats)))
	}
	if err := r.Done(); err != nil {
		return nil, fmt.Errorf("classify output: %w", err)
	}
	f.gap = make([]bool, len(g))
	for i, v := range g {
		f.gap[i] = v != 0
	}
	return f, nil
}

// SplitClassify cuts the record for ecg.classify@1: the blocks and chunks of
// SplitBeats on the chosen lead, with the same samples of a second ECG
// lead (same rate and length) as a second channel when the record has one.
func SplitClassify(sig *signal.Signal, lead Lead, algorithm string, params []byte, opt pipeline.SplitOptions) ([]pipeline.Chunk, error) {
	chunks, err := SplitBeats(sig, lead, algorithm, params, opt)
	if err != nil {
		return nil, err
	}
	idx, _ := ChooseLead(sig, lead)
	second := SecondLead(sig, idx)
	if second < 0 {
		return chunks, nil
	}
	other := sig.Channels[second]
	for i := range chunks {
		c := &chunks[i]
		from := c.Spec.Offset
		to := from + int64(len(c.Task.Channels[0].Samples))
		o := other
		o.Samples = other.Samples[from:to:to]
		c.Task.Channels = append(c.Task.Channels, o)
	}
	return chunks, nil
}

// SecondLead returns the index of the channel used as the second lead
// beside channel first: the first other channel with the same rate and
// length that is named like an ECG lead, or -1 when there is none.
func SecondLead(sig *signal.Signal, first int) int {
	c := sig.Channels[first]
	for i, o := range sig.Channels {
		if i != first && o.Rate == c.Rate && len(o.Samples) == len(c.Samples) && isECGName(o.Name) {
			return i
		}
	}
	return -1
}

// secondLeadMeta is SecondLead on channels without samples (ChannelPicker).
func secondLeadMeta(meta *signal.Signal, first int) int {
	c := meta.Channels[first]
	for i, o := range meta.Channels {
		if i != first && o.Rate == c.Rate && isECGName(o.Name) {
			return i
		}
	}
	return -1
}

// RunClassify computes one chunk of ecg.classify@1: the beats of
// ecg.beats@1 on the first channel, and each beat's snippet on every
// channel of the task.
func RunClassify(t *pipeline.Task, y pipeline.Yielder) ([]byte, error) {
	return runClassifyTask(t, y, false)
}

// runClassifyTask is RunClassify, with the ecg.beats@2 detector (on both
// leads) when v2 is set: ecg.classify@2.
func runClassifyTask(t *pipeline.Task, y pipeline.Yielder, v2 bool) ([]byte, error) {
	if len(t.Channels) < 1 || len(t.Channels) > 2 {
		return nil, fmt.Errorf("classify task: %d channels, want 1 or 2", len(t.Channels))
	}
	n := len(t.Channels[0].Samples)
	for l, c := range t.Channels[1:] {
		if len(c.Samples) != n || c.Rate != t.Channels[0].Rate {
			return nil, fmt.Errorf("classify task: channel %d has %d samples at %v Hz, want %d at %v Hz", l+1, len(c.Samples), c.Rate, n, t.Channels[0].Rate)
		}
	}
	var beats []int64
	var err error
	if v2 {
		beats, err = detectOwned2(t.Channels, t.Aux, y, "classify task")
	} else {
		beats, err = detectOwned(&t.Channels[0], t.Aux, y, "classify task")
	}
	if err != nil {
		return nil, err
	}
	rate := t.Channels[0].Rate
	f := &beatFeatures{beats: beats, gap: make([]bool, len(beats))}
	// Sample offsets of the snippet points and the half-width of the
	// averaging window, from the rate alone.
	var offs [SnippetPoints]int
	for k := range offs {
		ms := SnippetFirstMs + k*SnippetStepMs
		if ms < 0 {
			offs[k] = -msToSamples(-ms, rate)
		} else if ms > 0 {
			offs[k] = msToSamples(ms, rate)
		}
	}
	h := msToSamples(SnippetStepMs, rate) / 2
	var ints []int32
	var miss []bool
	for _, c := range t.Channels {
		var m []bool
		ints, m = toInt(ints, 0, miss, c.Samples, c.Gain, c.Unit)
		missing := m != nil
		if missing {
			miss = m
		}
		out := make([]int16, len(beats)*SnippetPoints)
		for i, b := range beats {
			if err := y.Yield(int64(i), int64(len(beats))); err != nil {
				return nil, err
			}
			var vals [SnippetPoints]int64
			for k, o := range offs {
				lo, hi := int(b)+o-h, int(b)+o+h
				if lo < 0 || hi >= n {
					f.gap[i] = true
					lo, hi = max(0, min(lo, n-1)), max(0, min(hi, n-1))
				}
				var sum int64
				for j := lo; j <= hi; j++ {
					sum += int64(ints[j])
					if missing && miss[j] {
						f.gap[i] = true
					}
				}
				vals[k] = floorDiv(sum, int64(hi-lo+1))
			}
			z := vals[snippetZero]
			for k, v := range vals {
				out[i*SnippetPoints+k] = int16(max(-32767, min(32767, v-z)))
			}
		}
		f.snip = append(f.snip, out)
	}
	return f.encode(), nil
}

// floorDiv divides rounding towards minus infinity, so that a snippet's
// means have no bias towards zero. d > 0.
func floorDiv(a, d int64) int64 {
	q := a / d
	if a%d != 0 && a < 0 {
		q--
	}
	return q
}
