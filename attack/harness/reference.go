package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/pulsegrid/pulsegrid/algorithms/catalog"
	"github.com/pulsegrid/pulsegrid/algorithms/formats"
	"github.com/pulsegrid/pulsegrid/algorithms/pipeline"
	"github.com/pulsegrid/pulsegrid/attack/client"
)

// Algorithm is what every scenario analyses.
const Algorithm = "ecg.beats@1"

// Record is one MIT-BIH record with what the harness knows of it before
// any volunteer runs: the reference result of `pulsegrid run` and the
// chunks the grid will cut it into.
type Record struct {
	Name   string
	Files  []string
	Beats  []int64 // reference beat samples
	Chunks []Chunk
}

// Chunk is one chunk window of a record and its client.ChunkKey.
type Chunk struct {
	Index  int
	Lo, Hi int64
	Key    string
}

// references caches records by name for one binary and chunk length.
type references struct {
	mu      sync.Mutex
	bin     string
	dir     string // mitdb directory
	tmp     string
	seconds float64
	recs    map[string]*Record
}

// record returns the reference of a record, computing it once: the beats
// from `pulsegrid run ecg.beats@1 NAME.hea NAME.dat --chunk-seconds S`
// (the pipeline without the grid), the chunks from the same Split the
// server runs.
func (r *references) record(ctx context.Context, name string) (*Record, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if rec := r.recs[name]; rec != nil {
		return rec, nil
	}
	rec := &Record{Name: name, Files: []string{filepath.Join(r.dir, name+".hea"), filepath.Join(r.dir, name+".dat")}}
	out := filepath.Join(r.tmp, "reference-"+name+".json")
	args := append([]string{"run", Algorithm}, rec.Files...)
	args = append(args, "--out", out, "--chunk-seconds", strconv.FormatFloat(r.seconds, 'f', -1, 64))
	if b, err := exec.CommandContext(ctx, r.bin, args...).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("pulsegrid run %s: %v\n%s", name, err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		return nil, err
	}
	if rec.Beats, err = beatSamples(b); err != nil {
		return nil, fmt.Errorf("reference of %s: %w", name, err)
	}
	var files []formats.File
	for _, f := range rec.Files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		files = append(files, formats.File{Name: filepath.Base(f), Data: b})
	}
	sig, err := formats.Read(files)
	if err != nil {
		return nil, err
	}
	alg, err := catalog.All().Lookup(Algorithm)
	if err != nil {
		return nil, err
	}
	params, err := alg.Params(nil)
	if err != nil {
		return nil, err
	}
	chunks, err := alg.Split(&sig.Signal, params, pipeline.SplitOptions{ChunkSeconds: r.seconds})
	if err != nil {
		return nil, err
	}
	for _, c := range chunks {
		rec.Chunks = append(rec.Chunks, Chunk{Index: c.Spec.Index, Lo: c.Spec.Lo, Hi: c.Spec.Hi, Key: client.ChunkKey(&c.Task)})
	}
	r.recs[name] = rec
	return rec, nil
}

// beatSamples reads the beat samples of an ecg.beats@1 result's JSON.
func beatSamples(b []byte) ([]int64, error) {
	var res struct {
		Algorithm string `json:"algorithm"`
		Beats     []struct {
			Sample int64 `json:"sample"`
		} `json:"beats"`
	}
	if err := json.Unmarshal(b, &res); err != nil {
		return nil, err
	}
	if res.Algorithm != Algorithm {
		return nil, fmt.Errorf("result of %q, want %s", res.Algorithm, Algorithm)
	}
	out := make([]int64, len(res.Beats))
	for i, x := range res.Beats {
		out[i] = x.Sample
	}
	return out, nil
}

// wrongChunks returns the indexes of the chunk windows [Lo, Hi) whose
// beats differ between the reference and got.
func wrongChunks(rec *Record, got []int64) []int {
	count := func(beats []int64) []map[int64]int {
		per := make([]map[int64]int, len(rec.Chunks))
		ci := 0
		for _, s := range beats {
			for ci < len(rec.Chunks) && s >= rec.Chunks[ci].Hi {
				ci++
			}
			i := min(ci, len(rec.Chunks)-1) // a beat past the end counts in the last window
			if per[i] == nil {
				per[i] = map[int64]int{}
			}
			per[i][s]++
		}
		return per
	}
	want, have := count(rec.Beats), count(got)
	var wrong []int
	for i := range rec.Chunks {
		if !sameCounts(want[i], have[i]) {
			wrong = append(wrong, i)
		}
	}
	return wrong
}

func sameCounts(a, b map[int64]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
