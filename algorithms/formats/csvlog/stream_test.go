package csvlog

import (
	"fmt"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/pulsegrid/pulsegrid/algorithms/canon"
	"github.com/pulsegrid/pulsegrid/algorithms/formats/internal/blockstest"
)

// streamInputs are logs that exercise every rule: gaps, duplicates, rows
// falling on one sample, ISO times, decimal commas, comments, and errors.
var streamInputs = []string{
	"time,HR [bpm],SpO2 [%]\n0,72,98\n1,73,97\n2,74,96\n",
	"t,HR [bpm],ABP [mmHg]\n0,,NA\n60,NaN,-\n120,n/a,90.5\n180,80,na\n",
	"time [s],HR [bpm]\n0,70\n1,71\n2,72\n5,75\n6,76\n",
	"time,HR [bpm]\n0,70\n1,71\n1,72\n2,73\n",
	"time,HR [bpm]\n0,70\n1,71\n2,72\n2.9,73\n3.1,74\n4,75\n5,76\n",
	"timestamp,HR [bpm]\n2024-03-01T08:00:00Z,70\n2024-03-01T08:01:00Z,71\n2024-03-01T08:03:00Z,72\n",
	"Time;Temp [°C]\n# comment\n0;36,6\n0,5;36,7\n1;36,8\n",
	"\xef\xbb\xbftime [ms],ECG [mV]\n0,0.1\n4,0.2\n4,0.3\n9,-\n12,0.4\n",
	"time,x\n0,0.0078\n0.0078,1\n0.0156,2\n0.0234,3\n0.0313,4\n0.0391,5\n",
	"time,HR [bpm]\n0,70\n1,seventy\n",
	"time,HR [bpm]\n0,70\n",
	"time,HR [bpm]\n",
	"time,HR [bpm]\n0,70\n1,71\n0.5,72\n",
	"time,HR [bpm]\n0,70\n1,71\n2,72\n1e12,72\n",
	"when,HR\n0,1\n",
	"",
}

// TestOpenMatchesRead: the stream's blocks, joined, are Read's samples bit
// for bit, at any block size, with the same recording, the same dropped
// rows in the same order, and the same errors.
func TestOpenMatchesRead(t *testing.T) {
	long := strings.Builder{}
	long.WriteString("time,ECG [mV],Resp [/min]\n")
	for i := range 20000 {
		if i%977 == 5 {
			continue // a gap
		}
		fmt.Fprintf(&long, "%g,%g,%d\n", float64(i)/250, float64(i%400-200)/200, 10+i%7)
	}
	inputs := append(append([]string(nil), streamInputs...), long.String())
	for i, in := range inputs {
		for _, reject := range []bool{false, true} {
			for _, size := range []int{1, 3, 7, 1000, 1 << 16} {
				t.Run(fmt.Sprintf("input%d/reject=%v/block%d", i, reject, size), func(t *testing.T) {
					blockstest.SetSize(t, size)
					compareOpenRead(t, []byte(in), reject)
				})
			}
		}
	}
}

// compareOpenRead fails the test when Open and Read disagree on data.
func compareOpenRead(t *testing.T, data []byte, reject bool) {
	t.Helper()
	var readDrops, openDrops []string
	opt := Options{OnDrop: func(line int, why string) { readDrops = append(readDrops, fmt.Sprint(line, why)) }}
	if reject {
		opt.Duplicates = RejectDuplicates
	}
	want, werr := Read("log.csv", data, opt)
	opt.OnDrop = func(line int, why string) { openDrops = append(openDrops, fmt.Sprint(line, why)) }
	s, gerr := Open("log.csv", data, opt)
	if (werr == nil) != (gerr == nil) || (werr != nil && werr.Error() != gerr.Error()) {
		t.Fatalf("Open error %v, Read error %v", gerr, werr)
	}
	if werr != nil {
		return
	}
	got := blockstest.Collect(t, s, len(s.Recording.Signal.Channels))
	if !reflect.DeepEqual(readDrops, openDrops) {
		t.Errorf("dropped rows: Open %v, Read %v", openDrops, readDrops)
	}
	if !reflect.DeepEqual(s.Recording.Identity, want.Identity) {
		t.Errorf("identity %+v, want %+v", s.Recording.Identity, want.Identity)
	}
	for i, c := range want.Signal.Channels {
		g := s.Recording.Signal.Channels[i]
		if g.Name != c.Name || g.Unit != c.Unit || g.Rate != c.Rate || g.Gain != c.Gain || g.Samples != nil {
			t.Fatalf("channel %d: %+v, want %+v without samples", i, g, c)
		}
		if len(got[i]) != len(c.Samples) {
			t.Fatalf("channel %d: %d samples, want %d", i, len(got[i]), len(c.Samples))
		}
		for j := range got[i] {
			if canon.Float64Bits(got[i][j]) != canon.Float64Bits(c.Samples[j]) {
				t.Fatalf("channel %d sample %d: %v, want %v", i, j, got[i][j], c.Samples[j])
			}
		}
	}
}

func FuzzOpen(f *testing.F) {
	defer func(m int64) { maxSamples = m }(maxSamples)
	maxSamples = 1 << 16
	for _, s := range streamInputs {
		f.Add([]byte(s), false, uint16(3))
		f.Add([]byte(s), true, uint16(100))
	}
	f.Fuzz(func(t *testing.T, data []byte, reject bool, size uint16) {
		blockstest.SetSize(t, int(size%2000)+1)
		compareOpenRead(t, data, reject)
	})
}

// TestOpenMemory streams a long ECG log and checks that what the Stream
// holds, after Open and halfway through, is a small part of the samples
// Read would hold (csv.Reader's per-record strings are garbage at once, so
// this measures the live heap after a collection, not allocations).
func TestOpenMemory(t *testing.T) {
	rows := 2_000_000
	if runtime.GOOS == "js" {
		rows = 200_000
	}
	var b strings.Builder
	b.WriteString("time,MLII [mV],V1 [mV]\n")
	for i := range rows {
		fmt.Fprintf(&b, "%g,%g,%g\n", float64(i)/360, float64(i%700-350)/200, float64(i%500-250)/200)
	}
	data := []byte(b.String())
	b.Reset()
	live := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	base := live()
	s, err := Open("ecg.csv", data, Options{})
	if err != nil {
		t.Fatal(err)
	}
	afterOpen := live()
	var samples int64
	for samples < int64(rows) {
		block, err := s.Next()
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range block {
			samples += int64(len(c))
		}
	}
	midway := live()
	whole := float64(8 * 2 * rows)
	t.Logf("%d rows (%.1f MB of text): %.2f MB live after Open, %.2f MB halfway; the samples are %.1f MB as float64",
		rows, float64(len(data))/1e6, (float64(afterOpen)-float64(base))/1e6, (float64(midway)-float64(base))/1e6, whole/1e6)
	// A block's buffers (2^16 samples, 0.5 MB) plus an eighth of the
	// signal: Read would hold all of it, and its rows besides.
	limit := whole/8 + 1<<20
	for _, h := range []uint64{afterOpen, midway} {
		if float64(h)-float64(base) > limit {
			t.Errorf("the stream holds %.1f MB of a %.1f MB signal", (float64(h)-float64(base))/1e6, whole/1e6)
		}
	}
	runtime.KeepAlive(s)
}
