// Package pipeline defines what an algorithm is to pulsegrid: something that
// splits a signal into chunks, runs one chunk anywhere (server, native
// volunteer, browser), and merges the verified chunk outputs into a result.
//
// The contract that makes a volunteer grid possible: Run is a pure function of
// its Task, its output is canonically encoded (package canon), and merging the
// outputs of any chunking equals the result of running the whole record as one
// chunk.
package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/pulsegrid/pulsegrid/algorithms/signal"
)

// Algorithm is one versioned analysis, e.g. "ecg.beats@1".
type Algorithm interface {
	// Name is "family.name@version".
	Name() string
	// Describe says what the algorithm needs and what it produces.
	Describe() Info
	// Params validates raw JSON parameters (nil or {} for the defaults) and
	// returns their canonical form: every field present, defaults filled in,
	// keys in a fixed order. Unknown fields are an error.
	Params(raw json.RawMessage) ([]byte, error)
	// Split cuts a signal into chunks. params is the canonical form from Params.
	Split(sig *signal.Signal, params []byte, opt SplitOptions) ([]Chunk, error)
	// Run computes one chunk. It calls y.Yield often (every few milliseconds of
	// work) so that a single-threaded host can pause, throttle or cancel it.
	Run(t *Task, y Yielder) ([]byte, error)
	// Merge combines the outputs of all chunks, in chunk order, into the result.
	Merge(params []byte, parts []Part) (Result, error)
	// DecodeResult parses a result's JSON (as stored) back into its type.
	DecodeResult(b []byte) (Result, error)
}

// ChannelPicker is implemented by algorithms whose Split reads only some
// channels, and can say which from the channels' names, units and rates
// alone. The server then loads only those channels of a long recording to
// split it; Split must give the same chunks when the other channels have
// no samples (catalog's tests check it).
type ChannelPicker interface {
	// SplitChannels returns the indexes of the channels Split reads. meta's
	// channels carry no samples.
	SplitChannels(meta *signal.Signal, params []byte) ([]int, error)
}

// Info describes an algorithm for people and for the portal.
type Info struct {
	Name        string `json:"name"`
	Title       string `json:"title"`
	Description string `json:"description"`
	// Inputs names the kinds of channel it works on, e.g. "ECG" or "vitals".
	Inputs string `json:"inputs"`
	// DefaultParams is the canonical JSON of the defaults.
	DefaultParams json.RawMessage `json:"default_params"`
	// Exports lists the result formats besides JSON ("csv", "wfdb").
	Exports []string `json:"exports"`
}

// SplitOptions tune how a signal is cut.
type SplitOptions struct {
	// ChunkSeconds is the wanted length of signal per chunk; 0 means the
	// algorithm's default. Algorithms may round it (to whole blocks, hours...).
	ChunkSeconds float64
	// Whole asks for a single chunk holding the whole record: the reference
	// every chunked run must equal.
	Whole bool
}

// Chunk is one unit of grid work as the server keeps it.
type Chunk struct {
	Spec Spec
	Task Task
}

// Spec is the server-side description of a chunk: where it sits in the
// record. It never travels to a volunteer.
type Spec struct {
	Index int `json:"index"`
	// Lo and Hi delimit the part of the record this chunk owns, in samples
	// of the algorithm's reference channel, [Lo, Hi).
	Lo int64 `json:"lo"`
	Hi int64 `json:"hi"`
	// Offset is the record sample index of the first sample in the Task.
	Offset int64 `json:"offset"`
	// Aux is algorithm-specific, opaque to the grid.
	Aux []byte `json:"aux,omitempty"`
}

// Part is a chunk's spec with its verified output, as Merge receives it.
type Part struct {
	Spec   Spec
	Output []byte
}

// Result is a merged, final analysis result. Its JSON encoding
// (encoding/json) is what is stored and served.
type Result interface {
	// Summary is one line for lists and logs, e.g. "2273 beats, 75 bpm".
	Summary() string
	// CSV is the result as a table.
	CSV() ([]byte, error)
}

// Annotated is a Result that can be written as a WFDB annotation file.
type Annotated interface {
	Result
	// Annotations are the result's events and the sample rate they refer to.
	Annotations() ([]signal.Annotation, float64)
}

// Yielder is how a running chunk hands control back to its host.
type Yielder interface {
	// Yield reports progress (done of total units) and lets the host pause,
	// throttle or run other work. A non-nil error means stop now.
	Yield(done, total int64) error
}

// NoYield is a Yielder for hosts that need no slicing; it only honours a
// context's cancellation.
type NoYield struct{ Ctx context.Context }

// Yield implements Yielder.
func (n NoYield) Yield(done, total int64) error {
	if n.Ctx != nil {
		return n.Ctx.Err()
	}
	return nil
}

// ErrUnknownAlgorithm is returned by Lookup for names not registered.
var ErrUnknownAlgorithm = errors.New("unknown algorithm")

// Registry maps "family.name@version" to algorithms.
type Registry struct {
	byName map[string]Algorithm
}

// NewRegistry returns a registry of the given algorithms.
func NewRegistry(algs ...Algorithm) *Registry {
	r := &Registry{byName: map[string]Algorithm{}}
	for _, a := range algs {
		if _, dup := r.byName[a.Name()]; dup {
			panic("pipeline: algorithm registered twice: " + a.Name())
		}
		r.byName[a.Name()] = a
	}
	return r
}

// Lookup finds an algorithm by its full name. A name without a version
// ("ecg.beats") resolves to the highest registered version.
func (r *Registry) Lookup(name string) (Algorithm, error) {
	if a, ok := r.byName[name]; ok {
		return a, nil
	}
	if !strings.Contains(name, "@") {
		var best Algorithm
		for _, n := range r.Names() {
			if strings.HasPrefix(n, name+"@") {
				best = r.byName[n] // Names is sorted, so the last match is the newest
			}
		}
		if best != nil {
			return best, nil
		}
	}
	return nil, fmt.Errorf("%w %q (known: %s)", ErrUnknownAlgorithm, name, strings.Join(r.Names(), ", "))
}

// Names lists the registered algorithms in sorted order.
func (r *Registry) Names() []string {
	names := make([]string, 0, len(r.byName))
	for n := range r.byName {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// LabelBlind is implemented by algorithms whose Run reads no channel label
// (signal.Channel.Name): the channels a Task carries, and their order, are
// chosen by Split on the server, so a volunteer needs only their units,
// rates and samples. The grid then sends canonical roles (Roles) instead of
// the labels the recording wrote, which may identify a patient (an EDF
// label such as "ECG-JDOE"). An algorithm must not claim it when its Run
// or its output depends on a label: grid results would then differ from
// RunLocal's, which the server's tests compare.
type LabelBlind interface {
	// RunReadsNoLabels marks the algorithm; it is never called.
	RunReadsNoLabels()
}

// Role is the canonical label of a task's i-th channel, "ch0", "ch1"...:
// it depends only on the channel's position in the task, never on the
// recording.
func Role(i int) string { return "ch" + strconv.Itoa(i) }

// UseRoles replaces the label of every channel of every chunk's task by
// its Role, leaving units, rates, gains and samples as they are. The
// channels are copied, so the signal the chunks were split from keeps its
// labels.
func UseRoles(chunks []Chunk) {
	for i := range chunks {
		cs := slices.Clone(chunks[i].Task.Channels)
		for j := range cs {
			cs[j].Name = Role(j)
		}
		chunks[i].Task.Channels = cs
	}
}
