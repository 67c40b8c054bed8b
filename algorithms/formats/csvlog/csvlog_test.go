package csvlog

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/pulsegrid/pulsegrid/algorithms/signal"
)

func TestRead(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name       string
		in         string
		opt        Options
		names      []string
		units      []string
		rate       float64
		samples    [][]float64
		recordedAt string
		dropped    []int
	}{
		{
			name:  "Seconds",
			in:    "time,HR [bpm],SpO2 [%]\n0,72,98\n1,73,97\n2,74,96\n",
			names: []string{"HR", "SpO2"}, units: []string{"bpm", "%"}, rate: 1,
			samples: [][]float64{{72, 73, 74}, {98, 97, 96}},
		},
		{
			name:  "MissingMarkers",
			in:    "t,HR [bpm],ABP [mmHg]\n0,,NA\n60,NaN,-\n120,n/a,90.5\n180,80,na\n",
			names: []string{"HR", "ABP"}, units: []string{"bpm", "mmHg"}, rate: 1.0 / 60,
			samples: [][]float64{{nan, nan, nan, 80}, {nan, nan, 90.5, nan}},
		},
		{
			name:  "GapBecomesMissing",
			in:    "time [s],HR [bpm]\n0,70\n1,71\n2,72\n5,75\n6,76\n",
			names: []string{"HR"}, units: []string{"bpm"}, rate: 1,
			samples: [][]float64{{70, 71, 72, nan, nan, 75, 76}},
		},
		{
			name:  "SemicolonDecimalComma",
			in:    "\xef\xbb\xbf# exported by monitor X\nTime;Temp [°C];HR\n0;36,6;70\n0,5;36,7;71\n1;36,8;72\n",
			names: []string{"Temp", "HR"}, units: []string{"°C", ""}, rate: 2,
			samples: [][]float64{{36.6, 36.7, 36.8}, {70, 71, 72}},
		},
		{
			name:  "Milliseconds",
			in:    "time [ms],ECG [mV]\n0,0.1\n4,0.2\n8,0.3\n",
			names: []string{"ECG"}, units: []string{"mV"}, rate: 250,
			samples: [][]float64{{0.1, 0.2, 0.3}},
		},
		{
			name:  "FewDecimals360Hz",
			in:    "time,ECG [mV]\n0,1\n0.002778,2\n0.005556,3\n0.008333,4\n0.011111,5\n",
			names: []string{"ECG"}, units: []string{"mV"}, rate: 360,
			samples: [][]float64{{1, 2, 3, 4, 5}},
		},
		{
			name:  "ISODateTimes",
			in:    "timestamp,HR [bpm]\n2024-03-01T08:00:00Z,70\n2024-03-01T08:01:00Z,71\n2024-03-01T08:03:00Z,73\n2024-03-01T09:04:00+01:00,74\n",
			names: []string{"HR"}, units: []string{"bpm"}, rate: 1.0 / 60,
			samples:    [][]float64{{70, 71, nan, 73, 74}},
			recordedAt: "2024-03-01T08:00:00Z",
		},
		{
			name:  "ISOSpaceNoZoneFraction",
			in:    "time,HR [bpm]\n2024-03-01 08:00:00.5,70\n2024-03-01 08:00:01.5,71\n",
			names: []string{"HR"}, units: []string{"bpm"}, rate: 1,
			samples:    [][]float64{{70, 71}},
			recordedAt: "2024-03-01T08:00:00.5",
		},
		{
			name:  "DuplicatesDropped",
			in:    "time,HR [bpm]\n0,70\n1,71\n1,99\n2,72\n",
			names: []string{"HR"}, units: []string{"bpm"}, rate: 1,
			samples: [][]float64{{70, 71, 72}},
			dropped: []int{4},
		},
		{
			name:  "JitterOnOneSampleDropped",
			in:    "time,HR [bpm]\n0,70\n1,71\n2,72\n2.9,73\n3.1,74\n4,75\n",
			names: []string{"HR"}, units: []string{"bpm"}, rate: 1,
			samples: [][]float64{{70, 71, 72, 73, 75}},
			dropped: []int{6},
		},
		{
			name:  "QuotedAndCRLF",
			in:    "\"time\",\"BP, mean [mmHg]\"\r\n0,\"80\"\r\n2,82\r\n",
			names: []string{"BP, mean"}, units: []string{"mmHg"}, rate: 0.5,
			samples: [][]float64{{80, 82}},
		},
		{
			name:  "SingleRowWithRate",
			in:    "time,HR [bpm]\n10,70\n",
			opt:   Options{Rate: 1},
			names: []string{"HR"}, units: []string{"bpm"}, rate: 1,
			samples: [][]float64{{70}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var dropped []int
			opt := tt.opt
			opt.OnDrop = func(line int, _ string) { dropped = append(dropped, line) }
			rec, err := Read("log.csv", []byte(tt.in), opt)
			if err != nil {
				t.Fatal(err)
			}
			chs := rec.Signal.Channels
			if len(chs) != len(tt.names) {
				t.Fatalf("got %d channels, want %d", len(chs), len(tt.names))
			}
			for i, c := range chs {
				if c.Name != tt.names[i] || c.Unit != tt.units[i] {
					t.Errorf("channel %d: got %q [%s], want %q [%s]", i, c.Name, c.Unit, tt.names[i], tt.units[i])
				}
				if c.Rate != tt.rate {
					t.Errorf("channel %d: rate %v, want %v", i, c.Rate, tt.rate)
				}
				if fmt.Sprint(c.Samples) != fmt.Sprint(tt.samples[i]) {
					t.Errorf("channel %d: samples %v, want %v", i, c.Samples, tt.samples[i])
				}
			}
			if rec.Identity.RecordedAt != tt.recordedAt {
				t.Errorf("recorded at %q, want %q", rec.Identity.RecordedAt, tt.recordedAt)
			}
			if fmt.Sprint(dropped) != fmt.Sprint(tt.dropped) {
				t.Errorf("dropped lines %v, want %v", dropped, tt.dropped)
			}
			if rec.Identity.Record != "log" || len(rec.Identity.FileNames) != 1 {
				t.Errorf("identity %+v, want record log and its file name", rec.Identity)
			}
			if err := rec.Signal.Validate(); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestReadErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		opt  Options
		want string
	}{
		{"ErrEmpty", "", Options{}, "log.csv: file is empty"},
		{"ErrOnlyComments", "# nothing\n", Options{}, "log.csv: file is empty"},
		{"ErrNoTimeColumn", "when,HR [bpm]\n0,1\n", Options{}, "log.csv: line 1: header has no time column: expected a column named time, t or timestamp"},
		{"ErrNoChannel", "time\n0\n", Options{}, "line 1: header has no channel column"},
		{"ErrTimeUnit", "time [days],HR\n0,1\n", Options{}, `line 1, column 1 (time [days]): time unit "days"`},
		{"ErrBadBrackets", "time,HR [bpm\n0,1\n", Options{}, `line 1, column 2 (HR [bpm): header "HR [bpm"`},
		{"ErrEmptyName", "time, [bpm]\n0,1\n", Options{}, "line 1, column 2: column has no name"},
		{"ErrDuplicateColumn", "time,HR [bpm],hr [/min]\n0,1,2\n", Options{}, `line 1, column 3 (hr [/min]): column name "hr" repeats column 2`},
		{"ErrTwoTimes", "time,t,HR\n0,0,1\n", Options{}, "column 2 (t): second time column"},
		{"ErrNoRows", "time,HR [bpm]\n", Options{}, "line 1: no data rows after the header"},
		{"ErrNotANumber", "time,HR [bpm]\n0,70\n1,seventy\n", Options{}, `log.csv: line 3, column 2 (HR [bpm]): "seventy" is not a number: expected a number, or blank, NA, NaN or - for a missing value`},
		{"ErrInfinity", "time,HR [bpm]\n0,70\n1,Inf\n", Options{}, `line 3, column 2 (HR [bpm]): "Inf" is not a number`},
		{"ErrEmptyTime", "time,HR [bpm]\n0,70\n,71\n", Options{}, "line 3, column 1 (time): time is empty"},
		{"ErrTimeNotNumber", "time,HR [bpm]\n0,70\nabc,71\n", Options{}, `line 3, column 1 (time): "abc" is not a time`},
		{"ErrMixedISO", "time,HR [bpm]\n2024-03-01T08:00:00Z,70\n60,71\n", Options{}, `line 3, column 1 (time): "60" is not an ISO-8601 date-time`},
		{"ErrNonMonotonic", "time,HR [bpm]\n0,70\n1,71\n# note\n0.5,72\n", Options{}, "log.csv: line 5, column 1 (time): time 0.5 is earlier than the time on line 3: rows must be in time order"},
		{"ErrDuplicateRejected", "time,HR [bpm]\n0,70\n1,71\n1,72\n", Options{Duplicates: RejectDuplicates}, "line 4, column 1 (time): time 1 repeats the time on line 3 (duplicate times are rejected)"},
		{"ErrSameSampleRejected", "time,HR [bpm]\n0,70\n1,71\n2,72\n2.9,73\n3.1,74\n4,75\n5,76\n", Options{Duplicates: RejectDuplicates}, "line 6, column 1 (time): time falls on sample 3 at 1 Hz, like line 5"},
		{"ErrFieldCount", "time,HR [bpm]\n0,70\n1,71,5\n", Options{}, "line 3, column 1: wrong number of fields"},
		{"ErrQuote", "time,HR [bpm]\n0,\"70\n", Options{}, "log.csv: line 2"},
		{"ErrSingleRow", "time,HR [bpm]\n0,70\n", Options{}, "only one row"},
		{"ErrHugeGap", "time,HR [bpm]\n0,70\n1,71\n2,72\n1e12,72\n", Options{}, "line 5, column 1 (time): time is 1e+12s after the first row"},
		{"ErrLongLine", "time,HR [bpm]\n0,70\n1," + strings.Repeat("7", MaxLineBytes) + "\n", Options{}, "log.csv: line 3: longer than 64 KiB (the line starts at byte 19): expected a line break after each row"},
		{"ErrEndlessHeader", strings.Repeat("0", 3*MaxLineBytes), Options{}, "log.csv: line 1: longer than 64 KiB (the line starts at byte 0)"},
		{"ErrBinary", "time,HR\n0,\x00\x01", Options{}, "log.csv: not a text file: byte 10 is 0x00"},
		{"ErrBareQuote", "time,HR [bpm]\n0,7\"0\n", Options{}, `log.csv: line 2, column 4: a " inside a field that does not start with one`},
		{"ErrTooManyColumns", "time" + strings.Repeat(",x", MaxChannels+1) + "\n", Options{}, "log.csv: line 1: header has 257 channel columns; at most 256 are accepted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Read("log.csv", []byte(tt.in), tt.opt)
			if err == nil {
				t.Fatalf("got no error, want %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got  %q\nwant it to contain %q", err, tt.want)
			}
			var e *Error
			if !errors.As(err, &e) || e.File != "log.csv" {
				t.Errorf("error %T does not name the file", err)
			}
		})
	}
}

func FuzzRead(f *testing.F) {
	defer func(m int64) { maxSamples = m }(maxSamples)
	maxSamples = 1 << 16
	for _, s := range []string{
		"time,HR [bpm],SpO2 [%]\n0,72,98\n1,73,NA\n3,74,96\n",
		"Time;Temp [°C]\n0;36,6\n0,5;36,7\n",
		"timestamp,HR [bpm]\n2024-03-01T08:00:00Z,70\n2024-03-01T08:01:00Z,71\n",
		"time [ms],ECG [mV]\n0,0.1\n4,0.2\n4,0.3\n9,-\n",
		"time,HR [bpm]\n0,70\n1," + strings.Repeat("7", MaxLineBytes+5) + "\n",
		strings.Repeat("0", MaxLineBytes+1),
		"time" + strings.Repeat(",x", MaxChannels+1) + "\n0" + strings.Repeat(",1", MaxChannels+1) + "\n",
		"time,HR [bpm]\n0,70\n1.5,71\n3.25,72\n5.125,73\n",
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, data []byte, reject bool) {
		opt := Options{}
		if reject {
			opt.Duplicates = RejectDuplicates
		}
		rec, err := Read("fuzz.csv", data, opt)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.csv") {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		n := len(rec.Signal.Channels[0].Samples)
		for _, c := range rec.Signal.Channels {
			if !(c.Rate > 0) || len(c.Samples) != n || n == 0 {
				t.Fatalf("channel %q: rate %v, %d samples (first channel %d)", c.Name, c.Rate, len(c.Samples), n)
			}
		}
		if err := rec.Signal.Validate(); err != nil {
			t.Fatal(err)
		}
		_ = signal.Missing
	})
}

func BenchmarkRead(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("time,HR [bpm],SpO2 [%],ABP Sys [mmHg],RESP [/min]\n")
	for i := 0; i < 24*3600; i++ { // one day at 1 Hz
		fmt.Fprintf(&sb, "%d,%d,%d,NA,%d\n", i, 60+i%40, 90+i%10, 12+i%8)
	}
	data := []byte(sb.String())
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Read("day.csv", data, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestLineLimit: a line of exactly MaxLineBytes (and its line break) is
// read; one byte more is refused, whether or not a line break follows.
func TestLineLimit(t *testing.T) {
	pad := func(n int) string { return "1," + strings.Repeat(" ", n-4) + "70" }
	ok := "time,HR [bpm]\n0,70\n" + pad(MaxLineBytes) + "\n2,71\n"
	if _, err := Read("log.csv", []byte(ok), Options{}); err != nil {
		t.Errorf("line of %d bytes: %v", MaxLineBytes, err)
	}
	if _, err := Read("log.csv", []byte(strings.TrimSuffix(ok, "\n2,71\n")+"\n"), Options{Rate: 1}); err != nil {
		t.Errorf("last line of %d bytes: %v", MaxLineBytes, err)
	}
	for _, tail := range []string{"\n2,71\n", ""} {
		bad := "time,HR [bpm]\n0,70\n" + pad(MaxLineBytes+1) + tail
		_, err := Read("log.csv", []byte(bad), Options{Rate: 1})
		if err == nil || !strings.Contains(err.Error(), "line 3: longer than 64 KiB") {
			t.Errorf("line of %d bytes: got %v, want line 3 refused", MaxLineBytes+1, err)
		}
		if _, err := Open("log.csv", []byte(bad), Options{Rate: 1}); err == nil || !strings.Contains(err.Error(), "line 3: longer than") {
			t.Errorf("Open, line of %d bytes: got %v, want line 3 refused", MaxLineBytes+1, err)
		}
	}
}

// TestTooManySteps: a log whose every row has its own step would make the
// timeline keep one count per row; past maxSteps it is refused.
func TestTooManySteps(t *testing.T) {
	defer func(m int) { maxSteps = m }(maxSteps)
	maxSteps = 3
	in := "time,HR [bpm]\n0,70\n1,70\n2.5,70\n4.25,70\n6.125,70\n"
	for name, read := range map[string]func() error{
		"Read": func() error { _, err := Read("log.csv", []byte(in), Options{}); return err },
		"Open": func() error { _, err := Open("log.csv", []byte(in), Options{}); return err },
	} {
		err := read()
		if err == nil || !strings.Contains(err.Error(), "log.csv: line 6, column 1 (time): the steps between successive times take more than 3 different values") {
			t.Errorf("%s: got %v, want line 6 refused", name, err)
		}
	}
	maxSteps = 4
	if _, err := Read("log.csv", []byte(in), Options{}); err != nil {
		t.Errorf("four distinct steps with maxSteps 4: %v", err)
	}
}
