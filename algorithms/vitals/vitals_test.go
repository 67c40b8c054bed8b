package vitals

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"testing"

	"github.com/pulsegrid/pulsegrid/algorithms/canon"
	"github.com/pulsegrid/pulsegrid/algorithms/formats/wfdb"
	"github.com/pulsegrid/pulsegrid/algorithms/internal/golden"
	"github.com/pulsegrid/pulsegrid/algorithms/internal/pipetest"
	"github.com/pulsegrid/pulsegrid/algorithms/pipeline"
	"github.com/pulsegrid/pulsegrid/algorithms/signal"
)

const vitalsDir = "../../../shared/data/vitals"

// mustRecord reads a WFDB record of ../shared/data/vitals.
func mustRecord(tb testing.TB, header string) *signal.Signal {
	tb.Helper()
	rec, err := wfdb.ReadRecord(header, func(name string) ([]byte, error) {
		return os.ReadFile(filepath.Join(vitalsDir, filepath.Base(name)))
	})
	if err != nil {
		if _, serr := os.Stat(filepath.Join(vitalsDir, header)); serr != nil {
			tb.Skipf("record not available: %v", serr)
		}
		tb.Fatalf("read %s: %v", header, err)
	}
	return &rec.Signal
}

// runAll splits, runs every chunk through the task encoding a volunteer
// receives from the grid (roles in place of the labels), and merges. It
// also runs the chunks with the recording's labels, as `pulsegrid run`
// does, and fails unless both give the same outputs.
func runAll(tb testing.TB, alg pipeline.Algorithm, sig *signal.Signal, params []byte, opt pipeline.SplitOptions) pipeline.Result {
	tb.Helper()
	res, chunks, outs := pipetest.Run(tb, alg, sig, params, opt)
	pipeline.UseRoles(chunks)
	parts := make([]pipeline.Part, len(chunks))
	for i := range chunks {
		enc := chunks[i].Task.Encode()
		for _, c := range sig.Channels {
			if len(c.Name) >= 2 && bytes.Contains(enc, []byte(c.Name)) {
				tb.Fatalf("chunk %d: the task a volunteer gets encodes the label %q", i, c.Name)
			}
		}
		task, err := pipeline.DecodeTask(enc)
		if err != nil {
			tb.Fatal(err)
		}
		out, err := alg.Run(task, pipeline.NoYield{})
		if err != nil {
			tb.Fatalf("run chunk %d with roles: %v", i, err)
		}
		if !bytes.Equal(out, outs[i]) {
			tb.Fatalf("chunk %d: output with roles differs from the output with labels", i)
		}
		parts[i] = pipeline.Part{Spec: chunks[i].Spec, Output: out}
	}
	if _, err := alg.Merge(params, parts); err != nil {
		tb.Fatalf("merge of the role-labelled run: %v", err)
	}
	return res
}

func resultDigest(tb testing.TB, r pipeline.Result) string {
	tb.Helper()
	b, err := json.Marshal(r)
	if err != nil {
		tb.Fatal(err)
	}
	return canon.Digest(b)
}

func mustParams(tb testing.TB, alg pipeline.Algorithm, raw string) []byte {
	tb.Helper()
	p, err := alg.Params(json.RawMessage(raw))
	if err != nil {
		tb.Fatalf("params %s: %v", raw, err)
	}
	return p
}

// chunkSizes are the chunk lengths (seconds) a chunking test tries: some
// fixed (odd, tiny, beyond an hour) and some random.
func chunkSizes(seed uint64, n int, maxS float64) []float64 {
	r := rand.New(rand.NewPCG(seed, 11))
	sizes := []float64{1, 7.5, 61, 599, 3600, 5000}
	for range n {
		sizes = append(sizes, 1+r.Float64()*maxS)
	}
	return sizes
}

// checkChunkings asserts that every chunking merges to the whole-record
// result, deeply and by digest, and returns that result.
func checkChunkings(t *testing.T, alg pipeline.Algorithm, sig *signal.Signal, params []byte, sizes []float64) pipeline.Result {
	t.Helper()
	whole := runAll(t, alg, sig, params, pipeline.SplitOptions{Whole: true})
	wd := resultDigest(t, whole)
	for _, s := range sizes {
		got := runAll(t, alg, sig, params, pipeline.SplitOptions{ChunkSeconds: s})
		if !reflect.DeepEqual(got, whole) {
			t.Errorf("chunks of %v s: merged result differs from the whole-record result\n got %s\nwant %s", s, got.Summary(), whole.Summary())
			continue
		}
		if d := resultDigest(t, got); d != wd {
			t.Errorf("chunks of %v s: digest %s, whole record %s", s, d, wd)
		}
	}
	return whole
}

// checkGolden compares digests with testdata/<name>.txt.
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	golden.Check(t, filepath.Join("testdata", name+".txt"), got)
}

// lighter gives the number of random chunkings: fewer under wasm, which is
// several times slower.
func lighter(n int) int {
	if runtime.GOARCH == "wasm" {
		return max(n/4, 1)
	}
	return n
}

func TestSampleMicros(t *testing.T) {
	// the header's 1/60 Hz is 0.0166666666667: sample 60 must still be 3600 s
	rate := 0.0166666666667
	if got := SampleMicros(60, rate); got != 3600*microsPerSecond {
		t.Errorf("SampleMicros(60, %v) = %d, want %d", rate, got, 3600*microsPerSecond)
	}
	if h := HourOf(59, rate); h != 0 {
		t.Errorf("HourOf(59) = %d, want 0", h)
	}
	if h := HourOf(60, rate); h != 1 {
		t.Errorf("HourOf(60) = %d, want 1", h)
	}
	for _, us := range []int64{0, 1, 3599_999_999, 3600 * microsPerSecond, 7777_000_001} {
		for _, r := range []float64{rate, 1, 125, 360, 0.3} {
			i := firstAtOrAfter(us, r, 1<<40)
			if SampleMicros(i, r) < us || (i > 0 && SampleMicros(i-1, r) >= us) {
				t.Errorf("firstAtOrAfter(%d, %v) = %d, not the first sample at or after", us, r, i)
			}
		}
	}
}
