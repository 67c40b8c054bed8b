package charts

import (
	"math"
	"strconv"

	"github.com/a-h/templ"
)

// Mark is a beat or event on the ECG strip, at a time in seconds from the
// record start, with its annotation code (e.g. "N", "V").
type Mark struct {
	Time  float64
	Label string
}

// Strip is an ECG strip: one channel over a window [From, To) seconds with
// detected beats marked above the trace and reference annotations (from an
// uploaded .atr) marked below it, so that misses and false detections stand
// out. Short windows get the familiar paper grid (0.2 s × 0.5 mV major).
type Strip struct {
	Title string
	// Width and Height in user units; 0 gives 1000 × 260.
	Width, Height int
	From, To      float64 // the window shown, in seconds from the record start
	// Samples[0] is at time Start; uniform at Rate samples per second.
	Start   float64
	Rate    float64
	Samples []float64
	Lead    string // e.g. "MLII"
	Unit    string // e.g. "mV"
	// Min and Max fix the amplitude range when Min < Max.
	Min, Max  float64
	Detected  []Mark
	Reference []Mark
	// Second is the record's other lead over the same window, drawn in a
	// band of its own below the first (no marks); nil for one lead.
	Second *StripLead
}

// StripLead is a second lead of a strip: its samples from time Start at
// the strip's Rate.
type StripLead struct {
	Lead, Unit string
	Start      float64
	Samples    []float64
}

// StripWidth and StripHeight are the default size of a strip.
const (
	StripWidth  = 1000
	StripHeight = 260
)

func (s *Strip) area() *plotArea {
	w, h := s.Width, s.Height
	if w <= 0 {
		w = StripWidth
	}
	if h <= 0 {
		h = StripHeight
	}
	p := &plotArea{
		x0: axisMargins.left, y0: axisMargins.top + 14,
		w:     float64(w) - axisMargins.left - axisMargins.right,
		h:     float64(h) - axisMargins.top - axisMargins.bottom - 40,
		width: w, height: h, xTime: true,
		xLabel: "Time", yLabel: s.Lead, yUnit: s.Unit,
		xmin: s.From, xmax: s.To, tickDY: 34,
	}
	if !(p.xmax > p.xmin) {
		p.xmax = p.xmin + 1
	}
	if s.Min < s.Max {
		p.ymin, p.ymax = s.Min, s.Max
	} else {
		lo, hi := math.Inf(1), math.Inf(-1)
		i0, i1 := s.window()
		for _, v := range s.Samples[i0:i1] {
			if v == v {
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
		p.ymin, p.ymax = padRange(lo, hi)
	}
	return p
}

// window is the index range of the samples inside [From, To], found
// arithmetically so that a 10-s window of a 24-h record costs 10 s of work.
func (s *Strip) window() (i0, i1 int) {
	return uniformWindow(s.Start, s.Rate, len(s.Samples), s.From, s.To)
}

// uniformWindow returns the indices [i0, i1) of a uniform series (first
// sample at start, rate samples per second) whose times fall in [from, to],
// with one sample of margin on each side.
func uniformWindow(start, rate float64, n int, from, to float64) (i0, i1 int) {
	if rate <= 0 || n == 0 {
		return 0, n
	}
	a := math.Floor((from-start)*rate) - 1
	b := math.Ceil((to-start)*rate) + 2
	i0 = int(math.Max(0, math.Min(a, float64(n))))
	i1 = int(math.Max(float64(i0), math.Min(b, float64(n))))
	return i0, i1
}

func (s *Strip) at(i int) float64 {
	if s.Rate <= 0 {
		return s.Start
	}
	return s.Start + float64(i)/s.Rate
}

// MarkX is the x coordinate (in user units) at which a mark at time t is
// drawn; tests and the strip script rely on the same mapping.
func (s Strip) MarkX(t float64) float64 { return s.area().px(t) }

// SVG renders the strip.
func (s Strip) SVG() string {
	p := s.area()
	var w svgWriter
	title := s.Title
	if title == "" {
		title = "ECG strip " + FormatClock(s.From, s.To-s.From) + " to " + FormatClock(s.To, s.To-s.From)
	}
	desc := "ECG"
	if s.Lead != "" {
		desc += " lead " + s.Lead
	}
	desc += " from " + strconv.FormatFloat(s.From, 'f', 1, 64) + " s to " + strconv.FormatFloat(s.To, 'f', 1, 64) + " s; " +
		strconv.Itoa(countIn(s.Detected, s.From, s.To)) + " detected beats marked above the trace (triangles pointing down)"
	if len(s.Reference) > 0 {
		desc += ", " + strconv.Itoa(countIn(s.Reference, s.From, s.To)) + " reference annotations below it (triangles pointing up)"
	}
	desc += "."
	extra := ` data-from="` + fmtCoord3(s.From) + `" data-to="` + fmtCoord3(s.To) + `"`
	var p2 *plotArea
	if s.Second != nil && len(s.Second.Samples) > 0 {
		second := Strip{From: s.From, To: s.To, Start: s.Second.Start, Rate: s.Rate, Samples: s.Second.Samples, Lead: s.Second.Lead, Unit: s.Second.Unit, Width: s.Width, Height: s.Height}
		p2 = second.area()
		p2.y0 += float64(p.height)
		p2.height += p.height
		desc += " Below it, lead " + s.Second.Lead + " over the same time."
		extra += ` data-leads="2"`
	}
	height := p.height
	if p2 != nil {
		height = p2.height
	}
	w.open("chart-strip", p.width, height, title, desc, extra)
	if s.To-s.From <= 12 && s.Unit == "mV" {
		w.paperGrid(p)
	}
	w.axes(p)
	i0, i1 := s.window()
	at := func(i int) float64 { return s.at(i0 + i) }
	segs := Decimate(i1-i0, at, s.Samples[i0:i1], p.xmin, p.xmax, p.columns())
	w.writePath(p, "series ecg", "#111", "", segs)
	w.marks(p, s.Detected, "detected", true)
	w.marks(p, s.Reference, "reference", false)
	if p2 != nil {
		w.raw(`<g class="lead second" data-lead="`)
		w.text(s.Second.Lead)
		w.raw(`">`)
		if s.To-s.From <= 12 && s.Second.Unit == "mV" {
			w.paperGrid(p2)
		}
		w.axes(p2)
		j0, j1 := uniformWindow(s.Second.Start, s.Rate, len(s.Second.Samples), s.From, s.To)
		at2 := func(i int) float64 { return s.Second.Start + float64(j0+i)/s.Rate }
		w.writePath(p2, "series ecg", "#111", "", Decimate(j1-j0, at2, s.Second.Samples[j0:j1], p2.xmin, p2.xmax, p2.columns()))
		w.raw(`</g>`)
	}
	w.close()
	return w.String()
}

// Component renders the strip as a templ.Component.
func (s Strip) Component() templ.Component { return rawComponent(s.SVG()) }

func fmtCoord3(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }

func countIn(ms []Mark, from, to float64) int {
	n := 0
	for _, m := range ms {
		if m.Time >= from && m.Time <= to {
			n++
		}
	}
	return n
}

// paperGrid draws the ECG paper: minor lines every 0.04 s and 0.1 mV, major
// every 0.2 s and 0.5 mV.
func (w *svgWriter) paperGrid(p *plotArea) {
	for _, g := range []struct {
		dt, dv float64
		class  string
		color  string
	}{{0.04, 0.1, "paper minor", "#fbe3e3"}, {0.2, 0.5, "paper major", "#f3b6b6"}} {
		if p.w/((p.xmax-p.xmin)/g.dt) < 3 {
			continue // too dense to help
		}
		w.raw(`<g class="`, g.class, `" stroke="`, g.color, `" stroke-width="0.6"><path d="`)
		for t := math.Ceil(p.xmin/g.dt) * g.dt; t <= p.xmax; t += g.dt {
			x := p.px(t)
			w.raw("M")
			w.num(x)
			w.raw(" ")
			w.num(p.y0)
			w.raw("V")
			w.num(p.y0 + p.h)
		}
		for v := math.Ceil(p.ymin/g.dv) * g.dv; v <= p.ymax; v += g.dv {
			y := p.py(v)
			w.raw("M")
			w.num(p.x0)
			w.raw(" ")
			w.num(y)
			w.raw("H")
			w.num(p.x0 + p.w)
		}
		w.raw(`"/></g>`)
	}
}

// marks draws one marker per mark inside the window, at most one per pixel
// column so that a zoomed-out window stays light.
func (w *svgWriter) marks(p *plotArea, ms []Mark, kind string, above bool) {
	if len(ms) == 0 {
		return
	}
	w.raw(`<g class="marks `, kind, `" data-kind="`, kind, `">`)
	lastCol := -1
	color := "#c0392b"
	if !above {
		color = "#1f6fb2"
	}
	for _, m := range ms {
		if m.Time < p.xmin || m.Time > p.xmax {
			continue
		}
		x := p.px(m.Time)
		col := int(x)
		if col == lastCol {
			continue
		}
		lastCol = col
		w.raw(`<g class="mark `, kind, `" data-t="`, fmtCoord3(m.Time), `"><line x1="`)
		w.num(x)
		w.raw(`" x2="`)
		w.num(x)
		w.raw(`" y1="`)
		w.num(p.y0)
		w.raw(`" y2="`)
		w.num(p.y0 + p.h)
		w.raw(`" stroke="`, color, `" stroke-opacity="0.25" stroke-width="1"/><path fill="`, color, `" d="M`)
		w.num(x)
		if above {
			w.raw(" ")
			w.num(p.y0 - 2)
			w.raw(`l-4 -8h8z"/>`)
		} else {
			w.raw(" ")
			w.num(p.y0 + p.h + 2)
			w.raw(`l-4 8h8z"/>`)
		}
		if m.Label != "" {
			w.raw(`<text text-anchor="middle" font-size="10" font-family="sans-serif" fill="`, color, `" x="`)
			w.num(x)
			w.raw(`" y="`)
			if above {
				w.num(p.y0 - 12)
			} else {
				w.num(p.y0 + p.h + 20)
			}
			w.raw(`">`)
			w.text(m.Label)
			w.raw(`</text>`)
		}
		w.raw(`<title>`)
		if above {
			w.raw("Detected ")
		} else {
			w.raw("Reference ")
		}
		w.text(m.Label)
		w.raw(" at ")
		w.text(strconv.FormatFloat(m.Time, 'f', 3, 64))
		w.raw(` s</title></g>`)
	}
	w.raw(`</g>`)
}
