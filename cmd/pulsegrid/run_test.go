package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunOutIsWorldReadable: a result written with --out is an ordinary
// output file (0644), not a private one like os.CreateTemp makes.
func TestRunOutIsWorldReadable(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("time,HR [bpm]\n")
	for i := range 120 {
		fmt.Fprintf(&b, "%d,%d\n", i, 70+i%10)
	}
	in := filepath.Join(dir, "vitals.csv")
	if err := os.WriteFile(in, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "summary.json")
	if _, err := cli(t, "run", "vitals.summary@1", in, "--out", out); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o644 {
		t.Errorf("--out file mode: got %v, want -rw-r--r--", got)
	}
}
