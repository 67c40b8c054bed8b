// Package charts renders the portal's charts as self-contained SVG on the
// server: line charts of time series (NaN = gap), the ECG strip with beat
// markers, the Poincaré scatter, the episode timeline and channel sparklines.
//
// Every builder decimates to the pixel grid before it writes a single
// coordinate (min/max per pixel column for lines, one dot per occupied cell
// for scatters), so a 24-hour record at 360 Hz renders to a few kilobytes.
// Output is deterministic: same input, same bytes. Text is escaped; the SVG
// carries no scripts and no style attributes (the portal's CSP forbids
// inline styles), only presentation attributes and CSS classes that
// static/css/app.css refines.
package charts

import (
	"context"
	"html"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/a-h/templ"
)

// Default sizes, in SVG user units (the CSS scales the SVG to its container).
const (
	DefaultWidth  = 800
	DefaultHeight = 240
)

// margins around the plot area, room for tick labels and axis titles.
type margins struct{ left, right, top, bottom float64 }

var axisMargins = margins{left: 56, right: 12, top: 12, bottom: 40}

// svgWriter accumulates one SVG document. Numbers are written with a fixed
// precision so that output is byte-for-byte reproducible.
type svgWriter struct{ b strings.Builder }

func (w *svgWriter) raw(s ...string) {
	for _, x := range s {
		w.b.WriteString(x)
	}
}

// text writes s escaped for XML character data and attribute values.
func (w *svgWriter) text(s string) { w.b.WriteString(html.EscapeString(s)) }

// num writes a coordinate with one decimal: sub-pixel precision is enough.
func (w *svgWriter) num(v float64) { w.b.WriteString(fmtCoord(v)) }

func fmtCoord(v float64) string {
	if v != v || math.IsInf(v, 0) {
		return "0"
	}
	s := strconv.FormatFloat(v, 'f', 1, 64)
	s = strings.TrimSuffix(s, ".0")
	if s == "-0" {
		s = "0"
	}
	return s
}

// open writes the root element with its accessible name and description.
func (w *svgWriter) open(class string, width, height int, title, desc string, extra string) {
	w.raw(`<svg xmlns="http://www.w3.org/2000/svg" class="chart `, html.EscapeString(class), `" viewBox="0 0 `,
		strconv.Itoa(width), " ", strconv.Itoa(height), `" width="`, strconv.Itoa(width), `" height="`, strconv.Itoa(height),
		`" role="img" aria-label="`)
	w.text(title)
	w.raw(`" preserveAspectRatio="xMinYMin meet"`, extra, `><title>`)
	w.text(title)
	w.raw(`</title>`)
	if desc != "" {
		w.raw(`<desc>`)
		w.text(desc)
		w.raw(`</desc>`)
	}
}

func (w *svgWriter) close() { w.raw(`</svg>`) }

func (w *svgWriter) String() string { return w.b.String() }

// rawComponent wraps our own generated SVG as a templ.Component. Only SVG
// built in this package goes through it: every piece of text in it was
// escaped by svgWriter.text.
func rawComponent(svg string) templ.Component {
	return templ.ComponentFunc(func(_ context.Context, w io.Writer) error {
		_, err := io.WriteString(w, svg)
		return err
	})
}

// plotArea is the rectangle inside the margins and the linear maps into it.
type plotArea struct {
	x0, y0, w, h   float64 // top-left corner and size in user units
	xmin, xmax     float64
	ymin, ymax     float64
	width, height  int
	xTime          bool
	xUnit, yUnit   string
	xLabel, yLabel string
	tickDY         float64 // distance of x tick labels below the plot; 0 gives 14
}

func (p *plotArea) px(x float64) float64 {
	if p.xmax == p.xmin {
		return p.x0
	}
	return p.x0 + (x-p.xmin)/(p.xmax-p.xmin)*p.w
}

func (p *plotArea) py(y float64) float64 {
	if p.ymax == p.ymin {
		return p.y0 + p.h/2
	}
	return p.y0 + p.h - (y-p.ymin)/(p.ymax-p.ymin)*p.h
}

// columns is the number of pixel columns of the plot area: the decimation
// bound for one line series is two points per column.
func (p *plotArea) columns() int {
	c := int(p.w)
	if c < 1 {
		c = 1
	}
	return c
}

// niceStep returns a step of 1, 2 or 5 × 10^k giving about n intervals over span.
func niceStep(span float64, n int) float64 {
	if !(span > 0) || n < 1 {
		return 1
	}
	raw := span / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*mag >= raw {
			return m * mag
		}
	}
	return 10 * mag
}

// ticks returns the multiples of a nice step inside [lo, hi].
func ticks(lo, hi float64, n int) []float64 {
	step := niceStep(hi-lo, n)
	start := math.Ceil(lo/step-1e-9) * step
	var out []float64
	for i := 0; ; i++ {
		v := start + float64(i)*step
		if v > hi+step*1e-9 || i > 1000 {
			break
		}
		if math.Abs(v) < step*1e-9 {
			v = 0
		}
		out = append(out, v)
	}
	return out
}

// timeTicks picks steps that read well on a clock: 1, 2, 5, 10, 15, 30 s,
// 1, 2, 5, 10, 15, 30 min, 1, 2, 3, 6, 12 h.
func timeTicks(lo, hi float64, n int) []float64 {
	span := hi - lo
	if !(span > 0) {
		return []float64{lo}
	}
	steps := []float64{0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400}
	step := steps[len(steps)-1]
	for _, s := range steps {
		if span/s <= float64(n) {
			step = s
			break
		}
	}
	start := math.Ceil(lo/step-1e-9) * step
	var out []float64
	for i := 0; i <= 1000; i++ {
		v := start + float64(i)*step
		if v > hi+step*1e-9 {
			break
		}
		out = append(out, v)
	}
	return out
}

// FormatClock formats seconds from the start of a record as h:mm:ss, m:ss or
// s.s depending on the span being shown.
func FormatClock(sec, span float64) string {
	neg := sec < 0
	if neg {
		sec = -sec
	}
	var s string
	switch {
	case span >= 3600 || sec >= 3600:
		t := int64(math.Round(sec))
		s = strconv.FormatInt(t/3600, 10) + ":" + pad2(t/60%60) + ":" + pad2(t%60)
	case span >= 60 || sec >= 60:
		t := int64(math.Round(sec))
		s = strconv.FormatInt(t/60, 10) + ":" + pad2(t%60)
	case span >= 5:
		s = strconv.FormatFloat(math.Round(sec), 'f', 0, 64) + " s"
	default:
		s = strconv.FormatFloat(sec, 'f', 1, 64) + " s"
	}
	if neg {
		return "-" + s
	}
	return s
}

// clockTick formats a time tick: h:mm when the span is hours and the step
// whole minutes (0:10 rather than 0:10:00), else as FormatClock.
func clockTick(sec, span, step float64) string {
	if span >= 3600 && step >= 60 && math.Mod(step, 60) == 0 {
		t := int64(math.Round(sec / 60))
		return strconv.FormatInt(t/60, 10) + ":" + pad2(t%60)
	}
	return FormatClock(sec, span)
}

// anchor keeps the labels of ticks near the ends of the x axis inside the
// drawing: the last one ends at its tick instead of centring on it.
func (p *plotArea) anchor(v float64) string {
	if x := p.px(v); x > p.x0+p.w-24 {
		return "end"
	}
	return "middle"
}

func pad2(v int64) string {
	if v < 10 {
		return "0" + strconv.FormatInt(v, 10)
	}
	return strconv.FormatInt(v, 10)
}

// FormatValue formats a tick value with as few decimals as its step needs.
func FormatValue(v, step float64) string {
	dec := 0
	if step > 0 && step < 1 {
		dec = int(math.Ceil(-math.Log10(step) - 1e-9))
		if dec > 6 {
			dec = 6
		}
	}
	s := strconv.FormatFloat(v, 'f', dec, 64)
	if s == "-0" {
		s = "0"
	}
	return s
}

// axisTitle joins a label and its unit: "Heart rate (bpm)".
func axisTitle(label, unit string) string {
	switch {
	case label == "" && unit == "":
		return ""
	case unit == "":
		return label
	case label == "":
		return "(" + unit + ")"
	}
	return label + " (" + unit + ")"
}

// axes draws the grid, the ticks with labels and the axis titles.
// frame outlines the plot area.
func (w *svgWriter) frame(p *plotArea) {
	w.raw(`<rect class="frame" fill="none" stroke="#999" x="`)
	w.num(p.x0)
	w.raw(`" y="`)
	w.num(p.y0)
	w.raw(`" width="`)
	w.num(p.w)
	w.raw(`" height="`)
	w.num(p.h)
	w.raw(`"/>`)
}

func (w *svgWriter) axes(p *plotArea) {
	w.raw(`<g class="grid" stroke="#e3e3e3" stroke-width="1">`)
	var xt []float64
	if p.xTime {
		xt = timeTicks(p.xmin, p.xmax, 8)
	} else {
		xt = ticks(p.xmin, p.xmax, 8)
	}
	yt := ticks(p.ymin, p.ymax, 5)
	for _, v := range xt {
		x := p.px(v)
		w.raw(`<line x1="`)
		w.num(x)
		w.raw(`" x2="`)
		w.num(x)
		w.raw(`" y1="`)
		w.num(p.y0)
		w.raw(`" y2="`)
		w.num(p.y0 + p.h)
		w.raw(`"/>`)
	}
	for _, v := range yt {
		y := p.py(v)
		w.raw(`<line x1="`)
		w.num(p.x0)
		w.raw(`" x2="`)
		w.num(p.x0 + p.w)
		w.raw(`" y1="`)
		w.num(y)
		w.raw(`" y2="`)
		w.num(y)
		w.raw(`"/>`)
	}
	w.raw(`</g>`)
	w.raw(`<g class="axis" fill="#444" font-size="11" font-family="sans-serif">`)
	w.frame(p)
	xstep := 1.0
	if len(xt) > 1 {
		xstep = xt[1] - xt[0]
	}
	for _, v := range xt {
		w.raw(`<text class="tick x" text-anchor="`, p.anchor(v), `" x="`)
		w.num(p.px(v))
		w.raw(`" y="`)
		dy := p.tickDY
		if dy == 0 {
			dy = 14
		}
		w.num(p.y0 + p.h + dy)
		w.raw(`">`)
		if p.xTime {
			w.text(clockTick(v, p.xmax-p.xmin, xstep))
		} else {
			w.text(FormatValue(v, xstep))
		}
		w.raw(`</text>`)
	}
	ystep := 1.0
	if len(yt) > 1 {
		ystep = yt[1] - yt[0]
	}
	for _, v := range yt {
		w.raw(`<text class="tick y" text-anchor="end" x="`)
		w.num(p.x0 - 4)
		w.raw(`" y="`)
		w.num(p.py(v) + 4)
		w.raw(`">`)
		w.text(FormatValue(v, ystep))
		w.raw(`</text>`)
	}
	if t := axisTitle(p.xLabel, p.xUnit); t != "" {
		w.raw(`<text class="label x" text-anchor="middle" x="`)
		w.num(p.x0 + p.w/2)
		w.raw(`" y="`)
		w.num(float64(p.height) - 4)
		w.raw(`">`)
		w.text(t)
		w.raw(`</text>`)
	}
	if t := axisTitle(p.yLabel, p.yUnit); t != "" {
		cy := p.y0 + p.h/2
		w.raw(`<text class="label y" text-anchor="middle" transform="rotate(-90 12 `)
		w.num(cy)
		w.raw(`)" x="12" y="`)
		w.num(cy)
		w.raw(`">`)
		w.text(t)
		w.raw(`</text>`)
	}
	w.raw(`</g>`)
}
