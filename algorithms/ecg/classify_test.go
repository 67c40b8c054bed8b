package ecg

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pulsegrid/pulsegrid/algorithms/canon"
	"github.com/pulsegrid/pulsegrid/algorithms/internal/golden"
	"github.com/pulsegrid/pulsegrid/algorithms/internal/pipetest"
	"github.com/pulsegrid/pulsegrid/algorithms/pipeline"
	"github.com/pulsegrid/pulsegrid/algorithms/signal"
)

func runClassify(tb testing.TB, sig *signal.Signal, raw string, opt pipeline.SplitOptions) (*ClassifyResult, []pipeline.Chunk, [][]byte) {
	tb.Helper()
	return runClassifyAlg(tb, NewClassify(), sig, raw, opt)
}

// runClassifyAlg is runClassify for either version.
func runClassifyAlg(tb testing.TB, alg pipeline.Algorithm, sig *signal.Signal, raw string, opt pipeline.SplitOptions) (*ClassifyResult, []pipeline.Chunk, [][]byte) {
	tb.Helper()
	params, err := alg.Params(json.RawMessage(raw))
	if err != nil {
		tb.Fatal(err)
	}
	res, chunks, outs := pipetest.Run(tb, alg, sig, params, opt)
	return res.(*ClassifyResult), chunks, outs
}

func jsonDigest(tb testing.TB, v any) string {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return canon.Digest(b)
}

// TestClassifyChunkingEqualsWhole cuts records rich in ectopy and events
// (bigeminy, couplets, runs, AF) at many chunk lengths and demands the
// whole-record result, events included, exactly.
func TestClassifyChunkingEqualsWhole(t *testing.T) {
	records := []string{"119", "203", "208"}
	lengths := []float64{60, 120, 180, 240, 300, 420, 600, 900}
	if underWasm {
		records, lengths = records[:1], []float64{60, 420}
	}
	for _, name := range records {
		rec := mustReadRecord(t, "mitdb", name)
		whole, wc, _ := runClassify(t, &rec.Sig, `{}`, pipeline.SplitOptions{Whole: true})
		if len(wc) != 1 {
			t.Fatalf("%s: whole run has %d chunks", name, len(wc))
		}
		if len(whole.Events) == 0 || whole.Classes.V == 0 {
			t.Fatalf("%s: whole run found %d events and %d V beats: nothing to compare", name, len(whole.Events), whole.Classes.V)
		}
		want := jsonDigest(t, whole)
		for _, secs := range lengths {
			got, chunks, _ := runClassify(t, &rec.Sig, `{}`, pipeline.SplitOptions{ChunkSeconds: secs})
			if d := jsonDigest(t, got); d != want {
				t.Errorf("%s in %d chunks of %v s: result differs from the whole run (%d beats, %d events; whole %d, %d)",
					name, len(chunks), secs, got.Count, len(got.Events), whole.Count, len(whole.Events))
			}
		}
	}
}

// TestClassifyBeatsEqualEcgBeats checks that the classified beats are
// exactly ecg.beats@1's, so both results can be read together.
func TestClassifyBeatsEqualEcgBeats(t *testing.T) {
	rec := mustReadRecord(t, "mitdb", "208")
	b, _, _ := runBeats(t, &rec.Sig, `{}`, pipeline.SplitOptions{})
	c, _, _ := runClassify(t, &rec.Sig, `{}`, pipeline.SplitOptions{ChunkSeconds: 300})
	var cs []int64
	for _, x := range c.Beats {
		cs = append(cs, x.Sample)
	}
	if !slices.Equal(cs, beatSamples(b)) {
		t.Fatalf("classified %d beats, ecg.beats@1 found %d, or at other samples", len(cs), b.Count)
	}
	if c.Leads != 2 {
		t.Errorf("leads %d, want 2 (MLII and V1)", c.Leads)
	}
}

// goldenClassify is what testdata/golden/classify.json records per record.
type goldenClassify struct {
	Tasks   []string    `json:"tasks"`
	Outputs []string    `json:"outputs"`
	Result  string      `json:"result"`
	Classes ClassCounts `json:"classes"`
	Events  int         `json:"events"`
}

// TestGoldenClassify pins the digests of chunk tasks, chunk outputs and the
// merged result of ecg.classify@1: identical natively, under js/wasm and
// with FMA fusion allowed (GOAMD64=v3). Regenerate with -update only after
// a deliberate change (and bump the version).
func TestGoldenClassify(t *testing.T) {
	goldenClassifyOf(t, NewClassify(), "classify.json", "119", "208")
}

// TestGoldenClassify2 is TestGoldenClassify for ecg.classify@2 (the beats
// of ecg.beats@2 and @2's supraventricular rules).
func TestGoldenClassify2(t *testing.T) {
	// 201 (atrial fibrillation and flutter, supraventricular runs, V
	// beats) exercises @2's own rules.
	goldenClassifyOf(t, NewClassify2(), "classify2.json", "119", "208", "201")
}

// goldenClassifyOf runs alg on the MIT-BIH records, compares the digests
// with the golden file and returns the results.
func goldenClassifyOf(t *testing.T, alg pipeline.Algorithm, file string, records ...string) map[string]*ClassifyResult {
	t.Helper()
	got := map[string]goldenClassify{}
	results := map[string]*ClassifyResult{}
	for _, name := range records {
		rec := mustReadRecord(t, "mitdb", name)
		res, chunks, outs := runClassifyAlg(t, alg, &rec.Sig, `{}`, pipeline.SplitOptions{})
		var g goldenClassify
		for i := range chunks {
			g.Tasks = append(g.Tasks, chunks[i].Task.Digest())
			g.Outputs = append(g.Outputs, canon.Digest(outs[i]))
		}
		g.Result, g.Classes, g.Events = jsonDigest(t, res), res.Classes, len(res.Events)
		got["mitdb/"+name] = g
		results["mitdb/"+name] = res
	}
	path := filepath.Join("testdata", "golden", file)
	enc, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]goldenClassify
	if err := json.Unmarshal(golden.Bytes(t, path, append(enc, '\n')), &want); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(want) != len(records) {
		t.Errorf("%s holds %d records, want %d", path, len(want), len(records))
	}
	for name, w := range want {
		g := got[name]
		if !slices.Equal(g.Tasks, w.Tasks) {
			t.Errorf("%s: task digests %v, want %v", name, g.Tasks, w.Tasks)
		}
		if !slices.Equal(g.Outputs, w.Outputs) {
			t.Errorf("%s: output digests %v, want %v", name, g.Outputs, w.Outputs)
		}
		if g.Result != w.Result || g.Classes != w.Classes || g.Events != w.Events {
			t.Errorf("%s: result %s (%+v, %d events), want %s (%+v, %d events)", name, g.Result, g.Classes, g.Events, w.Result, w.Classes, w.Events)
		}
	}
	return results
}

func TestClassifyParams(t *testing.T) {
	for _, c := range []struct {
		name, raw, err string
	}{
		{"Defaults", `{}`, ""},
		{"Null", `null`, ""},
		{"Pause", `{"pause_s": 3}`, ""},
		{"ErrUnknown", `{"pause": 3}`, `unknown field "pause"`},
		{"ErrPauseRange", `{"pause_s": 0.2}`, "pause_s is 0.2, want 1 to 60"},
		{"ErrBradyAboveTachy", `{"brady_bpm": 90, "tachy_bpm": 80}`, "brady_bpm 90 must be below tachy_bpm 80"},
		{"ErrTrailing", `{} {}`, "trailing data"},
		{"ErrNaN", `{"af_s": "x"}`, "cannot unmarshal"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := NewClassify().Params(json.RawMessage(c.raw))
			switch {
			case c.err == "" && err != nil:
				t.Fatalf("got %v, want no error", err)
			case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
				t.Fatalf("got %v, want an error containing %q", err, c.err)
			}
		})
	}
	b, _ := NewClassify().Params(nil)
	if want := `{"lead":"auto","pause_s":2,"brady_bpm":50,"tachy_bpm":100,"episode_s":10,"af_s":30}`; string(b) != want {
		t.Errorf("canonical defaults %s, want %s", b, want)
	}
}

// TestClassifyResultRoundTrip checks DecodeResult, CSV and the annotation
// codes written for the classes.
func TestClassifyResultRoundTrip(t *testing.T) {
	rec := mustReadRecord(t, "mitdb", "119")
	res, _, _ := runClassify(t, &rec.Sig, `{}`, pipeline.SplitOptions{})
	b, _ := json.Marshal(res)
	back, err := NewClassify().DecodeResult(b)
	if err != nil {
		t.Fatal(err)
	}
	if jsonDigest(t, back) != jsonDigest(t, res) {
		t.Error("decoded result differs")
	}
	csv, _ := res.CSV()
	if !strings.HasPrefix(string(csv), "sample,time_s,rr_s,class,family\n") || !strings.Contains(string(csv), "\nevent,start_sample") || !strings.Contains(string(csv), "\nbigeminy,") {
		t.Errorf("CSV starts %q", string(csv[:min(80, len(csv))]))
	}
	anns, rate := res.Annotations()
	if rate != 360 || len(anns) != res.Count {
		t.Fatalf("%d annotations at %v Hz", len(anns), rate)
	}
	for i, a := range anns {
		if c, _ := ClassOfCode(a.Code); c != res.Beats[i].Class {
			t.Fatalf("beat %d: class %s written as code %d", i, res.Beats[i].Class, a.Code)
		}
	}
	if _, err := NewClassify().DecodeResult([]byte(`{"algorithm":"ecg.beats@1"}`)); err == nil {
		t.Error("decoded another algorithm's result")
	}
}

// TestClassifyBadOutput feeds Merge damaged chunk outputs.
func TestClassifyBadOutput(t *testing.T) {
	rec := mustReadRecord(t, "mitdb", "119")
	_, chunks, outs := runClassify(t, &rec.Sig, `{}`, pipeline.SplitOptions{})
	params, _ := NewClassify().Params(nil)
	for _, c := range []struct {
		name string
		edit func(o []byte) []byte
		err  string
	}{
		{"Truncated", func(o []byte) []byte { return o[:len(o)-3] }, "classify output"},
		{"Magic", func(o []byte) []byte { return append([]byte("PGBEATS1"), o[8:]...) }, "classify output"},
	} {
		t.Run(c.name, func(t *testing.T) {
			parts := make([]pipeline.Part, len(chunks))
			for i := range chunks {
				parts[i] = pipeline.Part{Spec: chunks[i].Spec, Output: outs[i]}
			}
			parts[1].Output = c.edit(slices.Clone(outs[1]))
			_, err := NewClassify().Merge(params, parts)
			if err == nil || !strings.Contains(err.Error(), c.err) || !strings.Contains(err.Error(), "chunk 1") {
				t.Fatalf("got %v, want an error about chunk 1 containing %q", err, c.err)
			}
		})
	}
	parts := []pipeline.Part{{Spec: chunks[1].Spec, Output: outs[1]}}
	if _, err := NewClassify().Merge(params, parts); err == nil || !strings.Contains(err.Error(), "want 0") {
		t.Errorf("merge from chunk 1: got %v", err)
	}
}

func ExampleClassOfCode() {
	for _, code := range []int{signal.CodeNormal, signal.CodeLBBB, signal.CodeAPC, signal.CodePVC, signal.CodeFusion, signal.CodePaced} {
		c, _ := ClassOfCode(code)
		fmt.Print(c, " ")
	}
	// Output: N N S V F Q
}
