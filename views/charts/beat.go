package charts

import (
	"math"
	"strconv"

	"github.com/a-h/templ"
)

// Beat is one beat drawn small, without axes: the representative beat of
// a morphology family in a Holter report, a line over its samples with
// the fiducial point marked by a short tick.
type Beat struct {
	Title   string
	Samples []float64
	At      int // index of the fiducial sample
	// Width and Height in user units; 0 gives 120 × 80.
	Width, Height int
}

// SVG renders the beat.
func (b Beat) SVG() string {
	w, h := b.Width, b.Height
	if w <= 0 {
		w = 120
	}
	if h <= 0 {
		h = 80
	}
	var out svgWriter
	out.open("chart-beat", w, h, b.Title, "", ` data-samples="`+strconv.Itoa(len(b.Samples))+`"`)
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range b.Samples {
		if v == v {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
	}
	if len(b.Samples) > 1 && hi >= lo {
		if hi == lo {
			lo, hi = lo-1, hi+1
		}
		const pad = 4.0
		x := func(i int) float64 { return pad + float64(i)*(float64(w)-2*pad)/float64(len(b.Samples)-1) }
		y := func(v float64) float64 { return pad + (hi-v)*(float64(h)-2*pad)/(hi-lo) }
		out.raw(`<path class="series ecg" fill="none" stroke="#111" d="`)
		pen := "M"
		for i, v := range b.Samples {
			if v != v {
				pen = "M"
				continue
			}
			out.raw(pen)
			out.num(x(i))
			out.raw(" ")
			out.num(y(v))
			pen = "L"
		}
		out.raw(`"/>`)
		if b.At >= 0 && b.At < len(b.Samples) {
			out.raw(`<path class="fiducial" stroke="#c00" d="M`)
			out.num(x(b.At))
			out.raw(" 0 V ")
			out.num(pad)
			out.raw(`"/>`)
		}
	}
	out.close()
	return out.String()
}

// Component renders the beat as a templ component.
func (b Beat) Component() templ.Component { return rawComponent(b.SVG()) }
