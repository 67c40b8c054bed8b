package charts

import (
	"strconv"
	"strings"

	"github.com/a-h/templ"
)

// Episode is an interval of interest on a record, e.g. an alarm.
type Episode struct {
	Start, End float64 // seconds from the record start
	Label      string  // lane name, e.g. "SpO2 low"
	Detail     string  // shown in the tooltip, e.g. "min 84 %"
	// Kind is a CSS class hint: "high", "low", "technical", "info".
	Kind string
	// Href, when set, links the episode (e.g. to the ECG strip at that time).
	Href string
}

// Timeline draws episodes as bars on one lane per distinct label, over the
// whole record duration.
type Timeline struct {
	Title    string
	Width    int     // 0 gives DefaultWidth
	Duration float64 // seconds; the time axis spans [0, Duration]
	Episodes []Episode
}

// Lanes returns the distinct labels in order of first appearance.
func (t *Timeline) Lanes() []string {
	var lanes []string
	seen := map[string]bool{}
	for _, e := range t.Episodes {
		if !seen[e.Label] {
			seen[e.Label] = true
			lanes = append(lanes, e.Label)
		}
	}
	return lanes
}

var kindColor = map[string]string{"high": "#c0392b", "low": "#1f6fb2", "technical": "#7f8c8d", "info": "#2a9d8f"}

// SVG renders the timeline.
func (t Timeline) SVG() string {
	lanes := t.Lanes()
	laneH := 22.0
	width := t.Width
	if width <= 0 {
		width = DefaultWidth
	}
	nl := len(lanes)
	if nl == 0 {
		nl = 1
	}
	left := 120.0
	height := int(axisMargins.top + laneH*float64(nl) + axisMargins.bottom)
	p := &plotArea{
		x0: left, y0: axisMargins.top, w: float64(width) - left - axisMargins.right, h: laneH * float64(nl),
		width: width, height: height, xTime: true, xLabel: "Time",
		xmin: 0, xmax: t.Duration, ymin: 0, ymax: float64(nl),
	}
	if !(p.xmax > 0) {
		p.xmax = 1
	}
	var w svgWriter
	title := t.Title
	if title == "" {
		title = "Episodes timeline"
	}
	w.open("chart-timeline", width, height, title,
		strconv.Itoa(len(t.Episodes))+" episodes over "+FormatClock(t.Duration, t.Duration)+", one row per kind.", "")
	// Time grid and ticks only; lanes replace the y axis.
	w.raw(`<g class="grid" stroke="#e3e3e3">`)
	for _, v := range timeTicks(p.xmin, p.xmax, 8) {
		w.raw(`<line x1="`)
		w.num(p.px(v))
		w.raw(`" x2="`)
		w.num(p.px(v))
		w.raw(`" y1="`)
		w.num(p.y0)
		w.raw(`" y2="`)
		w.num(p.y0 + p.h)
		w.raw(`"/>`)
	}
	w.raw(`</g><g class="axis" fill="#444" font-size="11" font-family="sans-serif">`)
	tt := timeTicks(p.xmin, p.xmax, 8)
	step := 1.0
	if len(tt) > 1 {
		step = tt[1] - tt[0]
	}
	for _, v := range tt {
		w.raw(`<text text-anchor="`, p.anchor(v), `" x="`)
		w.num(p.px(v))
		w.raw(`" y="`)
		w.num(p.y0 + p.h + 14)
		w.raw(`">`)
		w.text(clockTick(v, p.xmax-p.xmin, step))
		w.raw(`</text>`)
	}
	for i, l := range lanes {
		w.raw(`<text text-anchor="end" x="`)
		w.num(left - 6)
		w.raw(`" y="`)
		w.num(p.y0 + laneH*float64(i) + 15)
		w.raw(`">`)
		w.text(l)
		w.raw(`</text>`)
	}
	w.frame(p)
	w.raw(`</g><g class="episodes">`)
	for _, e := range t.Episodes {
		lane := 0
		for i, l := range lanes {
			if l == e.Label {
				lane = i
			}
		}
		x1, x2 := p.px(e.Start), p.px(e.End)
		if x2-x1 < 2 {
			x2 = x1 + 2 // a short episode stays visible and clickable
		}
		color, ok := kindColor[e.Kind]
		if !ok {
			color = kindColor["info"]
		}
		link := localHref(e.Href)
		if link {
			w.raw(`<a href="`)
			w.text(e.Href)
			w.raw(`" data-strip-from="`, fmtCoord3(e.Start), `">`)
		}
		w.raw(`<rect class="episode `)
		w.text(e.Kind)
		w.raw(`" fill="`, color, `" x="`)
		w.num(x1)
		w.raw(`" y="`)
		w.num(p.y0 + laneH*float64(lane) + 4)
		w.raw(`" width="`)
		w.num(x2 - x1)
		w.raw(`" height="`)
		w.num(laneH - 8)
		w.raw(`"><title>`)
		w.text(e.Label)
		w.raw(" ")
		w.text(FormatClock(e.Start, t.Duration) + "–" + FormatClock(e.End, t.Duration))
		if e.Detail != "" {
			w.raw(" · ")
			w.text(e.Detail)
		}
		w.raw(`</title></rect>`)
		if link {
			w.raw(`</a>`)
		}
	}
	w.raw(`</g>`)
	w.close()
	return w.String()
}

// Component renders the timeline as a templ.Component.
func (t Timeline) Component() templ.Component { return rawComponent(t.SVG()) }

// localHref reports whether href is a link within the portal (a path, a
// query or a fragment); others are not rendered, since SVG links bypass
// templ's URL sanitising.
func localHref(href string) bool {
	if href == "" || strings.HasPrefix(href, "//") {
		return false
	}
	return href[0] == '/' || href[0] == '?' || href[0] == '#'
}

// Sparkline is a small chart without axes: a preview of one channel.
type Sparkline struct {
	Label         string // accessible name, e.g. "MLII preview"
	Width, Height int    // 0 gives 240 × 40
	Samples       []float64
}

// SVG renders the sparkline.
func (s Sparkline) SVG() string {
	w, h := s.Width, s.Height
	if w <= 0 {
		w = 240
	}
	if h <= 0 {
		h = 40
	}
	lo, hi := 0.0, 0.0
	first := true
	for _, v := range s.Samples {
		if v != v {
			continue
		}
		if first || v < lo {
			lo = v
		}
		if first || v > hi {
			hi = v
		}
		first = false
	}
	desc := "No samples."
	if !first {
		desc = "Range " + strconv.FormatFloat(lo, 'g', 4, 64) + " to " + strconv.FormatFloat(hi, 'g', 4, 64) + "."
	}
	lo, hi = padRange(lo, hi)
	if first {
		lo, hi = 0, 1
	}
	p := &plotArea{x0: 1, y0: 1, w: float64(w) - 2, h: float64(h) - 2, width: w, height: h,
		xmin: 0, xmax: float64(len(s.Samples) - 1), ymin: lo, ymax: hi}
	if p.xmax <= 0 {
		p.xmax = 1
	}
	var sw svgWriter
	sw.open("chart-sparkline", w, h, s.Label, desc, "")
	segs := Decimate(len(s.Samples), func(i int) float64 { return float64(i) }, s.Samples, p.xmin, p.xmax, p.columns())
	sw.writePath(p, "series spark", "#1f6fb2", "", segs)
	sw.close()
	return sw.String()
}

// Component renders the sparkline as a templ.Component.
func (s Sparkline) Component() templ.Component { return rawComponent(s.SVG()) }
