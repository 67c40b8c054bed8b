package edf

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/pulsegrid/pulsegrid/algorithms/signal"
)

const dataDir = "../../../../shared/data/edf/"

// testSignal describes one signal of a synthetic EDF file.
type testSignal struct {
	label, unit        string
	physMin, physMax   float64
	digMin, digMax     int
	spr                int
	annotations        bool
	records            [][]int  // digital samples per record (ordinary signals)
	tals               []string // TAL bytes per record (annotation signals)
	physMinS, physMaxS string   // override the formatted physical limits
}

// testFile describes a synthetic EDF/BDF file.
type testFile struct {
	bdf                bool
	patient, recording string
	date, clock        string
	reserved           string
	records            int
	recordsField       string // override the number of data records field
	duration           string
	signals            []testSignal
	headerBytes        string // override
}

func pad(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s + strings.Repeat(" ", n-len(s))
}

// build writes f as an EDF (or BDF) file.
func (f testFile) build() []byte {
	var b bytes.Buffer
	if f.bdf {
		b.WriteString("\xffBIOSEMI")
	} else {
		b.WriteString(pad("0", 8))
	}
	b.WriteString(pad(f.patient, 80))
	b.WriteString(pad(f.recording, 80))
	date, clock := f.date, f.clock
	if date == "" {
		date, clock = "10.12.09", "12.44.02"
	}
	b.WriteString(pad(date, 8))
	b.WriteString(pad(clock, 8))
	hb := fmt.Sprint(256 * (len(f.signals) + 1))
	if f.headerBytes != "" {
		hb = f.headerBytes
	}
	b.WriteString(pad(hb, 8))
	b.WriteString(pad(f.reserved, 44))
	nr := fmt.Sprint(f.records)
	if f.recordsField != "" {
		nr = f.recordsField
	}
	b.WriteString(pad(nr, 8))
	b.WriteString(pad(f.duration, 8))
	b.WriteString(pad(fmt.Sprint(len(f.signals)), 4))
	each := func(n int, v func(s testSignal) string) {
		for _, s := range f.signals {
			b.WriteString(pad(v(s), n))
		}
	}
	each(16, func(s testSignal) string { return s.label })
	each(80, func(s testSignal) string { return "" })
	each(8, func(s testSignal) string { return s.unit })
	each(8, func(s testSignal) string {
		if s.physMinS != "" {
			return s.physMinS
		}
		return fmt.Sprint(s.physMin)
	})
	each(8, func(s testSignal) string {
		if s.physMaxS != "" {
			return s.physMaxS
		}
		return fmt.Sprint(s.physMax)
	})
	each(8, func(s testSignal) string { return fmt.Sprint(s.digMin) })
	each(8, func(s testSignal) string { return fmt.Sprint(s.digMax) })
	each(80, func(s testSignal) string { return "" })
	each(8, func(s testSignal) string { return fmt.Sprint(s.spr) })
	each(32, func(s testSignal) string { return "" })
	bps := 2
	if f.bdf {
		bps = 3
	}
	for r := 0; r < f.records; r++ {
		for _, s := range f.signals {
			if s.annotations {
				t := []byte(s.tals[r])
				t = append(t, make([]byte, s.spr*bps-len(t))...)
				b.Write(t)
				continue
			}
			for _, d := range s.records[r] {
				if f.bdf {
					b.Write([]byte{byte(d), byte(d >> 8), byte(d >> 16)})
				} else {
					b.Write(binary.LittleEndian.AppendUint16(nil, uint16(int16(d))))
				}
			}
		}
	}
	return b.Bytes()
}

// ann is an annotation signal of spr samples.
func ann(spr int, tals ...string) testSignal {
	return testSignal{label: "EDF Annotations", spr: spr, annotations: true, digMin: -32768, digMax: 32767, physMin: -1, physMax: 1, tals: tals}
}

// ecg is an ordinary signal with 1 µV per digital unit.
func ecg(spr int, records ...[]int) testSignal {
	return testSignal{label: "ECG", unit: "uV", physMin: -32768, physMax: 32767, digMin: -32768, digMax: 32767, spr: spr, records: records}
}

func TestReadSynthetic(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name     string
		file     testFile
		want     [][]float64 // samples per channel
		rates    []float64
		anns     []signal.Annotation
		annRate  float64
		identity signal.Identity
	}{
		{
			name: "PlainEDF",
			file: testFile{
				patient: "Jane Doe 1234", recording: "ward 7", duration: "0.5", records: 2,
				signals: []testSignal{
					ecg(2, []int{1, -2}, []int{3, 32767}),
					{label: "HR", unit: "bpm", physMin: 0, physMax: 300, digMin: 0, digMax: 3000, spr: 1, records: [][]int{{600}, {3000}}},
				},
			},
			want:     [][]float64{{1, -2, 3, 32767}, {60, 300}},
			rates:    []float64{4, 2},
			identity: signal.Identity{PatientID: "Jane Doe 1234", RecordedAt: "2009-12-10T12:44:02", Record: "x", FileNames: []string{"x.edf"}, Comments: []string{"recording: ward 7"}},
		},
		{
			name: "EDFPlusContinuous",
			file: testFile{
				patient: "MCH-0234567 F 02-MAY-1951 Haagse_Harry", recording: "Startdate 02-MAR-2002 PSG-1234/2002 NN Telemetry03",
				date: "02.03.02", clock: "14.05.00", reserved: "EDF+C", duration: "1", records: 2,
				signals: []testSignal{
					ecg(4, []int{1, 2, 3, 4}, []int{5, 6, 7, 8}),
					ann(30, "+0\x14\x14\x00+0.5\x151.25\x14Lights off\x14Apnea\x14\x00", "+1\x14\x14\x00+1.74\x14Arousal\x14\x00"),
				},
			},
			want:    [][]float64{{1, 2, 3, 4, 5, 6, 7, 8}},
			rates:   []float64{4},
			annRate: 4,
			anns: []signal.Annotation{
				{Sample: 2, Code: signal.CodeNote, Aux: "Lights off"},
				{Sample: 2, Code: signal.CodeNote, Aux: "Apnea"},
				{Sample: 7, Code: signal.CodeNote, Aux: "Arousal"},
			},
			identity: signal.Identity{PatientID: "MCH-0234567", Sex: "F", BirthDate: "1951-05-02", PatientName: "Haagse Harry",
				RecordedAt: "2002-03-02T14:05:00", Record: "x", FileNames: []string{"x.edf"}, Comments: []string{"recording: PSG-1234/2002 NN Telemetry03"}},
		},
		{
			name: "EDFPlusDiscontinuousGaps",
			file: testFile{
				patient: "X X X X", recording: "Startdate X X X X", date: "01.01.90", clock: "00.00.00",
				reserved: "EDF+D", duration: "1", records: 3,
				signals: []testSignal{
					ecg(2, []int{1, 2}, []int{3, 4}, []int{5, 6}),
					ann(20, "+10\x14\x14\x00", "+12\x14\x14\x00+12.5\x14Seizure\x14\x00", "+13\x14\x14\x00"),
				},
			},
			// Records at 10 s, 12 s and 13 s: sample 0 is 10 s, a 1 s gap after the first.
			want:     [][]float64{{1, 2, nan, nan, 3, 4, 5, 6}},
			rates:    []float64{2},
			annRate:  2,
			anns:     []signal.Annotation{{Sample: 5, Code: signal.CodeNote, Aux: "Seizure"}},
			identity: signal.Identity{RecordedAt: "1990-01-01T00:00:00", Record: "x", FileNames: []string{"x.edf"}},
		},
		{
			name: "BDF24Bit",
			file: testFile{
				bdf: true, reserved: "24BIT", duration: "1", records: 1, date: "xx.yy.zz", clock: "bad",
				signals: []testSignal{{label: "EEG", unit: "uV", physMinS: "-8388608", physMaxS: "8388607", digMin: -8388608, digMax: 8388607, spr: 3,
					records: [][]int{{-8388608, 8388607, -1}}}},
			},
			want:     [][]float64{{-8388608, 8388607, -1}},
			rates:    []float64{3},
			identity: signal.Identity{RecordedAt: "xx.yy.zz bad", Record: "x", FileNames: []string{"x.edf"}},
		},
		{
			name: "UnknownRecordCount",
			file: testFile{recordsField: "-1", records: 3, duration: "1", signals: []testSignal{ecg(1, []int{7}, []int{8}, []int{9})}},
			want: [][]float64{{7, 8, 9}}, rates: []float64{1},
			identity: signal.Identity{RecordedAt: "2009-12-10T12:44:02", Record: "x", FileNames: []string{"x.edf"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, err := Read("x.edf", tt.file.build())
			if err != nil {
				t.Fatal(err)
			}
			if got := len(rec.Signal.Channels); got != len(tt.want) {
				t.Fatalf("got %d channels, want %d", got, len(tt.want))
			}
			for i, c := range rec.Signal.Channels {
				if c.Rate != tt.rates[i] {
					t.Errorf("channel %d: rate %v, want %v", i, c.Rate, tt.rates[i])
				}
				if !sameSamples(c.Samples, tt.want[i]) {
					t.Errorf("channel %d: samples %v, want %v", i, c.Samples, tt.want[i])
				}
			}
			if fmt.Sprint(rec.Annotations) != fmt.Sprint(tt.anns) {
				t.Errorf("annotations %v, want %v", rec.Annotations, tt.anns)
			}
			if rec.AnnotationRate != tt.annRate {
				t.Errorf("annotation rate %v, want %v", rec.AnnotationRate, tt.annRate)
			}
			if fmt.Sprintf("%+v", rec.Identity) != fmt.Sprintf("%+v", tt.identity) {
				t.Errorf("identity\n got %+v\nwant %+v", rec.Identity, tt.identity)
			}
		})
	}
}

func sameSamples(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] && !(math.IsNaN(a[i]) && math.IsNaN(b[i])) {
			return false
		}
	}
	return true
}

func TestReadErrors(t *testing.T) {
	good := testFile{duration: "1", records: 1, signals: []testSignal{ecg(2, []int{1, 2})}}
	goodPlus := testFile{reserved: "EDF+C", duration: "1", records: 1, signals: []testSignal{ecg(2, []int{1, 2}), ann(10, "+0\x14\x14\x00")}}
	with := func(f testFile, change func(f *testFile)) []byte {
		f.signals = append([]testSignal(nil), f.signals...)
		change(&f)
		return f.build()
	}
	withTAL := func(tal string) []byte {
		return with(goodPlus, func(f *testFile) { f.signals[1] = ann(10, tal) })
	}
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"ErrShort", []byte("0       "), "shorter than the 256-byte EDF header"},
		{"ErrVersion", append([]byte("1       "), good.build()[8:]...), `version field is "1       "`},
		{"ErrHeaderBytes", with(good, func(f *testFile) { f.headerBytes = "1024" }), "header size is 1024 bytes, expected 256 × (1 signals + 1) = 512"},
		{"ErrRecordsNotNumber", with(good, func(f *testFile) { f.recordsField = "many" }), `byte 236: number of data records: "many" is not an integer`},
		{"ErrTruncated", good.build()[:513], "file is truncated: header promises 1 data records of 4 bytes"},
		{"ErrHeaderTruncated", good.build()[:300], "shorter than its 512-byte header"},
		{"ErrPhysicalMin", with(good, func(f *testFile) { f.signals[0].physMinS = "abc" }), `signal 1 ("ECG"): physical minimum: "abc" is not a finite decimal number`},
		{"ErrDigitalRange", with(good, func(f *testFile) { f.signals[0].digMin = 40000 }), "digital minimum 40000 and maximum 32767"},
		{"ErrPhysicalEqual", with(good, func(f *testFile) { f.signals[0].physMin = 32767 }), "physical minimum equals physical maximum"},
		{"ErrZeroDuration", with(good, func(f *testFile) { f.duration = "0" }), "duration of a data record is 0"},
		{"ErrNoTimekeeping", withTAL("+0\x14Hello\x14\x00"), "must be its time-keeping annotation"},
		{"ErrEmptyAnnotations", withTAL(""), "no time-keeping annotation"},
		{"ErrOnsetSign", withTAL("0\x14\x14\x00"), `onset "0" must start with + or -`},
		{"ErrOnsetNumber", withTAL("+1e3\x14\x14\x00"), `annotation onset "+1e3": expected digits`},
		{"ErrDuration", withTAL("+0\x14\x14\x00+1\x15x\x14A\x14\x00"), `annotation duration "x"`},
		{"ErrUnterminatedText", withTAL("+0\x14\x14\x00+1\x14A\x00"), "texts must each end with 0x14"},
		{"ErrNoZero", withTAL("+0\x14\x14\x00+1\x14AAAAAAAAAAA\x14"), "not terminated by a 0 byte"},
		{"ErrOverlap", with(goodPlus, func(f *testFile) {
			f.reserved, f.records = "EDF+D", 2
			f.signals[0].records = [][]int{{1, 2}, {3, 4}}
			f.signals[1] = ann(10, "+5\x14\x14\x00", "+5.5\x14\x14\x00")
		}), "data record 1 starts at 5.5s, before the end of record 0"},
		{"ErrHugeGap", with(goodPlus, func(f *testFile) {
			f.reserved, f.records = "EDF+D", 2
			f.signals[0].records = [][]int{{1, 2}, {3, 4}}
			f.signals[1] = ann(10, "+0\x14\x14\x00", "+99999999\x14\x14\x00")
		}), "which would make the signal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Read("bad.edf", tt.data)
			if err == nil {
				t.Fatalf("got no error, want one containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "bad.edf: ") {
				t.Errorf("got error %q, want it to start with the file name and contain %q", err, tt.want)
			}
		})
	}
}

// TestGeneratorMatchesWFDB reads test_generator_2.edf and its WFDB twin
// (test_generator_2.hea/.dat, format 16) and compares every signal.
//
// The two scalings differ by half a quantization step: EDF maps digital
// [-32768, 32767] linearly onto physical [-1000, 1000] µV, which puts
// digital 0 at +0.01526 µV, while the WFDB header has gain 32.7675/µV with
// baseline 0, which puts it at exactly 0. So each value may differ by up to
// one quantization step, 1/gain = 0.0305 µV, and no more.
func TestGeneratorMatchesWFDB(t *testing.T) {
	edfData, err := os.ReadFile(dataDir + "test_generator_2.edf")
	if err != nil {
		t.Fatal(err)
	}
	rec, err := Read("test_generator_2.edf", edfData)
	if err != nil {
		t.Fatal(err)
	}
	twin := readWFDBTwin(t)
	compared := 0
	for _, w := range twin.Signal.Channels {
		if w.Name == "EDF Annotations" {
			continue
		}
		i := rec.Signal.Channel(w.Name)
		if i < 0 {
			t.Errorf("EDF has no channel %q", w.Name)
			continue
		}
		e := rec.Signal.Channels[i]
		if e.Rate != w.Rate || len(e.Samples) != len(w.Samples) || e.Gain != w.Gain {
			t.Errorf("%s: EDF rate %v, %d samples, gain %v; WFDB rate %v, %d samples, gain %v",
				w.Name, e.Rate, len(e.Samples), e.Gain, w.Rate, len(w.Samples), w.Gain)
			continue
		}
		step := 1 / w.Gain
		worst := 0.0
		for j := range w.Samples {
			d := math.Abs(e.Samples[j] - w.Samples[j])
			worst = math.Max(worst, d)
			if d > step {
				t.Fatalf("%s sample %d: EDF %v, WFDB %v, differ by %v > one step %v", w.Name, j, e.Samples[j], w.Samples[j], d, step)
			}
		}
		t.Logf("%s: %d samples, largest difference %.6f µV (step %.6f)", w.Name, len(w.Samples), worst, step)
		compared++
	}
	if compared != 11 {
		t.Errorf("compared %d signals, want 11", compared)
	}
	want := []signal.Annotation{{Sample: 0, Code: signal.CodeNote, Aux: "RECORD START"}, {Sample: 120000, Code: signal.CodeNote, Aux: "REC STOP"}}
	if fmt.Sprint(rec.Annotations) != fmt.Sprint(want) || rec.AnnotationRate != 200 {
		t.Errorf("annotations %v at %v Hz, want %v at 200 Hz", rec.Annotations, rec.AnnotationRate, want)
	}
	if rec.Identity.RecordedAt != "2009-12-10T12:44:02" {
		t.Errorf("recorded at %q, want 2009-12-10T12:44:02", rec.Identity.RecordedAt)
	}
}

func TestAnnotationFile(t *testing.T) {
	data, err := os.ReadFile(dataDir + "test_edfann.edf")
	if err != nil {
		t.Fatal(err)
	}
	f, err := Decode("test_edfann.edf", data)
	if err != nil {
		t.Fatal(err)
	}
	rec := f.Recording
	if len(rec.Signal.Channels) != 0 {
		t.Errorf("got %d signal channels, want 0 (the file holds annotations only)", len(rec.Signal.Channels))
	}
	if len(rec.Annotations) != 856 || len(f.TALs) != 856 {
		t.Fatalf("got %d annotations from %d TALs, want 856", len(rec.Annotations), len(f.TALs))
	}
	if rec.AnnotationRate != 1000 {
		t.Errorf("annotation rate %v, want 1000 (milliseconds, no signal channel)", rec.AnnotationRate)
	}
	for i, want := range []signal.Annotation{
		{Sample: 0, Code: signal.CodeNote, Aux: "Sleep stage W"},
		{Sample: 30000, Code: signal.CodeNote, Aux: "Sleep stage W"},
		{Sample: 33430, Code: signal.CodeNote, Aux: "Lights off@@EEG F4-A1"},
		{Sample: 60000, Code: signal.CodeNote, Aux: "Sleep stage W"},
	} {
		if rec.Annotations[i] != want {
			t.Errorf("annotation %d: got %+v, want %+v", i, rec.Annotations[i], want)
		}
	}
	if tal := f.TALs[1]; !tal.HasDuration || tal.Duration != 30 || tal.Onset != 30 {
		t.Errorf("TAL 1: got %+v, want onset 30 s, duration 30 s", tal)
	}
	if tal := f.TALs[2]; !tal.HasDuration || tal.Duration != 0 || tal.Onset != 33.43 {
		t.Errorf("TAL 2: got %+v, want onset 33.43 s, duration 0 s", tal)
	}
	counts := map[string]int{}
	for _, a := range rec.Annotations {
		counts[a.Aux]++
	}
	if counts["Sleep stage W"] == 0 || counts["Sleep stage N1"] == 0 || counts["Sleep stage N2"] == 0 {
		t.Errorf("annotation texts %v lack sleep stages", counts)
	}
	id := rec.Identity
	if id.PatientID != "SN001" || id.RecordedAt != "2001-01-01T23:59:30" || id.Record != "test_edfann" {
		t.Errorf("identity %+v, want patient SN001 recorded 2001-01-01T23:59:30", id)
	}
}

func FuzzRead(f *testing.F) {
	defer func(m int64) { maxSamples = m }(maxSamples)
	maxSamples = 1 << 16
	f.Add(testFile{duration: "1", records: 2, signals: []testSignal{ecg(2, []int{1, 2}, []int{3, 4})}}.build())
	f.Add(testFile{reserved: "EDF+D", duration: "1", records: 2, signals: []testSignal{
		ecg(2, []int{1, 2}, []int{3, 4}), ann(12, "+0\x14\x14\x00", "+3\x14\x14\x00+3.5\x151\x14A\x14B\x14\x00")}}.build())
	f.Add(testFile{bdf: true, duration: "1", records: 1, signals: []testSignal{ecg(2, []int{1, 2})}}.build())
	if b, err := os.ReadFile(dataDir + "test_edfann.edf"); err == nil {
		f.Add(b[:1024])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rec, err := Read("fuzz.edf", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.edf: ") {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		for _, c := range rec.Signal.Channels {
			if !(c.Rate > 0) {
				t.Fatalf("channel %q has rate %v", c.Name, c.Rate)
			}
		}
	})
}

func BenchmarkRead(b *testing.B) {
	data, err := os.ReadFile(dataDir + "test_generator_2.edf")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Read("test_generator_2.edf", data); err != nil {
			b.Fatal(err)
		}
	}
}
