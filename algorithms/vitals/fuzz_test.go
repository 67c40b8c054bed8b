package vitals

import (
	"context"
	"testing"

	"github.com/pulsegrid/pulsegrid/algorithms/pipeline"
	"github.com/pulsegrid/pulsegrid/algorithms/signal"
)

// seedOutputs are real chunk outputs of both algorithms, to start fuzzing
// the Merge decoders from, and their chunks' specs (which name the
// channels: Merge needs real ones to get as far as the outputs).
func seedOutputs(tb testing.TB, alg pipeline.Algorithm) ([][]byte, []pipeline.Spec) {
	sig := &signal.Signal{Channels: []signal.Channel{
		{Name: "HR", Unit: "bpm", Rate: 1, Samples: []float64{80, 130, 131, 132, 80}},
		{Name: "SpO2", Unit: "%", Rate: 1, Samples: []float64{97, 85, 84, 83, 97}},
	}}
	p, _ := alg.Params(nil)
	chunks, err := alg.Split(sig, p, pipeline.SplitOptions{ChunkSeconds: 2})
	if err != nil {
		tb.Fatal(err)
	}
	var outs [][]byte
	var specs []pipeline.Spec
	for _, c := range chunks {
		specs = append(specs, c.Spec)
		out, err := alg.Run(&c.Task, pipeline.NoYield{Ctx: context.Background()})
		if err != nil {
			tb.Fatal(err)
		}
		outs = append(outs, out)
	}
	return outs, specs
}

func fuzzMerge(f *testing.F, alg pipeline.Algorithm) {
	outs, specs := seedOutputs(f, alg)
	for _, o := range outs {
		f.Add(o)
	}
	p, _ := alg.Params(nil)
	f.Fuzz(func(t *testing.T, out []byte) {
		res, err := alg.Merge(p, []pipeline.Part{{Spec: specs[0], Output: out}, {Spec: specs[1], Output: out}})
		if err != nil {
			return
		}
		if _, err := res.CSV(); err != nil {
			t.Fatalf("CSV of a merged result: %v", err)
		}
		_ = res.Summary()
	})
}

func FuzzSummaryMerge(f *testing.F) { fuzzMerge(f, NewSummary()) }

func FuzzAlarmsMerge(f *testing.F) { fuzzMerge(f, NewAlarms()) }

// FuzzRunTask feeds arbitrary task encodings to Run: errors are fine,
// panics are not.
func FuzzRunTask(f *testing.F) {
	for _, alg := range []pipeline.Algorithm{NewSummary(), NewAlarms()} {
		sig := &signal.Signal{Channels: []signal.Channel{{Name: "HR", Unit: "bpm", Rate: 1, Samples: []float64{80, 130, 131}}}}
		p, _ := alg.Params(nil)
		chunks, err := alg.Split(sig, p, pipeline.SplitOptions{})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(chunks[0].Task.Encode())
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		task, err := pipeline.DecodeTask(b)
		if err != nil {
			return
		}
		for _, alg := range []pipeline.Algorithm{NewSummary(), NewAlarms()} {
			task.Algorithm = alg.Name()
			if p, err := alg.Params(task.Params); err == nil {
				task.Params = p
			}
			alg.Run(task, pipeline.NoYield{})
		}
	})
}
