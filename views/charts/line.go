package charts

import (
	"math"
	"strconv"

	"github.com/a-h/templ"
)

// Axis describes one axis: its title, its unit and, optionally, a fixed range.
type Axis struct {
	Label string // e.g. "Heart rate"
	Unit  string // e.g. "bpm"; shown after the label
	// Min and Max fix the range when Min < Max; otherwise the range is
	// taken from the data.
	Min, Max float64
	// Time formats the ticks as a clock (seconds from the record start).
	Time bool
}

func (a Axis) fixed() bool { return a.Min < a.Max }

// Series is one line. Either X holds the abscissa of every sample, or X is
// nil and the samples are uniform: x(i) = Start + i*Step.
type Series struct {
	Label       string
	X           []float64
	Start, Step float64
	Y           []float64 // NaN marks a missing value: the line breaks there
	// Class is a CSS class for colouring (e.g. "s-hr"); empty gives "s0", "s1"…
	Class string
}

// Len is the number of samples of the series.
func (s *Series) Len() int {
	if s.X != nil && len(s.X) < len(s.Y) {
		return len(s.X)
	}
	return len(s.Y)
}

// At is the abscissa of sample i.
func (s *Series) At(i int) float64 {
	if s.X != nil {
		return s.X[i]
	}
	return s.Start + float64(i)*s.Step
}

func (s *Series) xRange() (lo, hi float64, ok bool) {
	n := s.Len()
	if n == 0 {
		return 0, 0, false
	}
	if s.X == nil {
		return s.At(0), s.At(n - 1), true
	}
	lo, hi = math.Inf(1), math.Inf(-1)
	for i := 0; i < n; i++ {
		if v := s.X[i]; v == v {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
	}
	return lo, hi, lo <= hi
}

// Band shades a horizontal range, e.g. the usual range of a vital sign.
type Band struct {
	Lo, Hi float64
	Label  string
}

// LineChart is a time-series chart with one or more series.
type LineChart struct {
	Title string // accessible name, also the SVG <title>
	Desc  string // longer description for assistive technology
	// Width and Height in user units; 0 gives DefaultWidth × DefaultHeight.
	Width, Height int
	X, Y          Axis
	Series        []Series
	Bands         []Band
}

func (c *LineChart) size() (int, int) {
	w, h := c.Width, c.Height
	if w <= 0 {
		w = DefaultWidth
	}
	if h <= 0 {
		h = DefaultHeight
	}
	return w, h
}

// area computes the plot rectangle and the data ranges.
func (c *LineChart) area() *plotArea {
	w, h := c.size()
	p := &plotArea{
		x0: axisMargins.left, y0: axisMargins.top,
		w:     float64(w) - axisMargins.left - axisMargins.right,
		h:     float64(h) - axisMargins.top - axisMargins.bottom,
		width: w, height: h,
		xTime: c.X.Time, xUnit: c.X.Unit, yUnit: c.Y.Unit, xLabel: c.X.Label, yLabel: c.Y.Label,
	}
	if c.X.fixed() {
		p.xmin, p.xmax = c.X.Min, c.X.Max
	} else {
		lo, hi := math.Inf(1), math.Inf(-1)
		for i := range c.Series {
			if a, b, ok := c.Series[i].xRange(); ok {
				lo, hi = math.Min(lo, a), math.Max(hi, b)
			}
		}
		if lo > hi {
			lo, hi = 0, 1
		}
		if lo == hi {
			lo, hi = lo-0.5, hi+0.5
		}
		p.xmin, p.xmax = lo, hi
	}
	if c.Y.fixed() {
		p.ymin, p.ymax = c.Y.Min, c.Y.Max
	} else {
		lo, hi := math.Inf(1), math.Inf(-1)
		for i := range c.Series {
			s := &c.Series[i]
			for j, n := 0, s.Len(); j < n; j++ {
				if v := s.Y[j]; v == v && !math.IsInf(v, 0) {
					lo, hi = math.Min(lo, v), math.Max(hi, v)
				}
			}
		}
		p.ymin, p.ymax = padRange(lo, hi)
	}
	return p
}

// padRange widens a data range by 5 % on each side (1 unit when flat).
func padRange(lo, hi float64) (float64, float64) {
	if lo > hi {
		return 0, 1
	}
	if lo == hi {
		return lo - 1, hi + 1
	}
	pad := (hi - lo) * 0.05
	return lo - pad, hi + pad
}

// SVG renders the chart.
func (c LineChart) SVG() string {
	p := c.area()
	var w svgWriter
	desc := c.Desc
	if desc == "" {
		desc = c.describe()
	}
	w.open("chart-line", p.width, p.height, c.Title, desc, "")
	w.axes(p)
	for _, b := range c.Bands {
		lo, hi := math.Max(b.Lo, p.ymin), math.Min(b.Hi, p.ymax)
		if !(lo < hi) {
			continue
		}
		w.raw(`<rect class="band" fill="#2a9d8f" fill-opacity="0.12" x="`)
		w.num(p.x0)
		w.raw(`" y="`)
		w.num(p.py(hi))
		w.raw(`" width="`)
		w.num(p.w)
		w.raw(`" height="`)
		w.num(p.py(lo) - p.py(hi))
		w.raw(`"><title>`)
		w.text(b.Label)
		w.raw(`</title></rect>`)
	}
	for i := range c.Series {
		s := &c.Series[i]
		cls := s.Class
		if cls == "" {
			cls = "s" + strconv.Itoa(i%6)
		}
		i0, i1 := 0, s.Len()
		if s.X == nil && s.Step > 0 {
			i0, i1 = uniformWindow(s.Start, 1/s.Step, i1, p.xmin, p.xmax)
		}
		at := func(i int) float64 { return s.At(i0 + i) }
		segs := Decimate(i1-i0, at, s.Y[i0:i1], p.xmin, p.xmax, p.columns())
		w.writePath(p, "series "+cls, palette[i%len(palette)], s.Label, segs)
	}
	if len(c.Series) > 1 {
		w.legend(p, c.Series)
	}
	w.close()
	return w.String()
}

// Component renders the chart as a templ.Component.
func (c LineChart) Component() templ.Component { return rawComponent(c.SVG()) }

// describe is the default <desc>: what is plotted and over which range.
func (c *LineChart) describe() string {
	s := "Line chart"
	if t := axisTitle(c.Y.Label, c.Y.Unit); t != "" {
		s += " of " + t
	}
	if t := axisTitle(c.X.Label, c.X.Unit); t != "" {
		s += " against " + t
	}
	return s + "."
}

var palette = []string{"#c0392b", "#1f6fb2", "#2a9d8f", "#8e44ad", "#d68910", "#566573"}

// writePath draws segments as subpaths of one path element. Round caps make
// a one-point segment visible as a dot.
func (w *svgWriter) writePath(p *plotArea, class, color, label string, segs [][]Point) {
	w.raw(`<path class="`)
	w.text(class)
	w.raw(`" fill="none" stroke="`, color, `" stroke-width="1.25" stroke-linejoin="round" stroke-linecap="round" data-points="`,
		strconv.Itoa(PointCount(segs)), `" d="`)
	for _, seg := range segs {
		for j, pt := range seg {
			if j == 0 {
				w.raw("M")
			} else {
				w.raw(" L")
			}
			w.num(p.px(pt.X))
			w.raw(" ")
			w.num(p.py(pt.Y))
		}
		if len(seg) == 1 {
			w.raw(" l0 0")
		}
	}
	w.raw(`"`)
	if label != "" {
		w.raw(`><title>`)
		w.text(label)
		w.raw(`</title></path>`)
		return
	}
	w.raw(`/>`)
}

func (w *svgWriter) legend(p *plotArea, series []Series) {
	w.raw(`<g class="legend" font-size="11" font-family="sans-serif">`)
	x := p.x0 + 8
	for i := range series {
		w.raw(`<rect x="`)
		w.num(x)
		w.raw(`" y="`)
		w.num(p.y0 + 4)
		w.raw(`" width="10" height="10" fill="`, palette[i%len(palette)], `"/><text x="`)
		w.num(x + 14)
		w.raw(`" y="`)
		w.num(p.y0 + 13)
		w.raw(`">`)
		w.text(series[i].Label)
		w.raw(`</text>`)
		x += 24 + 7*float64(len(series[i].Label))
	}
	w.raw(`</g>`)
}
