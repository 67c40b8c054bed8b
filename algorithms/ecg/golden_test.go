package ecg

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"testing"

	"github.com/pulsegrid/pulsegrid/algorithms/canon"
	"github.com/pulsegrid/pulsegrid/algorithms/internal/golden"
	"github.com/pulsegrid/pulsegrid/algorithms/pipeline"
)

// goldenBeats is what testdata/golden/beats.json records per record.
type goldenBeats struct {
	Tasks   []string `json:"tasks"`   // SHA-256 of each chunk's task encoding
	Outputs []string `json:"outputs"` // SHA-256 of each chunk's output
	Result  string   `json:"result"`  // SHA-256 of the merged result's JSON
	Count   int      `json:"count"`
}

// goldenOf is the golden record of one beats run: the digests of each
// chunk's task and output, and of the merged result.
func goldenOf(tb testing.TB, res *BeatsResult, chunks []pipeline.Chunk, outs [][]byte) goldenBeats {
	tb.Helper()
	var g goldenBeats
	for i := range chunks {
		g.Tasks = append(g.Tasks, chunks[i].Task.Digest())
		g.Outputs = append(g.Outputs, canon.Digest(outs[i]))
	}
	g.Result = resultDigest(tb, res)
	g.Count = res.Count
	return g
}

// TestGoldenBeats pins the digests of chunk inputs, chunk outputs and the
// merged result: they must be identical natively, under js/wasm and with
// FMA fusion allowed (GOAMD64=v3). Regenerate with -update after a
// deliberate change of the algorithm (and bump its version).
func TestGoldenBeats(t *testing.T) {
	records := []struct{ dir, name string }{{"mitdb", "100"}, {"mitdb", "208"}, {"svdb", "800"}, {"alarms", "v102s"}}
	got := map[string]goldenBeats{}
	for _, r := range records {
		rec := mustReadRecord(t, r.dir, r.name)
		res, chunks, outs := runBeats(t, &rec.Sig, `{}`, pipeline.SplitOptions{})
		got[r.dir+"/"+r.name] = goldenOf(t, res, chunks, outs)
	}
	path := filepath.Join("testdata", "golden", "beats.json")
	enc, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	b := golden.Bytes(t, path, append(enc, '\n'))
	var want map[string]goldenBeats
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	for name, w := range want {
		g := got[name]
		if !slices.Equal(g.Tasks, w.Tasks) {
			t.Errorf("%s: task digests %v, want %v", name, g.Tasks, w.Tasks)
		}
		if !slices.Equal(g.Outputs, w.Outputs) {
			t.Errorf("%s: output digests %v, want %v", name, g.Outputs, w.Outputs)
		}
		if g.Result != w.Result || g.Count != w.Count {
			t.Errorf("%s: result %s (%d beats), want %s (%d beats)", name, g.Result, g.Count, w.Result, w.Count)
		}
	}
	if len(want) != len(records) {
		t.Errorf("%s holds %d records, want %d", path, len(want), len(records))
	}
}
