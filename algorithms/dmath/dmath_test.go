package dmath

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/pulsegrid/pulsegrid/algorithms/canon"
	"github.com/pulsegrid/pulsegrid/algorithms/internal/golden"
)

// fn1 is a one-argument function with its math twin.
type fn1 struct {
	name string
	d, m func(float64) float64
	// pure says math's version is the pure-Go code on this build (no
	// assembly, no FMA fusion), so results must be bit-identical.
	pure bool
}

// mathIsPureGo reports whether math's exported function of that name runs
// the pure-Go code without FMA on this build. wasm has neither assembly for
// these nor FMA; plain amd64 (v1, v2) has assembly only for Exp, Log, Hypot
// (and hence Pow, Log10, Log2, which call them).
func mathIsPureGo(name string) bool {
	switch runtime.GOARCH {
	case "wasm":
		return true
	case "amd64":
		return !fmaBuild && (name == "Sin" || name == "Cos" || name == "Atan" || name == "Atan2")
	}
	return false
}

func unary() []fn1 {
	fs := []fn1{
		{name: "Exp", d: Exp, m: math.Exp},
		{name: "Log", d: Log, m: math.Log},
		{name: "Log10", d: Log10, m: math.Log10},
		{name: "Log2", d: Log2, m: math.Log2},
		{name: "Sin", d: Sin, m: math.Sin},
		{name: "Cos", d: Cos, m: math.Cos},
		{name: "Atan", d: Atan, m: math.Atan},
	}
	for i := range fs {
		fs[i].pure = mathIsPureGo(fs[i].name)
	}
	return fs
}

// asmComparable says whether math's assembly version of name is accurate
// at x: amd64's Exp overflows early (at 709.78) and its Log mishandles
// subnormal inputs, so those inputs are checked only where math is pure Go.
func asmComparable(name string, x float64) bool {
	switch name {
	case "Exp":
		return x < 709
	case "Log", "Log10", "Log2":
		return math.Abs(x) >= 0x1p-1022
	}
	return true
}

// ulps is the distance between a and b in units in the last place.
func ulps(a, b float64) uint64 {
	if math.IsNaN(a) && math.IsNaN(b) || a == b {
		return 0
	}
	ia, ib := int64(math.Float64bits(a)), int64(math.Float64bits(b))
	if ia < 0 {
		ia = math.MinInt64 - ia
	}
	if ib < 0 {
		ib = math.MinInt64 - ib
	}
	if ia > ib {
		return uint64(ia - ib)
	}
	return uint64(ib - ia)
}

// inputs are special values plus random ones over many magnitudes.
func inputs(n int, seed uint64) []float64 {
	xs := []float64{0, math.Copysign(0, -1), 1, -1, 0.5, 2, math.Pi, -math.Pi, math.E,
		1e-300, -1e-300, 1e300, -1e300, 709.78, -745.1, 710, -746, 1 << 29, 1 << 40, 1e22,
		math.Inf(1), math.Inf(-1), math.NaN(), math.SmallestNonzeroFloat64, math.MaxFloat64}
	r := rand.New(rand.NewPCG(seed, 7))
	for range n {
		mag := math.Ldexp(1, r.IntN(80)-40)
		x := r.Float64() * mag
		if r.IntN(2) == 0 {
			x = -x
		}
		xs = append(xs, x)
	}
	return xs
}

func TestAgainstMath(t *testing.T) {
	n := 200000
	if runtime.GOARCH == "wasm" {
		n = 40000
	}
	xs := inputs(n, 1)
	for _, f := range unary() {
		t.Run(f.name, func(t *testing.T) {
			bad := 0
			for _, x := range xs {
				got, want := f.d(x), f.m(x)
				if f.pure && math.Float64bits(got) != math.Float64bits(want) && !(math.IsNaN(got) && math.IsNaN(want)) {
					t.Errorf("%s(%v) = %v, want %v (bit-identical to math's pure Go)", f.name, x, got, want)
					bad++
				} else if !f.pure && !asmComparable(f.name, x) {
					continue
				} else if d := ulps(got, want); d > 2 {
					t.Errorf("%s(%v) = %v, math gives %v: %d ulps apart", f.name, x, got, want, d)
					bad++
				}
				if bad > 10 {
					t.Fatal("too many mismatches")
				}
			}
		})
	}
	t.Run("Pow", func(t *testing.T) {
		pure := mathIsPureGo("Pow")
		ys := inputs(n/100, 2)
		ys = append(ys, 0.5, -0.5, 3, -3, 1.5, 10, 1e20)
		for i, x := range xs[:min(len(xs), n/50)] {
			if !pure && !asmComparable("Log", x) {
				continue
			}
			for _, y := range ys[i%7 : i%7+60] {
				got, want := Pow(x, y), math.Pow(x, y)
				if pure && math.Float64bits(got) != math.Float64bits(want) && !(math.IsNaN(got) && math.IsNaN(want)) {
					t.Fatalf("Pow(%v, %v) = %v, want %v", x, y, got, want)
				}
				// Pow magnifies Log's last-bit error by y*log(x); allow a
				// relative 1e-12 against the assembly-based math.Pow.
				if !pure && got != want && !(math.IsNaN(got) && math.IsNaN(want)) &&
					math.Abs(got-want) > 1e-12*math.Abs(want) {
					t.Fatalf("Pow(%v, %v) = %v, math gives %v", x, y, got, want)
				}
			}
		}
	})
	t.Run("Hypot", func(t *testing.T) {
		pure := mathIsPureGo("Hypot")
		for i := 0; i+1 < len(xs); i += 2 {
			p, q := xs[i], xs[i+1]
			got, want := Hypot(p, q), math.Hypot(p, q)
			if pure && math.Float64bits(got) != math.Float64bits(want) && !(math.IsNaN(got) && math.IsNaN(want)) {
				t.Fatalf("Hypot(%v, %v) = %v, want %v", p, q, got, want)
			}
			if d := ulps(got, want); d > 1 {
				t.Fatalf("Hypot(%v, %v) = %v, math gives %v: %d ulps apart", p, q, got, want, d)
			}
		}
	})
	t.Run("Atan2", func(t *testing.T) {
		pure := mathIsPureGo("Atan2")
		for i := 0; i+1 < len(xs); i += 2 {
			y, x := xs[i], xs[i+1]
			got, want := Atan2(y, x), math.Atan2(y, x)
			if pure && math.Float64bits(got) != math.Float64bits(want) && !(math.IsNaN(got) && math.IsNaN(want)) {
				t.Fatalf("Atan2(%v, %v) = %v, want %v", y, x, got, want)
			}
			if d := ulps(got, want); d > 1 {
				t.Fatalf("Atan2(%v, %v) = %v, math gives %v: %d ulps apart", y, x, got, want, d)
			}
		}
	})
}

func TestSpecialCases(t *testing.T) {
	inf, nan := math.Inf(1), math.NaN()
	tests := []struct {
		name      string
		got, want float64
	}{
		{"Exp(0)", Exp(0), 1},
		{"Exp(1)", Exp(1), math.E},
		{"Exp(+Inf)", Exp(inf), inf},
		{"Exp(-Inf)", Exp(-inf), 0},
		{"Exp(1000)", Exp(1000), inf},
		{"Log(1)", Log(1), 0},
		{"Log(0)", Log(0), -inf},
		{"Log(+Inf)", Log(inf), inf},
		{"Log(E)", Log(math.E), 1},
		{"Log10(1000)", Log10(1000), 3},
		{"Log2(8)", Log2(8), 3},
		{"Pow(2,10)", Pow(2, 10), 1024},
		{"Pow(-2,3)", Pow(-2, 3), -8},
		{"Pow(0,-1)", Pow(0, -1), inf},
		{"Pow(4,0.5)", Pow(4, 0.5), 2},
		{"Pow(-Inf,-1)", Pow(-inf, -1), math.Copysign(0, -1)},
		{"Hypot(3,4)", Hypot(3, 4), 5},
		{"Hypot(Inf,NaN)", Hypot(inf, nan), inf},
		{"Sin(0)", Sin(0), 0},
		{"Cos(0)", Cos(0), 1},
		{"Atan(Inf)", Atan(inf), math.Pi / 2},
		{"Atan2(1,-1)", Atan2(1, -1), 3 * math.Pi / 4},
		{"Atan2(-0,-1)", Atan2(math.Copysign(0, -1), -1), -math.Pi},
	}
	for _, tt := range tests {
		if math.Float64bits(tt.got) != math.Float64bits(tt.want) {
			t.Errorf("%s = %v, want %v", tt.name, tt.got, tt.want)
		}
	}
	for name, v := range map[string]float64{"Log(-1)": Log(-1), "Pow(-2,0.5)": Pow(-2, 0.5), "Sin(Inf)": Sin(inf), "Cos(NaN)": Cos(nan), "Hypot(NaN,1)": Hypot(nan, 1)} {
		if !math.IsNaN(v) {
			t.Errorf("%s = %v, want NaN", name, v)
		}
	}
}

// goldenDigest hashes every function over a fixed grid of inputs. The grid
// is built from integers only, so it is the same on every platform.
func goldenDigest() string {
	w := canon.NewWriter("DMATHGOLD1")
	var grid []float64
	for i := -2000; i <= 2000; i++ {
		grid = append(grid, float64(i)/7.3, float64(i)*0.3711, float64(i)/1e5)
	}
	for e := -1074; e <= 1023; e += 3 {
		grid = append(grid, math.Ldexp(1.2345, e))
	}
	for _, f := range unary() {
		w.String(f.name)
		for _, x := range grid {
			w.F64(f.d(x))
		}
	}
	for i := 0; i+1 < len(grid); i += 3 {
		x, y := grid[i], grid[i+1]
		w.F64(Pow(math.Abs(x), y/50))
		w.F64(Pow(x, float64(i%9-4)))
		w.F64(Hypot(x, y))
		w.F64(Atan2(x, y))
	}
	return canon.Digest(w.Bytes())
}

func TestGoldenDmath(t *testing.T) {
	golden.Check(t, filepath.Join("testdata", "golden.txt"), goldenDigest())
}

var sink float64

func BenchmarkExp(b *testing.B) {
	for i := 0; b.Loop(); i++ {
		sink += Exp(float64(i%1000) / 100)
	}
}

func BenchmarkSin(b *testing.B) {
	for i := 0; b.Loop(); i++ {
		sink += Sin(float64(i%1000) / 100)
	}
}
