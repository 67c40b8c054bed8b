package wfdb

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pulsegrid/pulsegrid/algorithms/signal"
)

// sharedData is the folder of real recordings beside the repository.
const sharedData = "../../../../shared/data"

func dirOpener(dir string) Opener {
	return func(name string) ([]byte, error) { return os.ReadFile(filepath.Join(dir, name)) }
}

// needShared skips a test when the shared recordings are not beside the
// checkout (a bare clone); testdata/ excerpts cover the same features.
func needShared(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(sharedData, "README.md")); err != nil {
		t.Skipf("shared recordings not found at %s", sharedData)
	}
}

func MustReadRecord(tb testing.TB, dir, header string) *signal.Recording {
	tb.Helper()
	rec, err := ReadRecord(header, dirOpener(dir))
	if err != nil {
		tb.Fatalf("ReadRecord(%s): %v", header, err)
	}
	return rec
}

// TestReadSharedRecords reads every WFDB record of ../shared/data and checks
// its shape against what PhysioNet's tools report for it. Checksums are
// verified by ReadRecord itself, so a decoding error would fail here.
func TestReadSharedRecords(t *testing.T) {
	needShared(t)
	type ch struct {
		name, unit string
		rate       float64
		n, missing int
	}
	mit := func(lead2 string) []ch {
		return []ch{{"MLII", "mV", 360, 650000, 0}, {lead2, "mV", 360, 650000, 0}}
	}
	minute := 1.0 / 60
	tests := []struct {
		header     string
		chans      []ch
		recordedAt string
	}{
		{"mitdb/100.hea", mit("V5"), ""},
		{"mitdb/101.hea", mit("V1"), ""},
		{"mitdb/105.hea", mit("V1"), ""},
		{"mitdb/106.hea", mit("V1"), ""},
		{"mitdb/108.hea", mit("V1"), ""},
		{"mitdb/119.hea", mit("V1"), ""},
		{"mitdb/203.hea", mit("V1"), ""},
		{"mitdb/208.hea", mit("V1"), ""},
		{"svdb/800.hea", []ch{{"ECG", "mV", 128, 230400, 0}, {"ECG", "mV", 128, 230400, 0}}, ""},
		{"vitals/041s.hea", []ch{{"III", "mV", 500, 8000, 0}, {"I", "mV", 500, 8000, 1}, {"V", "mV", 500, 8000, 0},
			{"ABP", "mmHg", 125, 2000, 0}, {"PAP", "mmHg", 125, 2000, 0}, {"PLETH", "mV", 125, 2000, 0}, {"RESP", "mV", 125, 2000, 0}}, "1994-10-26T08:26:04"},
		{"vitals/s00001-2896-10-10-00-31n.hea", []ch{{"HR", "bpm", minute, 1936, 0}, {"ABPSys", "mmHg", minute, 1936, 0},
			{"ABPDias", "mmHg", minute, 1936, 0}, {"ABPMean", "mmHg", minute, 1936, 0}, {"PULSE", "bpm", minute, 1936, 0},
			{"RESP", "pm", minute, 1936, 0}, {"SpO2", "%", minute, 1936, 0}, {"NBPSys", "mmHg", minute, 1936, 1784},
			{"NBPDias", "mmHg", minute, 1936, 1784}, {"NBPMean", "mmHg", minute, 1936, 1784}}, "2896-10-10T00:31:25.894"},
		{"vitals/s25047-2704-05-04-10-44n.hea", []ch{{"HR", "bpm", minute, 72, 0}, {"PULSE", "bpm", minute, 72, 0},
			{"RESP", "pm", minute, 72, 0}, {"SpO2", "%", minute, 72, 0}, {"NBPSys", "mmHg", minute, 72, 54},
			{"NBPDias", "mmHg", minute, 72, 54}, {"NBPMean", "mmHg", minute, 72, 51}}, "2704-05-04T10:44:18.529"},
		{"alarms/v102s.hea", []ch{{"II", "mV", 250, 75000, 3}, {"V", "mV", 250, 75000, 2}, {"PLETH", "NU", 250, 75000, 17}, {"RESP", "NU", 250, 75000, 1}}, ""},
		{"edf/test_generator_2.hea", []ch{{"squarewave", "uV", 200, 120000, 0}, {"ramp", "uV", 200, 120000, 0},
			{"pulse", "uV", 200, 120000, 0}, {"ECG", "uV", 200, 120000, 0}, {"noise", "uV", 200, 120000, 0},
			{"sine 1 Hz", "uV", 200, 120000, 0}, {"sine 8 Hz", "uV", 200, 120000, 0}, {"sine 8.5 Hz", "uV", 200, 120000, 0},
			{"sine 15 Hz", "°", 200, 120000, 0}, {"sine 17 Hz", "°", 200, 120000, 0}, {"sine 50 Hz", "uV", 200, 120000, 0},
			{"EDF Annotations", "mV", 51, 30600, 0}}, "2009-12-10T12:44:02"},
	}
	for _, tt := range tests {
		t.Run(strings.TrimSuffix(tt.header, ".hea"), func(t *testing.T) {
			rec := MustReadRecord(t, sharedData, tt.header)
			if err := rec.Signal.Validate(); err != nil {
				t.Fatal(err)
			}
			if got := len(rec.Signal.Channels); got != len(tt.chans) {
				t.Fatalf("got %d channels, want %d", got, len(tt.chans))
			}
			for i, want := range tt.chans {
				c := rec.Signal.Channels[i]
				if c.Name != want.name || c.Unit != want.unit || c.Rate != want.rate || len(c.Samples) != want.n {
					t.Errorf("channel %d: got %q %q %v Hz %d samples, want %q %q %v Hz %d samples", i, c.Name, c.Unit, c.Rate, len(c.Samples), want.name, want.unit, want.rate, want.n)
				}
				if got := c.MissingCount(); got != want.missing {
					t.Errorf("channel %d (%s): got %d missing samples, want %d", i, c.Name, got, want.missing)
				}
			}
			if rec.Identity.RecordedAt != tt.recordedAt {
				t.Errorf("RecordedAt: got %q, want %q", rec.Identity.RecordedAt, tt.recordedAt)
			}
		})
	}
}

// TestRecord100 spot-checks known values of MIT-BIH record 100.
func TestRecord100(t *testing.T) {
	for _, tc := range []struct{ dir, header string }{{sharedData + "/mitdb", "100.hea"}, {"testdata", "100s.hea"}} {
		t.Run(tc.header, func(t *testing.T) {
			if tc.dir != "testdata" {
				needShared(t)
			}
			rec := MustReadRecord(t, tc.dir, tc.header)
			mlii, v5 := rec.Signal.Channels[0], rec.Signal.Channels[1]
			// ADC 995 with gain 200 and baseline 1024: (995-1024)/200.
			for i := range 5 {
				if mlii.Samples[i] != -0.145 || v5.Samples[i] != -0.065 {
					t.Fatalf("sample %d: got %v, %v, want -0.145, -0.065", i, mlii.Samples[i], v5.Samples[i])
				}
			}
			if mlii.Gain != 200 {
				t.Errorf("gain: got %v, want 200", mlii.Gain)
			}
			id := rec.Identity
			if id.Sex != "M" || len(id.Comments) < 2 || id.Comments[0] != "69 M 1085 1629 x1" || id.Comments[1] != "Aldomet, Inderal" {
				t.Errorf("identity: got %+v", id)
			}
			base := strings.TrimSuffix(tc.header, ".hea")
			if id.Record != base || len(id.FileNames) != 2 || id.FileNames[0] != base+".hea" || id.FileNames[1] != base+".dat" {
				t.Errorf("identity record/files: got %q %q", id.Record, id.FileNames)
			}
		})
	}
}

// TestMultiSegment checks that 041s is its two segments joined, with the
// 212x4 ECG signals at 500 Hz and the others at 125 Hz.
func TestMultiSegment(t *testing.T) {
	whole := MustReadRecord(t, "testdata", "041s.hea")
	s1 := MustReadRecord(t, "testdata", "041s01.hea")
	s2 := MustReadRecord(t, "testdata", "041s02.hea")
	for i, c := range whole.Signal.Channels {
		a, b := s1.Signal.Channels[i].Samples, s2.Signal.Channels[i].Samples
		if len(c.Samples) != len(a)+len(b) {
			t.Fatalf("channel %s: %d samples, want %d+%d", c.Name, len(c.Samples), len(a), len(b))
		}
		for j, v := range c.Samples {
			w := b[max(0, j-len(a))]
			if j < len(a) {
				w = a[j]
			}
			if !(v == w || signal.IsMissing(v) && signal.IsMissing(w)) {
				t.Fatalf("channel %s sample %d: got %v, want %v", c.Name, j, v, w)
			}
		}
	}
	if r := whole.Signal.Channels[0].Rate; r != 500 {
		t.Errorf("212x4 channel rate: got %v, want 500", r)
	}
	if r := whole.Signal.Channels[3].Rate; r != 125 {
		t.Errorf("ABP rate: got %v, want 125", r)
	}
	// ABP of 041s01: 20(-1600)/mmHg, first ADC -242 → (-242+1600)/20.
	if v := whole.Signal.Channels[3].Samples[0]; v != 67.9 {
		t.Errorf("ABP sample 0: got %v, want 67.9", v)
	}
	want := []string{"041s.hea", "041s01.hea", "041s02.hea", "041s01.dat", "041s02.dat"}
	if strings.Join(whole.Identity.FileNames, " ") != strings.Join(want, " ") {
		t.Errorf("FileNames: got %q, want %q", whole.Identity.FileNames, want)
	}
}

// TestMultiSegmentLayout builds a variable-layout record: a layout segment,
// a segment that lacks one signal and lists the others in another order,
// and a "~" gap.
func TestMultiSegmentLayout(t *testing.T) {
	sig := func(vals ...float64) signal.Channel { return signal.Channel{Rate: 10, Gain: 100, Samples: vals} }
	a := sig(1, 2, 3)
	a.Name = "ECG"
	b := sig(4, 5, 6)
	b.Name = "ABP"
	ha, da, err := WriteRecord("seg1", &signal.Signal{Channels: []signal.Channel{b, a}}, 16)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"rec.hea":        []byte("rec/4 3 10 7 10:00:00 01/02/2003\nrec_layout 0\nseg1 3\n~ 2\nseg2 2\n"),
		"rec_layout.hea": []byte("rec_layout 3 10 0\n~ 0 100/mV 16 0 0 0 0 ECG\n~ 0 100/mmHg 16 0 0 0 0 ABP\n~ 0 100/% 16 0 0 0 0 SpO2\n"),
		"seg1.hea":       ha, "seg1.dat": da,
		"seg2.hea": []byte("seg2 1 10 2\nseg2.dat 16 100 16 0 10000 30000 0 SpO2\n"),
		"seg2.dat": {0x10, 0x27, 0x20, 0x4e}, // 10000, 20000
	}
	rec, err := ReadRecord("rec.hea", MapOpener(files))
	if err != nil {
		t.Fatal(err)
	}
	n := math.NaN()
	want := map[string][]float64{
		"ECG":  {1, 2, 3, n, n, n, n},
		"ABP":  {4, 5, 6, n, n, n, n},
		"SpO2": {n, n, n, n, n, 100, 200},
	}
	for _, c := range rec.Signal.Channels {
		w := want[c.Name]
		if len(c.Samples) != len(w) {
			t.Fatalf("%s: got %v, want %v", c.Name, c.Samples, w)
		}
		for i := range w {
			if !(c.Samples[i] == w[i] || signal.IsMissing(c.Samples[i]) && signal.IsMissing(w[i])) {
				t.Fatalf("%s: got %v, want %v", c.Name, c.Samples, w)
			}
		}
	}
	if rec.Signal.Channels[1].Unit != "mmHg" {
		t.Errorf("units come from the layout segment: got %q", rec.Signal.Channels[1].Unit)
	}
	if rec.Identity.RecordedAt != "2003-02-01T10:00:00" {
		t.Errorf("RecordedAt: got %q", rec.Identity.RecordedAt)
	}
}

// TestFormats decodes hand-made files of every supported format, including
// each format's invalid-sample marker.
func TestFormats(t *testing.T) {
	n := math.NaN()
	tests := []struct {
		name   string
		format string
		data   []byte
		want   []float64 // ADC values (gain 1, baseline 0); NaN = invalid
	}{
		{"8", "8", []byte{5, 0xfe, 0x80, 0x7f}, []float64{15, 13, -115, 12}}, // init value 10; differences, no invalid marker
		{"16", "16", []byte{0x01, 0x00, 0xff, 0xff, 0x00, 0x80, 0xff, 0x7f}, []float64{1, -1, n, 32767}},
		{"61", "61", []byte{0x00, 0x01, 0xff, 0xff, 0x80, 0x00, 0x7f, 0xff}, []float64{1, -1, n, 32767}},
		{"80", "80", []byte{129, 127, 0, 255}, []float64{1, -1, n, 127}},
		{"160", "160", []byte{0x01, 0x80, 0xff, 0x7f, 0x00, 0x00, 0xff, 0xff}, []float64{1, -1, n, 32767}},
		// 212: pairs 1,-1 and -2048,2047 → 01 f0 ff | 00 78 ff.
		{"212", "212", []byte{0x01, 0xf0, 0xff, 0x00, 0x78, 0xff}, []float64{1, -1, n, 2047}},
		// 310: 1,2,3 → words 0x1802, 0x0004; then -512,511,-1 → see below.
		{"310", "310", append([]byte{0x02, 0x18, 0x04, 0x00}, pack310(-512, 511, -1)...), []float64{1, 2, 3, n, 511, -1}},
		// 311: 1,2,3 → 0x00300801.
		{"311", "311", append([]byte{0x01, 0x08, 0x30, 0x00}, pack311(-512, 511, -1)...), []float64{1, 2, 3, n, 511, -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hea := "r 1 100 " + itoa(len(tt.want)) + "\nr.dat " + tt.format + " 1(0)/u 0 0 10\n"
			rec, err := ReadRecord("r.hea", MapOpener(map[string][]byte{"r.hea": []byte(hea), "r.dat": tt.data}))
			if err != nil {
				t.Fatal(err)
			}
			got := rec.Signal.Channels[0].Samples
			for i := range tt.want {
				if !(got[i] == tt.want[i] || signal.IsMissing(got[i]) && signal.IsMissing(tt.want[i])) {
					t.Fatalf("got %v, want %v", got, tt.want)
				}
			}
		})
	}
}

func pack310(a, b, c int) []byte {
	w0 := uint16(a&0x3ff)<<1 | uint16(c&0x1f)<<11
	w1 := uint16(b&0x3ff)<<1 | uint16(c>>5&0x1f)<<11
	return []byte{byte(w0), byte(w0 >> 8), byte(w1), byte(w1 >> 8)}
}

func pack311(a, b, c int) []byte {
	w := uint32(a&0x3ff) | uint32(b&0x3ff)<<10 | uint32(c&0x3ff)<<20
	return []byte{byte(w), byte(w >> 8), byte(w >> 16), byte(w >> 24)}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

// TestSkewOffsetAndNoLength covers the format field's skew and byte offset,
// and a header without a sample count (the file decides).
func TestSkewOffsetAndNoLength(t *testing.T) {
	files := map[string][]byte{
		"r.hea": []byte("r 2 10\nr.dat 16+4 1 16 0 0 0 0 a\nr.dat 16:1+4 1 16 0 0 0 0 b\n"),
		"r.dat": {9, 9, 9, 9, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0},
	}
	rec, err := ReadRecord("r.hea", MapOpener(files))
	if err != nil {
		t.Fatal(err)
	}
	a, b := rec.Signal.Channels[0].Samples, rec.Signal.Channels[1].Samples
	if len(a) != 3 || a[0] != 1 || a[1] != 3 || a[2] != 5 {
		t.Errorf("a: got %v, want [1 3 5]", a)
	}
	if len(b) != 3 || b[0] != 4 || b[1] != 6 || !signal.IsMissing(b[2]) {
		t.Errorf("b (skew 1): got %v, want [4 6 NaN]", b)
	}
}

// TestReadRecordErrors feeds broken records and checks that each error names
// the file, the place and what was expected.
func TestReadRecordErrors(t *testing.T) {
	good := "r 2 360 3\nr.dat 212 200 11 1024 0 %s 0 MLII\nr.dat 212 200 11 1024 0 0 0 V1\n"
	dat := []byte{0x00, 0x44, 0x00, 0x00, 0x44, 0x00, 0x00, 0x44, 0x00} // every sample 1024
	tests := []struct {
		name  string
		files map[string][]byte
		want  string
	}{
		{"ErrChecksum", map[string][]byte{"r.hea": []byte(strings.Replace(good, "%s", "7", 1)), "r.dat": dat},
			"r.dat: checksum mismatch for signal 0 (MLII): header r.hea line 2 expects 7, the samples sum to 3072"},
		{"ErrTruncatedData", map[string][]byte{"r.hea": []byte(strings.Replace(good, "%s", "3072", 1)), "r.dat": dat[:7]},
			"r.dat byte 7: file ends after 2 complete frames; the header r.hea announces 3 frames of 2 samples in format 212, which take 9 bytes"},
		{"ErrMissingFile", map[string][]byte{"r.hea": []byte(strings.Replace(good, "%s", "3072", 1))},
			"r.dat was not uploaded with the record"},
		{"ErrMissingHeader", map[string][]byte{}, "r.hea was not uploaded with the record"},
		{"ErrMixedFormats", map[string][]byte{"r.hea": []byte("r 2 360 3\nr.dat 212\nr.dat 16\n"), "r.dat": dat},
			"r.hea line 3: signal 1 is in r.dat with format 16, but signal 0 in the same file has format 212; one file holds one format"},
		{"ErrOffsetBeyondEnd", map[string][]byte{"r.hea": []byte("r 1 360 3\nr.dat 16+100\n"), "r.dat": dat},
			"r.dat byte 9: file ends before the byte offset 100 the header (line 2) gives"},
		{"ErrTooLong", map[string][]byte{"r.hea": []byte("r 1 360 99999999999\nr.dat 16\n"), "r.dat": dat},
			"r.dat: record holds more than 268435456 samples, more than this reader accepts"},
		{"ErrSegmentMissing", map[string][]byte{"r.hea": []byte("r/1 1 360 3\ns1 3\n")},
			"s1.hea was not uploaded with the record"},
		{"ErrNestedSegments", map[string][]byte{"r.hea": []byte("r/1 1 360 3\ns1 3\n"), "s1.hea": []byte("s1/1 1 360 3\ns2 3\n")},
			"r.hea line 2: segment s1 is itself a multi-segment record; segments must be single-segment"},
		{"ErrSegmentRate", map[string][]byte{"r.hea": []byte("r/1 1 360 3\ns1 3\n"), "s1.hea": []byte("s1 1 250 3\ns1.dat 16\n")},
			"s1.hea line 1: frame rate 250 differs from 360 of the master header r.hea"},
		{"ErrSegmentShort", map[string][]byte{"r.hea": []byte("r/1 1 360 5\ns1 5\n"), "s1.hea": []byte("s1 1 360 3\ns1.dat 16\n")},
			"s1.hea line 1: segment has 3 samples per signal; the master header r.hea (line 2) announces 5"},
		{"ErrOnlyGaps", map[string][]byte{"r.hea": []byte("r/1 1 360 3\n~ 3\n")},
			"r.hea: every segment is a gap (\"~\"); there is no signal to read"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadRecord("r.hea", MapOpener(tt.files))
			if err == nil {
				t.Fatalf("got no error, want %q", tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("got  %q\nwant %q", err, tt.want)
			}
		})
	}
	// The error type lets callers (the upload API) point at the place.
	_, err := ReadRecord("r.hea", MapOpener(map[string][]byte{"r.hea": []byte(strings.Replace(good, "%s", "7", 1)), "r.dat": dat}))
	var we *Error
	if !errors.As(err, &we) || we.File != "r.dat" {
		t.Errorf("got %#v, want a *wfdb.Error for r.dat", err)
	}
}

// TestDirectoryRelative checks that files named in a header are opened
// beside it.
func TestDirectoryRelative(t *testing.T) {
	rec, err := ReadRecord("testdata/041s.hea", func(name string) ([]byte, error) { return os.ReadFile(name) })
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Signal.Channels) != 7 {
		t.Fatalf("got %d channels", len(rec.Signal.Channels))
	}
}

func BenchmarkReadRecord100(b *testing.B) {
	data := map[string][]byte{}
	for _, f := range []string{"100s.hea", "100s.dat"} {
		data[f] = MustReadFile(b, "testdata/"+f)
	}
	open := MapOpener(data)
	b.SetBytes(int64(len(data["100s.dat"])))
	for b.Loop() {
		if _, err := ReadRecord("100s.hea", open); err != nil {
			b.Fatal(err)
		}
	}
}

// TestChecksumLow16Bits: a checksum is compared in its low 16 bits, as
// libwfdb does, so the unsigned sum wfdb-python writes (0–65535) and the
// signed one the C library writes are both accepted, and a wrong one is
// still refused.
func TestChecksumLow16Bits(t *testing.T) {
	dat := []byte{0x30, 0x75, 0x30, 0x75} // two samples of 30000: sum 60000, int16 -5536
	for _, tc := range []struct {
		name, sum, wantErr string
	}{
		{"Unsigned", "60000", ""},
		{"Signed", "-5536", ""},
		{"ErrWrong", "60001", "r.dat: checksum mismatch for signal 0 (ECG): header r.hea line 2 expects 60001, the samples sum to 60000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string][]byte{"r.hea": []byte("r 1 360 2\nr.dat 16 200 16 0 0 " + tc.sum + " 0 ECG\n"), "r.dat": dat}
			rec, err := ReadRecord("r.hea", MapOpener(files))
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("got %v, want %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s := rec.Signal.Channels[0].Samples; len(s) != 2 || s[0] != 150 {
				t.Errorf("got %v, want two samples of 150 mV", s)
			}
			if _, err := refReadRecord("r.hea", MapOpener(files)); err != nil {
				t.Errorf("reference reader: %v", err)
			}
		})
	}
}
