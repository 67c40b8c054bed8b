// Package golden keeps tests' expected outputs in testdata/ files, rewritten
// by `go test ./pkg/ -update` (the flag after the package path).
//
// Golden digests are how pulsegrid proves determinism: the same file is
// checked natively, under js/wasm and with FMA fusion allowed (GOAMD64=v3).
package golden

import (
	"flag"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// Updating reports whether the test run was asked to rewrite golden files.
func Updating() bool { return *update }

// Bytes returns the golden file at path; under -update it first writes got
// there. A missing file fails the test with the command that creates it.
func Bytes(tb testing.TB, path string, got []byte) []byte {
	tb.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("%v (run go test -run %s -update to create it)", err, tb.Name())
	}
	return want
}

// Check compares got with the golden text file at path, line by line,
// ignoring a trailing newline, and names the platform in any failure.
func Check(tb testing.TB, path, got string) {
	tb.Helper()
	got = strings.TrimRight(got, "\n") + "\n"
	want := string(Bytes(tb, path, []byte(got)))
	if got == want {
		return
	}
	g, w := strings.Split(strings.TrimRight(got, "\n"), "\n"), strings.Split(strings.TrimRight(want, "\n"), "\n")
	for i := range max(len(g), len(w)) {
		gl, wl := line(g, i), line(w, i)
		if gl != wl {
			tb.Errorf("%s line %d (GOOS=%s GOARCH=%s):\n got %s\nwant %s", path, i+1, runtime.GOOS, runtime.GOARCH, gl, wl)
		}
	}
}

func line(ls []string, i int) string {
	if i < len(ls) {
		return ls[i]
	}
	return "(none)"
}
