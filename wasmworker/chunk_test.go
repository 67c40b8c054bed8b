package main

// The pipeline throughput figure of docs/benchmarks.md: the chunks the grid
// makes of MIT-BIH record 119 with 60 s chunks (the e2e setting), each run
// as a volunteer runs it (decode the payload, Run), natively and under
// js/wasm in node (the same work in Chromium: e2e/bench/compute.bench.spec.js):
//
//	go test -run '^$' -bench Chunk ./wasmworker
//	GOOS=js GOARCH=wasm go test -run '^$' -bench Chunk -exec="$(go env GOROOT)/lib/wasm/go_js_wasm_exec" ./wasmworker

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/pulsegrid/pulsegrid/algorithms/ecg"
	"github.com/pulsegrid/pulsegrid/wasmworker/internal/benchchunks"
)

// record119Payloads returns the encoded tasks of record 119 in chunks of
// chunkSeconds.
func record119Payloads(tb testing.TB, chunkSeconds float64) [][]byte {
	tb.Helper()
	dir := filepath.Join("..", "..", "shared", "data", "mitdb")
	out, err := benchchunks.Payloads("119.hea", chunkSeconds, func(name string) ([]byte, error) { return os.ReadFile(filepath.Join(dir, name)) })
	if err != nil {
		tb.Skipf("record 119 not available: %v", err)
	}
	return out
}

// BenchmarkChunk runs all 30 chunks per iteration; ns/op ÷ 30 is one chunk.
func BenchmarkChunk(b *testing.B) { benchmarkChunks(b, benchchunks.ChunkSeconds) }

// BenchmarkChunk1800 runs the same record in half-hour chunks (one of 30
// min, one of 5 s), so that per-chunk costs can be told from per-sample ones.
func BenchmarkChunk1800(b *testing.B) { benchmarkChunks(b, 1800) }

func benchmarkChunks(b *testing.B, chunkSeconds float64) {
	payloads := record119Payloads(b, chunkSeconds)
	alg := ecg.NewBeats()
	b.ReportMetric(float64(len(payloads)), "chunks/op")
	for b.Loop() {
		for _, p := range payloads {
			if _, err := benchchunks.Run(alg, p); err != nil {
				b.Fatal(err)
			}
		}
	}
}
