package edf

import (
	"encoding/binary"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/pulsegrid/pulsegrid/algorithms/formats/internal/blockstest"
)

// checkStream opens a file as a stream and checks it against the whole-file
// decoder that Decode used to be: the same error, or the same header,
// TALs, annotations and identity and bit-identical samples; and Decode
// against it too, record starts included.
func checkStream(tb testing.TB, data []byte) error {
	tb.Helper()
	want, werr := refDecode("x.edf", data)
	s, err := Open("x.edf", data)
	if (err == nil) != (werr == nil) || err != nil && err.Error() != werr.Error() {
		tb.Fatalf("Open: got error %v, the whole-file decoder gives %v", err, werr)
	}
	if err != nil {
		return err
	}
	got := blockstest.Collect(tb, s, len(s.Recording.Signal.Channels))
	if !reflect.DeepEqual(*s.Header, want.Header) || !reflect.DeepEqual(s.TALs, want.TALs) {
		tb.Fatalf("header or TALs differ:\n got %+v %+v\nwant %+v %+v", *s.Header, s.TALs, want.Header, want.TALs)
	}
	r, w := s.Recording, want.Recording
	if !reflect.DeepEqual(r.Identity, w.Identity) || !reflect.DeepEqual(r.Annotations, w.Annotations) || r.AnnotationRate != w.AnnotationRate {
		tb.Fatalf("recording differs:\n got %+v %v %v\nwant %+v %v %v", r.Identity, r.Annotations, r.AnnotationRate, w.Identity, w.Annotations, w.AnnotationRate)
	}
	if len(got) != len(w.Signal.Channels) {
		tb.Fatalf("got %d channels, want %d", len(got), len(w.Signal.Channels))
	}
	for i, wc := range w.Signal.Channels {
		c := r.Signal.Channels[i]
		if c.Samples != nil || c.Name != wc.Name || c.Unit != wc.Unit || c.Rate != wc.Rate || c.Gain != wc.Gain {
			tb.Fatalf("channel %d: got %+v, want %q %q %v Hz gain %v and no samples", i, c, wc.Name, wc.Unit, wc.Rate, wc.Gain)
		}
		if len(got[i]) != len(wc.Samples) {
			tb.Fatalf("channel %d: got %d samples, want %d", i, len(got[i]), len(wc.Samples))
		}
		for j := range got[i] {
			if math.Float64bits(got[i][j]) != math.Float64bits(wc.Samples[j]) {
				tb.Fatalf("channel %d sample %d: got %v, want %v", i, j, got[i][j], wc.Samples[j])
			}
		}
	}
	f, err := Decode("x.edf", data)
	if err != nil {
		tb.Fatalf("Decode: %v", err)
	}
	if !reflect.DeepEqual(f.RecordStarts, want.RecordStarts) {
		tb.Fatalf("RecordStarts: got %v, want %v", f.RecordStarts, want.RecordStarts)
	}
	return nil
}

// streamCases are files that exercise the stream: real ones, and synthetic
// EDF+D files whose gaps are longer than a block, whose channels have
// different rates (so records land on rounded sample indices), with
// negative onsets, BDF, an unknown record count and no ordinary signal.
func streamCases(tb testing.TB) map[string][]byte {
	cases := map[string][]byte{}
	for _, n := range []string{"test_generator_2.edf", "test_edfann.edf"} {
		if b, err := os.ReadFile(dataDir + n); err == nil {
			cases[n] = b
		}
	}
	hr := testSignal{label: "HR", unit: "bpm", physMin: 0, physMax: 300, digMin: 0, digMax: 3000, spr: 3,
		records: [][]int{{600, 601, 602}, {603, 604, 605}, {606, 607, 608}, {609, 610, 611}}}
	ramp := func(spr, records int) [][]int {
		var out [][]int
		for r := range records {
			var rec []int
			for k := range spr {
				rec = append(rec, r*1000+k-500)
			}
			out = append(out, rec)
		}
		return out
	}
	cases["EDFPlusDGapsAndRates"] = testFile{reserved: "EDF+D", duration: "0.7", records: 4, signals: []testSignal{
		ecg(5, ramp(5, 4)...), hr,
		ann(24, "+0.25\x14\x14\x00", "+1.3\x14\x14\x00+1.5\x152\x14A\x14\x00", "+2.0\x14\x14\x00", "+600.9\x14\x14\x00"),
	}}.build()
	cases["EDFPlusDNegativeOnsets"] = testFile{reserved: "EDF+D", duration: "1", records: 3, signals: []testSignal{
		ann(10, "-5\x14\x14\x00", "-3.5\x14\x14\x00", "+0\x14\x14\x00"), ecg(4, ramp(4, 3)...),
		ann(10, "+1\x14B\x14\x00", "", "+2\x14C\x14\x00"),
	}}.build()
	cases["EDFPlusC"] = testFile{reserved: "EDF+C", duration: "1", records: 3, signals: []testSignal{
		ecg(7, ramp(7, 3)...), ann(10, "+7\x14\x14\x00", "+8\x14\x14\x00", "+9\x14\x14\x00"), hr,
	}}.build()
	cases["BDF"] = testFile{bdf: true, duration: "2", records: 2, signals: []testSignal{
		{label: "EEG", unit: "uV", physMin: -100, physMax: 100, digMin: -8388608, digMax: 8388607, spr: 3,
			records: [][]int{{-8388608, 8388607, -1}, {1, 2, 3}}}, ecg(1, []int{5}, []int{6}),
	}}.build()
	cases["UnknownRecordCount"] = testFile{recordsField: "-1", records: 3, duration: "1", signals: []testSignal{ecg(1, []int{7}, []int{8}, []int{9})}}.build()
	cases["AnnotationsOnly"] = testFile{reserved: "EDF+C", duration: "0", records: 2, signals: []testSignal{
		ann(10, "+0\x14\x14X\x14\x00", "+0\x14\x14\x00"),
	}}.build()
	cases["ErrOutOfOrder"] = testFile{reserved: "EDF+D", duration: "1", records: 2, signals: []testSignal{
		ecg(1, []int{1}, []int{2}), ann(10, "+5\x14\x14\x00", "+5.5\x14\x14\x00"),
	}}.build()
	return cases
}

// TestStreamMatchesReference streams every case at several block sizes.
func TestStreamMatchesReference(t *testing.T) {
	for name, data := range streamCases(t) {
		for _, size := range []int{1, 2, 7, 1000, 1 << 16} {
			t.Run(fmt.Sprintf("%s/%d", name, size), func(t *testing.T) {
				blockstest.SetSize(t, size)
				if err := checkStream(t, data); (err != nil) != strings.HasPrefix(name, "Err") {
					t.Fatalf("got error %v", err)
				}
			})
		}
	}
}

// FuzzStream checks Open and Next against the whole-file decoder on the
// same input: the same error (or none), the same samples, at a block size
// the fuzzer picks.
func FuzzStream(f *testing.F) {
	defer func(m int64) { maxSamples = m }(maxSamples)
	maxSamples = 1 << 16
	cases := streamCases(f)
	// Seeds in a fixed order: the fuzzing workers must see the same corpus.
	for _, name := range slices.Sorted(maps.Keys(cases)) {
		if data := cases[name]; len(data) < 4096 {
			f.Add(data, uint16(3))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, size uint16) {
		blockstest.SetSize(t, 1+int(size%300))
		_ = checkStream(t, data)
	})
}

// holterEDF builds a two-channel 360 Hz EDF of seconds one-second data
// records. With gapEvery > 0 it is EDF+D with a time-keeping annotation
// signal, and every gapEvery-th record is followed by a one-second gap.
func holterEDF(seconds, gapEvery int) []byte {
	sig := func(label string) testSignal {
		return testSignal{label: label, unit: "mV", physMin: -5, physMax: 5, digMin: -2048, digMax: 2047, spr: 360}
	}
	f := testFile{duration: "1", records: 0, signals: []testSignal{sig("MLII"), sig("V5")}}
	if gapEvery > 0 {
		f.reserved = "EDF+D"
		f.signals = append(f.signals, ann(8))
	}
	head := f.build()
	// Fix the record count, then append records directly rather than
	// through testFile, which would hold every sample as an int.
	copy(head[236:244], pad(fmt.Sprint(seconds), 8))
	recBytes := 2 * 360 * 2
	if gapEvery > 0 {
		recBytes += 16
	}
	data := make([]byte, len(head), len(head)+seconds*recBytes)
	copy(data, head)
	x := uint32(1)
	onset := 0
	for r := range seconds {
		for range 2 * 360 {
			x = x*1664525 + 1013904223
			data = binary.LittleEndian.AppendUint16(data, uint16(int16(int32(x>>20)-2048)))
		}
		if gapEvery > 0 {
			tal := fmt.Appendf(nil, "+%d\x14\x14\x00", onset)
			data = append(data, tal...)
			data = append(data, make([]byte, 16-len(tal))...)
			onset++
			if r%gapEvery == gapEvery-1 {
				onset++
			}
		}
	}
	return data
}

// TestStreamMemory streams a 24-hour two-channel 360 Hz EDF (62 M samples)
// and a 12-hour EDF+D with a gap every 100 s, and checks that Open and Next
// allocate a small fraction of the 8 bytes per sample that decoding them
// whole takes. Under js/wasm the recordings are 2 hours and 1 hour long.
func TestStreamMemory(t *testing.T) {
	hours, dHours := 24, 12
	if runtime.GOARCH == "wasm" {
		hours, dHours = 2, 1
	}
	for _, tc := range []struct {
		name    string
		data    []byte
		samples int64
		missing int64
	}{
		{"EDF", holterEDF(hours*3600, 0), int64(hours) * 3600 * 720, 0},
		{"EDFPlusD", holterEDF(dHours*3600, 100), int64(dHours*3600+dHours*36-1) * 720, int64(dHours*36-1) * 720},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var samples int64
			var nan int64
			alloc := blockstest.Allocated(func() {
				s, err := Open("holter.edf", tc.data)
				if err != nil {
					t.Fatal(err)
				}
				n, missing := blockstest.Drain(t, s)
				samples, nan = n, missing
			})
			if samples != tc.samples || nan != tc.missing {
				t.Fatalf("streamed %d samples (%d missing), want %d (%d missing)", samples, nan, tc.samples, tc.missing)
			}
			whole := uint64(8 * samples)
			t.Logf("%d samples: Open+Next allocated %d bytes (%.4f%% of the %d bytes as float64)", samples, alloc, 100*float64(alloc)/float64(whole), whole)
			if alloc > 16<<20 || alloc > whole/32 {
				t.Errorf("Open+Next allocated %d bytes for %d samples; want far below %d", alloc, samples, whole)
			}
		})
	}
}

// BenchmarkStream measures Next on a one-hour two-channel 360 Hz EDF, in
// samples scaled per second.
func BenchmarkStream(b *testing.B) {
	data := holterEDF(3600, 0)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		s, err := Open("holter.edf", data)
		if err != nil {
			b.Fatal(err)
		}
		for {
			if _, err := s.Next(); err == io.EOF {
				break
			}
		}
	}
	b.ReportMetric(float64(3600*720)*float64(b.N)/b.Elapsed().Seconds(), "samples/s")
}
