package formats

import (
	"encoding/binary"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/pulsegrid/pulsegrid/algorithms/formats/internal/blockstest"
	"github.com/pulsegrid/pulsegrid/algorithms/formats/wfdb"
	"github.com/pulsegrid/pulsegrid/algorithms/synth"
)

// checkOpen checks the streaming contract on one upload: Open fails exactly
// when ReadWith does, with the same message; otherwise Stream.Recording is
// ReadWith's recording without samples, and the blocks of each channel
// join into ReadWith's samples bit for bit (NaNs in the same places).
func checkOpen(tb testing.TB, files []File, opt Options) error {
	tb.Helper()
	want, werr := ReadWith(files, opt)
	s, err := Open(files, opt)
	if (err == nil) != (werr == nil) || err != nil && err.Error() != werr.Error() {
		tb.Fatalf("Open: got error %v, ReadWith gives %v", err, werr)
	}
	if err != nil {
		return err
	}
	got := blockstest.Collect(tb, s, len(s.Recording.Signal.Channels))
	meta := *s.Recording
	meta.Signal.Channels = slices.Clone(meta.Signal.Channels)
	wantMeta := *want
	wantMeta.Signal.Channels = slices.Clone(want.Signal.Channels)
	for i := range wantMeta.Signal.Channels {
		if meta.Signal.Channels[i].Samples != nil {
			tb.Fatalf("channel %d: Stream.Recording has samples", i)
		}
		wantMeta.Signal.Channels[i].Samples = nil
	}
	if !reflect.DeepEqual(meta, wantMeta) {
		tb.Fatalf("Stream.Recording\n got %+v\nwant %+v", meta, wantMeta)
	}
	for i, c := range want.Signal.Channels {
		if len(got[i]) != len(c.Samples) {
			tb.Fatalf("channel %d (%s): %d samples streamed, ReadWith gives %d", i, c.Name, len(got[i]), len(c.Samples))
		}
		for j, v := range c.Samples {
			if math.Float64bits(got[i][j]) != math.Float64bits(v) {
				tb.Fatalf("channel %d (%s) sample %d: streamed %v, ReadWith gives %v", i, c.Name, j, got[i][j], v)
			}
		}
	}
	return nil
}

// uploads are the recordings the streaming tests read: every recording of
// ../shared/data as it would be uploaded, and synthetic ones.
func uploads(tb testing.TB) map[string][]File {
	tb.Helper()
	out := map[string][]File{}
	if _, err := os.Stat(data + "README.md"); err == nil {
		for _, dir := range []string{"mitdb", "svdb", "alarms"} {
			heads, _ := filepath.Glob(data + dir + "/*.hea")
			for _, h := range heads {
				rec := strings.TrimSuffix(filepath.Base(h), ".hea")
				names := []string{rec + ".hea", rec + ".dat"}
				if _, err := os.Stat(data + dir + "/" + rec + ".atr"); err == nil {
					names = append(names, rec+".atr")
				}
				out[dir+"/"+rec] = load(tb, dir, names...)
			}
		}
		out["vitals/041s"] = load(tb, "vitals", "041s.hea", "041s01.hea", "041s01.dat", "041s02.hea", "041s02.dat")
		out["vitals/s00001"] = load(tb, "vitals", "s00001-2896-10-10-00-31n.hea", "3975656n.dat")
		out["vitals/s25047"] = load(tb, "vitals", "s25047-2704-05-04-10-44n.hea", "3234460n.dat")
		out["edf/test_generator_2.hea"] = load(tb, "edf", "test_generator_2.hea", "test_generator_2.dat")
		out["edf/test_generator_2.edf"] = load(tb, "edf", "test_generator_2.edf")
		out["edf/test_edfann.edf"] = load(tb, "edf", "test_edfann.edf")
	}
	add := func(name string, files func() ([]synth.File, error), keep ...string) {
		fs, err := files()
		if err != nil {
			tb.Fatal(err)
		}
		for _, f := range fs {
			if slices.Contains(keep, f.Name) {
				out[name] = append(out[name], File{Name: f.Name, Data: f.Data})
			}
		}
	}
	ecg, err := synth.NewECG(synth.ECGOptions{Record: "e", Minutes: 2, Rate: 500, Seed: 5, Stream: 1})
	if err != nil {
		tb.Fatal(err)
	}
	add("synth/ecg", ecg.Files, "e.hea", "e.dat", "e.atr")
	add("synth/ecg.csv", ecg.Files, "e.csv")
	vit, err := synth.NewVitals(synth.VitalsOptions{Record: "v", Minutes: 90, Rate: 1.0 / 60, Seed: 5, Stream: 2})
	if err != nil {
		tb.Fatal(err)
	}
	add("synth/vitals", vit.Files, "v.hea", "v.dat")
	add("synth/vitals.csv", vit.Files, "v.csv")
	out["csv/gaps"] = []File{{Name: "log.csv", Data: []byte("time,HR [bpm],SpO2 [%]\n0,70,98\n60,,97\n180,72,NaN\n240,73,96\n")}}
	out["edf/plusD"] = []File{{Name: "d.edf", Data: holterEDF(300, 7)}}
	out["wfdb/holter"] = holter212("h", 20000)
	return out
}

// TestOpenMatchesReadWith checks the streaming contract on every upload at
// several block sizes, small and odd ones included.
func TestOpenMatchesReadWith(t *testing.T) {
	all := uploads(t)
	for _, name := range slices.Sorted(maps.Keys(all)) {
		for _, size := range []int{1, 7, 1000, 1 << 16} {
			t.Run(fmt.Sprintf("%s/%d", name, size), func(t *testing.T) {
				if size == 1 && runtime.GOARCH == "wasm" && strings.HasPrefix(name, "mitdb/") && name != "mitdb/100" {
					t.Skip("block size 1 is checked on mitdb/100 only under js/wasm, where it is slow")
				}
				blockstest.SetSize(t, size)
				if err := checkOpen(t, all[name], Options{}); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

// TestOpenErrors checks that Open rejects what ReadWith rejects, with the
// same message, on the uploads of TestReadErrors and corrupt recordings.
func TestOpenErrors(t *testing.T) {
	mit := load(t, "mitdb", "100.hea", "100.dat", "100.atr")
	edfFile := load(t, "edf", "test_generator_2.edf")[0]
	h := holter212("h", 1000)
	// The header with V5's checksum one off.
	lines := strings.Split(string(h[0].Data), "\n")
	v5 := strings.Fields(lines[2])
	sum, _ := strconv.Atoi(v5[6])
	v5[6] = strconv.Itoa(sum + 1)
	lines[2] = strings.Join(v5, " ")
	badSum := strings.Join(lines, "\n")
	for _, tt := range []struct {
		name  string
		files []File
		want  string
	}{
		{"ErrTruncatedDat", []File{mit[0], {Name: "100.dat", Data: mit[1].Data[:len(mit[1].Data)-1]}}, "100.dat byte 1949999: file ends after 649999 complete frames"},
		{"ErrChecksum", []File{{Name: "h.hea", Data: []byte(badSum)}, h[1]}, "h.dat: checksum mismatch"},
		{"ErrTruncatedEDF", []File{{Name: "x.edf", Data: edfFile.Data[:len(edfFile.Data)-1]}}, "x.edf: file is truncated"},
		{"ErrBadATR", []File{mit[0], mit[1], {Name: "100.atr", Data: []byte{1}}}, "100.atr byte 0"},
		{"ErrStray", []File{mit[0], mit[1], {Name: "stray.dat", Data: []byte{1}}}, "stray.dat: uploaded, but record 100 does not use it"},
		{"ErrCSV", []File{{Name: "x.csv", Data: []byte("time,HR\n0,abc\n")}}, `x.csv: line 2, column 2 (HR): "abc" is not a number`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := checkOpen(t, tt.files, Options{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// FuzzStream checks the streaming contract on fuzzed uploads: a WFDB
// record (header, signal file, annotations), an EDF file or a CSV log,
// at a block size the fuzzer picks.
func FuzzStream(f *testing.F) {
	h := holter212("r", 10)
	f.Add(uint8(0), h[0].Data, h[1].Data, []byte{}, uint16(3))
	f.Add(uint8(0), []byte("r 2 10\nr.dat 16x2:1+4 1 16 0 0\nr.dat 16:1+4 1 16 0 0 0 0 b\n"), []byte{9, 9, 9, 9, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0}, []byte{0x02, 0x04, 0x00, 0xec}, uint16(2))
	f.Add(uint8(1), holterEDF(3, 2), []byte{}, []byte{}, uint16(5))
	f.Add(uint8(2), []byte("time,HR [bpm],SpO2 [%]\n0,70,98\n60,,97\n180,72,NaN\n"), []byte{}, []byte{}, uint16(1))
	// A fuzzed header may announce up to wfdb.MaxSamples samples of a
	// null signal, which ReadWith would allocate; keep that small.
	saved := wfdb.MaxSamples
	wfdb.MaxSamples = 1 << 16
	f.Cleanup(func() { wfdb.MaxSamples = saved })
	f.Fuzz(func(t *testing.T, kind uint8, a, b, c []byte, size uint16) {
		var files []File
		switch kind % 3 {
		case 0:
			files = []File{{Name: "r.hea", Data: a}, {Name: "r.dat", Data: b}}
			if len(c) > 0 {
				files = append(files, File{Name: "r.atr", Data: c})
			}
		case 1:
			files = []File{{Name: "x.edf", Data: a}}
		case 2:
			files = []File{{Name: "x.csv", Data: a}}
		}
		blockstest.SetSize(t, 1+int(size%300))
		_ = checkOpen(t, files, Options{})
	})
}

// holter212 is a two-channel 360 Hz record of frames frames in format 212
// with checksums, its samples wandering over the whole 12-bit range,
// invalid ones (-2048) included.
func holter212(record string, frames int64) []File {
	dat := make([]byte, 0, frames*3)
	var sums [2]int16
	x := uint32(7)
	for range frames {
		var v [2]int32
		for k := range v {
			x = x*1664525 + 1013904223
			v[k] = int32(x>>20) - 2048
			sums[k] += int16(v[k])
		}
		dat = append(dat, byte(v[0]), byte(v[0]>>8&0x0f)|byte(v[1]>>4&0xf0), byte(v[1]))
	}
	hea := fmt.Appendf(nil, "%s 2 360 %d\n%s.dat 212 200 11 1024 0 %d 0 MLII\n%s.dat 212 200 11 1024 0 %d 0 V5\n",
		record, frames, record, sums[0], record, sums[1])
	return []File{{Name: record + ".hea", Data: hea}, {Name: record + ".dat", Data: dat}}
}

// holterEDF is a two-channel 360 Hz EDF of seconds one-second data
// records; with gapEvery > 0, an EDF+D with a one-second gap after every
// gapEvery-th record.
func holterEDF(seconds, gapEvery int) []byte {
	ns := 2
	reserved := ""
	if gapEvery > 0 {
		ns, reserved = 3, "EDF+D"
	}
	field := func(s string, n int) string { return s + strings.Repeat(" ", n-len(s)) }
	var h strings.Builder
	h.WriteString(field("0", 8) + field("X X X X", 80) + field("Startdate X X X X", 80) + "01.01.2612.00.00")
	h.WriteString(field(fmt.Sprint(256*(ns+1)), 8) + field(reserved, 44) + field(fmt.Sprint(seconds), 8) + field("1", 8) + field(fmt.Sprint(ns), 4))
	labels := []string{"MLII", "V5", "EDF Annotations"}
	each := func(n int, v func(i int) string) {
		for i := range ns {
			h.WriteString(field(v(i), n))
		}
	}
	each(16, func(i int) string { return labels[i] })
	each(80, func(int) string { return "" })
	each(8, func(i int) string { return []string{"mV", "mV", ""}[i] })
	each(8, func(int) string { return "-5" })
	each(8, func(int) string { return "5" })
	each(8, func(int) string { return "-2048" })
	each(8, func(int) string { return "2047" })
	each(80, func(int) string { return "" })
	each(8, func(i int) string { return []string{"360", "360", "8"}[i] })
	each(32, func(int) string { return "" })
	data := []byte(h.String())
	x := uint32(3)
	onset := 0
	for r := range seconds {
		for range 720 {
			x = x*1664525 + 1013904223
			data = binary.LittleEndian.AppendUint16(data, uint16(int16(int32(x>>20)-2048)))
		}
		if gapEvery > 0 {
			tal := fmt.Appendf(nil, "+%d\x14\x14\x00", onset)
			data = append(append(data, tal...), make([]byte, 16-len(tal))...)
			if onset++; r%gapEvery == gapEvery-1 {
				onset++
			}
		}
	}
	return data
}

// TestOpenMemory streams a 24-hour two-channel 360 Hz recording (62 M
// samples) as WFDB format 212 (with its .atr) and as EDF through Open and
// Next, and checks that they allocate a small fraction of the 8 bytes per
// sample that ReadWith's float64 channels take. Under js/wasm the
// recordings are 2 hours long.
func TestOpenMemory(t *testing.T) {
	seconds := 24 * 3600
	if runtime.GOARCH == "wasm" {
		seconds = 2 * 3600
	}
	wfdbFiles := append(holter212("h", int64(seconds)*360), load(t, "mitdb", "100.atr")[0])
	wfdbFiles[2].Name = "h.atr"
	for _, tc := range []struct {
		name  string
		files []File
	}{
		{"WFDB212", wfdbFiles},
		{"EDF", []File{{Name: "h.edf", Data: holterEDF(seconds, 0)}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var samples int64
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			s, err := Open(tc.files, Options{})
			if err != nil {
				t.Fatal(err)
			}
			samples, _ = blockstest.Drain(t, s)
			runtime.ReadMemStats(&after)
			alloc := after.TotalAlloc - before.TotalAlloc
			if want := int64(seconds) * 720; samples != want {
				t.Fatalf("streamed %d samples, want %d", samples, want)
			}
			whole := uint64(8 * samples)
			t.Logf("%d samples: Open+Next allocated %d bytes (%.3f%% of the %d bytes as float64)", samples, alloc, 100*float64(alloc)/float64(whole), whole)
			if alloc > 16<<20 || alloc > whole/32 {
				t.Errorf("Open+Next allocated %d bytes for %d samples; want far below %d", alloc, samples, whole)
			}
		})
	}
}

// BenchmarkNext measures Open and Next on one hour of a two-channel 360 Hz
// recording, in samples per second: WFDB format 212 (checksums verified at
// Open, which decodes the signal file once more) and EDF.
func BenchmarkNext(b *testing.B) {
	for _, tc := range []struct {
		name  string
		files []File
	}{
		{"WFDB212", holter212("h", 3600*360)},
		{"EDF", []File{{Name: "h.edf", Data: holterEDF(3600, 0)}}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				s, err := Open(tc.files, Options{})
				if err != nil {
					b.Fatal(err)
				}
				for {
					if _, err := s.Next(); err != nil {
						break
					}
				}
			}
			b.ReportMetric(float64(3600*720)*float64(b.N)/b.Elapsed().Seconds(), "samples/s")
		})
	}
}
