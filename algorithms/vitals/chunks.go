// Package vitals holds the vital-sign algorithms: vitals.summary@1
// (descriptive statistics per channel, whole record and per hour) and
// vitals.alarms@1 (rule-based alarm episodes).
//
// Both cut a record by time into chunks that never cross an hour boundary.
// Channels may have different sample rates; sample i of a channel sits at
// i/rate seconds from the record start, rounded to the microsecond (see
// SampleMicros) so that a minute log whose header rate is 0.0166666666667
// rather than exactly 1/60 still puts its 60th sample at 3600 s, in hour 1.
package vitals

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/pulsegrid/pulsegrid/algorithms/canon"
	"github.com/pulsegrid/pulsegrid/algorithms/pipeline"
	"github.com/pulsegrid/pulsegrid/algorithms/signal"
)

// Time constants in microseconds.
const (
	microsPerSecond = 1_000_000
	microsPerHour   = 3600 * microsPerSecond
)

// DefaultChunkSeconds is the chunk length when SplitOptions gives none: a
// quarter of an hour, a few seconds of browser work even for waveforms.
const DefaultChunkSeconds = 900

// SampleMicros is the time of sample i of a channel sampled at rate, in
// whole microseconds from the record start.
func SampleMicros(i int64, rate float64) int64 {
	return int64(math.Round(float64(i) * microsPerSecond / rate))
}

// HourOf is the hour (from the record start) that holds sample i.
func HourOf(i int64, rate float64) int64 {
	return SampleMicros(i, rate) / microsPerHour
}

// firstAtOrAfter is the first sample index whose time is >= us.
func firstAtOrAfter(us int64, rate float64, n int64) int64 {
	i := int64(math.Ceil(float64(us) / microsPerSecond * rate))
	i = min(max(i, 0), n)
	for i > 0 && SampleMicros(i-1, rate) >= us {
		i--
	}
	for i < n && SampleMicros(i, rate) < us {
		i++
	}
	return i
}

// chunkAux is the framing a chunk's task carries: the record index of the
// first sample of each channel in the task.
const auxMagic = "PGVAUX1"

func encodeAux(first []int64) []byte {
	w := canon.NewWriter(auxMagic)
	w.I64s(first)
	return w.Bytes()
}

func decodeAux(b []byte, nch int) ([]int64, error) {
	r := canon.NewReader(b, auxMagic)
	first := r.I64s()
	if err := r.Done(); err != nil {
		return nil, fmt.Errorf("decode chunk framing: %w", err)
	}
	if len(first) != nch {
		return nil, fmt.Errorf("decode chunk framing: %d first-sample indices for %d channels", len(first), nch)
	}
	for i, f := range first {
		if f < 0 {
			return nil, fmt.Errorf("decode chunk framing: channel %d starts at negative sample %d", i, f)
		}
	}
	return first, nil
}

// specAux is what the server keeps about a chunk: its time span in
// microseconds, the hour it lies in (-1 for a whole-record chunk), and the
// labels and units of the task's channels in task order. The labels stay
// here, on the server: the grid sends volunteers canonical roles instead
// (pipeline.LabelBlind), and Merge names the result's channels from this.
type specAux struct {
	StartUS, EndUS int64
	Hour           int64
	Names, Units   []string
}

// specMagic tags version 2 of the spec framing (version 1 had no names:
// chunk outputs carried them).
const specMagic = "PGVSPEC2"

func (a specAux) encode() []byte {
	w := canon.NewWriter(specMagic)
	w.I64(a.StartUS)
	w.I64(a.EndUS)
	w.I64(a.Hour)
	w.U32(uint32(len(a.Names)))
	for i := range a.Names {
		w.String(a.Names[i])
		w.String(a.Units[i])
	}
	return w.Bytes()
}

// maxTaskChannels bounds the channel count a spec or chunk output may
// claim, as pipeline.DecodeTask bounds a task's.
const maxTaskChannels = 4096

func decodeSpec(b []byte) (specAux, error) {
	r := canon.NewReader(b, specMagic)
	a := specAux{StartUS: r.I64(), EndUS: r.I64(), Hour: r.I64()}
	n := r.U32()
	if r.Err() == nil && n > maxTaskChannels {
		return specAux{}, fmt.Errorf("decode chunk spec: %d channels exceed the limit %d", n, maxTaskChannels)
	}
	for i := uint32(0); i < n && r.Err() == nil; i++ {
		a.Names = append(a.Names, r.String())
		a.Units = append(a.Units, r.String())
	}
	if err := r.Done(); err != nil {
		return specAux{}, fmt.Errorf("decode chunk spec: %w", err)
	}
	return a, nil
}

// channelsOf returns the names and units of the task channels every part
// was split with (from the parts' specs, which never left the server),
// and an error when the parts disagree.
func channelsOf(alg string, parts []pipeline.Part) (names, units []string, err error) {
	for i, p := range parts {
		a, err := decodeSpec(p.Spec.Aux)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: chunk %d: %w", alg, p.Spec.Index, err)
		}
		if i == 0 {
			names, units = a.Names, a.Units
		} else if !slices.Equal(a.Names, names) || !slices.Equal(a.Units, units) {
			return nil, nil, fmt.Errorf("%s: chunk %d has channels %v, chunk %d had %v", alg, p.Spec.Index, a.Names, parts[0].Spec.Index, names)
		}
	}
	return names, units, nil
}

// Bounds that keep sample times (in microseconds) far from int64 overflow:
// a year of samples at up to 100 kHz, rates down to one sample a day.
const (
	minRate    = 1e-5
	maxRate    = 1e5
	maxSamples = 1 << 42
)

// split cuts the channels chans of sig into chunks of chunkSeconds that never
// cross an hour boundary (or one chunk when whole). The reference channel
// for Spec.Lo/Hi is the first of chans with the highest rate. Each task
// carries taskParams, which must hold no channel label: the grid sends
// tasks to volunteers with roles in place of labels, and a label in the
// parameters would undo that.
func split(alg string, sig *signal.Signal, chans []int, taskParams []byte, opt pipeline.SplitOptions) ([]pipeline.Chunk, error) {
	if err := sig.Validate(); err != nil {
		return nil, err
	}
	if len(chans) == 0 {
		return nil, fmt.Errorf("%s: no channel to analyse", alg)
	}
	ref := chans[0]
	var endUS int64
	for _, c := range chans {
		ch := &sig.Channels[c]
		if !(ch.Rate >= minRate && ch.Rate <= maxRate) || int64(len(ch.Samples)) > maxSamples {
			return nil, fmt.Errorf("%s: channel %q: rate %v Hz with %d samples is outside %v..%v Hz, %d samples", alg, ch.Name, ch.Rate, len(ch.Samples), minRate, maxRate, int64(maxSamples))
		}
		if ch.Rate > sig.Channels[ref].Rate {
			ref = c
		}
		if n := int64(len(ch.Samples)); n > 0 {
			endUS = max(endUS, SampleMicros(n-1, ch.Rate)+1)
		}
	}
	if endUS == 0 {
		return nil, fmt.Errorf("%s: the selected channels have no samples", alg)
	}
	secs := opt.ChunkSeconds
	if secs == 0 {
		secs = DefaultChunkSeconds
	}
	if !(secs > 0) || math.IsInf(secs, 0) {
		return nil, fmt.Errorf("%s: chunk length %v s must be positive", alg, secs)
	}
	stepUS := max(int64(math.Round(secs*microsPerSecond)), 1)
	var spans []specAux
	if opt.Whole {
		spans = []specAux{{StartUS: 0, EndUS: endUS, Hour: -1}}
	} else {
		for h := int64(0); h*microsPerHour < endUS; h++ {
			hourEnd := min((h+1)*microsPerHour, endUS)
			for s := h * microsPerHour; s < hourEnd; s += stepUS {
				spans = append(spans, specAux{StartUS: s, EndUS: min(s+stepUS, hourEnd), Hour: h})
			}
		}
	}
	names, units := make([]string, len(chans)), make([]string, len(chans))
	for k, c := range chans {
		names[k], units[k] = sig.Channels[c].Name, sig.Channels[c].Unit
	}
	chunks := make([]pipeline.Chunk, 0, len(spans))
	for _, sp := range spans {
		sp.Names, sp.Units = names, units
		task := pipeline.Task{Algorithm: alg, Params: taskParams}
		first := make([]int64, len(chans))
		empty := true
		for k, c := range chans {
			ch := &sig.Channels[c]
			n := int64(len(ch.Samples))
			lo, hi := firstAtOrAfter(sp.StartUS, ch.Rate, n), firstAtOrAfter(sp.EndUS, ch.Rate, n)
			if hi > lo {
				empty = false
			}
			first[k] = lo
			task.Channels = append(task.Channels, signal.Channel{
				Name: ch.Name, Unit: ch.Unit, Rate: ch.Rate, Gain: ch.Gain, Samples: ch.Samples[lo:hi],
			})
		}
		if empty {
			continue
		}
		task.Aux = encodeAux(first)
		rc := &sig.Channels[ref]
		rn := int64(len(rc.Samples))
		lo, hi := firstAtOrAfter(sp.StartUS, rc.Rate, rn), firstAtOrAfter(sp.EndUS, rc.Rate, rn)
		chunks = append(chunks, pipeline.Chunk{
			Spec: pipeline.Spec{Index: len(chunks), Lo: lo, Hi: hi, Offset: lo, Aux: sp.encode()},
			Task: task,
		})
	}
	return chunks, nil
}

// normName folds a channel name for alias matching: case and spaces,
// underscores and hyphens do not count.
func normName(s string) string {
	s = strings.ToLower(s)
	return strings.NewReplacer(" ", "", "_", "", "-", "").Replace(s)
}

// checkTask validates the common shape of a vitals task.
func checkTask(alg string, t *pipeline.Task) ([]int64, error) {
	if t.Algorithm != alg {
		return nil, fmt.Errorf("%s: task is for %q", alg, t.Algorithm)
	}
	for i, c := range t.Channels {
		if !(c.Rate >= minRate && c.Rate <= maxRate) {
			return nil, fmt.Errorf("%s: channel %d (%q) has sample rate %v Hz, want %v to %v", alg, i, c.Name, c.Rate, minRate, maxRate)
		}
	}
	first, err := decodeAux(t.Aux, len(t.Channels))
	if err != nil {
		return nil, err
	}
	for i, f := range first {
		if f > maxSamples || int64(len(t.Channels[i].Samples)) > maxSamples-f {
			return nil, fmt.Errorf("%s: channel %d claims samples up to %d, beyond %d", alg, i, f+int64(len(t.Channels[i].Samples)), int64(maxSamples))
		}
	}
	return first, nil
}

// yieldEvery is how many samples Run processes between two Yield calls.
const yieldEvery = 1 << 15
