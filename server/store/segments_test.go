package store

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pulsegrid/pulsegrid/algorithms/canon"
	"github.com/pulsegrid/pulsegrid/algorithms/formats"
	"github.com/pulsegrid/pulsegrid/algorithms/signal"
)

const sharedData = "../../../shared/data/"

// readShared reads a recording from ../shared/data.
func readShared(t testing.TB, names ...string) *signal.Recording {
	t.Helper()
	var files []formats.File
	for _, n := range names {
		b, err := os.ReadFile(sharedData + n)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, formats.File{Name: filepath.Base(n), Data: b})
	}
	rec, err := formats.Read(files)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// openWithUser opens a fresh database with one user (id 1) to own datasets.
func openWithUser(tb testing.TB, path string) *SQLite {
	tb.Helper()
	s := mustOpen(tb, path)
	if _, err := s.CreateUser(context.Background(), User{Email: "owner@x.org", Role: RoleClinician, PasswordHash: "h"}); err != nil {
		tb.Fatal(err)
	}
	return s
}

// sameSamples reports the first index where a and b differ bit for bit
// (canonical NaN), or -1.
func sameSamples(a, b []float64) int {
	if len(a) != len(b) {
		return min(len(a), len(b))
	}
	for i := range a {
		if canon.Float64Bits(a[i]) != canon.Float64Bits(b[i]) {
			return i
		}
	}
	return -1
}

func TestSegmentCodecRoundTrip(t *testing.T) {
	tests := []struct {
		name     string
		samples  []float64
		gain     float64
		wantMode byte
	}{
		{"empty", nil, 200, segScaled},
		{"adc over gain", []float64{0, 1.0 / 200, -5.0 / 200, 2047.0 / 200, -2048.0 / 200}, 200, segScaled},
		{"missing and big jumps", []float64{math.NaN(), 1e6, -1e6, math.NaN(), 0}, 1, segScaled},
		{"decimals with gain 10", []float64{36.6, 36.7, 37, math.NaN(), 38.1}, 10, segScaled},
		{"no gain", []float64{1, 2, 3}, 0, segRaw},
		{"not k/gain", []float64{0.5, 1.0 / 3}, 200, segRaw},
		{"EDF affine, too short for a palette", []float64{0.1 * (0.5 + 3), 0.1 * (0.5 + 4)}, 10, segRaw},
		{"EDF affine", edfLike(5000), 10, segPalette},
		{"few values, no gain, missing ones", []float64{0.25, 1.0 / 3, math.NaN(), 0.25, 1.0 / 3, 0.25, math.Copysign(0, -1), 0, 0, 0.25}, 0, segPalette},
		{"every value distinct", distinct(1000), 0, segRaw},
		{"beyond 2^53", []float64{1 << 60}, 1, segRaw},
		{"infinity", []float64{math.Inf(1)}, 1, segRaw},
		{"negative zero", []float64{math.Copysign(0, -1)}, 200, segScaled},
		{"every delta of one, two and three bytes", walk(9000), 200, segScaled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := encodeSegment(nil, tt.samples, tt.gain)
			if b[0] != tt.wantMode {
				t.Errorf("mode %d, want %d", b[0], tt.wantMode)
			}
			got, err := decodeSegment(nil, b, "test")
			if err != nil {
				t.Fatal(err)
			}
			if i := sameSamples(got, tt.samples); i >= 0 {
				t.Errorf("round trip differs at %d: got %v, want %v", i, got, tt.samples)
			}
		})
	}
}

// edfLike is n samples as EDF readers make them: bitvalue × (offset + d)
// for a digital value d that moves like an ECG.
func edfLike(n int) []float64 {
	bitvalue := (2.5 - -2.5) / float64(32767 - -32768)
	offset := 2.5/bitvalue - 32767
	out := make([]float64, n)
	for i := range out {
		d := float64((i*37)%400 - 200)
		out[i] = bitvalue * (offset + d)
	}
	return out
}

// walk is samples over gain 200 whose steps are every integer in
// -(n/2)..n/2, so that their varints are one, two and three bytes long
// (a zigzag of 63 is the last one-byte delta, of 8191 the last two-byte).
func walk(n int) []float64 {
	out := make([]float64, 0, n+1)
	var k int64
	for d := -int64(n / 2); d <= int64(n/2); d++ {
		k += d
		out = append(out, float64(k)/200)
	}
	return out
}

func distinct(n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = 1 / float64(i+3)
	}
	return out
}

func TestPaletteIsSmall(t *testing.T) {
	samples := edfLike(SegmentSamples)
	b := encodeSegment(nil, samples, 1e4)
	if b[0] != segPalette || len(b) > 3*len(samples) {
		t.Errorf("an EDF-like segment of %d samples took %d bytes in mode %d; want a palette of under 3 bytes a sample", len(samples), len(b), b[0])
	}
}

func TestSegmentCodecRejectsCorruptInput(t *testing.T) {
	good := encodeSegment(nil, []float64{1, 2, 3}, 1)
	for name, b := range map[string][]byte{
		"empty":          {},
		"unknown mode":   {9, 0},
		"truncated":      good[:len(good)-1],
		"trailing bytes": append(good[:len(good):len(good)], 5),
		"raw short":      {segRaw, 2, 1, 2, 3},
		"too many":       append([]byte{segRaw}, 0xff, 0xff, 0xff, 0xff, 0x0f),
		"rank outside":   {segPalette, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 5},
		"empty palette":  {segPalette, 0, 1, 1},
		"short palette":  {segPalette, 3, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1},
	} {
		if _, err := decodeSegment(nil, b, "7 of channel 0 of dataset 1"); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func FuzzDecodeSegment(f *testing.F) {
	f.Add(encodeSegment(nil, []float64{1, math.NaN(), -3}, 1))
	f.Add(encodeSegment(nil, []float64{0.25, 1.0 / 3}, 0))
	f.Add(encodeSegment(nil, edfLike(100), 0))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := decodeSegment(nil, b, "fuzz")
		if err != nil {
			return
		}
		// Whatever decodes encodes to something that decodes the same.
		again, err := decodeSegment(nil, encodeSegment(nil, got, 1), "again")
		if err != nil {
			t.Fatal(err)
		}
		if i := sameSamples(again, got); i >= 0 {
			t.Fatalf("re-encoding changed sample %d", i)
		}
	})
}

// TestSegmentedDatasetsRoundTrip stores real recordings and reads them back
// whole, by window and as summaries.
func TestSegmentedDatasetsRoundTrip(t *testing.T) {
	ctx := context.Background()
	s := openWithUser(t, filepath.Join(t.TempDir(), "db"))
	for _, files := range [][]string{
		{"mitdb/100.hea", "mitdb/100.dat", "mitdb/100.atr"},
		{"edf/test_generator_2.edf"},
		{"alarms/v102s.hea", "alarms/v102s.dat"},
	} {
		rec := readShared(t, files...)
		t.Run(files[0], func(t *testing.T) {
			ds, err := s.CreateDataset(ctx, Dataset{OwnerID: 1, Name: files[0]}, rec)
			if err != nil {
				t.Fatal(err)
			}
			if ds.Duration != rec.Signal.Duration() {
				t.Errorf("duration %v, want %v", ds.Duration, rec.Signal.Duration())
			}
			sig, err := s.DatasetSignal(ctx, ds.ID)
			if err != nil {
				t.Fatal(err)
			}
			for i, want := range rec.Signal.Channels {
				got := sig.Channels[i]
				if got.Name != want.Name || got.Unit != want.Unit || got.Rate != want.Rate || got.Gain != want.Gain {
					t.Errorf("channel %d: got %+v, want %s %s %v %v", i, got.Name, want.Name, want.Unit, want.Rate, want.Gain)
				}
				if j := sameSamples(got.Samples, want.Samples); j >= 0 {
					t.Fatalf("channel %d differs at sample %d", i, j)
				}
				n := int64(len(want.Samples))
				for _, w := range [][2]int64{{0, 10}, {SegmentSamples - 3, SegmentSamples + 5}, {n - 7, n + 100}, {-5, 3}, {n / 2, n/2 + 3*SegmentSamples}, {n, n + 1}} {
					part, err := s.DatasetSamples(ctx, ds.ID, i, w[0], w[1])
					if err != nil {
						t.Fatal(err)
					}
					lo, hi := max(w[0], 0), min(w[1], n)
					if lo > hi {
						lo = hi
					}
					if j := sameSamples(part, want.Samples[lo:hi]); j >= 0 {
						t.Errorf("channel %d window %v differs at %d", i, w, j)
					}
				}
				sums, err := s.DatasetSummaries(ctx, ds.ID, i)
				if err != nil {
					t.Fatal(err)
				}
				if wantBlocks := (len(want.Samples) + SummaryBlock - 1) / SummaryBlock; len(sums) != wantBlocks {
					t.Fatalf("%d summaries, want %d", len(sums), wantBlocks)
				}
				var total, present int
				for _, b := range sums {
					total += b.Samples
					present += b.Count
				}
				if total != len(want.Samples) || present != len(want.Samples)-want.MissingCount() {
					t.Errorf("summaries count %d samples (%d present), want %d (%d)", total, present, len(want.Samples), len(want.Samples)-want.MissingCount())
				}
			}
		})
	}
}

// TestDatasetWriterIsAllOrNothing: a dataset being written is invisible,
// an aborted one leaves nothing, and one left incomplete by a crash is
// removed at the next start.
func TestDatasetWriterIsAllOrNothing(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "db")
	s := openWithUser(t, path)
	chans := []signal.Channel{{Name: "a", Rate: 1, Gain: 1}, {Name: "b", Rate: 2, Gain: 1}}
	block := func(n int) [][]float64 {
		return [][]float64{make([]float64, n), make([]float64, 2*n)}
	}
	w, err := s.BeginDataset(ctx, Dataset{OwnerID: 1, Name: "x"}, chans)
	if err != nil {
		t.Fatal(err)
	}
	// Enough to flush several transactions of segments.
	for range 40 {
		if err := w.Write(block(SegmentSamples)); err != nil {
			t.Fatal(err)
		}
	}
	if ds, _ := s.Datasets(ctx, 0); len(ds) != 0 {
		t.Errorf("a dataset being written is listed: %+v", ds)
	}
	if _, err := s.Dataset(ctx, w.ID()); err == nil {
		t.Error("a dataset being written can be read")
	}
	if err := w.Write([][]float64{{1}}); err == nil {
		t.Error("a write with the wrong number of channels succeeded")
	}
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	countRows := func(s *SQLite) (n int) {
		s.db.QueryRow(`SELECT (SELECT COUNT(*) FROM datasets) + (SELECT COUNT(*) FROM dataset_segments)`).Scan(&n)
		return n
	}
	if n := countRows(s); n != 0 {
		t.Errorf("%d rows left after Abort", n)
	}

	w, err = s.BeginDataset(ctx, Dataset{OwnerID: 1, Name: "crash"}, chans)
	if err != nil {
		t.Fatal(err)
	}
	for range 40 {
		w.Write(block(SegmentSamples))
	}
	// A second dataset is committed but not yet published with the first.
	w2, err := s.BeginDataset(ctx, Dataset{OwnerID: 1, Name: "committed"}, chans)
	if err != nil {
		t.Fatal(err)
	}
	w2.Write(block(3))
	if _, err := w2.Commit(signal.Identity{}, nil, 0); err != nil {
		t.Fatal(err)
	}
	s.Close() // the process dies here
	s2 := mustOpen(t, path)
	if n := countRows(s2); n != 0 {
		t.Errorf("%d rows of incomplete or unpublished datasets survived a restart", n)
	}

	w, err = s2.BeginDataset(ctx, Dataset{OwnerID: 1, Name: "ok"}, chans)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(block(10))
	w.Write(block(SegmentSamples))
	ds, err := w.Commit(signal.Identity{Record: "ok"}, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if list, _ := s2.Datasets(ctx, 1); len(list) != 0 {
		t.Errorf("a committed dataset is listed before it is published: %+v", list)
	}
	if err := s2.PublishDatasets(ctx, []int64{ds.ID}); err != nil {
		t.Fatal(err)
	}
	if err := s2.PublishDatasets(ctx, []int64{ds.ID}); err == nil {
		t.Error("a dataset was published twice")
	}
	if ds.Channels[0].Samples != SegmentSamples+10 || ds.Channels[1].Samples != 2*(SegmentSamples+10) || ds.Duration != SegmentSamples+10 {
		t.Errorf("committed dataset: %+v", ds)
	}
	if list, _ := s2.Datasets(ctx, 1); len(list) != 1 {
		t.Errorf("committed dataset not listed: %+v", list)
	}
	if err := w.Abort(); err != nil {
		t.Errorf("Abort after Commit: %v", err)
	}
	if _, err := s2.Dataset(ctx, ds.ID); err != nil {
		t.Errorf("Abort after Commit removed the dataset: %v", err)
	}
}

// TestLegacySignalsAreConverted: a database written before segments (one
// blob per dataset) opens with its datasets readable as segments.
func TestLegacySignalsAreConverted(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "db")
	s := openWithUser(t, path)
	rec := readShared(t, "mitdb/100.hea", "mitdb/100.dat")
	ds, err := s.CreateDataset(ctx, Dataset{OwnerID: 1, Name: "old"}, rec)
	if err != nil {
		t.Fatal(err)
	}
	// Turn it back into the old form: no segments, one blob, no gains.
	if _, err := s.db.Exec(`DELETE FROM dataset_segments`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.Exec(`INSERT INTO dataset_signals (dataset_id, signal) VALUES (?, ?)`, ds.ID, EncodeSignal(&rec.Signal)); err != nil {
		t.Fatal(err)
	}
	s.db.Exec(`UPDATE datasets SET channels = json_remove(channels, '$[0].gain', '$[1].gain')`)
	s.Close()

	s2 := mustOpen(t, path)
	sig, err := s2.DatasetSignal(ctx, ds.ID)
	if err != nil {
		t.Fatal(err)
	}
	for i := range rec.Signal.Channels {
		if sig.Channels[i].Gain != rec.Signal.Channels[i].Gain {
			t.Errorf("channel %d gain %v, want %v", i, sig.Channels[i].Gain, rec.Signal.Channels[i].Gain)
		}
		if j := sameSamples(sig.Channels[i].Samples, rec.Signal.Channels[i].Samples); j >= 0 {
			t.Errorf("channel %d differs at %d after conversion", i, j)
		}
	}
	var n int
	s2.db.QueryRow(`SELECT COUNT(*) FROM dataset_signals`).Scan(&n)
	if n != 0 {
		t.Errorf("%d legacy blobs left", n)
	}
}

// BenchmarkDatasetWrite stores an hour of two-channel 360 Hz ECG through a
// DatasetWriter in one-second blocks, as an upload does.
func BenchmarkDatasetWrite(b *testing.B) {
	rec := readShared(b, "mitdb/100.hea", "mitdb/100.dat")
	s := openWithUser(b, filepath.Join(b.TempDir(), "db"))
	ctx := context.Background()
	n := len(rec.Signal.Channels[0].Samples)
	b.SetBytes(int64(8 * n * len(rec.Signal.Channels)))
	for b.Loop() {
		w, err := s.BeginDataset(ctx, Dataset{OwnerID: 1, Name: "b"}, rec.Signal.Channels)
		if err != nil {
			b.Fatal(err)
		}
		for lo := 0; lo < n; lo += 360 {
			w.Write([][]float64{rec.Signal.Channels[0].Samples[lo:min(lo+360, n)], rec.Signal.Channels[1].Samples[lo:min(lo+360, n)]})
		}
		if _, err := w.Commit(signal.Identity{}, nil, 0); err != nil {
			b.Fatal(err)
		}
	}
}

// TestDatasetWriterEncodesBesideTheReader: the segments a writer hands to
// its encoder come back as written, each from its own buffer (the reader
// fills the next while the encoder stores the last), across several
// batches and channels; and a store error of the encoder reaches Write.
func TestDatasetWriterEncodesBesideTheReader(t *testing.T) {
	ctx := context.Background()
	s := openWithUser(t, filepath.Join(t.TempDir(), "db"))
	chans := []signal.Channel{{Name: "a", Rate: 1, Gain: 200}, {Name: "b", Rate: 1, Gain: 200}}
	w, err := s.BeginDataset(ctx, Dataset{OwnerID: 1, Name: "x"}, chans)
	if err != nil {
		t.Fatal(err)
	}
	const n = 60*SegmentSamples + 123 // about 8 MB of segments: two batches and a rest
	want := [2][]float64{make([]float64, n), make([]float64, n)}
	for i := range n {
		// Every sample distinct from the one a segment earlier, so that a
		// buffer reused too soon shows.
		want[0][i] = float64(i%4093-2046) / 200
		want[1][i] = float64((i*7)%8191-4095) / 200
	}
	for lo := 0; lo < n; lo += 10000 { // blocks that do not fit segments
		hi := min(lo+10000, n)
		if err := w.Write([][]float64{want[0][lo:hi], want[1][lo:hi]}); err != nil {
			t.Fatal(err)
		}
	}
	ds, err := w.Commit(signal.Identity{}, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	for ch := range 2 {
		got, err := s.channelSamples(ctx, ds, ch, 0, n)
		if err != nil {
			t.Fatal(err)
		}
		if i := sameSamples(got, want[ch]); i >= 0 {
			t.Fatalf("channel %d differs at sample %d (segment %d)", ch, i, i/SegmentSamples)
		}
	}

	// A cancelled request: the encoder's inserts fail, and Write says so.
	cctx, cancel := context.WithCancel(ctx)
	w, err = s.BeginDataset(cctx, Dataset{OwnerID: 1, Name: "cancelled"}, chans)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	var werr error
	for range 200 {
		if werr = w.Write([][]float64{want[0][:SegmentSamples], want[1][:SegmentSamples]}); werr != nil {
			break
		}
	}
	if werr == nil {
		t.Error("200 segments written on a cancelled request and Write never failed")
	}
	if err := w.Abort(); err != nil {
		t.Error(err)
	}
}

// TestDecodeSegmentsPlacesEachSegment: segments decoded side by side land
// in their own places, windows of them too, and a segment with a sample
// too few or too many (a damaged store) is an error, not a shifted signal.
func TestDecodeSegmentsPlacesEachSegment(t *testing.T) {
	const total = 5*SegmentSamples + 77
	want := walk(9000)
	for len(want) < total {
		want = append(want, want...)
	}
	want = want[:total]
	var blobs [][]byte
	for lo := 0; lo < total; lo += SegmentSamples {
		blobs = append(blobs, encodeSegment(nil, want[lo:min(lo+SegmentSamples, total)], 200))
	}
	name := func(seg int64) string { return fmt.Sprint(seg) }
	got, err := decodeSegments(blobs, 0, total, name)
	if err != nil {
		t.Fatal(err)
	}
	if i := sameSamples(got, want); i >= 0 {
		t.Fatalf("differs at %d (segment %d)", i, i/SegmentSamples)
	}
	got, err = decodeSegments(blobs[2:], 2, total, name)
	if err != nil {
		t.Fatal(err)
	}
	if i := sameSamples(got, want[2*SegmentSamples:]); i >= 0 {
		t.Fatalf("from segment 2: differs at %d", i)
	}
	for _, bad := range []struct {
		name string
		seg  []float64
	}{{"a sample short", want[SegmentSamples : 2*SegmentSamples-1]}, {"the last segment's", want[5*SegmentSamples:]}} {
		b := slices.Clone(blobs)
		b[1] = encodeSegment(nil, bad.seg, 200)
		if _, err := decodeSegments(b, 0, total, name); err == nil || !strings.Contains(err.Error(), "segment 1:") {
			t.Errorf("segment 1 %s: error %v, want one naming segment 1", bad.name, err)
		}
	}
	long := slices.Clone(blobs)
	long[5] = encodeSegment(nil, want[4*SegmentSamples:5*SegmentSamples], 200) // 65,536 where 77 belong
	if _, err := decodeSegments(long, 0, total, name); err == nil {
		t.Error("a last segment with too many samples decoded")
	}
}
