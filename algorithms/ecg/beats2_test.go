package ecg

import (
	"encoding/json"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/pulsegrid/pulsegrid/algorithms/ecg/bxb"
	"github.com/pulsegrid/pulsegrid/algorithms/internal/golden"
	"github.com/pulsegrid/pulsegrid/algorithms/internal/pipetest"
	"github.com/pulsegrid/pulsegrid/algorithms/pipeline"
	"github.com/pulsegrid/pulsegrid/algorithms/signal"
)

// runBeats2 runs ecg.beats@2 with default parameters over sig split by opt.
func runBeats2(tb testing.TB, sig *signal.Signal, opt pipeline.SplitOptions) (*BeatsResult, []pipeline.Chunk, [][]byte) {
	tb.Helper()
	alg := NewBeats2()
	params, err := alg.Params(nil)
	if err != nil {
		tb.Fatal(err)
	}
	res, chunks, outs := pipetest.Run(tb, alg, sig, params, opt)
	return res.(*BeatsResult), chunks, outs
}

// TestBeats2ChunkingEqualsWhole: ecg.beats@2 merges random chunkings of
// real records (both leads, 116 with its saturated MLII) into exactly the
// whole-record result, so chunk boundaries neither split nor double a beat.
func TestBeats2ChunkingEqualsWhole(t *testing.T) {
	records := []string{"116", "203", "208"}
	rnd := rand.New(rand.NewPCG(3, 4))
	tries := 3
	if underWasm {
		records, tries = records[:1], 1
	}
	for _, name := range records {
		rec := mustReadRecord(t, "mitdb", name)
		whole, wchunks, _ := runBeats2(t, &rec.Sig, pipeline.SplitOptions{Whole: true})
		if len(wchunks) != 1 {
			t.Fatalf("%s: whole run has %d chunks", name, len(wchunks))
		}
		want := resultDigest(t, whole)
		for range tries {
			secs := 1 + rnd.Float64()*900
			got, chunks, _ := runBeats2(t, &rec.Sig, pipeline.SplitOptions{ChunkSeconds: secs})
			if d := resultDigest(t, got); d != want || !reflect.DeepEqual(got, whole) {
				t.Errorf("%s: %d chunks (%.0f s): result differs from the whole run (%d vs %d beats)", name, len(chunks), secs, got.Count, whole.Count)
			}
		}
	}
}

// TestGoldenBeats2 pins ecg.beats@2's digests of chunk inputs, outputs and
// merged result: identical natively, under js/wasm and with FMA fusion
// allowed (make fmacheck). Regenerate with -update only after a deliberate
// change of the algorithm, with a new version.
func TestGoldenBeats2(t *testing.T) {
	records := []string{"116", "208"}
	got := map[string]goldenBeats{}
	for _, name := range records {
		rec := mustReadRecord(t, "mitdb", name)
		res, chunks, outs := runBeats2(t, &rec.Sig, pipeline.SplitOptions{})
		got["mitdb/"+name] = goldenOf(t, res, chunks, outs)
	}
	path := filepath.Join("testdata", "golden", "beats2.json")
	enc, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]goldenBeats
	if err := json.Unmarshal(golden.Bytes(t, path, append(enc, '\n')), &want); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(want) != len(records) {
		t.Fatalf("%s holds %d records, want %d", path, len(want), len(records))
	}
	for name, w := range want {
		g := got[name]
		if !slices.Equal(g.Tasks, w.Tasks) || !slices.Equal(g.Outputs, w.Outputs) || g.Result != w.Result || g.Count != w.Count {
			t.Errorf("%s: digests differ from %s (%d beats, want %d)", name, path, g.Count, w.Count)
		}
	}
}

// TestBeats2UsesTheSecondLead: on record 116 MLII saturates at the ADC
// limit for seconds and the beats there are visible only in V1. ecg.beats@1
// (one lead) misses them; ecg.beats@2 must find them. A detector that
// ignores the second lead fails the bound.
func TestBeats2UsesTheSecondLead(t *testing.T) {
	rec := mustReadRecord(t, "mitdb", "116")
	one, _ := beatsOf(t, BeatsName, &rec.Sig)
	two, _ := beatsOf(t, Beats2Name, &rec.Sig)
	s1 := bxb.Score(rec.Ann, one, rec.Rate, bxb.Options{})
	s2 := bxb.Score(rec.Ann, two, rec.Rate, bxb.Options{})
	t.Logf("116: @1 %v; @2 %v", s1, s2)
	if s1.FN < 10 {
		t.Fatalf("116: @1 missed only %d beats; the record no longer shows the saturated lead this test is about", s1.FN)
	}
	if s2.FN > 5 {
		t.Errorf("116: ecg.beats@2 missed %d beats (ecg.beats@1: %d), want at most 5: the second lead is not used where MLII saturates", s2.FN, s1.FN)
	}
}
