package hrv

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/pulsegrid/pulsegrid/algorithms/canon"
	"github.com/pulsegrid/pulsegrid/algorithms/formats/wfdb"
	"github.com/pulsegrid/pulsegrid/algorithms/internal/golden"
	"github.com/pulsegrid/pulsegrid/algorithms/internal/pipetest"
	"github.com/pulsegrid/pulsegrid/algorithms/pipeline"
	"github.com/pulsegrid/pulsegrid/algorithms/signal"
)

const mitdbDir = "../../../shared/data/mitdb"

// mitdb reads an MIT-BIH record and its reference annotations.
func mitdb(tb testing.TB, rec string) (*signal.Signal, []signal.Annotation) {
	tb.Helper()
	open := func(name string) ([]byte, error) { return os.ReadFile(filepath.Join(mitdbDir, filepath.Base(name))) }
	r, err := wfdb.ReadRecord(rec+".hea", open)
	if err != nil {
		if _, serr := os.Stat(filepath.Join(mitdbDir, rec+".hea")); serr != nil {
			tb.Skipf("record not available: %v", serr)
		}
		tb.Fatal(err)
	}
	b, err := open(rec + ".atr")
	if err != nil {
		tb.Fatal(err)
	}
	anns, err := wfdb.ReadAnnotations(rec+".atr", b)
	if err != nil {
		tb.Fatal(err)
	}
	return &r.Signal, anns
}

func runECG(tb testing.TB, sig *signal.Signal, params []byte, opt pipeline.SplitOptions) *ECGResult {
	tb.Helper()
	res, _, _ := pipetest.Run(tb, NewECG(), sig, params, opt)
	return res.(*ECGResult)
}

func resultDigest(tb testing.TB, r pipeline.Result) string {
	b, err := json.Marshal(r)
	if err != nil {
		tb.Fatal(err)
	}
	return canon.Digest(b)
}

// TestECGChunkingsAndReference runs ecg.hrv@1 on MIT-BIH 100 whole and in
// several chunkings (results must be identical), and compares it with the
// HRV of the cardiologists' beat annotations: detection differences of a
// few milliseconds must not move SDNN or the band powers much.
func TestECGChunkingsAndReference(t *testing.T) {
	sig, anns := mitdb(t, "100")
	alg := NewECG()
	params, err := alg.Params(nil)
	if err != nil {
		t.Fatal(err)
	}
	whole := runECG(t, sig, params, pipeline.SplitOptions{Whole: true})
	wd := resultDigest(t, whole)
	sizes := []float64{60, 300, 420, 1200}
	if runtime.GOARCH == "wasm" {
		sizes = sizes[1:3]
	}
	for _, s := range sizes {
		got := runECG(t, sig, params, pipeline.SplitOptions{ChunkSeconds: s})
		if !reflect.DeepEqual(got, whole) || resultDigest(t, got) != wd {
			t.Errorf("chunks of %v s: %s, whole record: %s", s, got.Summary(), whole.Summary())
		}
	}
	t.Logf("detected: %s; VLF %.1f LF %.1f HF %.1f", whole.Summary(), whole.VLF, whole.LF, whole.HF)

	var times []float64
	var normal []bool
	for _, a := range anns {
		if signal.IsQRS(a.Code) {
			times = append(times, float64(a.Sample)/360)
			normal = append(normal, a.Code == signal.CodeNormal)
		}
	}
	labelled, err := Compute(times, normal, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("reference, beat labels used: SDNN %.1f RMSSD %.1f VLF %.1f LF %.1f HF %.1f (%d NN, %d excluded)",
		labelled.SDNN, labelled.RMSSD, labelled.VLF, labelled.LF, labelled.HF, labelled.NNCount, labelled.Excluded)
	// The detector labels every beat normal, so compare like with like:
	// the reference beats, all taken as normal.
	ref, err := Compute(times, allNormal(len(times)), DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("reference, all beats normal: SDNN %.1f RMSSD %.1f VLF %.1f LF %.1f HF %.1f (%d NN, %d excluded)",
		ref.SDNN, ref.RMSSD, ref.VLF, ref.LF, ref.HF, ref.NNCount, ref.Excluded)
	for _, c := range []struct {
		name      string
		got, want float64
		tol       float64
	}{
		{"MeanNN", whole.MeanNN, ref.MeanNN, 0.002},
		{"SDNN", whole.SDNN, ref.SDNN, 0.02},
		{"RMSSD", whole.RMSSD, ref.RMSSD, 0.05},
		{"VLF", whole.VLF, ref.VLF, 0.05},
		{"LF", whole.LF, ref.LF, 0.05},
		{"HF", whole.HF, ref.HF, 0.05},
	} {
		if math.Abs(c.got-c.want) > c.tol*c.want {
			t.Errorf("%s from detected beats %.2f, from reference annotations %.2f: more than %.0f %% apart", c.name, c.got, c.want, 100*c.tol)
		}
	}
	if csv, err := whole.CSV(); err != nil || !strings.Contains(string(csv), "sdnn,") {
		t.Errorf("CSV (%v):\n%s", err, csv)
	}
	back, err := alg.DecodeResult(mustJSON(t, whole))
	if err != nil || !reflect.DeepEqual(back, pipeline.Result(whole)) {
		t.Errorf("DecodeResult round trip: %v", err)
	}
}

func mustJSON(tb testing.TB, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestECGParams(t *testing.T) {
	alg := NewECG()
	p, err := alg.Params(json.RawMessage(`{"window_s":0,"max_rr_s":4}`))
	if err != nil {
		t.Fatal(err)
	}
	q, err := alg.Params(p)
	if err != nil || string(p) != string(q) {
		t.Errorf("canonical params are not a fixed point: %s then %s (%v)", p, q, err)
	}
	for _, raw := range []string{`{"window_s":10}`, `{"oversample":0}`, `{"bogus":1}`, `{"min_rr_s":3,"max_rr_s":2}`} {
		if _, err := alg.Params(json.RawMessage(raw)); err == nil {
			t.Errorf("Params(%s): no error", raw)
		}
	}
}

// TestGoldenECGHRV pins the digest of ecg.hrv@1 on MIT-BIH 100.
func TestGoldenECGHRV(t *testing.T) {
	sig, _ := mitdb(t, "100")
	params, _ := NewECG().Params(nil)
	got := resultDigest(t, runECG(t, sig, params, pipeline.SplitOptions{}))
	golden.Check(t, filepath.Join("testdata", "golden_ecg.txt"), got)
}
