package charts

import "math"

// Point is one vertex of a polyline in data coordinates.
type Point struct{ X, Y float64 }

// Decimate reduces the series (x(i), y[i]) to at most two points per pixel
// column: the minimum and the maximum of the column, in sample order, which
// draws the same envelope as the full series at that resolution. A NaN in y
// breaks the line: the result is a list of segments, each drawn as one
// subpath. A gap narrower than a column still breaks the line after that
// column, so missing data never looks continuous; the bound of two points
// per column holds whatever the pattern of NaNs. x must be non-decreasing; samples outside [xmin, xmax] are
// dropped. cols is the number of pixel columns between xmin and xmax.
func Decimate(n int, x func(i int) float64, y []float64, xmin, xmax float64, cols int) [][]Point {
	if cols < 1 {
		cols = 1
	}
	span := xmax - xmin
	var (
		segs [][]Point
		cur  []Point
	)
	endSeg := func() {
		if len(cur) > 0 {
			segs = append(segs, cur)
			cur = nil
		}
	}
	// The bucket of the current column.
	type extreme struct {
		i int
		v float64
	}
	var (
		col                  = -1
		lo, hi               extreme
		hasFinite            bool
		firstNaN, nanAfterOK bool // first sample of column is NaN; a NaN followed a finite value
		started              bool
	)
	flush := func() {
		if !started {
			return
		}
		if firstNaN {
			endSeg()
		}
		if hasFinite {
			a, b := lo, hi
			if b.i < a.i {
				a, b = b, a
			}
			cur = append(cur, Point{x(a.i), a.v})
			if b.i != a.i {
				cur = append(cur, Point{x(b.i), b.v})
			}
		}
		if nanAfterOK {
			endSeg()
		}
	}
	for i := 0; i < n && i < len(y); i++ {
		xi := x(i)
		if xi < xmin || xi > xmax || xi != xi {
			continue
		}
		c := cols - 1
		if span > 0 {
			c = int((xi - xmin) / span * float64(cols))
			if c >= cols {
				c = cols - 1
			}
		}
		v := y[i]
		if c != col {
			flush()
			col, started = c, true
			hasFinite, nanAfterOK = false, false
			firstNaN = v != v || math.IsInf(v, 0)
		}
		if v != v || math.IsInf(v, 0) {
			if hasFinite {
				nanAfterOK = true
			}
			continue
		}
		if !hasFinite {
			lo, hi, hasFinite = extreme{i, v}, extreme{i, v}, true
			continue
		}
		if v < lo.v {
			lo = extreme{i, v}
		}
		if v > hi.v {
			hi = extreme{i, v}
		}
	}
	flush()
	endSeg()
	return segs
}

// PointCount is the number of vertices in a list of segments.
func PointCount(segs [][]Point) int {
	n := 0
	for _, s := range segs {
		n += len(s)
	}
	return n
}
