package main

// The pipeline throughput figure of docs/benchmarks.md: the chunks the grid
// makes of MIT-BIH record 119 with 60 s chunks (the e2e setting), each run
// as a volunteer runs it (decode the payload, Run), natively and under
// js/wasm in node:
//
//	go test -run '^$' -bench Chunk ./wasmworker
//	GOOS=js GOARCH=wasm go test -run '^$' -bench Chunk -exec="$(go env GOROOT)/lib/wasm/go_js_wasm_exec" ./wasmworker

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/pulsegrid/pulsegrid/algorithms/ecg"
	"github.com/pulsegrid/pulsegrid/algorithms/formats/wfdb"
	"github.com/pulsegrid/pulsegrid/algorithms/pipeline"
)

// record119Payloads returns the encoded tasks of record 119 in 60 s chunks.
func record119Payloads(tb testing.TB) [][]byte {
	tb.Helper()
	dir := filepath.Join("..", "..", "shared", "data", "mitdb")
	rec, err := wfdb.ReadRecord("119.hea", func(name string) ([]byte, error) { return os.ReadFile(filepath.Join(dir, name)) })
	if err != nil {
		tb.Skipf("record 119 not available: %v", err)
	}
	alg := ecg.NewBeats()
	params, err := alg.Params(nil)
	if err != nil {
		tb.Fatal(err)
	}
	chunks, err := alg.Split(&rec.Signal, params, pipeline.SplitOptions{ChunkSeconds: 60})
	if err != nil {
		tb.Fatal(err)
	}
	var out [][]byte
	for _, c := range chunks {
		out = append(out, c.Task.Encode())
	}
	return out
}

func runPayload(tb testing.TB, alg pipeline.Algorithm, payload []byte) []byte {
	task, err := pipeline.DecodeTask(payload)
	if err != nil {
		tb.Fatal(err)
	}
	out, err := alg.Run(task, pipeline.NoYield{Ctx: context.Background()})
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// BenchmarkChunk runs all 30 chunks per iteration; ns/op ÷ 30 is one chunk.
func BenchmarkChunk(b *testing.B) {
	payloads := record119Payloads(b)
	alg := ecg.NewBeats()
	b.ReportMetric(float64(len(payloads)), "chunks/op")
	for b.Loop() {
		for _, p := range payloads {
			runPayload(b, alg, p)
		}
	}
}
