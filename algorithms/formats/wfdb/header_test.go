package wfdb

import (
	"reflect"
	"testing"
)

func TestParseHeader(t *testing.T) {
	t.Run("MinuteLog", func(t *testing.T) {
		h, err := ParseHeader("s.hea", []byte("s00001-2896-10-10-00-31n 2 0.0166666666667/125 1936    31:25.894 10/10/2896\n"+
			"3975656n.dat 16 10/bpm 16 0 0 15872 0 HR\n3975656n.dat 16 1/mmHg 16 0 -32768 20012 0 NBPSys\n# <age>: 60 <sex>: F\n"))
		if err != nil {
			t.Fatal(err)
		}
		if h.Frequency != 1.0/60 || h.CounterFrequency != 125 || h.NumSamples != 1936 {
			t.Errorf("got frequency %v/%v, %d samples; want 1/60 exactly, 125, 1936", h.Frequency, h.CounterFrequency, h.NumSamples)
		}
		if h.BaseTime != "31:25.894" || h.BaseDate != "10/10/2896" || h.RecordedAt() != "2896-10-10T00:31:25.894" {
			t.Errorf("got time %q date %q → %q", h.BaseTime, h.BaseDate, h.RecordedAt())
		}
		want := SignalSpec{File: "3975656n.dat", Format: 16, SamplesPerFrame: 1, Gain: 1, Baseline: 0, Units: "mmHg",
			ADCResolution: 16, ADCZero: 0, InitValue: -32768, Checksum: 20012, HasChecksum: true, Description: "NBPSys", Line: 3}
		if !reflect.DeepEqual(h.Signals[1], want) {
			t.Errorf("signal 1:\ngot  %+v\nwant %+v", h.Signals[1], want)
		}
		if !reflect.DeepEqual(h.Comments, []string{"<age>: 60 <sex>: F"}) {
			t.Errorf("comments: got %q", h.Comments)
		}
	})
	t.Run("FullFormatField", func(t *testing.T) {
		h, err := ParseHeader("r.hea", []byte("r 1 360/1000(42) 10\r\nr.dat 212x4:3+512 20(-1600)/mmHg 12 5 6 7 8  ABP  pressure \r\n"))
		if err != nil {
			t.Fatal(err)
		}
		want := SignalSpec{File: "r.dat", Format: 212, SamplesPerFrame: 4, Skew: 3, ByteOffset: 512, Gain: 20, Baseline: -1600,
			Units: "mmHg", ADCResolution: 12, ADCZero: 5, InitValue: 6, Checksum: 7, HasChecksum: true, BlockSize: 8, Description: "ABP  pressure", Line: 2}
		if !reflect.DeepEqual(h.Signals[0], want) {
			t.Errorf("got  %+v\nwant %+v", h.Signals[0], want)
		}
		if h.CounterFrequency != 1000 || h.BaseCounter != 42 {
			t.Errorf("counter: got %v(%v)", h.CounterFrequency, h.BaseCounter)
		}
	})
	t.Run("Defaults", func(t *testing.T) {
		h, err := ParseHeader("r.hea", []byte("r 2\nr.dat 16\nr.dat 80 0 8 100\n"))
		if err != nil {
			t.Fatal(err)
		}
		if h.Frequency != DefaultFrequency || h.NumSamples != 0 {
			t.Errorf("got %v Hz, %d samples", h.Frequency, h.NumSamples)
		}
		s0 := SignalSpec{File: "r.dat", Format: 16, SamplesPerFrame: 1, Units: "mV", ADCResolution: 16, Description: "record r, signal 0", Line: 2}
		// ADC zero 100 becomes the baseline and the initial value; gain 0 is "uncalibrated".
		s1 := SignalSpec{File: "r.dat", Format: 80, SamplesPerFrame: 1, Units: "mV", ADCResolution: 8, ADCZero: 100, Baseline: 100, InitValue: 100, Description: "record r, signal 1", Line: 3}
		if !reflect.DeepEqual(h.Signals, []SignalSpec{s0, s1}) {
			t.Errorf("got  %+v\nwant %+v", h.Signals, []SignalSpec{s0, s1})
		}
		if g := h.Signals[1].physGain(); g != DefaultGain {
			t.Errorf("uncalibrated gain: got %v, want %v", g, DefaultGain)
		}
	})
	t.Run("MultiSegment", func(t *testing.T) {
		h, err := ParseHeader("m.hea", []byte("# leading comment\nm/3 2 125 3000 8:26:04\nm_layout 0\nm01 1000\n~ 2000\n#trailing\n"))
		if err != nil {
			t.Fatal(err)
		}
		want := []Segment{{"m_layout", 0, 3}, {"m01", 1000, 4}, {"~", 2000, 5}}
		if h.NumSegments != 3 || !reflect.DeepEqual(h.Segments, want) {
			t.Errorf("got %d %+v", h.NumSegments, h.Segments)
		}
		if h.RecordedAt() != "08:26:04" || !reflect.DeepEqual(h.Comments, []string{"leading comment", "trailing"}) {
			t.Errorf("got %q %q", h.RecordedAt(), h.Comments)
		}
	})
	t.Run("Latin1Units", func(t *testing.T) {
		h, err := ParseHeader("r.hea", []byte("r 1 200\nr.dat 16 32.7/\xb5V 15 0 0 0 0 sine\n"))
		if err != nil {
			t.Fatal(err)
		}
		if h.Signals[0].Units != "µV" {
			t.Errorf("got %q, want µV", h.Signals[0].Units)
		}
	})
}

// TestParseHeaderErrors is the corpus of malformed headers and the message
// each must give.
func TestParseHeaderErrors(t *testing.T) {
	tests := []struct{ name, text, want string }{
		{"ErrEmpty", "", `r.hea: empty header file; expected a record line such as "100 2 360 650000"`},
		{"ErrOnlyComments", "# a\n\n# b\n", `r.hea: no record line; expected a line such as "100 2 360 650000"`},
		{"ErrNumSignals", "r x 360\n", `r.hea line 1: number of signals "x": expected a whole number from 0 to 4096`},
		{"ErrNegativeSignals", "r -1 360\n", `r.hea line 1: number of signals "-1": expected a whole number from 0 to 4096`},
		{"ErrFrequency", "r 1 fast\n", `r.hea line 1: sampling frequency "fast": expected a positive number of frames per second`},
		{"ErrZeroFrequency", "r 1 0\n", `r.hea line 1: sampling frequency "0": expected a positive number of frames per second`},
		{"ErrCounterFrequency", "r 1 360/x\n", `r.hea line 1: sampling frequency "360/x": counter frequency "x": expected a positive number`},
		{"ErrBaseCounter", "r 1 360/10(5\n", `r.hea line 1: sampling frequency "360/10(5": base counter value: expected a number in parentheses`},
		{"ErrNumSamples", "r 1 360 -5\n", `r.hea line 1: number of samples per signal "-5": expected a whole number ≥ 0`},
		{"ErrBaseTime", "r 1 360 10 25:99:00\n", `r.hea line 1: base time "25:99:00": expected hh:mm:ss[.sss] or mm:ss`},
		{"ErrBaseDate", "r 1 360 10 10:00:00 32/13/2000\n", `r.hea line 1: base date "32/13/2000": expected dd/mm/yyyy`},
		{"ErrTrailingField", "r 1 360 10 10:00:00 01/01/2000 extra\n", `r.hea line 1: unexpected field "extra" after the number of samples; expected a base time (hh:mm:ss) and date (dd/mm/yyyy)`},
		{"ErrRecordName", "../r 1 360\n", `r.hea line 1: record name "../r": expected NAME/NSEG with a positive number of segments`},
		{"ErrSegments", "r/0 1 360\n", `r.hea line 1: record name "r/0": expected NAME/NSEG with a positive number of segments`},
		{"ErrTooFewSignals", "r 2 360 10\nr.dat 16\n", `r.hea line 2: header ends after 1 signal lines; the record line announces 2`},
		{"ErrTooFewSegments", "r/2 1 360 10\ns1 10\n", `r.hea line 2: header ends after 1 segment lines; the record line announces 2`},
		{"ErrSignalLine", "r 1 360\nr.dat\n", `r.hea line 2: signal 0: expected at least a file name and a format, got "r.dat"`},
		{"ErrFormat", "r 1 360\nr.dat 999\n", `r.hea line 2: signal 0 format "999": format 999 is not supported (supported: 0, 8, 16, 61, 80, 160, 212, 310, 311)`},
		{"ErrFormatText", "r 1 360\nr.dat abc\n", `r.hea line 2: signal 0 format "abc": expected a format number such as 212 or 16`},
		{"ErrSamplesPerFrame", "r 1 360\nr.dat 212x0\n", `r.hea line 2: signal 0 format "212x0": samples per frame 0: expected 1 to 65536`},
		{"ErrSkew", "r 1 360\nr.dat 212:x\n", `r.hea line 2: signal 0 format "212:x": "" after ':': expected a whole number ≥ 0`},
		{"ErrGain", "r 1 360\nr.dat 212 abc/mV\n", `r.hea line 2: signal 0 gain "abc/mV": expected a gain ≥ 0 in ADC units per physical unit, as in 200(1024)/mV`},
		{"ErrNegativeGain", "r 1 360\nr.dat 212 -2\n", `r.hea line 2: signal 0 gain "-2": expected a gain ≥ 0 in ADC units per physical unit, as in 200(1024)/mV`},
		{"ErrBaseline", "r 1 360\nr.dat 212 200(x)/mV\n", `r.hea line 2: signal 0 gain "200(x)/mV": baseline "x": expected a whole number`},
		{"ErrBaselineParen", "r 1 360\nr.dat 212 200(5/mV\n", `r.hea line 2: signal 0 gain "200(5/mV": expected the baseline in parentheses, as in 200(1024)/mV`},
		{"ErrUnits", "r 1 360\nr.dat 212 200/\n", `r.hea line 2: signal 0 gain "200/": expected units after '/'`},
		{"ErrADCZero", "r 1 360\nr.dat 212 200 12 z\n", `r.hea line 2: signal 0 ADC zero "z": expected a whole number`},
		{"ErrChecksum", "r 1 360\nr.dat 212 200 12 0 0 1.5\n", `r.hea line 2: signal 0 checksum "1.5": expected a whole number`},
		{"ErrBlockSize", "r 1 360\nr.dat 212 200 12 0 0 0 -1\n", `r.hea line 2: signal 0 block size -1: expected ≥ 0`},
		{"ErrStdin", "r 1 360\n- 212\n", `r.hea line 2: signal 0: file "-" (standard input) cannot be read here; upload the signal file`},
		{"ErrSegmentLine", "r/1 1 360\ns1\n", `r.hea line 2: segment line "s1": expected a segment record name and its number of samples`},
		{"ErrSegmentSamples", "r/1 1 360\ns1 many\n", `r.hea line 2: segment "s1": number of samples "many" is not a whole number ≥ 0`},
		{"ErrSegmentName", "r/1 1 360\n../s1 10\n", `r.hea line 2: segment name "../s1": expected a plain name without directories`},
		{"ErrEmptySegment", "r/2 1 360\ns1 10\ns2 0\n", `r.hea line 3: segment "s2" has 0 samples; only the first (layout) segment may`},
		{"ErrEmptyGap", "r/1 1 360\n~ 0\n", `r.hea line 2: null segment "~" with 0 samples`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseHeader("r.hea", []byte(tt.text))
			if err == nil {
				t.Fatalf("got no error, want %q", tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("got  %q\nwant %q", err, tt.want)
			}
		})
	}
}

func FuzzParseHeader(f *testing.F) {
	for _, s := range []string{
		"100 2 360 650000\n100.dat 212 200 11 1024 995 -22131 0 MLII\n100.dat 212 200 11 1024 1011 20052 0 V5\n# 69 M\n",
		"041s/2 7 125 2000 8:26:04 26/10/1994\n041s01 1000\n041s02 1000\n",
		"s 1 0.0166666666667/125 1936    31:25.894 10/10/2896\n3975656n.dat 16 10/bpm 16 0 0 15872 0 HR\n",
		"r 1 360/1000(42) 10\r\nr.dat 212x4:3+512 20(-1600)/mmHg 12 5 6 7 8 ABP\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := ParseHeader("f.hea", data)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error %v is not a *wfdb.Error", err)
			}
			return
		}
		if h.NumSegments > 0 && len(h.Segments) != h.NumSegments || h.NumSegments == 0 && len(h.Signals) != h.NumSignals {
			t.Fatalf("parsed %d signals, %d segments for a header announcing %d, %d", len(h.Signals), len(h.Segments), h.NumSignals, h.NumSegments)
		}
		if !(h.Frequency > 0) {
			t.Fatalf("frequency %v", h.Frequency)
		}
		for _, s := range h.Signals {
			if s.SamplesPerFrame < 1 || s.physGain() <= 0 {
				t.Fatalf("signal %+v", s)
			}
		}
		_ = h.RecordedAt()
	})
}
