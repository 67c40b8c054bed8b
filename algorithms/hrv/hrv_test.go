package hrv

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/pulsegrid/pulsegrid/algorithms/canon"
	"github.com/pulsegrid/pulsegrid/algorithms/dmath"
	"github.com/pulsegrid/pulsegrid/algorithms/internal/golden"
)

// ec57Dir holds the EC57 HRV test patterns (time s, RR s per line).
const ec57Dir = "../../../shared/data/hrv"

// loadPattern reads an EC57 test pattern as beat times, starting with a beat
// at 0 s (the first line's RR equals its time).
func loadPattern(tb testing.TB, name string) []float64 {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(ec57Dir, name))
	if err != nil {
		tb.Skipf("EC57 pattern not available: %v", err)
	}
	times := []float64{0}
	sc := bufio.NewScanner(bytes.NewReader(b))
	line := 0
	for sc.Scan() {
		line++
		f := strings.Split(strings.TrimSpace(sc.Text()), ",")
		if len(f) != 2 {
			tb.Fatalf("%s line %d: want 2 comma-separated fields, got %q", name, line, sc.Text())
		}
		t, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			tb.Fatalf("%s line %d: %v", name, line, err)
		}
		times = append(times, t)
	}
	return times
}

func allNormal(n int) []bool {
	b := make([]bool, n)
	for i := range b {
		b[i] = true
	}
	return b
}

// TestEC57 checks the band powers of ANSI/AAMI EC57 Table A.10: each
// expected power within 5 %, and the other bands near zero. "Zero" is
// bounded at 1 % of the pattern's modulation power (A²/2): leakage of a
// sinusoid into a band that does not contain it.
func TestEC57(t *testing.T) {
	tests := []struct {
		file   string
		band   string // band that holds the modulation, "" for none
		want   float64
		modPow float64 // A²/2 of the pattern
	}{
		{"HRV256_TP2.txt", "HF", 612.5, 612.5},
		{"HRV256_TP3.txt", "LF", 2450, 2450},
		{"HRV256_TP4.txt", "VLF", 39200, 39200},
		{"HRV256_TP5.txt", "", 0, 9800},
	}
	for _, tt := range tests {
		t.Run(strings.TrimSuffix(tt.file, ".txt"), func(t *testing.T) {
			times := loadPattern(t, tt.file)
			r, err := Compute(times, allNormal(len(times)), EC57Options())
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: NN %d excluded %d, VLF %.2f LF %.2f HF %.2f total %.2f ms²", tt.file, r.NNCount, r.Excluded, r.VLF, r.LF, r.HF, r.TotalPower)
			if r.Excluded != 0 {
				t.Errorf("excluded %d intervals of a clean pattern, want 0", r.Excluded)
			}
			bands := map[string]float64{"VLF": r.VLF, "LF": r.LF, "HF": r.HF}
			for _, name := range []string{"VLF", "LF", "HF"} {
				got := bands[name]
				if name == tt.band {
					if math.Abs(got-tt.want) > 0.05*tt.want {
						t.Errorf("%s = %.2f ms², want %.1f ± 5 %%", name, got, tt.want)
					}
				} else if got > 0.01*tt.modPow {
					t.Errorf("%s = %.2f ms², want ≈ 0 (< %.1f, 1 %% of the modulation power)", name, got, 0.01*tt.modPow)
				}
			}
		})
	}
}

// synthetic is a beat series whose RR (s) is mean + amp·sin(2πf·t), with
// uniform jitter of standard deviation sd seconds, for dur seconds. It is
// built with dmath and rounded products, so it is the same on every
// platform (golden tests use it).
func synthetic(mean, amp, f, sd, dur float64, seed uint64) []float64 {
	r := rand.New(rand.NewPCG(seed, 1))
	times := []float64{0}
	t := 0.0
	for t < dur {
		rr := mean + float64(amp*dmath.Sin(float64(2*math.Pi*f)*t)) + float64(sd*float64((r.Float64()-0.5)*3.4641016151377544))
		t += rr
		times = append(times, t)
	}
	return times
}

func TestTimeDomainByHand(t *testing.T) {
	// RR 1.0, 1.1, 0.9, 1.0 s: mean 1000 ms, SD sqrt(20000/3), successive
	// differences 100, -200, 100 ms.
	times := []float64{0, 1, 2.1, 3, 4}
	r, err := Compute(times, allNormal(5), DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want float64
	}{
		{"MeanNN", r.MeanNN, 1000},
		{"SDNN", r.SDNN, math.Sqrt(20000.0 / 3)},
		{"RMSSD", r.RMSSD, math.Sqrt(60000.0 / 3)},
		{"PNN50", r.PNN50, 100},
		{"MeanHR", r.MeanHR, 60},
		{"NNCount", float64(r.NNCount), 4},
		{"Excluded", float64(r.Excluded), 0},
	}
	for _, c := range checks {
		if math.Abs(c.got-c.want) > 1e-9*math.Max(1, math.Abs(c.want)) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestExclusionRules(t *testing.T) {
	// 40 beats at 0.8 s, then: an ectopic (beat 20 not normal), a 2.5 s gap
	// (over MaxRR), a 0.25 s artefact (under MinRR, which also makes the
	// next interval 0.55 s: more than 20 % off), and a 1.0 s interval that
	// passes the limits but is 25 % above its neighbours.
	var times []float64
	normal := []bool{}
	t0 := 0.0
	add := func(rr float64, n bool) {
		t0 += rr
		times = append(times, t0)
		normal = append(normal, n)
	}
	times, normal = []float64{0}, []bool{true}
	for i := 1; i < 20; i++ {
		add(0.8, true)
	}
	add(0.8, false) // beat 20 ectopic: intervals 20 and 21 excluded
	add(0.8, true)
	add(0.8, true)
	add(2.5, true) // interval 23: gap
	add(0.8, true)
	add(0.25, true) // interval 25: artefact
	add(0.55, true) // interval 26: 31 % short
	add(0.8, true)
	add(1.0, true) // interval 28: 25 % long
	for i := 0; i < 20; i++ {
		add(0.8, true)
	}
	nn := NN(times, normal, DefaultOptions())
	excluded := map[int]bool{}
	got := map[int]bool{}
	for _, v := range nn {
		got[v.End] = true
	}
	for i := 1; i < len(times); i++ {
		if !got[i] {
			excluded[i] = true
		}
	}
	want := []int{20, 21, 23, 25, 26, 28}
	if len(excluded) != len(want) {
		t.Errorf("excluded intervals %v, want %v", keys(excluded), want)
	}
	for _, w := range want {
		if !excluded[w] {
			t.Errorf("interval %d not excluded (excluded: %v)", w, keys(excluded))
		}
	}
	r, err := Compute(times, normal, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if r.Excluded != len(want) || r.NNCount != len(times)-1-len(want) {
		t.Errorf("NNCount %d Excluded %d, want %d and %d", r.NNCount, r.Excluded, len(times)-1-len(want), len(want))
	}
	// successive differences skip the holes: all remaining NN are 0.8 s
	if r.RMSSD > 1e-9 || r.PNN50 != 0 {
		t.Errorf("RMSSD %v pNN50 %v, want 0 (differences across excluded intervals must not count)", r.RMSSD, r.PNN50)
	}
}

func keys(m map[int]bool) []int {
	var out []int
	for i := 0; i < 1000; i++ {
		if m[i] {
			out = append(out, i)
		}
	}
	return out
}

func TestFiveMinuteWindows(t *testing.T) {
	// 30 ms at 0.1 Hz (LF 450 ms²) and 20 ms at 0.3 Hz (HF 200 ms²) over an
	// hour in 5-minute windows.
	r := rand.New(rand.NewPCG(3, 4))
	times := []float64{0}
	tt := 0.0
	for tt < 3600 {
		rr := 0.8 + 0.030*math.Sin(2*math.Pi*0.1*tt) + 0.020*math.Sin(2*math.Pi*0.3*tt) + 0.002*r.NormFloat64()
		tt += rr
		times = append(times, tt)
	}
	rep, err := Compute(times, allNormal(len(times)), DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Windows != 12 {
		t.Errorf("windows = %d, want 12", rep.Windows)
	}
	if math.Abs(rep.LF-450) > 0.05*450 || math.Abs(rep.HF-200) > 0.05*200 {
		t.Errorf("LF %.1f HF %.1f ms², want 450 and 200 ± 5 %%", rep.LF, rep.HF)
	}
	if math.Abs(rep.LFnu+rep.HFnu-100) > 1e-9 || math.Abs(rep.LFHF-rep.LF/rep.HF) > 1e-12 {
		t.Errorf("LFnu %v HFnu %v LF/HF %v inconsistent", rep.LFnu, rep.HFnu, rep.LFHF)
	}
	// Parseval: the total up to 0.4 Hz holds nearly all the variance here.
	if v := rep.SDNN * rep.SDNN; math.Abs(rep.TotalPower-v) > 0.1*v {
		t.Errorf("total power %.1f, variance %.1f: want within 10 %%", rep.TotalPower, v)
	}
}

func TestFastMatchesDirect(t *testing.T) {
	for _, tc := range []struct {
		name string
		dur  float64
	}{{"5min", 300}, {"40min", 2400}} {
		t.Run(tc.name, func(t *testing.T) {
			times := synthetic(0.85, 0.04, 0.12, 0.02, tc.dur, 9)
			nn := NN(times, allNormal(len(times)), EC57Options())
			ts := make([]float64, len(nn))
			hs := make([]float64, len(nn))
			for i, v := range nn {
				ts[i], hs[i] = v.T, v.RR*1000-850
			}
			df := 1 / (4 * (ts[len(ts)-1] - ts[0]))
			nf := int(0.4 / df)
			d := lombDirect(ts, hs, df, nf)
			f := lombFast(ts, hs, df, nf, 4)
			var sd, sf, worst float64
			for k := range d {
				sd += d[k]
				sf += f[k]
				worst = max(worst, math.Abs(d[k]-f[k]))
			}
			if math.Abs(sd-sf) > 1e-3*sd {
				t.Errorf("summed periodogram direct %v fast %v: differ by more than 0.1 %%", sd, sf)
			}
			if peak := maxOf(d); worst > 1e-3*peak {
				t.Errorf("largest pointwise difference %v, peak %v: more than 0.1 %% of the peak", worst, peak)
			}
		})
	}
}

func maxOf(v []float64) float64 {
	m := 0.0
	for _, x := range v {
		m = max(m, x)
	}
	return m
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name   string
		times  []float64
		normal []bool
		opt    Options
		want   string
	}{
		{"ErrLengths", []float64{0, 1}, []bool{true}, DefaultOptions(), "labels"},
		{"ErrNotIncreasing", []float64{0, 1, 1, 2}, allNormal(4), DefaultOptions(), "not after"},
		{"ErrNaN", []float64{0, math.NaN()}, allNormal(2), DefaultOptions(), "time NaN"},
		{"ErrTooFew", []float64{0, 1, 2}, allNormal(3), DefaultOptions(), "fewer than 3"},
		{"ErrOptions", []float64{0, 1, 2, 3}, allNormal(4), Options{}, "min_rr_s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compute(tt.times, tt.normal, tt.opt)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

// reportDigest is the canonical digest of a report's numbers.
func reportDigest(rs ...Report) string {
	w := canon.NewWriter("HRVGOLD1")
	for _, r := range rs {
		for _, v := range []int{r.Beats, r.Intervals, r.NNCount, r.Excluded, r.Windows} {
			w.Int(v)
		}
		for _, v := range []float64{r.MeanNN, r.SDNN, r.RMSSD, r.PNN50, r.MeanHR, r.VLF, r.LF, r.HF, r.TotalPower, r.LFHF, r.LFnu, r.HFnu} {
			w.F64(v)
		}
	}
	return canon.Digest(w.Bytes())
}

// TestGoldenHRV pins the bits of reports on synthetic series (exact and
// fast periodograms, 5-minute windows) and on EC57 TP3 (whole record, fast
// periodogram), natively, under wasm and with FMA fusion allowed.
func TestGoldenHRV(t *testing.T) {
	var reps []Report
	a := synthetic(0.8, 0.03, 0.25, 0.03, 1800, 1)
	normal := allNormal(len(a))
	for i := 7; i < len(normal); i += 53 {
		normal[i] = false
	}
	for _, opt := range []Options{DefaultOptions(), EC57Options()} {
		r, err := Compute(a, normal, opt)
		if err != nil {
			t.Fatal(err)
		}
		reps = append(reps, r)
	}
	tp3 := loadPattern(t, "HRV256_TP3.txt")
	r, err := Compute(tp3, allNormal(len(tp3)), EC57Options())
	if err != nil {
		t.Fatal(err)
	}
	reps = append(reps, r)
	got := reportDigest(reps...)
	golden.Check(t, filepath.Join("testdata", "golden.txt"), got)
}

func FuzzCompute(f *testing.F) {
	f.Add([]byte{10, 12, 9, 11, 10, 10, 30, 10, 11}, uint8(0))
	f.Fuzz(func(t *testing.T, rrs []byte, mask uint8) {
		times := []float64{0}
		normal := []bool{true}
		for i, b := range rrs {
			times = append(times, times[len(times)-1]+float64(b)/10+0.01)
			normal = append(normal, mask>>(i%8)&1 == 0 || i%3 != 0)
		}
		for _, opt := range []Options{DefaultOptions(), EC57Options()} {
			r, err := Compute(times, normal, opt)
			if err != nil {
				continue
			}
			for _, v := range []float64{r.MeanNN, r.SDNN, r.RMSSD, r.PNN50, r.VLF, r.LF, r.HF, r.TotalPower, r.LFHF} {
				if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
					t.Fatalf("report has %v: %+v", v, r)
				}
			}
			if r.NNCount+r.Excluded != r.Intervals {
				t.Fatalf("NN %d + excluded %d != intervals %d", r.NNCount, r.Excluded, r.Intervals)
			}
		}
	})
}

var _ = fmt.Sprint
