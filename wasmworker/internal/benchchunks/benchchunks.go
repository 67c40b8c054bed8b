// Package benchchunks holds the workload of the volunteer throughput
// figures in docs/benchmarks.md ("Browser volunteer"): the 30 chunks the
// grid makes of MIT-BIH record 119 with 60 s chunks (ecg.beats@1), each run
// as a volunteer runs it (decode the payload, Run). BenchmarkChunk in
// wasmworker (native and js/wasm in node) and the Chromium bench module
// (wasmworker/internal/chunkbench) share it, so that all three time the
// same work. It is not linked into the production worker.wasm.
package benchchunks

import (
	"context"
	"fmt"

	"github.com/pulsegrid/pulsegrid/algorithms/ecg"
	"github.com/pulsegrid/pulsegrid/algorithms/formats/wfdb"
	"github.com/pulsegrid/pulsegrid/algorithms/pipeline"
)

// ChunkSeconds is the chunk length of the grid's e2e and bench servers
// (`serve --chunk-seconds 60`).
const ChunkSeconds = 60

// Payloads returns the encoded tasks of the WFDB record whose header is
// hea (e.g. "119.hea"), read through read, split as the grid splits it for
// ecg.beats@1 with chunks of chunkSeconds.
func Payloads(hea string, chunkSeconds float64, read func(name string) ([]byte, error)) ([][]byte, error) {
	rec, err := wfdb.ReadRecord(hea, read)
	if err != nil {
		return nil, err
	}
	alg := ecg.NewBeats()
	params, err := alg.Params(nil)
	if err != nil {
		return nil, err
	}
	chunks, err := alg.Split(&rec.Signal, params, pipeline.SplitOptions{ChunkSeconds: chunkSeconds})
	if err != nil {
		return nil, fmt.Errorf("splitting %s: %w", hea, err)
	}
	out := make([][]byte, 0, len(chunks))
	for _, c := range chunks {
		out = append(out, c.Task.Encode())
	}
	return out, nil
}

// Run decodes one payload and runs its algorithm without throttling, as the
// volunteer's run does between its yields.
func Run(alg pipeline.Algorithm, payload []byte) ([]byte, error) {
	task, err := pipeline.DecodeTask(payload)
	if err != nil {
		return nil, err
	}
	return alg.Run(task, pipeline.NoYield{Ctx: context.Background()})
}
