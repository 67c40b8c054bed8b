package ecg

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/pulsegrid/pulsegrid/algorithms/canon"
	"github.com/pulsegrid/pulsegrid/algorithms/ecg/bxb"
	"github.com/pulsegrid/pulsegrid/algorithms/internal/pipetest"
	"github.com/pulsegrid/pulsegrid/algorithms/pipeline"
	"github.com/pulsegrid/pulsegrid/algorithms/signal"
)

// mitRecords are the MIT-BIH records in ../shared/data/mitdb.
var mitRecords = []string{"100", "101", "105", "106", "108", "119", "203", "208"}

// underWasm is true when the tests run in node (3-5x slower): the heavy
// tests use fewer records there.
const underWasm = runtime.GOOS == "js"

// runBeats runs ecg.beats@1 through Split, Run and Merge.
func runBeats(tb testing.TB, sig *signal.Signal, raw string, opt pipeline.SplitOptions) (*BeatsResult, []pipeline.Chunk, [][]byte) {
	tb.Helper()
	alg := NewBeats()
	params, err := alg.Params(json.RawMessage(raw))
	if err != nil {
		tb.Fatal(err)
	}
	res, chunks, outs := pipetest.Run(tb, alg, sig, params, opt)
	return res.(*BeatsResult), chunks, outs
}

func beatSamples(r *BeatsResult) []int64 {
	out := make([]int64, len(r.Beats))
	for i, b := range r.Beats {
		out[i] = b.Sample
	}
	return out
}

// Accuracy targets on the 8 MIT-BIH records (gross, in %).
const (
	targetSe  = 99.6
	targetPPV = 99.3
)

// TestAccuracyMITDB scores the detector on the MIT-BIH records as EC57 says
// and fails below the targets (natively and under wasm: it takes under a
// second either way).
func TestAccuracyMITDB(t *testing.T) {
	records := mitRecords
	var gross bxb.Stats
	for _, name := range records {
		rec := mustReadRecord(t, "mitdb", name)
		res, _, _ := runBeats(t, &rec.Sig, `{}`, pipeline.SplitOptions{})
		if res.Lead != "MLII" {
			t.Errorf("%s: lead %q chosen, want MLII", name, res.Lead)
		}
		st := bxb.Score(rec.Ann, beatSamples(res), rec.Rate, bxb.Options{})
		t.Logf("| %s | %.2f | %.2f | %d | %d | %d |", name, 100*st.Se(), 100*st.PPV(), st.TP, st.FN, st.FP)
		gross = gross.Add(st)
	}
	t.Logf("| gross | %.2f | %.2f | %d | %d | %d |", 100*gross.Se(), 100*gross.PPV(), gross.TP, gross.FN, gross.FP)
	if 100*gross.Se() < targetSe || 100*gross.PPV() < targetPPV {
		t.Errorf("gross %v, want Se >= %.1f%% and +P >= %.1f%%", gross, targetSe, targetPPV)
	}
}

// resample returns sig's channels linearly interpolated to rate, after a
// moving-average anti-aliasing filter when the rate goes down, and the
// annotations moved to the new rate.
func resample(rec *testRecord, rate float64) (*signal.Signal, []signal.Annotation) {
	ratio := rate / rec.Rate
	var out signal.Signal
	for _, c := range rec.Sig.Channels {
		src := c.Samples
		if ratio < 1 {
			w := int(1/ratio + 0.5)
			f := make([]float64, len(src))
			var sum float64
			for i := range src {
				sum += src[i]
				if i >= w {
					sum -= src[i-w]
				}
				f[i] = sum / float64(min(i+1, w))
			}
			// Undo the filter's delay of (w-1)/2 samples.
			d := (w - 1) / 2
			src = append(f[d:], make([]float64, d)...)
		}
		n := int(float64(len(src)) * ratio)
		s := make([]float64, n)
		for i := range s {
			p := float64(i) / ratio
			k := int(p)
			if k+1 >= len(src) {
				s[i] = src[len(src)-1]
				continue
			}
			fr := p - float64(k)
			s[i] = src[k]*(1-fr) + src[k+1]*fr
		}
		out.Channels = append(out.Channels, signal.Channel{Name: c.Name, Unit: c.Unit, Rate: rate, Samples: s})
	}
	ann := make([]signal.Annotation, len(rec.Ann))
	for i, a := range rec.Ann {
		a.Sample = int64(math.Round(float64(a.Sample) * ratio))
		ann[i] = a
	}
	return &out, ann
}

// TestAccuracyRates runs the MIT-BIH records resampled to other rates; the
// targets are 0.2 points lower to allow for the resampling. Under wasm
// (or -short) it tries two rates only.
func TestAccuracyRates(t *testing.T) {
	rates := []float64{100, 128, 250, 500, 1000}
	records := mitRecords
	if underWasm || testing.Short() {
		rates = []float64{128, 1000}
	}
	for _, rate := range rates {
		var gross bxb.Stats
		line := ""
		for _, name := range records {
			rec := mustReadRecord(t, "mitdb", name)
			sig, ann := resample(rec, rate)
			res, _, _ := runBeats(t, sig, `{}`, pipeline.SplitOptions{})
			st := bxb.Score(ann, beatSamples(res), rate, bxb.Options{})
			gross = gross.Add(st)
			line += fmt.Sprintf(" %s:%d/%d", name, st.FN, st.FP)
		}
		t.Logf("%4.0f Hz: gross %v | FN/FP%s", rate, gross, line)
		if 100*gross.Se() < targetSe-0.2 || 100*gross.PPV() < targetPPV-0.2 {
			t.Errorf("%v Hz: gross %v, want Se >= %.1f%% and +P >= %.1f%%", rate, gross, targetSe-0.2, targetPPV-0.2)
		}
	}
}

// TestAccuracySVDB scores record 800 (128 Hz) of the MIT-BIH
// Supraventricular Arrhythmia Database.
func TestAccuracySVDB(t *testing.T) {
	rec := mustReadRecord(t, "svdb", "800")
	res, _, _ := runBeats(t, &rec.Sig, `{}`, pipeline.SplitOptions{})
	st := bxb.Score(rec.Ann, beatSamples(res), rec.Rate, bxb.Options{})
	t.Logf("svdb/800 (lead %s, %v Hz): %v", res.Lead, rec.Rate, st)
	if 100*st.Se() < targetSe || 100*st.PPV() < targetPPV {
		t.Errorf("svdb/800: %v, want Se >= %.1f%% and +P >= %.1f%%", st, targetSe, targetPPV)
	}
}

// resultDigest is the SHA-256 of the result's JSON, as stored.
func resultDigest(tb testing.TB, r *BeatsResult) string {
	tb.Helper()
	b, err := json.Marshal(r)
	if err != nil {
		tb.Fatal(err)
	}
	return canon.Digest(b)
}

// TestChunkingEqualsWhole merges random chunkings of real records and
// compares them with the whole-record run.
func TestChunkingEqualsWhole(t *testing.T) {
	records := []struct{ dir, name string }{{"mitdb", "105"}, {"mitdb", "203"}, {"svdb", "800"}, {"alarms", "v102s"}}
	rnd := rand.New(rand.NewPCG(1, 2))
	tries := 4
	if underWasm {
		records, tries = records[:2], 2
	}
	for _, r := range records {
		rec := mustReadRecord(t, r.dir, r.name)
		whole, wchunks, _ := runBeats(t, &rec.Sig, `{}`, pipeline.SplitOptions{Whole: true})
		if len(wchunks) != 1 {
			t.Fatalf("%s: whole run has %d chunks", r.name, len(wchunks))
		}
		want := resultDigest(t, whole)
		for range tries {
			secs := 1 + rnd.Float64()*900
			got, chunks, _ := runBeats(t, &rec.Sig, `{}`, pipeline.SplitOptions{ChunkSeconds: secs})
			if d := resultDigest(t, got); d != want || !reflect.DeepEqual(got, whole) {
				t.Errorf("%s: %d chunks (%.0f s): result differs from the whole run (%d vs %d beats)", r.name, len(chunks), secs, got.Count, whole.Count)
			}
		}
	}
}

func TestSplitGeometry(t *testing.T) {
	rec := mustReadRecord(t, "mitdb", "100")
	tests := []struct {
		name   string
		opt    pipeline.SplitOptions
		chunks int
	}{
		{"Default", pipeline.SplitOptions{}, 4},              // 30.1 min: 3 chunks of 10 blocks and one of 1
		{"Whole", pipeline.SplitOptions{Whole: true}, 1},     // one chunk
		{"Tiny", pipeline.SplitOptions{ChunkSeconds: 1}, 31}, // rounded up to one block
		{"Huge", pipeline.SplitOptions{ChunkSeconds: 1e9}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			alg := NewBeats()
			chunks, err := alg.Split(&rec.Sig, []byte(`{"lead":"auto"}`), tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			if len(chunks) != tc.chunks {
				t.Fatalf("got %d chunks, want %d", len(chunks), tc.chunks)
			}
			n := int64(len(rec.Sig.Channels[0].Samples))
			next := int64(0)
			for i, c := range chunks {
				if c.Spec.Lo != next || c.Spec.Hi <= c.Spec.Lo || c.Spec.Offset > c.Spec.Lo {
					t.Errorf("chunk %d: spec %+v does not follow sample %d", i, c.Spec, next)
				}
				if len(c.Task.Channels) != 1 || c.Task.Channels[0].Name != "MLII" {
					t.Errorf("chunk %d: task channels %v, want the MLII lead only", i, c.Task.Channels)
				}
				next = c.Spec.Hi
			}
			if next != n {
				t.Errorf("chunks end at %d, want %d", next, n)
			}
		})
	}
}

func TestParams(t *testing.T) {
	tests := []struct {
		in, want, err string
	}{
		{"", `{"lead":"auto"}`, ""},
		{`{}`, `{"lead":"auto"}`, ""},
		{`{"lead":"V1"}`, `{"lead":"V1"}`, ""},
		{`{"lead":1}`, `{"lead":1}`, ""},
		{`{"lead":null}`, `{"lead":"auto"}`, ""},
		{`{"lead":-1}`, "", "channel index"},
		{`{"lead":1.5}`, "", "channel index"},
		{`{"leads":1}`, "", "unknown field"},
		{`[]`, "", "parameters"},
	}
	for _, tc := range tests {
		got, err := NewBeats().Params(json.RawMessage(tc.in))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Params(%s): got error %v, want one containing %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || string(got) != tc.want {
			t.Errorf("Params(%s) = %s, %v; want %s", tc.in, got, err, tc.want)
		}
	}
}

func TestChooseLead(t *testing.T) {
	ch := func(name, unit string) signal.Channel { return signal.Channel{Name: name, Unit: unit, Rate: 250} }
	sig := &signal.Signal{Channels: []signal.Channel{ch("PLETH", "NU"), ch("V", "mV"), ch("II", "mV")}}
	tests := []struct {
		name string
		lead Lead
		want int
		err  string
	}{
		{"Auto", Lead{}, 2, ""},
		{"ByName", Lead{Name: "V"}, 1, ""},
		{"ByIndex", Lead{Index: 0, ByIndex: true}, 0, ""},
		{"ErrUnknownName", Lead{Name: "aVF"}, 0, "no such channel"},
		{"ErrIndex", Lead{Index: 3, ByIndex: true}, 0, "3 channels"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ChooseLead(sig, tc.lead)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %v, want an error containing %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %d, %v; want %d", got, err, tc.want)
			}
		})
	}
	none := &signal.Signal{Channels: []signal.Channel{ch("PLETH", "NU"), ch("RESP", "NU")}}
	if _, err := ChooseLead(none, Lead{}); err == nil || !strings.Contains(err.Error(), `"PLETH"`) {
		t.Errorf("no ECG channel: got %v, want an error naming the channels", err)
	}
}

func TestSplitErrors(t *testing.T) {
	tests := []struct {
		name string
		sig  signal.Signal
		err  string
	}{
		{"ErrRate", signal.Signal{Channels: []signal.Channel{{Name: "II", Rate: 50, Samples: make([]float64, 100)}}}, "outside"},
		{"ErrEmpty", signal.Signal{Channels: []signal.Channel{{Name: "II", Rate: 250}}}, "no samples"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewBeats().Split(&tc.sig, nil, pipeline.SplitOptions{})
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("got %v, want an error containing %q", err, tc.err)
			}
		})
	}
}

// countingYielder counts Yield calls and can stop the run.
type countingYielder struct {
	calls, stopAt int
}

func (c *countingYielder) Yield(done, total int64) error {
	c.calls++
	if c.stopAt > 0 && c.calls >= c.stopAt {
		return context.Canceled
	}
	return nil
}

func TestRunYieldsEveryBlock(t *testing.T) {
	rec := mustReadRecord(t, "mitdb", "100")
	chunks, err := NewBeats().Split(&rec.Sig, nil, pipeline.SplitOptions{ChunkSeconds: 600})
	if err != nil {
		t.Fatal(err)
	}
	var y countingYielder
	if _, err := NewBeats().Run(&chunks[0].Task, &y); err != nil {
		t.Fatal(err)
	}
	if y.calls < 10 {
		t.Errorf("Run yielded %d times for 10 blocks, want at least one per block", y.calls)
	}
	stop := countingYielder{stopAt: 3}
	if _, err := NewBeats().Run(&chunks[0].Task, &stop); err != context.Canceled {
		t.Errorf("a Yield error: Run returned %v, want context.Canceled", err)
	}
}

func TestRunErrors(t *testing.T) {
	rec := mustReadRecord(t, "mitdb", "100")
	chunks, err := NewBeats().Split(&rec.Sig, nil, pipeline.SplitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	good := chunks[1].Task
	tests := []struct {
		name string
		edit func(t *pipeline.Task)
		err  string
	}{
		{"ErrChannels", func(t *pipeline.Task) { t.Channels = nil }, "channels"},
		{"ErrAux", func(t *pipeline.Task) { t.Aux = t.Aux[:10] }, "aux"},
		{"ErrRate", func(t *pipeline.Task) { t.Channels[0].Rate = 10 }, "outside"},
		{"ErrGeometry", func(t *pipeline.Task) { t.Channels[0].Rate = 250 }, "geometry"},
		{"ErrOwned", func(t *pipeline.Task) { t.Channels[0].Samples = t.Channels[0].Samples[:1000] }, "do not fit"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			task := good
			task.Channels = append([]signal.Channel(nil), good.Channels...)
			tc.edit(&task)
			if _, err := NewBeats().Run(&task, pipeline.NoYield{}); err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("got %v, want an error containing %q", err, tc.err)
			}
		})
	}
}

func TestMergeErrors(t *testing.T) {
	rec := mustReadRecord(t, "mitdb", "100")
	alg := NewBeats()
	chunks, err := alg.Split(&rec.Sig, nil, pipeline.SplitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	parts := make([]pipeline.Part, len(chunks))
	for i := range chunks {
		out, err := alg.Run(&chunks[i].Task, pipeline.NoYield{})
		if err != nil {
			t.Fatal(err)
		}
		parts[i] = pipeline.Part{Spec: chunks[i].Spec, Output: out}
	}
	outside := canon.NewWriter(outputMagic)
	outside.I64s([]int64{0})
	tests := []struct {
		name  string
		parts []pipeline.Part
		err   string
	}{
		{"ErrNoParts", nil, "no chunks"},
		{"ErrMissing", parts[1:], "starts at sample"},
		{"ErrShort", parts[:2], "chunks end"},
		{"ErrOutput", []pipeline.Part{parts[0], {Spec: parts[1].Spec, Output: []byte("x")}, parts[2]}, "chunk 1"},
		{"ErrOutside", []pipeline.Part{parts[0], {Spec: parts[1].Spec, Output: outside.Bytes()}, parts[2]}, "outside"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := alg.Merge(nil, tc.parts); err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("got %v, want an error containing %q", err, tc.err)
			}
		})
	}
}

func TestResultEncodings(t *testing.T) {
	res := NewBeatsResult([]int64{0, 360, 720, 900, 22000}, 360, "MLII", 0, 21700+360*30)
	want := []Beat{{0, 0, 0, 0}, {360, 1, 1, 60}, {720, 2, 1, 60}, {900, 2.5, 0.5, 120}, {22000, 22000.0 / 360, 21100.0 / 360, 60 * 360 / 21100.0}}
	if !reflect.DeepEqual(res.Beats, want) {
		t.Errorf("beats: got %v, want %v", res.Beats, want)
	}
	if len(res.PerMinute) != 2 || res.PerMinute[0].Beats != 4 || res.PerMinute[0].HR != 60*360*3/900.0 || res.PerMinute[1].Beats != 1 {
		t.Errorf("per minute: got %+v", res.PerMinute)
	}
	if res.MeanHR != 60*360*4/22000.0 {
		t.Errorf("mean HR: got %v", res.MeanHR)
	}
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"beats":[{"sample":0,"time":0,"rr":0,"hr":0},{"sample":360,"time":1,"rr":1,"hr":60}`) {
		t.Errorf("JSON: %s", b)
	}
	back, err := NewBeats().DecodeResult(b)
	if err != nil || !reflect.DeepEqual(back, pipeline.Result(res)) {
		t.Errorf("DecodeResult: got %v, %v", back, err)
	}
	if _, err := NewBeats().DecodeResult([]byte(`{"algorithm":"ecg.hrv@1"}`)); err == nil {
		t.Errorf("DecodeResult accepted another algorithm's result")
	}
	csv, _ := res.CSV()
	if lines := strings.Split(strings.TrimSpace(string(csv)), "\n"); len(lines) != 6 || lines[2] != "360,1,1,60" {
		t.Errorf("CSV: got %q", csv)
	}
	var a pipeline.Annotated = res
	anns, rate := a.Annotations()
	if rate != 360 || len(anns) != 5 || anns[3].Sample != 900 || anns[3].Code != signal.CodeNormal {
		t.Errorf("annotations: got %v at %v Hz", anns, rate)
	}
}

func TestMissingSamples(t *testing.T) {
	rec := mustReadRecord(t, "mitdb", "100")
	sig := signal.Signal{Channels: []signal.Channel{rec.Sig.Channels[0]}}
	s := append([]float64(nil), sig.Channels[0].Samples...)
	gap := [2]int{360 * 400, 360 * 430}
	for i := gap[0]; i < gap[1]; i++ {
		s[i] = signal.Missing
	}
	sig.Channels[0].Samples = s
	res, _, _ := runBeats(t, &sig, `{}`, pipeline.SplitOptions{})
	for _, b := range res.Beats {
		if b.Sample >= int64(gap[0]) && b.Sample < int64(gap[1]) {
			t.Errorf("beat at sample %d inside a gap of missing samples", b.Sample)
		}
	}
	st := bxb.Score(rec.Ann, beatSamples(res), rec.Rate, bxb.Options{})
	if st.FP > 2 || st.FN > 45 {
		t.Errorf("with a 30 s gap: %v, want about 37 beats missed (the gap) and no false ones", st)
	}
}

// BenchmarkBeats runs ecg.beats@1 on the 30-minute MIT-BIH record 100 as
// one chunk (Split, Run, Merge) and reports samples per second; gqrs takes
// about 0.033 s for such a record.
func BenchmarkBeats(b *testing.B) {
	rec := mustReadRecord(b, "mitdb", "100")
	alg := NewBeats()
	params, _ := alg.Params(nil)
	n := len(rec.Sig.Channels[0].Samples)
	b.SetBytes(int64(8 * n))
	b.ResetTimer()
	for b.Loop() {
		chunks, err := alg.Split(&rec.Sig, params, pipeline.SplitOptions{Whole: true})
		if err != nil {
			b.Fatal(err)
		}
		out, err := alg.Run(&chunks[0].Task, pipeline.NoYield{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := alg.Merge(params, []pipeline.Part{{Spec: chunks[0].Spec, Output: out}}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "samples/s")
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/record")
}

// TestRecoversFromArtefact checks that a burst of large artefact does not
// blind the detector: the levels re-initialise after 8 s without a beat.
func TestRecoversFromArtefact(t *testing.T) {
	rec := mustReadRecord(t, "mitdb", "100")
	s := append([]float64(nil), rec.Sig.Channels[0].Samples[:360*600]...)
	for i := 360 * 100; i < 360*104; i++ {
		s[i] *= 30
	}
	sig := signal.Signal{Channels: []signal.Channel{{Name: "MLII", Unit: "mV", Rate: 360, Gain: 200, Samples: s}}}
	res, _, _ := runBeats(t, &sig, `{}`, pipeline.SplitOptions{})
	st := bxb.Score(rec.Ann, beatSamples(res), 360, bxb.Options{Learn: 125, End: 360 * 600})
	t.Logf("from 104 s: %v", bxb.Score(rec.Ann, beatSamples(res), 360, bxb.Options{Learn: 104, End: 360 * 600}))
	if st.Se() < 0.995 || st.PPV() < 0.995 {
		t.Errorf("after a 4 s artefact at 100 s, from 125 s on: %v, want Se and +P >= 99.5%%", st)
	}
}
