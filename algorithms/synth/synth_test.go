package synth

import (
	"bytes"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/pulsegrid/pulsegrid/algorithms/formats/wfdb"
	"github.com/pulsegrid/pulsegrid/algorithms/internal/golden"
	"github.com/pulsegrid/pulsegrid/algorithms/signal"
)

func MustFiles(tb testing.TB, f func() ([]File, error)) map[string][]byte {
	tb.Helper()
	files, err := f()
	if err != nil {
		tb.Fatal(err)
	}
	m := map[string][]byte{}
	for _, f := range files {
		m[f.Name] = f.Data
	}
	return m
}

func MustECG(tb testing.TB, o ECGOptions) *ECG {
	tb.Helper()
	e, err := NewECG(o)
	if err != nil {
		tb.Fatal(err)
	}
	return e
}

func MustVitals(tb testing.TB, o VitalsOptions) *Vitals {
	tb.Helper()
	v, err := NewVitals(o)
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

func sameSamples(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] && !(signal.IsMissing(a[i]) && signal.IsMissing(b[i])) {
			return false
		}
	}
	return true
}

// TestSameSeedSameBytes: the same options give the same files; another
// stream or seed gives other files.
func TestSameSeedSameBytes(t *testing.T) {
	ecg := func(seed, stream uint64) map[string][]byte {
		return MustFiles(t, MustECG(t, ECGOptions{Record: "e", Minutes: 1, Seed: seed, Stream: stream, Events: Events{PVC: 2, SVPB: 1, Couplet: 1}}).Files)
	}
	vit := func(seed, stream uint64) map[string][]byte {
		return MustFiles(t, MustVitals(t, VitalsOptions{Record: "v", Minutes: 20, Seed: seed, Stream: stream}).Files)
	}
	for name, gen := range map[string]func(uint64, uint64) map[string][]byte{"ecg": ecg, "vitals": vit} {
		t.Run(name, func(t *testing.T) {
			a, b := gen(7, 1), gen(7, 1)
			if !reflect.DeepEqual(a, b) {
				t.Fatal("same seed and stream gave different files")
			}
			if c := gen(7, 2); bytes.Equal(a[name[:1]+".dat"], c[name[:1]+".dat"]) {
				t.Error("another stream gave the same signal")
			}
			if c := gen(8, 1); bytes.Equal(a[name[:1]+".dat"], c[name[:1]+".dat"]) {
				t.Error("another seed gave the same signal")
			}
		})
	}
}

// goldenEvents has one event of every kind, in 12 minutes.
var goldenEvents = Events{PVC: 2, SVPB: 2, Fusion: 1, Couplet: 1, Triplet: 1, NSVT: 1, SVRun: 1, Bigeminy: 1, Trigeminy: 1, Pause: 1, Brady: 1, Tachy: 1, AF: 1}

// TestGoldenFiles pins the SHA-256 of every generated file. It runs natively,
// under js/wasm and with FMA fusion allowed (make fmacheck): equal digests
// prove the generator is the same on every platform.
func TestGoldenFiles(t *testing.T) {
	var got strings.Builder
	add := func(files map[string][]byte, names ...string) {
		for _, n := range names {
			sum := sha256.Sum256(files[n])
			fmt.Fprintf(&got, "%s %s\n", n, hex.EncodeToString(sum[:]))
		}
	}
	e := MustFiles(t, MustECG(t, ECGOptions{Record: "g", Minutes: 12, Seed: 2026, Stream: 3, Events: goldenEvents}).Files)
	add(e, "g.hea", "g.dat", "g.atr", "g.truth.json", "g.csv", "g.beats.csv")
	v := MustFiles(t, MustVitals(t, VitalsOptions{Record: "h", Minutes: 30, Seed: 2026, Stream: 3}).Files)
	add(v, "h.hea", "h.dat", "h.csv", "h.alarms.json")
	m := MustFiles(t, MustVitals(t, VitalsOptions{Record: "m", Minutes: 600, Rate: 1.0 / 60, Seed: 2026, Stream: 4}).Files)
	add(m, "m.hea", "m.dat", "m.csv", "m.alarms.json")
	golden.Check(t, "testdata/golden.txt", got.String())
}

// TestECGReadsBack reads the written record through the WFDB reader and
// checks the signal, the .atr beats and where the beats are.
func TestECGReadsBack(t *testing.T) {
	for _, rate := range []float64{360, 128, 500} {
		t.Run(strconv.FormatFloat(rate, 'g', -1, 64), func(t *testing.T) {
			e := MustECG(t, ECGOptions{Record: "e1", Minutes: 3, Rate: rate, Seed: 11, Stream: 5, Events: Events{PVC: 4, SVPB: 3, Fusion: 2, Couplet: 1, NSVT: 1, Pause: 1}})
			files := MustFiles(t, e.Files)
			rec, err := wfdb.ReadRecord("e1.hea", wfdb.MapOpener(files))
			if err != nil {
				t.Fatal(err)
			}
			for i, c := range rec.Signal.Channels {
				if !sameSamples(c.Samples, e.Signal.Channels[i].Samples) || c.Rate != rate || c.Name != e.Signal.Channels[i].Name {
					t.Fatalf("channel %d does not read back as generated", i)
				}
			}
			anns, err := wfdb.ReadAnnotations("e1.atr", files["e1.atr"])
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(anns, e.Annotations) {
				t.Fatalf(".atr holds %d annotations that differ from the %d true ones", len(anns), len(e.Annotations))
			}
			checkBeats(t, e, rate)
			checkCSV(t, files["e1.csv"], &e.Signal)
			rows := strings.Split(strings.TrimSpace(string(files["e1.beats.csv"])), "\n")
			if len(rows) != len(e.Beats())+1 || rows[0] != "sample,time_s,code,symbol" {
				t.Errorf("beats.csv: %d rows, header %q", len(rows), rows[0])
			}
		})
	}
}

// checkBeats asserts the ground truth is physiological and sits on the R
// peaks: the largest deflection within ±60 ms of each beat is within 15 ms
// of it (fusion beats, half sinus and half ventricular, excepted).
func checkBeats(t *testing.T, e *ECG, rate float64) {
	t.Helper()
	x := e.Signal.Channels[0].Samples
	win := int(0.06 * rate)
	tol := int(math.Ceil(0.015 * rate))
	pvcs := 0
	beats := e.Beats()
	for k, b := range beats {
		if k > 0 {
			rr := float64(b.Sample-beats[k-1].Sample) / rate
			if rr < 0.25 || rr > 3.6 {
				t.Errorf("beat %d: RR %.3f s is not physiological", k, rr)
			}
		}
		if b.Code == signal.CodeFusion {
			continue
		}
		if b.Code == signal.CodePVC {
			pvcs++
			if k >= 2 && k+1 < len(beats) && beats[k-1].Code == signal.CodeNormal && beats[k+1].Code == signal.CodeNormal {
				before := beats[k-1].Sample - beats[k-2].Sample
				coupling := b.Sample - beats[k-1].Sample
				pause := beats[k+1].Sample - b.Sample
				if float64(coupling) > 0.8*float64(before) || pause <= coupling {
					t.Errorf("PVC %d is not premature with a pause: RR before %d, coupling %d, pause %d samples", k, before, coupling, pause)
				}
			}
		}
		lo, hi := max(0, int(b.Sample)-win), min(len(x)-1, int(b.Sample)+win)
		// Deflections are measured from the local baseline: the median of
		// the surrounding ±0.4 s, which the waves occupy only a little of.
		ctx := slices.Clone(x[max(0, int(b.Sample)-int(0.4*rate)):min(len(x), int(b.Sample)+int(0.4*rate))])
		slices.Sort(ctx)
		mean := ctx[len(ctx)/2]
		best := lo
		for i := lo; i <= hi; i++ {
			if math.Abs(x[i]-mean) > math.Abs(x[best]-mean) {
				best = i
			}
		}
		if d := best - int(b.Sample); d < -tol || d > tol {
			t.Errorf("beat %d (%s) at sample %d: largest deflection at %d", k, signal.Mnemonic(b.Code), b.Sample, best)
		}
	}
	hr := float64(len(beats)) / (float64(len(x)) / rate) * 60
	if hr < 45 || hr > 110 {
		t.Errorf("mean heart rate %.1f bpm", hr)
	}
	t.Logf("%d beats, %d PVCs, %.1f bpm", len(beats), pvcs, hr)
}

// checkCSV parses a CSV file of the dialect and compares it with sig.
func checkCSV(t *testing.T, data []byte, sig *signal.Signal) {
	t.Helper()
	rows, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	head := []string{"time"}
	for _, c := range sig.Channels {
		head = append(head, c.Name+" ["+c.Unit+"]")
	}
	if !reflect.DeepEqual(rows[0], head) {
		t.Fatalf("CSV header: got %q, want %q", rows[0], head)
	}
	rate := sig.Channels[0].Rate
	if len(rows)-1 != len(sig.Channels[0].Samples) {
		t.Fatalf("CSV: %d rows, want %d", len(rows)-1, len(sig.Channels[0].Samples))
	}
	for i, r := range rows[1:] {
		tm, err := strconv.ParseFloat(r[0], 64)
		if err != nil || math.Abs(tm-float64(i)/rate) > 1e-9*float64(i+1) {
			t.Fatalf("CSV row %d: time %q, want %v", i+1, r[0], float64(i)/rate)
		}
		for c, cell := range r[1:] {
			want := sig.Channels[c].Samples[i]
			if cell == "" {
				if !signal.IsMissing(want) {
					t.Fatalf("CSV row %d column %d: blank, want %v", i+1, c+1, want)
				}
				continue
			}
			v, err := strconv.ParseFloat(cell, 64)
			if err != nil || v != want {
				t.Fatalf("CSV row %d column %d: %q, want %v", i+1, c+1, cell, want)
			}
		}
	}
}

// TestVitalsReadsBack reads a log back through the WFDB reader and CSV, and
// checks that the episodes in the JSON are exactly where the rules hold.
func TestVitalsReadsBack(t *testing.T) {
	for _, tc := range []struct {
		name    string
		minutes float64
		rate    float64
	}{{"Seconds", 180, 1}, {"Minutes", 24 * 60, 1.0 / 60}} {
		t.Run(tc.name, func(t *testing.T) {
			v := MustVitals(t, VitalsOptions{Record: "v1", Minutes: tc.minutes, Rate: tc.rate, Seed: 5, Stream: 9})
			files := MustFiles(t, v.Files)
			rec, err := wfdb.ReadRecord("v1.hea", wfdb.MapOpener(files))
			if err != nil {
				t.Fatal(err)
			}
			names := []string{"HR", "SpO2", "ABPSys", "ABPDias", "ABPMean", "RESP"}
			for i, c := range rec.Signal.Channels {
				in := v.Signal.Channels[i]
				if c.Name != names[i] || c.Unit != in.Unit || c.Rate != tc.rate || !sameSamples(c.Samples, in.Samples) {
					t.Fatalf("channel %d (%s %s %v Hz) does not read back as generated", i, c.Name, c.Unit, c.Rate)
				}
			}
			checkCSV(t, files["v1.csv"], &v.Signal)

			var doc struct {
				Record   string    `json:"record"`
				Episodes []Episode `json:"episodes"`
			}
			if err := json.Unmarshal(files["v1.alarms.json"], &doc); err != nil {
				t.Fatal(err)
			}
			if doc.Record != "v1" || !reflect.DeepEqual(doc.Episodes, v.Episodes) {
				t.Fatalf("alarms.json: got %+v, want %+v", doc, v.Episodes)
			}
			if len(v.Episodes) == 0 {
				t.Fatal("no episode injected")
			}
			// Every sample meeting a rule lies in an episode: with no minimum
			// duration the rules find the same stretches.
			for _, r := range []Rule{RuleTachycardia, RuleDesaturation, RuleHypotension} {
				bare := r
				bare.MinSeconds = 0
				all := FindEpisodes(rec.Signal.Channels[rec.Signal.Channel(r.Channel)], bare)
				var want []Episode
				for _, e := range v.Episodes {
					if e.Channel == r.Channel {
						e.MinSeconds, e.Rule = 0, bare.String()
						want = append(want, e)
					}
				}
				if !reflect.DeepEqual(all, want) {
					t.Errorf("%s: rule holds in %+v, episodes are %+v", r, all, want)
				}
				for _, e := range want {
					if e.EndS-e.StartS < r.MinSeconds {
						t.Errorf("%s: episode %+v shorter than the rule", r, e)
					}
				}
			}
			missing := 0
			for _, c := range v.Signal.Channels {
				missing += c.MissingCount()
			}
			t.Logf("%d episodes, %d missing samples", len(v.Episodes), missing)
		})
	}
}

// TestMissingStretches checks that logs have sensor drop-outs somewhere
// across a few records, and that they never touch an episode.
func TestMissingStretches(t *testing.T) {
	total := 0
	for s := range uint64(6) {
		v := MustVitals(t, VitalsOptions{Record: "v", Minutes: 120, Seed: 3, Stream: s})
		for _, c := range v.Signal.Channels {
			total += c.MissingCount()
			for _, e := range v.Episodes {
				for i := e.FirstSample; i <= e.LastSample; i++ {
					if signal.IsMissing(c.Samples[i]) {
						t.Fatalf("stream %d: %s missing at sample %d inside episode %+v", s, c.Name, i, e)
					}
				}
			}
		}
	}
	if total == 0 {
		t.Error("six 2-hour logs have no missing sample")
	}
}

func TestFindEpisodes(t *testing.T) {
	n := math.NaN()
	r := Rule{Channel: "HR", Op: ">", Threshold: 120, MinSeconds: 3}
	tests := []struct {
		name string
		vals []float64
		want [][2]int // first, last sample
	}{
		{"None", []float64{100, 121, 121, 100}, nil},
		{"Exact", []float64{100, 121, 121, 121, 100}, [][2]int{{1, 3}}},
		{"AtEnd", []float64{121, 100, 130, 130, 130, 130}, [][2]int{{2, 5}}},
		{"ThresholdNotAbove", []float64{121, 120, 121, 121}, nil},
		{"MissingBreaks", []float64{121, 121, n, 121, 121, 121}, [][2]int{{3, 5}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := FindEpisodes(signal.Channel{Name: "HR", Rate: 1, Samples: tt.vals}, r)
			if len(got) != len(tt.want) {
				t.Fatalf("got %+v, want %v", got, tt.want)
			}
			for i, e := range got {
				if e.FirstSample != tt.want[i][0] || e.LastSample != tt.want[i][1] || e.StartS != float64(tt.want[i][0]) || e.EndS != float64(tt.want[i][1]+1) {
					t.Errorf("episode %d: got %+v, want samples %v", i, e, tt.want[i])
				}
			}
		})
	}
}

func TestOptionErrors(t *testing.T) {
	if _, err := NewECG(ECGOptions{Minutes: 1, Rate: 20}); err == nil || err.Error() != "ECG sample rate 20 Hz: expected 50 to 10000" {
		t.Errorf("got %v", err)
	}
	if _, err := NewECG(ECGOptions{Minutes: 0}); err == nil || err.Error() != "ECG length 0 minutes: expected more than 0 and at most 1440" {
		t.Errorf("got %v", err)
	}
	if _, err := NewECG(ECGOptions{Record: "x", Minutes: 5, Events: Events{AF: 5}}); err == nil || err.Error() != "ECG record x: events none,af=5 need at least 5.9 minutes of recording; this one has 5.0" {
		t.Errorf("got %v", err)
	}
	if _, err := NewECG(ECGOptions{Record: "x", Minutes: 5, Events: Events{PVC: -1}}); err == nil || err.Error() != "events: pvc count -1 is negative" {
		t.Errorf("got %v", err)
	}
	if _, err := NewVitals(VitalsOptions{Minutes: 1, Rate: 100}); err == nil || err.Error() != "vitals sample rate 100 Hz: expected 1/3600 to 10" {
		t.Errorf("got %v", err)
	}
	if _, err := NewVitals(VitalsOptions{Minutes: 0.1, Rate: 1.0 / 3600}); err == nil || err.Error() != "vitals length 0.1 minutes at 0.0002777777777777778 Hz gives no sample" {
		t.Errorf("got %v", err)
	}
}

func BenchmarkNewECG30Minutes(b *testing.B) {
	ev, err := ParseEvents("default", 30)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := NewECG(ECGOptions{Record: "b", Minutes: 30, Seed: 1, Events: ev}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestVitalsWriteEqualsFiles: the streamed log is, byte for byte, the one
// encoded in memory by the WFDB package's writer, missing samples included.
func TestVitalsWriteEqualsFiles(t *testing.T) {
	missing := 0
	for _, rate := range []float64{1, 1.0 / 60, 4} {
		v := MustVitals(t, VitalsOptions{Record: "w", Minutes: 600, Rate: rate, Seed: 8, Stream: 2})
		for _, c := range v.Signal.Channels {
			missing += c.MissingCount()
		}
		want := MustFiles(t, v.Files)
		var hea, dat, csv, alarms bytes.Buffer
		if err := v.Write(VitalsWriters{Header: &hea, Signal: &dat, CSV: &csv, Alarms: &alarms}); err != nil {
			t.Fatal(err)
		}
		for name, got := range map[string][]byte{"w.hea": hea.Bytes(), "w.dat": dat.Bytes(), "w.csv": csv.Bytes(), "w.alarms.json": alarms.Bytes()} {
			if !bytes.Equal(got, want[name]) {
				t.Errorf("%v Hz %s: streamed %d bytes that differ from the %d encoded in memory", rate, name, len(got), len(want[name]))
			}
		}
	}
	if missing == 0 {
		t.Error("no missing sample in the logs: the invalid marker went untested")
	}
}
