package pipeline

import (
	"fmt"

	"github.com/pulsegrid/pulsegrid/algorithms/canon"
	"github.com/pulsegrid/pulsegrid/algorithms/signal"
)

// taskMagic tags version 1 of the Task encoding.
const taskMagic = "PGTASK1"

// Task is the input of one chunk as a volunteer receives it: the algorithm,
// its canonical parameters and the samples — nothing that identifies a
// patient, a file or a time of day.
type Task struct {
	Algorithm string
	Params    []byte
	// Aux is algorithm-specific framing, e.g. how many leading samples are
	// context only.
	Aux      []byte
	Channels []signal.Channel
}

// Encode returns the canonical binary encoding of the task.
func (t *Task) Encode() []byte {
	w := canon.NewWriter(taskMagic)
	w.String(t.Algorithm)
	w.Blob(t.Params)
	w.Blob(t.Aux)
	w.U32(uint32(len(t.Channels)))
	for i := range t.Channels {
		c := &t.Channels[i]
		w.String(c.Name)
		w.String(c.Unit)
		w.F64(c.Rate)
		w.F64(c.Gain)
		w.F64s(c.Samples)
	}
	return w.Bytes()
}

// maxChannels bounds the channel count a decoded task may claim.
const maxChannels = 4096

// DecodeTask parses a Task encoding, naming the byte offset of any fault.
func DecodeTask(b []byte) (*Task, error) {
	r := canon.NewReader(b, taskMagic)
	t := &Task{Algorithm: r.String(), Params: r.Blob(), Aux: r.Blob()}
	n := r.U32()
	if r.Err() == nil && n > maxChannels {
		return nil, fmt.Errorf("decode task: %d channels exceed the limit %d", n, maxChannels)
	}
	for i := 0; i < int(n) && r.Err() == nil; i++ {
		t.Channels = append(t.Channels, signal.Channel{
			Name: r.String(), Unit: r.String(), Rate: r.F64(), Gain: r.F64(), Samples: r.F64s(),
		})
	}
	if err := r.Done(); err != nil {
		return nil, fmt.Errorf("decode task: %w", err)
	}
	return t, nil
}

// Digest is the SHA-256 of the task's encoding.
func (t *Task) Digest() string { return canon.Digest(t.Encode()) }
