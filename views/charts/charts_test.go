package charts

import (
	"encoding/binary"
	"encoding/xml"
	"io"
	"math"
	"strconv"
	"strings"
	"testing"
)

// wellFormed fails the test unless s parses as XML from start to end.
func wellFormed(t *testing.T, s string) {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(s))
	for {
		_, err := d.Token()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v\n%.400s", err, s)
		}
	}
}

// pathData returns the d attribute of every <path class="series ..."> element.
func pathData(t *testing.T, s string) []string {
	t.Helper()
	var out []string
	d := xml.NewDecoder(strings.NewReader(s))
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok || se.Name.Local != "path" {
			continue
		}
		var class, data string
		for _, a := range se.Attr {
			switch a.Name.Local {
			case "class":
				class = a.Value
			case "d":
				data = a.Value
			}
		}
		if strings.HasPrefix(class, "series") {
			out = append(out, data)
		}
	}
}

func TestDecimateBound(t *testing.T) {
	const rate = 360.0
	n := int(3600 * rate) // one hour at 360 Hz; the bound does not depend on n
	y := make([]float64, n)
	for i := range y {
		y[i] = math.Sin(float64(i) * 0.05)
	}
	at := func(i int) float64 { return float64(i) / rate }
	for _, cols := range []int{1, 100, 732, 1000} {
		t.Run(strconv.Itoa(cols), func(t *testing.T) {
			segs := Decimate(n, at, y, 0, at(n-1), cols)
			if got, max := PointCount(segs), 2*cols; got > max {
				t.Fatalf("got %d points, want at most %d", got, max)
			}
			if len(segs) != 1 {
				t.Fatalf("got %d segments, want 1 (no gaps)", len(segs))
			}
			// The envelope survives: the extremes of the data are kept.
			lo, hi := math.Inf(1), math.Inf(-1)
			for _, p := range segs[0] {
				lo, hi = math.Min(lo, p.Y), math.Max(hi, p.Y)
			}
			if lo > -0.9999 || hi < 0.9999 {
				t.Fatalf("got envelope [%v, %v], want about [-1, 1]", lo, hi)
			}
		})
	}
}

func TestDecimateBoundWithGaps(t *testing.T) {
	// Alternating NaNs are the worst case for segment splitting.
	n := 200000
	y := make([]float64, n)
	for i := range y {
		if i%2 == 1 {
			y[i] = math.NaN()
		} else {
			y[i] = float64(i % 97)
		}
	}
	at := func(i int) float64 { return float64(i) }
	cols := 500
	segs := Decimate(n, at, y, 0, float64(n-1), cols)
	if got := PointCount(segs); got > 2*cols {
		t.Fatalf("got %d points, want at most %d", got, 2*cols)
	}
	if len(segs) > cols {
		t.Fatalf("got %d segments, want at most %d", len(segs), cols)
	}
}

func TestDecimateGaps(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name string
		y    []float64
		want []int // points per segment
	}{
		{"NoGap", []float64{1, 2, 3, 4}, []int{4}},
		{"OneGap", []float64{1, 2, nan, 3, 4}, []int{2, 2}},
		{"LeadingAndTrailing", []float64{nan, 1, 2, nan}, []int{2}},
		{"Isolated", []float64{1, nan, 2, nan, 3}, []int{1, 1, 1}},
		{"AllMissing", []float64{nan, nan}, nil},
		{"Inf", []float64{1, math.Inf(1), 2}, []int{1, 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			at := func(i int) float64 { return float64(i) }
			segs := Decimate(len(tc.y), at, tc.y, 0, float64(len(tc.y)-1), 1000)
			var got []int
			for _, s := range segs {
				got = append(got, len(s))
			}
			if fmtInts(got) != fmtInts(tc.want) {
				t.Fatalf("got segments %v, want %v", got, tc.want)
			}
		})
	}
}

func fmtInts(v []int) string {
	var b strings.Builder
	for _, x := range v {
		b.WriteString(strconv.Itoa(x) + " ")
	}
	return b.String()
}

func TestLineChartGapsSplitPaths(t *testing.T) {
	nan := math.NaN()
	c := LineChart{
		Title:  "HR",
		X:      Axis{Label: "Time", Time: true},
		Y:      Axis{Label: "Heart rate", Unit: "bpm"},
		Series: []Series{{Label: "HR", Start: 0, Step: 1, Y: []float64{60, 61, nan, nan, 70, 71, 72, nan, 65}}},
	}
	svg := c.SVG()
	wellFormed(t, svg)
	paths := pathData(t, svg)
	if len(paths) != 1 {
		t.Fatalf("got %d series paths, want 1", len(paths))
	}
	if got := strings.Count(paths[0], "M"); got != 3 {
		t.Fatalf("got %d subpaths in %q, want 3", got, paths[0])
	}
	if !strings.Contains(svg, "Heart rate (bpm)") {
		t.Errorf("y axis title with unit missing")
	}
}

func TestLineChartLight24h(t *testing.T) {
	// A 24-hour heart-rate trend at 4 Hz with a two-hour gap renders small.
	n := 24 * 3600 * 4
	y := make([]float64, n)
	for i := range y {
		y[i] = 70 + 10*math.Sin(float64(i)/5000)
		if i > 10*3600*4 && i < 12*3600*4 {
			y[i] = math.NaN()
		}
	}
	c := LineChart{Title: "24 h", X: Axis{Time: true}, Series: []Series{{Step: 0.25, Y: y}}}
	svg := c.SVG()
	wellFormed(t, svg)
	if len(svg) > 40000 {
		t.Fatalf("got %d bytes, want at most 40000", len(svg))
	}
	if got := strings.Count(pathData(t, svg)[0], "M"); got != 2 {
		t.Fatalf("got %d subpaths, want 2 (one gap)", got)
	}
}

func TestStripMarkers(t *testing.T) {
	rate := 360.0
	samples := make([]float64, int(30*rate))
	for i := range samples {
		samples[i] = 0.1 * math.Sin(float64(i)/10)
	}
	s := Strip{
		From: 10, To: 20, Rate: rate, Samples: samples, Lead: "MLII", Unit: "mV",
		Detected:  []Mark{{Time: 5, Label: "N"}, {Time: 12.5, Label: "N"}, {Time: 15, Label: "V"}},
		Reference: []Mark{{Time: 12.52, Label: "N"}, {Time: 25, Label: "N"}},
	}
	svg := s.SVG()
	wellFormed(t, svg)
	// The plot spans [56, 988] horizontally for a 1000-wide strip.
	want := map[string]float64{"12.500": 56 + 0.25*932, "15.000": 56 + 0.5*932, "12.520": 56 + 0.252*932}
	found := map[string]float64{}
	d := xml.NewDecoder(strings.NewReader(svg))
	var curT string
	kinds := map[string]int{}
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		for _, a := range se.Attr {
			if a.Name.Local == "data-t" {
				curT = a.Value
			}
			if a.Name.Local == "class" && strings.HasPrefix(a.Value, "mark ") {
				kinds[strings.TrimPrefix(a.Value, "mark ")]++
			}
			if se.Name.Local == "line" && a.Name.Local == "x1" && curT != "" {
				x, _ := strconv.ParseFloat(a.Value, 64)
				found[curT] = x
				curT = ""
			}
		}
	}
	if kinds["detected"] != 2 || kinds["reference"] != 1 {
		t.Fatalf("got marks %v, want 2 detected and 1 reference inside the window", kinds)
	}
	for k, x := range want {
		if got, ok := found[k]; !ok || math.Abs(got-x) > 0.051 {
			t.Errorf("mark at %s s: got x=%v (found %v), want %v", k, got, ok, x)
		}
		tm, _ := strconv.ParseFloat(k, 64)
		if got := s.MarkX(tm); math.Abs(got-x) > 1e-9 {
			t.Errorf("MarkX(%v) = %v, want %v", tm, got, x)
		}
	}
	if paths := pathData(t, svg); len(paths) != 1 || strings.Count(paths[0], "L") > 2*932 {
		t.Fatalf("strip path not decimated: %d paths", len(paths))
	}
}

func TestEscapingAndDeterminism(t *testing.T) {
	evil := `<script>alert("x")</script> & 'q'`
	charts := map[string]func() string{
		"line":      LineChart{Title: evil, Y: Axis{Label: evil, Unit: evil}, Series: []Series{{Label: evil, Step: 1, Y: []float64{1, 2}}, {Label: "b", Step: 1, Y: []float64{2, 1}}}}.SVG,
		"strip":     Strip{Title: evil, From: 0, To: 1, Rate: 10, Samples: []float64{0, 1, 0}, Lead: evil, Detected: []Mark{{0.1, evil}}}.SVG,
		"scatter":   Scatter{Title: evil, Xs: []float64{1, 2}, Ys: []float64{2, 3}, X: Axis{Label: evil}}.SVG,
		"timeline":  Timeline{Title: evil, Duration: 100, Episodes: []Episode{{Start: 1, End: 5, Label: evil, Detail: evil, Href: `"><script>`}}}.SVG,
		"sparkline": Sparkline{Label: evil, Samples: []float64{1, math.NaN(), 3}}.SVG,
		"poincare":  Poincare([]float64{800, 810, 790, math.NaN(), 805}, 300).SVG,
	}
	for name, render := range charts {
		t.Run(name, func(t *testing.T) {
			a, b := render(), render()
			if a != b {
				t.Fatal("two renderings differ")
			}
			wellFormed(t, a)
			if strings.Contains(a, "<script") || strings.Contains(a, "style=") {
				t.Fatalf("unescaped script or inline style in %s", a)
			}
		})
	}
}

func TestScatterBound(t *testing.T) {
	n := 100000
	rr := make([]float64, n)
	for i := range rr {
		rr[i] = 800 + 100*math.Sin(float64(i)*0.37) + float64(i%13)
	}
	s := Poincare(rr, 320)
	svg := s.SVG()
	wellFormed(t, svg)
	cells := int(math.Ceil((320-56-12)/3.0) * math.Ceil((320-12-40)/3.0))
	if got := strings.Count(svg, "<circle"); got == 0 || got > cells {
		t.Fatalf("got %d dots, want 1..%d", got, cells)
	}
	sd1, sd2, ok := PoincareSD([]float64{800, 820, 800, 820})
	// Alternating RR: all variability is across the identity line.
	if !ok || math.Abs(sd1-16.33) > 0.01 || sd2 != 0 {
		t.Fatalf("PoincareSD: got %v %v %v", sd1, sd2, ok)
	}
}

func TestTicks(t *testing.T) {
	tests := []struct {
		lo, hi float64
		n      int
		want   string
	}{
		{0, 10, 5, "0 2 4 6 8 10"},
		{-1.3, 1.3, 5, "-1 0 1"},
		{-1.3, 1.3, 8, "-1.0 -0.5 0.0 0.5 1.0"},
		{41, 139, 5, "60 80 100 120"},
	}
	for _, tc := range tests {
		var parts []string
		vs := ticks(tc.lo, tc.hi, tc.n)
		for _, v := range vs {
			parts = append(parts, FormatValue(v, vs[1]-vs[0]))
		}
		if got := strings.Join(parts, " "); got != tc.want {
			t.Errorf("ticks(%v, %v): got %q, want %q", tc.lo, tc.hi, got, tc.want)
		}
	}
	if got := FormatClock(3725, 86400); got != "1:02:05" {
		t.Errorf("FormatClock: got %q, want 1:02:05", got)
	}
	if got := FormatClock(75, 120); got != "1:15" {
		t.Errorf("FormatClock: got %q, want 1:15", got)
	}
}

// FuzzDecimate checks the point bound and that no NaN reaches the output
// whatever the samples are.
func FuzzDecimate(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0xf8, 0x7f, 1, 2, 3, 4, 5, 6, 7, 8}, uint16(3))
	f.Fuzz(func(t *testing.T, data []byte, cols uint16) {
		n := len(data) / 8
		y := make([]float64, n)
		for i := range y {
			y[i] = math.Float64frombits(binary.LittleEndian.Uint64(data[i*8:]))
		}
		c := int(cols%2000) + 1
		segs := Decimate(n, func(i int) float64 { return float64(i) }, y, 0, float64(n), c)
		if got := PointCount(segs); got > 2*c {
			t.Fatalf("got %d points, want at most %d", got, 2*c)
		}
		for _, s := range segs {
			if len(s) == 0 {
				t.Fatal("empty segment")
			}
			for _, p := range s {
				if p.Y != p.Y || math.IsInf(p.Y, 0) {
					t.Fatalf("non-finite point %v", p)
				}
			}
		}
	})
}

// BenchmarkStripWholeDay renders a zoomed-out strip over 24 h at 360 Hz:
// the worst case, every sample is visited once.
func BenchmarkStripWholeDay(b *testing.B) {
	n := 24 * 3600 * 360
	y := make([]float64, n)
	for i := range y {
		y[i] = math.Sin(float64(i) * 0.05)
	}
	s := Strip{From: 0, To: 86400, Rate: 360, Samples: y, Unit: "mV"}
	b.ResetTimer()
	var size int
	for i := 0; i < b.N; i++ {
		size = len(s.SVG())
	}
	b.ReportMetric(float64(size), "bytes/svg")
}

// BenchmarkPoincare renders the Poincaré plot of a day of beats.
func BenchmarkPoincare(b *testing.B) {
	rr := make([]float64, 100000)
	for i := range rr {
		rr[i] = 800 + 100*math.Sin(float64(i)*0.37) + float64(i%13)
	}
	b.ResetTimer()
	var size int
	for i := 0; i < b.N; i++ {
		size = len(Poincare(rr, 320).SVG())
	}
	b.ReportMetric(float64(size), "bytes/svg")
}

// BenchmarkStripWindowOfDay renders a 10-s window out of a 24-h channel:
// the common request of the strip viewer, which must not scan the day.
func BenchmarkStripWindowOfDay(b *testing.B) {
	n := 24 * 3600 * 360
	y := make([]float64, n)
	for i := range y {
		y[i] = math.Sin(float64(i) * 0.05)
	}
	s := Strip{From: 43200, To: 43210, Rate: 360, Samples: y, Unit: "mV"}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_ = s.SVG()
	}
}

func TestUniformWindow(t *testing.T) {
	tests := []struct {
		start, rate    float64
		n              int
		from, to       float64
		wantI0, wantI1 int
	}{
		{0, 10, 100, 2, 3, 19, 32},
		{0, 10, 100, -5, 100, 0, 100},
		{5, 1, 10, 0, 4, 0, 1}, // one sample of margin; Decimate drops it by time
		{0, 1, 10, 20, 30, 10, 10},
	}
	for _, tc := range tests {
		i0, i1 := uniformWindow(tc.start, tc.rate, tc.n, tc.from, tc.to)
		if i0 != tc.wantI0 || i1 != tc.wantI1 {
			t.Errorf("uniformWindow(%v): got [%d, %d), want [%d, %d)", tc, i0, i1, tc.wantI0, tc.wantI1)
		}
	}
}

func TestTimelineLinks(t *testing.T) {
	tests := []struct {
		href string
		link bool
	}{
		{"/analyses/1/result?from=3#strip", true},
		{"?from=3", true},
		{"#strip", true},
		{"javascript:alert(1)", false},
		{"//evil.example/x", false},
		{"https://evil.example/x", false},
		{"", false},
	}
	for _, tc := range tests {
		svg := Timeline{Duration: 60, Episodes: []Episode{{Start: 1, End: 2, Label: "x", Href: tc.href}}}.SVG()
		wellFormed(t, svg)
		if got := strings.Contains(svg, "<a "); got != tc.link {
			t.Errorf("href %q: got link %v, want %v", tc.href, got, tc.link)
		}
	}
}
