package formats

import (
	"os"
	"strings"
	"testing"

	"github.com/pulsegrid/pulsegrid/algorithms/signal"
)

const data = "../../../shared/data/"

// load reads files of ../shared/data as uploads named by their base names.
func load(tb testing.TB, dir string, names ...string) []File {
	tb.Helper()
	var fs []File
	for _, n := range names {
		b, err := os.ReadFile(data + dir + "/" + n)
		if err != nil {
			tb.Fatal(err)
		}
		fs = append(fs, File{Name: n, Data: b})
	}
	return fs
}

func rename(f File, name string) File { return File{Name: name, Data: f.Data} }

func TestRead(t *testing.T) {
	mit := load(t, "mitdb", "100.hea", "100.dat", "100.atr")
	seg := load(t, "vitals", "041s.hea", "041s01.hea", "041s01.dat", "041s02.hea", "041s02.dat")
	tests := []struct {
		name      string
		files     []File
		channels  []string
		rate      float64 // of the first channel
		anns      int
		annRate   float64
		firstCode int
	}{
		{"WFDBWithATR", mit, []string{"MLII", "V5"}, 360, 2274, 360, signal.CodeRhythm},
		{"WFDBWithQRS", []File{mit[0], mit[1], rename(mit[2], "100.qrs")}, []string{"MLII", "V5"}, 360, 2274, 360, signal.CodeRhythm},
		{"WFDBATRWinsOverQRS", []File{mit[0], mit[1], rename(mit[2], "100.qrs"), mit[2]}, []string{"MLII", "V5"}, 360, 2274, 360, signal.CodeRhythm},
		{"WFDBNoAnnotations", mit[:2], []string{"MLII", "V5"}, 360, 0, 0, 0},
		{"WFDBMultiSegment", seg, []string{"III", "I", "V", "ABP", "PAP", "PLETH", "RESP"}, 500, 0, 0, 0},
		{"WFDBMinuteLog", load(t, "vitals", "s25047-2704-05-04-10-44n.hea", "3234460n.dat"),
			[]string{"HR", "PULSE", "RESP", "SpO2", "NBPSys", "NBPDias", "NBPMean"}, 1.0 / 60, 0, 0, 0},
		{"EDF", load(t, "edf", "test_generator_2.edf"), []string{"squarewave", "ramp", "pulse", "ECG", "noise",
			"sine 1 Hz", "sine 8 Hz", "sine 8.5 Hz", "sine 15 Hz", "sine 17 Hz", "sine 50 Hz"}, 200, 2, 200, signal.CodeNote},
		{"EDFByMagicOnly", []File{rename(load(t, "edf", "test_generator_2.edf")[0], "recording.bin")}, []string{"squarewave", "ramp", "pulse", "ECG", "noise",
			"sine 1 Hz", "sine 8 Hz", "sine 8.5 Hz", "sine 15 Hz", "sine 17 Hz", "sine 50 Hz"}, 200, 2, 200, signal.CodeNote},
		{"CSV", []File{{Name: "vitals.CSV", Data: []byte("time,HR [bpm],SpO2 [%]\n0,70,98\n60,71,97\n")}}, []string{"HR", "SpO2"}, 1.0 / 60, 0, 0, 0},
		{"TXT", []File{{Name: "vitals.txt", Data: []byte("t;HR [bpm]\n0;70\n1;71\n")}}, []string{"HR"}, 1, 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, err := Read(tt.files)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, c := range rec.Signal.Channels {
				names = append(names, c.Name)
			}
			if strings.Join(names, ",") != strings.Join(tt.channels, ",") {
				t.Errorf("channels %q, want %q", names, tt.channels)
			}
			if got := rec.Signal.Channels[0].Rate; got != tt.rate {
				t.Errorf("rate %v, want %v", got, tt.rate)
			}
			if len(rec.Annotations) != tt.anns || rec.AnnotationRate != tt.annRate {
				t.Errorf("%d annotations at %v Hz, want %d at %v Hz", len(rec.Annotations), rec.AnnotationRate, tt.anns, tt.annRate)
			}
			if tt.anns > 0 && rec.Annotations[0].Code != tt.firstCode {
				t.Errorf("first annotation code %d, want %d", rec.Annotations[0].Code, tt.firstCode)
			}
			var want []string
			for _, f := range tt.files {
				want = append(want, f.Name)
			}
			if strings.Join(rec.Identity.FileNames, ",") != strings.Join(want, ",") {
				t.Errorf("file names %q, want %q", rec.Identity.FileNames, want)
			}
			if err := rec.Signal.Validate(); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestReadErrors(t *testing.T) {
	mit := load(t, "mitdb", "100.hea", "100.dat", "100.atr")
	other := load(t, "mitdb", "101.hea", "101.dat", "101.atr")
	csv := File{Name: "a.csv", Data: []byte("time,HR [bpm]\n0,1\n1,2\n")}
	tests := []struct {
		name  string
		files []File
		want  string
	}{
		{"ErrNoFiles", nil, "no files: expected a WFDB record (.hea + .dat), an .edf file or a .csv file"},
		{"ErrUnknownType", []File{{Name: "scan.xyz", Data: []byte("hello")}}, "scan.xyz: unknown file type .xyz: expected .hea+.dat, .edf or .csv"},
		{"ErrMissingDat", []File{mit[0]}, "record 100 needs 100.dat, which was not uploaded"},
		{"ErrMissingDatWithATR", []File{mit[0], mit[2]}, "record 100 needs 100.dat, which was not uploaded"},
		{"ErrNoHeader", []File{mit[1], mit[2]}, "no WFDB header among 100.dat, 100.atr"},
		{"ErrStrayDat", append(append([]File(nil), mit...), other[1]), "101.dat: uploaded, but record 100 does not use it"},
		{"ErrOtherRecordsATR", []File{mit[0], mit[1], other[2]}, "101.atr: not an annotation file of record 100"},
		{"ErrTwoRecords", append(append([]File(nil), mit...), other...), "several WFDB records (100.hea, 101.hea"},
		{"ErrMixed", []File{mit[0], mit[1], csv}, "files of different formats (100.hea and a.csv): upload one recording at a time"},
		{"ErrTwoCSV", []File{csv, rename(csv, "b.csv")}, "2 CSV files (a.csv, b.csv...)"},
		{"ErrTwice", []File{csv, csv}, "a.csv was uploaded twice"},
		{"ErrNoName", []File{{Data: []byte("x")}}, "a file has no name"},
		{"ErrEDFMagic", []File{{Name: "x.edf", Data: []byte("time,HR\n")}}, "x.edf: does not start with an EDF header"},
		{"ErrEDFReader", []File{{Name: "x.edf", Data: []byte("0       truncated")}}, "x.edf: file is 17 bytes, shorter than the 256-byte EDF header"},
		{"ErrCSVReader", []File{{Name: "x.csv", Data: []byte("time,HR\n0,abc\n")}}, `x.csv: line 2, column 2 (HR): "abc" is not a number`},
		{"ErrBadATR", []File{mit[0], mit[1], {Name: "100.atr", Data: []byte{1}}}, "100.atr byte 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Read(tt.files)
			if err == nil {
				t.Fatalf("got no error, want %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got  %q\nwant it to contain %q", err, tt.want)
			}
		})
	}
}

func TestDetect(t *testing.T) {
	for _, tt := range []struct {
		name string
		data string
		want Kind
	}{
		{"100.HEA", "", KindWFDB}, {"100.dat", "", KindWFDB}, {"100.atr", "", KindWFDB}, {"100.qrs", "", KindWFDB},
		{"signals", "", KindWFDB}, {"a.edf", "0       ", KindEDF}, {"a.BDF", "\xffBIOSEMI", KindEDF},
		{"a.csv", "", KindCSV}, {"a.txt", "", KindCSV},
	} {
		got, err := Detect(File{Name: tt.name, Data: []byte(tt.data)})
		if err != nil || got != tt.want {
			t.Errorf("Detect(%s) = %v, %v; want %v", tt.name, got, err, tt.want)
		}
	}
}

func FuzzRead(f *testing.F) {
	f.Add("x.csv", []byte("time,HR [bpm]\n0,1\n1,2\n"))
	f.Add("x.edf", []byte("0       "))
	f.Add("x.hea", []byte("x 1 250 10\nx.dat 16 200 16 0 0 0 0 ECG\n"))
	f.Fuzz(func(t *testing.T, name string, b []byte) {
		rec, err := Read([]File{{Name: name, Data: b}})
		if err == nil && len(rec.Identity.FileNames) != 1 {
			t.Fatalf("file names %v", rec.Identity.FileNames)
		}
	})
}
