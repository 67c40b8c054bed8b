// Package pipetest runs an algorithm in tests the way the grid does.
package pipetest

import (
	"testing"

	"github.com/pulsegrid/pulsegrid/algorithms/pipeline"
	"github.com/pulsegrid/pulsegrid/algorithms/signal"
)

// Run splits sig, runs every chunk on its task as a volunteer receives it
// (round-tripped through the wire encoding), and merges. It returns the
// result with the chunks and their outputs, for digest checks.
func Run(tb testing.TB, alg pipeline.Algorithm, sig *signal.Signal, params []byte, opt pipeline.SplitOptions) (pipeline.Result, []pipeline.Chunk, [][]byte) {
	tb.Helper()
	chunks, err := alg.Split(sig, params, opt)
	if err != nil {
		tb.Fatalf("split: %v", err)
	}
	outs := make([][]byte, len(chunks))
	parts := make([]pipeline.Part, len(chunks))
	for i := range chunks {
		task, err := pipeline.DecodeTask(chunks[i].Task.Encode())
		if err != nil {
			tb.Fatalf("chunk %d: %v", i, err)
		}
		if outs[i], err = alg.Run(task, pipeline.NoYield{}); err != nil {
			tb.Fatalf("run chunk %d: %v", i, err)
		}
		parts[i] = pipeline.Part{Spec: chunks[i].Spec, Output: outs[i]}
	}
	res, err := alg.Merge(params, parts)
	if err != nil {
		tb.Fatalf("merge: %v", err)
	}
	return res, chunks, outs
}
