package fmalint

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// fused matches arm64 fused multiply-add instructions in compiler output,
// capturing the source position the compiler prints beside them.
var fused = regexp.MustCompile(`\((\S+\.go:\d+)\)\s+F(N?)M(ADD|SUB)[DS]\b`)

func moduleRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// TestNoFusedMultiplyAdd compiles every algorithms/ package for arm64 and
// fails on each fused multiply-add the compiler emitted.
func TestNoFusedMultiplyAdd(t *testing.T) {
	if runtime.GOOS == "js" {
		t.Skip("needs the go command, which node cannot run; the native test run covers it")
	}
	root := moduleRoot(t)
	// A random, path-matching-nothing -trimpath keeps the build cache from
	// skipping the compile (and with it the assembly listing) of our packages.
	flags := fmt.Sprintf("-S -trimpath=/nonexistent-%d", rand.Uint64())
	cmd := exec.Command("go", "build", "-gcflags="+flags, "-o", os.DevNull, "./algorithms/...")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go build for arm64: %v\n%s", err, tail(out))
	}
	if !strings.Contains(string(out), "STEXT") {
		t.Fatalf("no assembly listing in the compiler output; the check cannot see anything:\n%s", tail(out))
	}
	var sites []string
	for _, m := range fused.FindAllStringSubmatch(string(out), -1) {
		sites = append(sites, m[1])
	}
	slices.Sort(sites)
	for _, s := range slices.Compact(sites) {
		rel, _ := filepath.Rel(root, s)
		t.Errorf("%s: compiled to a fused multiply-add on arm64; write float64(x*y) + z (also when the product sits in a variable or an inlined call)", rel)
	}
}

func tail(b []byte) string {
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// inexact are math functions whose results differ between platforms: pure
// Go compiled with FMA fusion on arm64, assembly on amd64, or both.
var inexact = map[string]bool{
	"Exp": true, "Exp2": true, "Expm1": true, "Log": true, "Log10": true, "Log2": true, "Log1p": true,
	"Pow": true, "Pow10": false, "Hypot": true, "Sin": true, "Cos": true, "Tan": true, "Sincos": true,
	"Asin": true, "Acos": true, "Atan": true, "Atan2": true, "Sinh": true, "Cosh": true, "Tanh": true,
	"Asinh": true, "Acosh": true, "Atanh": true, "Erf": true, "Erfc": true, "Erfinv": true, "Gamma": true,
	"Lgamma": true, "Cbrt": true, "J0": true, "J1": true, "Jn": true, "Y0": true, "Y1": true, "Yn": true,
	"FMA": true,
}

// TestNoInexactMathCalls fails on calls to math functions that are not
// bit-identical across platforms, outside algorithms/dmath (which holds the
// portable versions) and outside tests.
func TestNoInexactMathCalls(t *testing.T) {
	root := moduleRoot(t)
	var bad []string
	err := filepath.WalkDir(filepath.Join(root, "algorithms"), func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == "testdata" || d.Name() == "dmath" || d.Name() == "synth" {
				return filepath.SkipDir // synth runs on the server only and is never compared
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, p, nil, 0)
		if err != nil {
			return err
		}
		name := ""
		for _, imp := range f.Imports {
			if imp.Path.Value == `"math"` {
				name = "math"
				if imp.Name != nil {
					name = imp.Name.Name
				}
			}
		}
		if name == "" {
			return nil
		}
		ast.Inspect(f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if id, ok := sel.X.(*ast.Ident); ok && id.Name == name && inexact[sel.Sel.Name] {
				rel, _ := filepath.Rel(root, fset.Position(sel.Pos()).String())
				bad = append(bad, fmt.Sprintf("%s: math.%s differs between platforms; use dmath.%s", rel, sel.Sel.Name, sel.Sel.Name))
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bad {
		t.Error(b)
	}
}

func TestPatternFindsFusedInstructions(t *testing.T) {
	listing := "\t0x0000 00000 (/x/f.go:5)\tFMADDD\tF0, F2, F1, F0\n\t0x0004 00004 (/x/f.go:9)\tFNMSUBD\tF0, F2, F1, F0\n\t0x0008 00008 (/x/f.go:7)\tFMULD\tF0, F1, F0\n"
	got := fused.FindAllStringSubmatch(listing, -1)
	if len(got) != 2 || got[0][1] != "/x/f.go:5" || got[1][1] != "/x/f.go:9" {
		t.Fatalf("got %v, want the FMADDD at f.go:5 and the FNMSUBD at f.go:9", got)
	}
}
