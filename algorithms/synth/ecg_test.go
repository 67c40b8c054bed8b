package synth

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/pulsegrid/pulsegrid/algorithms/formats/wfdb"
	"github.com/pulsegrid/pulsegrid/algorithms/signal"
)

// streamed writes a record through writeECG with the given block size and
// returns its files by name.
func streamed(tb testing.TB, o ECGOptions, block int, withCSV bool) map[string][]byte {
	tb.Helper()
	var hea, dat, atr, truth, csv, beats bytes.Buffer
	w := ECGWriters{Header: &hea, Signal: &dat, Annotations: &atr, Truth: &truth}
	if withCSV {
		w.CSV, w.BeatsCSV = &csv, &beats
	}
	if _, err := writeECG(context.Background(), o, w, block); err != nil {
		tb.Fatal(err)
	}
	r := o.Record
	m := map[string][]byte{r + ".hea": hea.Bytes(), r + ".dat": dat.Bytes(), r + ".atr": atr.Bytes(), r + ".truth.json": truth.Bytes()}
	if withCSV {
		m[r+".csv"], m[r+".beats.csv"] = csv.Bytes(), beats.Bytes()
	}
	return m
}

// TestStreamEqualsOneShot: a record streamed in blocks of any size is, byte
// for byte, the record generated whole and encoded by the WFDB package's
// writer (Files). Block sizes of 1 and 7 samples cut every wave.
func TestStreamEqualsOneShot(t *testing.T) {
	o := ECGOptions{Record: "s", Minutes: 12, Rate: 250, Seed: 3, Stream: 1, Events: goldenEvents}
	want := MustFiles(t, MustECG(t, o).Files)
	for _, block := range []int{1, 7, 1000, ECGBlock, 12 * 60 * 250, 1 << 20} {
		t.Run(fmt.Sprint(block), func(t *testing.T) {
			got := streamed(t, o, block, true)
			if len(got) != len(want) {
				t.Fatalf("%d files streamed, want %d", len(got), len(want))
			}
			for name, w := range want {
				if !bytes.Equal(got[name], w) {
					t.Errorf("%s: streamed %d bytes that differ from the %d of the one-shot record", name, len(got[name]), len(w))
				}
			}
		})
	}
	// Without CSV the other files are the same.
	got := streamed(t, o, ECGBlock, false)
	if len(got) != 4 || !bytes.Equal(got["s.dat"], want["s.dat"]) || !bytes.Equal(got["s.hea"], want["s.hea"]) {
		t.Errorf("without CSV: %d files, or the signal differs", len(got))
	}
}

// TestStreamMemoryBounded: streaming allocates for the planned beats but
// not for the samples: each extra minute costs far less than a minute of
// samples would (360 Hz × 2 leads × 8 bytes = 346 KB), and in all less than
// a quarter of the record's samples.
func TestStreamMemoryBounded(t *testing.T) {
	alloc := func(minutes float64) uint64 {
		ev, err := ParseEvents("default", minutes)
		if err != nil {
			t.Fatal(err)
		}
		w := ECGWriters{Header: io.Discard, Signal: io.Discard, Annotations: io.Discard, Truth: io.Discard, CSV: io.Discard, BeatsCSV: io.Discard}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		if _, err := WriteECG(context.Background(), ECGOptions{Record: "m", Minutes: minutes, Seed: 1, Events: ev}, w); err != nil {
			t.Fatal(err)
		}
		runtime.ReadMemStats(&after)
		return after.TotalAlloc - before.TotalAlloc
	}
	short, long := alloc(10), alloc(40)
	perMinute := float64(long-short) / 30
	samples := 40 * 60 * 360 * 2 * 8
	t.Logf("allocated %d KB for 10 minutes, %d KB for 40: %.1f KB per minute", short>>10, long>>10, perMinute/1024)
	if perMinute > 80<<10 || long > uint64(samples/4) {
		t.Errorf("allocated %.0f KB per minute and %d KB for 40 minutes: the samples are held, not streamed", perMinute/1024, long>>10)
	}
}

// TestAnnotationsMatchTruth reads the .atr back and derives every event from
// the beat codes, the RR intervals and the rhythm annotations alone, then
// compares them with the truth file: kinds, samples, beat counts, rates and
// labels. It also checks what lies between events: sinus rhythm at 51–98
// bpm with no pause, and that each kind is what its name says.
func TestAnnotationsMatchTruth(t *testing.T) {
	for _, tc := range []struct {
		spec    string
		minutes float64
		seed    uint64
	}{
		{"default", 1440, 1},
		{"default", 1440, 2},
		{"dense", 60, 3},
		{"dense", 180, 4},
		{"none,af=3,bradycardia=2,tachycardia=2,nsvt=5,sv_run=5,pause=6", 90, 5},
		{"none", 30, 6},
	} {
		t.Run(fmt.Sprintf("%s/%v/%d", tc.spec, tc.minutes, tc.seed), func(t *testing.T) {
			ev, err := ParseEvents(tc.spec, tc.minutes)
			if err != nil {
				t.Fatal(err)
			}
			for _, rate := range []float64{360, 128} {
				s, err := NewECGStream(ECGOptions{Record: "t", Minutes: tc.minutes, Rate: rate, Seed: tc.seed, Events: ev})
				if err != nil {
					t.Fatal(err)
				}
				atr, err := wfdb.EncodeAnnotations(s.Annotations())
				if err != nil {
					t.Fatal(err)
				}
				anns, err := wfdb.ReadAnnotations("t.atr", atr)
				if err != nil {
					t.Fatal(err)
				}
				js, err := encodeTruth(s.Truth())
				if err != nil {
					t.Fatal(err)
				}
				var truth Truth
				if err := json.Unmarshal(js, &truth); err != nil {
					t.Fatal(err)
				}
				if truth.Counts != ev {
					t.Errorf("truth counts %v, want %v", truth.Counts, ev)
				}
				got := deriveEvents(t, anns, rate, int64(s.Len()))
				if len(got) != len(truth.Events) {
					t.Fatalf("%d events derived from the .atr, %d in the truth", len(got), len(truth.Events))
				}
				var counts Events
				for i, e := range got {
					if !reflect.DeepEqual(e, truth.Events[i]) {
						t.Fatalf("event %d: derived %+v, truth %+v", i, e, truth.Events[i])
					}
					for _, k := range kinds {
						if k.name == e.Kind {
							*k.field(&counts)++
						}
					}
				}
				if counts != ev {
					t.Errorf("derived counts %v, want %v", counts, ev)
				}
				classes := map[string]int{"N": 0, "S": 0, "V": 0, "F": 0}
				total := 0
				for _, a := range anns {
					if signal.IsQRS(a.Code) {
						classes[map[int]string{signal.CodeNormal: "N", signal.CodeAPC: "S", signal.CodePVC: "V", signal.CodeFusion: "F"}[a.Code]]++
						total++
					}
				}
				classes["total"] = total
				if !reflect.DeepEqual(classes, truth.Beats) {
					t.Errorf("beat classes: .atr %v, truth %v", classes, truth.Beats)
				}
			}
		})
	}
}

// deriveEvents finds the events in annotations as a reader of the .atr
// would, failing the test where the record breaks its own rules.
func deriveEvents(t *testing.T, anns []signal.Annotation, fs float64, n int64) []Event {
	t.Helper()
	type b struct {
		s      int64
		code   int
		rhythm string // the rhythm this beat is in
		opens  bool   // a rhythm annotation comes just before it
	}
	var beats []b
	rhythm, open := "", false
	last := int64(-1)
	for _, a := range anns {
		if a.Sample <= last || a.Sample >= n {
			t.Fatalf("annotation at sample %d after %d, record of %d samples", a.Sample, last, n)
		}
		last = a.Sample
		switch {
		case a.Code == signal.CodeRhythm:
			rhythm, open = a.Aux, true
		case signal.IsQRS(a.Code):
			beats = append(beats, b{s: a.Sample, code: a.Code, rhythm: rhythm, opens: open})
			open = false
		default:
			t.Fatalf("annotation code %d at %d", a.Code, a.Sample)
		}
	}
	// Each rhythm annotation lies 50 ms before its beat.
	lead := int64(math.Round(0.05 * fs))
	for i, a := range anns {
		if a.Code == signal.CodeRhythm && (i+1 == len(anns) || anns[i+1].Sample-a.Sample != lead || !signal.IsQRS(anns[i+1].Code)) {
			t.Fatalf("rhythm %q at %d is not %d samples before a beat", a.Aux, a.Sample, lead)
		}
	}
	if anns[0].Code != signal.CodeRhythm || anns[0].Aux != "(N" || anns[0].Sample != beats[0].s-lead {
		t.Fatalf("record opens with %+v", anns[0])
	}
	rr := func(i int) float64 { return float64(beats[i].s-beats[i-1].s) / fs }
	ev := func(kind string, i, j, count int, rate bool, label string) Event {
		e := Event{Kind: kind, StartSample: beats[i].s, EndSample: beats[j].s, StartS: float64(beats[i].s) / fs, EndS: float64(beats[j].s) / fs, Beats: count, Rhythm: label}
		if rate {
			e.RateBPM = math.Round(60*float64(count-1)*fs/float64(beats[j].s-beats[i].s)*10) / 10
		}
		return e
	}
	var out []Event
	labels := map[string]string{"(AFIB": "af", "(SBR": "bradycardia", "(STACH": "tachycardia"}
	for i := 0; i < len(beats); {
		// A rhythm segment: beats from one rhythm annotation to the next.
		j := i + 1
		for j < len(beats) && !beats[j].opens {
			j++
		}
		seg, label := beats[i:j], beats[i].rhythm
		var cb []byte
		for _, x := range seg {
			cb = append(cb, signal.Mnemonic(x.code)...)
		}
		codes := string(cb)
		if i > 0 && !beats[i].opens {
			t.Fatalf("beat %d starts a segment without a rhythm annotation", i)
		}
		switch label {
		case "(AFIB", "(SBR", "(STACH":
			if codes != string(bytes.Repeat([]byte("N"), len(seg))) {
				t.Fatalf("%s at %d holds beats %s", label, seg[0].s, codes)
			}
			var sum, sq float64
			for k := i; k < j; k++ {
				r := rr(k)
				sum, sq = sum+r, sq+r*r
				switch {
				case label == "(SBR" && (r < 60.0/50 || r >= 2):
					t.Fatalf("RR %.3f s in bradycardia at %d", r, beats[k].s)
				case label == "(STACH" && r > 60.0/102:
					t.Fatalf("RR %.3f s in tachycardia at %d", r, beats[k].s)
				case label == "(AFIB" && (r < 0.3 || r >= 2):
					t.Fatalf("RR %.3f s in AF at %d", r, beats[k].s)
				}
			}
			if m := sum / float64(j-i); label == "(AFIB" && math.Sqrt(sq/float64(j-i)-m*m)/m < 0.08 {
				t.Errorf("AF at %d: RR coefficient of variation %.3f, not irregular", seg[0].s, math.Sqrt(sq/float64(j-i)-m*m)/m)
			}
			out = append(out, ev(labels[label], i, j-1, j-i, true, label))
		case "(VT", "(SVTA":
			want := "V"
			kind := "nsvt"
			if label == "(SVTA" {
				want, kind = "A", "sv_run"
			} else if len(seg) == 3 {
				kind = "triplet"
			}
			if codes != string(bytes.Repeat([]byte(want), len(seg))) || len(seg) < 3 {
				t.Fatalf("%s at %d holds beats %s", label, seg[0].s, codes)
			}
			for k := i + 1; k < j; k++ {
				if rr(k) >= 0.6 {
					t.Fatalf("%s at %d: RR %.3f s, not faster than 100 bpm", label, seg[0].s, rr(k))
				}
			}
			out = append(out, ev(kind, i, j-1, j-i, true, label))
		case "(B", "(T":
			unit, kind := "VN", "bigeminy"
			if label == "(T" {
				unit, kind = "VNN", "trigeminy"
			}
			m := (len(seg) + len(unit) - 1) / len(unit)
			if codes+unit[1:] != string(bytes.Repeat([]byte(unit), m)) || beats[i-1].code != signal.CodeNormal {
				t.Fatalf("%s at %d holds beats %s", label, seg[0].s, codes)
			}
			out = append(out, ev(kind, i, j-1, m, false, label))
		case "(N":
			for k := i; k < j; k++ {
				c := beats[k].code
				isolated := k > 0 && beats[k-1].code == signal.CodeNormal && (k+1 == len(beats) || beats[k+1].code == signal.CodeNormal)
				switch {
				case c == signal.CodeNormal:
					if k > 0 && beats[k-1].code == signal.CodeNormal && (rr(k) < 60.0/100 || rr(k) > 60.0/50) && rr(k) < 2 {
						t.Fatalf("sinus RR %.3f s at %d", rr(k), beats[k].s)
					}
					if k > 0 && rr(k) >= 2 {
						if rr(k) > 3.6 || beats[k-1].code != signal.CodeNormal {
							t.Fatalf("pause of %.3f s after a %s beat at %d", rr(k), signal.Mnemonic(beats[k-1].code), beats[k].s)
						}
						out = append(out, ev("pause", k-1, k, 2, false, ""))
					}
					if k > 0 && beats[k-1].code != signal.CodeNormal && rr(k) > postMaxRR+0.01 {
						t.Fatalf("RR %.3f s after an ectopic beat at %d", rr(k), beats[k].s)
					}
				case c == signal.CodePVC && isolated:
					pre, post, sinus := rr(k), rr(k+1), rr(k-1)
					if pre > 0.8*sinus || math.Abs(pre+post-2*sinus) > 0.2*sinus {
						t.Fatalf("PVC at %d: RR %.3f then %.3f after sinus %.3f: not premature with a compensatory pause", beats[k].s, pre, post, sinus)
					}
					out = append(out, ev("pvc", k, k, 1, false, ""))
				case c == signal.CodePVC && k+2 < len(beats) && beats[k+1].code == signal.CodePVC && beats[k+2].code == signal.CodeNormal && beats[k-1].code == signal.CodeNormal:
					out = append(out, ev("couplet", k, k+1, 2, true, ""))
					k++
				case c == signal.CodeAPC && isolated:
					pre, post, sinus := rr(k), rr(k+1), rr(k-1)
					if pre > 0.85*sinus || pre+post > 1.9*sinus {
						t.Fatalf("SVPB at %d: RR %.3f then %.3f after sinus %.3f: not premature without a compensatory pause", beats[k].s, pre, post, sinus)
					}
					out = append(out, ev("svpb", k, k, 1, false, ""))
				case c == signal.CodeFusion && isolated:
					out = append(out, ev("fusion", k, k, 1, false, ""))
				default:
					t.Fatalf("beat %s at %d in sinus rhythm, not an isolated event", signal.Mnemonic(c), beats[k].s)
				}
			}
		default:
			t.Fatalf("rhythm %q at %d", label, seg[0].s)
		}
		i = j
	}
	// Every RR of 2 s or more anywhere is one of the pauses found above.
	long, pauses := 0, 0
	for k := 1; k < len(beats); k++ {
		if rr(k) >= 2 {
			long++
		}
	}
	for _, e := range out {
		if e.Kind == "pause" {
			pauses++
		}
	}
	if long != pauses {
		t.Fatalf("%d RR intervals of 2 s or more, %d of them pauses in sinus rhythm", long, pauses)
	}
	slices.SortStableFunc(out, func(a, b Event) int { return int(a.StartSample - b.StartSample) })
	return out
}

// TestTinyRecords: records shorter than a beat or two are still records.
func TestTinyRecords(t *testing.T) {
	for _, minutes := range []float64{0.001, 0.01, 0.02} {
		e := MustECG(t, ECGOptions{Record: "x", Minutes: minutes, Seed: 1})
		files := MustFiles(t, e.Files)
		anns, err := wfdb.ReadAnnotations("x.atr", files["x.atr"])
		if err != nil {
			t.Fatal(err)
		}
		n := int64(len(e.Signal.Channels[0].Samples))
		for _, a := range anns {
			if a.Sample >= n {
				t.Errorf("%v minutes: annotation at sample %d of %d", minutes, a.Sample, n)
			}
		}
		if got := streamed(t, ECGOptions{Record: "x", Minutes: minutes, Seed: 1}, 5, true); !bytes.Equal(got["x.dat"], files["x.dat"]) || !bytes.Equal(got["x.atr"], files["x.atr"]) {
			t.Errorf("%v minutes: streamed record differs", minutes)
		}
	}
}

func TestParseEvents(t *testing.T) {
	tests := []struct {
		spec    string
		minutes float64
		want    Events
		err     string
	}{
		{"none", 1440, Events{}, ""},
		{"default", 1440, profiles["default"], ""},
		{"default", 60, Events{PVC: 30, SVPB: 15, Fusion: 1}, ""},
		{"dense", 30, Events{PVC: 30, SVPB: 15, Fusion: 2, Couplet: 2, Triplet: 2, NSVT: 2, SVRun: 2, Bigeminy: 1, Trigeminy: 1, Pause: 2, Brady: 1, Tachy: 1, AF: 1}, ""},
		{"none,af=3,pause=0,nsvt=2", 10, Events{AF: 3, NSVT: 2}, ""},
		{"default, af=0 ,pvc=7", 1440, func() Events { e := profiles["default"]; e.AF, e.PVC = 0, 7; return e }(), ""},
		{"", 10, Events{}, `events "": expected a profile (none, default or dense) first, then KIND=COUNT overrides`},
		{"af=3", 10, Events{}, `events "af=3": expected a profile (none, default or dense) first, then KIND=COUNT overrides`},
		{"none,af", 10, Events{}, `events "none,af": "af" is not KIND=COUNT with a count from 0 to 1000000`},
		{"none,af=-1", 10, Events{}, `events "none,af=-1": "af=-1" is not KIND=COUNT with a count from 0 to 1000000`},
		{"none,vt=1", 10, Events{}, `events "none,vt=1": unknown kind "vt" (expected one of pvc, svpb, fusion, couplet, triplet, nsvt, sv_run, bigeminy, trigeminy, pause, bradycardia, tachycardia, af)`},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			got, err := ParseEvents(tt.spec, tt.minutes)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("got %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
			}
			if back, err := ParseEvents(got.String(), tt.minutes); err != nil || back != got {
				t.Errorf("String %q reads back as %+v, %v", got.String(), back, err)
			}
		})
	}
	// Every profile fits the lengths it is meant for.
	for name := range profiles {
		for _, minutes := range []float64{30, 60, 240, 1440} {
			ev, _ := ParseEvents(name, minutes)
			if _, err := NewECGStream(ECGOptions{Record: "p", Minutes: minutes, Events: ev}); err != nil {
				t.Errorf("%s, %v minutes: %v", name, minutes, err)
			}
		}
	}
}

// FuzzParseEvents: any spec either fails with an error naming it or gives
// counts in range that String writes back as the same counts.
func FuzzParseEvents(f *testing.F) {
	for _, s := range []string{"none", "default", "dense", "default,af=3,pause=0", "none,nsvt=2,", "dense,pvc=1000000", ",", "none,=1", "none,af=1=2"} {
		f.Add(s, 60.0)
	}
	f.Fuzz(func(t *testing.T, spec string, minutes float64) {
		if !(minutes >= 0 && minutes <= 1440) {
			return
		}
		e, err := ParseEvents(spec, minutes)
		if err != nil {
			if !strings.Contains(err.Error(), fmt.Sprintf("%q", spec)) {
				t.Fatalf("error %q does not name the spec", err)
			}
			return
		}
		for _, k := range kinds {
			if n := *k.field(&e); n < 0 || n > 1_000_000+24*60 {
				t.Fatalf("%s count %d", k.name, n)
			}
		}
		if back, err := ParseEvents(e.String(), minutes); err != nil || back != e {
			t.Fatalf("%q: String %q reads back as %+v, %v", spec, e.String(), back, err)
		}
	})
}
