package charts

import (
	"math"
	"strconv"

	"github.com/a-h/templ"
)

// Scatter is a scatter plot, decimated to one dot per occupied cell of a
// pixel grid; a dot's opacity grows with the number of points in its cell.
type Scatter struct {
	Title, Desc   string
	Width, Height int // 0 gives 320 × 320
	X, Y          Axis
	Xs, Ys        []float64 // pairs with a NaN are skipped
	// Identity draws the line y = x (for the Poincaré plot).
	Identity bool
	// Cell is the side of a grid cell in user units; 0 gives 3.
	Cell float64
}

// Poincare builds the Poincaré plot of RR intervals (ms): RR[n+1] against
// RR[n], on equal axes, with SD1 and SD2 in the description.
func Poincare(rrMs []float64, width int) Scatter {
	n := len(rrMs)
	var xs, ys []float64
	if n > 1 {
		xs, ys = rrMs[:n-1], rrMs[1:]
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range rrMs {
		if v == v && !math.IsInf(v, 0) {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
	}
	lo, hi = padRange(lo, hi)
	desc := "Poincaré plot of successive RR intervals."
	if sd1, sd2, ok := PoincareSD(rrMs); ok {
		desc = "Poincaré plot of successive RR intervals; SD1 " + strconv.FormatFloat(sd1, 'f', 1, 64) +
			" ms, SD2 " + strconv.FormatFloat(sd2, 'f', 1, 64) + " ms."
	}
	return Scatter{
		Title: "Poincaré plot", Desc: desc, Width: width, Height: width,
		X: Axis{Label: "RR(n)", Unit: "ms", Min: lo, Max: hi}, Y: Axis{Label: "RR(n+1)", Unit: "ms", Min: lo, Max: hi},
		Xs: xs, Ys: ys, Identity: true,
	}
}

// PoincareSD returns the standard deviations across (SD1) and along (SD2)
// the identity line of the Poincaré plot, skipping pairs with a NaN.
func PoincareSD(rr []float64) (sd1, sd2 float64, ok bool) {
	var d, s []float64
	for i := 0; i+1 < len(rr); i++ {
		a, b := rr[i], rr[i+1]
		if a != a || b != b {
			continue
		}
		d = append(d, (b-a)/math.Sqrt2)
		s = append(s, (b+a)/math.Sqrt2)
	}
	if len(d) < 2 {
		return 0, 0, false
	}
	return stddev(d), stddev(s), true
}

func stddev(v []float64) float64 {
	var m float64
	for _, x := range v {
		m += x
	}
	m /= float64(len(v))
	var ss float64
	for _, x := range v {
		ss += (x - m) * (x - m)
	}
	return math.Sqrt(ss / float64(len(v)-1))
}

// SVG renders the scatter plot.
func (c Scatter) SVG() string {
	w, h := c.Width, c.Height
	if w <= 0 {
		w = 320
	}
	if h <= 0 {
		h = w
	}
	p := &plotArea{
		x0: axisMargins.left, y0: axisMargins.top,
		w: float64(w) - axisMargins.left - axisMargins.right, h: float64(h) - axisMargins.top - axisMargins.bottom,
		width: w, height: h, xLabel: c.X.Label, xUnit: c.X.Unit, yLabel: c.Y.Label, yUnit: c.Y.Unit,
	}
	n := len(c.Xs)
	if len(c.Ys) < n {
		n = len(c.Ys)
	}
	finite := func(v float64) bool { return v == v && !math.IsInf(v, 0) }
	if c.X.fixed() {
		p.xmin, p.xmax = c.X.Min, c.X.Max
	} else {
		lo, hi := math.Inf(1), math.Inf(-1)
		for i := 0; i < n; i++ {
			if finite(c.Xs[i]) && finite(c.Ys[i]) {
				lo, hi = math.Min(lo, c.Xs[i]), math.Max(hi, c.Xs[i])
			}
		}
		p.xmin, p.xmax = padRange(lo, hi)
	}
	if c.Y.fixed() {
		p.ymin, p.ymax = c.Y.Min, c.Y.Max
	} else {
		lo, hi := math.Inf(1), math.Inf(-1)
		for i := 0; i < n; i++ {
			if finite(c.Xs[i]) && finite(c.Ys[i]) {
				lo, hi = math.Min(lo, c.Ys[i]), math.Max(hi, c.Ys[i])
			}
		}
		p.ymin, p.ymax = padRange(lo, hi)
	}
	cell := c.Cell
	if cell <= 0 {
		cell = 3
	}
	cols, rows := int(math.Ceil(p.w/cell)), int(math.Ceil(p.h/cell))
	if cols < 1 {
		cols = 1
	}
	if rows < 1 {
		rows = 1
	}
	grid := make([]int32, cols*rows)
	maxCount := int32(0)
	for i := 0; i < n; i++ {
		x, y := c.Xs[i], c.Ys[i]
		if !finite(x) || !finite(y) || x < p.xmin || x > p.xmax || y < p.ymin || y > p.ymax {
			continue
		}
		cx := int((p.px(x) - p.x0) / cell)
		cy := int((p.py(y) - p.y0) / cell)
		cx, cy = clampInt(cx, 0, cols-1), clampInt(cy, 0, rows-1)
		k := cy*cols + cx
		grid[k]++
		if grid[k] > maxCount {
			maxCount = grid[k]
		}
	}
	var sw svgWriter
	desc := c.Desc
	if desc == "" {
		desc = "Scatter plot of " + axisTitle(c.Y.Label, c.Y.Unit) + " against " + axisTitle(c.X.Label, c.X.Unit) + "."
	}
	sw.open("chart-scatter", w, h, c.Title, desc, ` data-n="`+strconv.Itoa(n)+`"`)
	sw.axes(p)
	if c.Identity {
		lo, hi := math.Max(p.xmin, p.ymin), math.Min(p.xmax, p.ymax)
		if lo < hi {
			sw.raw(`<line class="identity" stroke="#999" stroke-dasharray="4 3" x1="`)
			sw.num(p.px(lo))
			sw.raw(`" y1="`)
			sw.num(p.py(lo))
			sw.raw(`" x2="`)
			sw.num(p.px(hi))
			sw.raw(`" y2="`)
			sw.num(p.py(hi))
			sw.raw(`"/>`)
		}
	}
	sw.raw(`<g class="dots" fill="#1f6fb2">`)
	for k, cnt := range grid {
		if cnt == 0 {
			continue
		}
		cx := p.x0 + (float64(k%cols)+0.5)*cell
		cy := p.y0 + (float64(k/cols)+0.5)*cell
		// Opacity on a log scale: one point is visible, dense clouds are solid.
		op := 0.35 + 0.65*math.Log1p(float64(cnt))/math.Log1p(float64(maxCount))
		sw.raw(`<circle cx="`)
		sw.num(cx)
		sw.raw(`" cy="`)
		sw.num(cy)
		sw.raw(`" r="`)
		sw.num(cell * 0.6)
		sw.raw(`" fill-opacity="`, strconv.FormatFloat(op, 'f', 2, 64), `"/>`)
	}
	sw.raw(`</g>`)
	sw.close()
	return sw.String()
}

// Component renders the scatter plot as a templ.Component.
func (c Scatter) Component() templ.Component { return rawComponent(c.SVG()) }

func clampInt(v, lo, hi int) int {
	if v < lo {
		return lo
	}
	if v > hi {
		return hi
	}
	return v
}
