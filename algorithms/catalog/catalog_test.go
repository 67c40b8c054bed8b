package catalog

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/pulsegrid/pulsegrid/algorithms/canon"
	"github.com/pulsegrid/pulsegrid/algorithms/formats"
	"github.com/pulsegrid/pulsegrid/algorithms/pipeline"
	"github.com/pulsegrid/pulsegrid/algorithms/signal"
)

const shared = "../../../shared/data"

// input is a real recording each algorithm is tested and benchmarked on.
var input = map[string][]string{
	"ecg.beats@1":      {"mitdb/100.hea", "mitdb/100.dat"},
	"ecg.hrv@1":        {"mitdb/100.hea", "mitdb/100.dat"},
	"ecg.classify@1":   {"mitdb/119.hea", "mitdb/119.dat"},
	"ecg.beats@2":      {"mitdb/116.hea", "mitdb/116.dat"},
	"ecg.hrv@2":        {"mitdb/100.hea", "mitdb/100.dat"},
	"ecg.classify@2":   {"mitdb/119.hea", "mitdb/119.dat"},
	"vitals.summary@1": {"vitals/041s.hea", "vitals/041s01.hea", "vitals/041s01.dat", "vitals/041s02.hea", "vitals/041s02.dat"},
	"vitals.alarms@1":  {"vitals/s00001-2896-10-10-00-31n.hea", "vitals/3975656n.dat"},
}

func mustRead(tb testing.TB, paths []string) *signal.Recording {
	tb.Helper()
	var files []formats.File
	for _, p := range paths {
		b, err := os.ReadFile(filepath.Join(shared, p))
		if err != nil {
			tb.Fatal(err)
		}
		files = append(files, formats.File{Name: filepath.Base(p), Data: b})
	}
	rec, err := formats.Read(files)
	if err != nil {
		tb.Fatal(err)
	}
	return rec
}

// TestEveryAlgorithmChunksToTheWholeResult runs every shipped algorithm on a
// real record, whole and in chunks of several sizes, and demands identical
// results: the property the grid's redundancy and merging rest on.
func TestEveryAlgorithmChunksToTheWholeResult(t *testing.T) {
	reg := All()
	if len(reg.Names()) < 4 {
		t.Fatalf("catalog lists %v, want at least ecg.beats, ecg.hrv, vitals.summary, vitals.alarms", reg.Names())
	}
	for _, name := range reg.Names() {
		t.Run(name, func(t *testing.T) {
			alg, _ := reg.Lookup(name)
			paths, ok := input[name]
			if !ok {
				t.Fatalf("no test input for %s: add a recording to the input table", name)
			}
			rec := mustRead(t, paths)
			params, err := alg.Params(nil)
			if err != nil {
				t.Fatal(err)
			}
			if info := alg.Describe(); info.Name != name || len(info.DefaultParams) == 0 {
				t.Errorf("Describe: got name %q with default params %q", info.Name, info.DefaultParams)
			}
			run := func(opt pipeline.SplitOptions) (string, int) {
				chunks, err := alg.Split(&rec.Signal, params, opt)
				if err != nil {
					t.Fatal(err)
				}
				res, err := pipeline.RunLocal(context.Background(), alg, chunks, params, pipeline.LocalOptions{})
				if err != nil {
					t.Fatal(err)
				}
				b, err := json.Marshal(res)
				if err != nil {
					t.Fatal(err)
				}
				back, err := alg.DecodeResult(b)
				if err != nil {
					t.Fatalf("DecodeResult of its own JSON: %v", err)
				}
				again, _ := json.Marshal(back)
				if string(again) != string(b) {
					t.Errorf("result JSON does not survive DecodeResult")
				}
				if _, err := res.CSV(); err != nil {
					t.Errorf("CSV: %v", err)
				}
				return canon.Digest(b), len(chunks)
			}
			whole, n := run(pipeline.SplitOptions{Whole: true})
			if n != 1 {
				t.Errorf("Whole split gave %d chunks, want 1", n)
			}
			for _, secs := range []float64{60, 300, 3600} {
				got, n := run(pipeline.SplitOptions{ChunkSeconds: secs})
				if got != whole {
					t.Errorf("chunks of %v s (%d chunks): result digest %s, whole-record %s", secs, n, got, whole)
				}
			}
		})
	}
}

// TestChannelPickersSplitAlike: an algorithm that names the channels its
// Split reads (pipeline.ChannelPicker) splits a signal holding only those
// channels' samples exactly as it splits the whole signal, which is what
// lets the server load only them.
func TestChannelPickersSplitAlike(t *testing.T) {
	reg := All()
	pickers := 0
	for _, name := range reg.Names() {
		alg, _ := reg.Lookup(name)
		picker, ok := alg.(pipeline.ChannelPicker)
		if !ok {
			continue
		}
		pickers++
		t.Run(name, func(t *testing.T) {
			rec := mustRead(t, input[name])
			params, _ := alg.Params(nil)
			meta := rec.Signal
			meta.Channels = append([]signal.Channel(nil), rec.Signal.Channels...)
			for i := range meta.Channels {
				meta.Channels[i].Samples = nil
			}
			picked, err := picker.SplitChannels(&meta, params)
			if err != nil {
				t.Fatal(err)
			}
			for _, i := range picked {
				meta.Channels[i].Samples = rec.Signal.Channels[i].Samples
			}
			opt := pipeline.SplitOptions{ChunkSeconds: 300}
			want, err := alg.Split(&rec.Signal, params, opt)
			if err != nil {
				t.Fatal(err)
			}
			got, err := alg.Split(&meta, params, opt)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("%d chunks from the picked channels, %d from all", len(got), len(want))
			}
			for i := range want {
				g, w := got[i].Task.Encode(), want[i].Task.Encode()
				if canon.Digest(g) != canon.Digest(w) || got[i].Spec.Lo != want[i].Spec.Lo || got[i].Spec.Hi != want[i].Spec.Hi || got[i].Spec.Offset != want[i].Spec.Offset || string(got[i].Spec.Aux) != string(want[i].Spec.Aux) {
					t.Fatalf("chunk %d differs when only channels %v have samples", i, picked)
				}
			}
		})
	}
	if pickers == 0 {
		t.Error("no algorithm implements pipeline.ChannelPicker; the ECG ones should")
	}
}

// BenchmarkAlgorithms measures each algorithm's Run over a whole real record
// in samples per second (all channels) and in CPU time per run. Run it natively and under wasm to
// get the wasm/native ratio recorded in docs/benchmarks.md.
func BenchmarkAlgorithms(b *testing.B) {
	reg := All()
	for _, name := range reg.Names() {
		b.Run(name, func(b *testing.B) {
			alg, _ := reg.Lookup(name)
			rec := mustRead(b, input[name])
			params, _ := alg.Params(nil)
			chunks, err := alg.Split(&rec.Signal, params, pipeline.SplitOptions{Whole: true})
			if err != nil {
				b.Fatal(err)
			}
			var samples int
			for _, c := range chunks[0].Task.Channels {
				samples += len(c.Samples)
			}
			b.ResetTimer()
			cpu0 := cpuNanos()
			for b.Loop() {
				if _, err := alg.Run(&chunks[0].Task, pipeline.NoYield{}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(samples)*float64(b.N)/b.Elapsed().Seconds(), "samples/s")
			// CPU time per run: on a shared machine, less disturbed by
			// other processes than the wall time (ns/op).
			b.ReportMetric(float64(cpuNanos()-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}

// readsLabels lists the algorithms whose Run reads channel labels, so the
// grid still sends them the recording's labels (issue 11): every other
// algorithm must implement pipeline.LabelBlind. None does today; a new
// algorithm listed here must say why in docs/security.md.
var readsLabels = map[string]bool{}

// TestLabelBlindRunsIgnoreLabels: for every algorithm that says its Run
// reads no label, each chunk's output with canonical roles (what the grid
// sends volunteers) equals its output with the recording's labels (what
// `pulsegrid run` computes), byte for byte, and the role-labelled tasks
// encode none of the recording's labels.
func TestLabelBlindRunsIgnoreLabels(t *testing.T) {
	reg := All()
	for _, name := range reg.Names() {
		t.Run(name, func(t *testing.T) {
			alg, _ := reg.Lookup(name)
			if _, ok := alg.(pipeline.LabelBlind); !ok {
				if !readsLabels[name] {
					t.Fatalf("%s neither implements pipeline.LabelBlind nor is listed as reading labels", name)
				}
				// Listed above: Run matches and outputs labels, so the grid
				// sends them (issue 11); nothing to compare.
				return
			}
			if readsLabels[name] {
				t.Fatalf("%s is LabelBlind and listed as reading labels", name)
			}
			rec := mustRead(t, input[name])
			params, _ := alg.Params(nil)
			chunks, err := alg.Split(&rec.Signal, params, pipeline.SplitOptions{ChunkSeconds: 300})
			if err != nil {
				t.Fatal(err)
			}
			roled := slices.Clone(chunks)
			pipeline.UseRoles(roled)
			for i := range chunks {
				want, err := alg.Run(&chunks[i].Task, pipeline.NoYield{})
				if err != nil {
					t.Fatal(err)
				}
				task, err := pipeline.DecodeTask(roled[i].Task.Encode())
				if err != nil {
					t.Fatal(err)
				}
				got, err := alg.Run(task, pipeline.NoYield{})
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("chunk %d: output with roles differs from the output with the recording's labels", i)
				}
				enc := roled[i].Task.Encode()
				for _, c := range rec.Signal.Channels {
					if len(c.Name) >= 2 && bytes.Contains(enc, []byte(c.Name)) {
						t.Fatalf("chunk %d: the role-labelled task still encodes the label %q", i, c.Name)
					}
				}
			}
			if chunks[0].Task.Channels[0].Name == pipeline.Role(0) {
				t.Errorf("UseRoles relabelled the chunks it was given a clone of")
			}
		})
	}
}
