package golden

import (
	"os"
	"path/filepath"
	"testing"
)

func TestCheckPassesOnEqualText(t *testing.T) {
	p := filepath.Join(t.TempDir(), "g.txt")
	if err := os.WriteFile(p, []byte("a 1\nb 2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	Check(t, p, "a 1\nb 2") // a missing trailing newline is no difference
}

type recorder struct {
	testing.TB
	errors int
}

func (r *recorder) Errorf(string, ...any) { r.errors++ }
func (r *recorder) Helper()               {}

func TestCheckReportsEachDifferentLine(t *testing.T) {
	p := filepath.Join(t.TempDir(), "g.txt")
	if err := os.WriteFile(p, []byte("a 1\nb 2\nc 3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := &recorder{TB: t}
	Check(r, p, "a 1\nb 9\nc 3\nd 4\n")
	if r.errors != 2 {
		t.Errorf("got %d reported differences, want 2 (line 2 changed, line 4 added)", r.errors)
	}
}
