package server

import (
	"errors"
	"strings"
	"testing"

	"github.com/pulsegrid/pulsegrid/algorithms/formats"
)

// TestUploadProblemsSaidOnce: a reader's error names its file and line (or
// byte) in its own way; problemsOf takes them apart so that the answer says
// "FILE, line N: what" with the file and the line once each.
func TestUploadProblemsSaidOnce(t *testing.T) {
	files := []formats.File{{Name: "bad.csv"}, {Name: "100.hea"}, {Name: "100.dat"}, {Name: "r.edf"}}
	for _, tc := range []struct {
		name string
		err  error
		want []string // problem.String() of each
		line []int
	}{
		{"CSVLineColumn", errors.New(`bad.csv: line 3, column 2 (HR): "seventy" is not a number`), []string{`bad.csv, line 3: column 2 (HR): "seventy" is not a number`}, []int{3}},
		{"CSVLineOnly", errors.New("bad.csv: line 7: 3 fields, the header has 2"), []string{"bad.csv, line 7: 3 fields, the header has 2"}, []int{7}},
		{"HeaderLineNoColon", errors.New("100.hea line 2: signal 1: bad gain"), []string{"100.hea, line 2: signal 1: bad gain"}, []int{2}},
		{"EDFByte", errors.New("r.edf byte 256: signal 1 (\"ECG\"): bad sample rate"), []string{`r.edf: byte 256: signal 1 ("ECG"): bad sample rate`}, []int{0}},
		{"SecondFile", errors.New("100.dat: 12 bytes, want a multiple of 3"), []string{"100.dat: 12 bytes, want a multiple of 3"}, []int{0}},
		{"NoFileNamed", errors.New("no signal file for record 100"), []string{"bad.csv: no signal file for record 100"}, []int{0}},
		{"Joined", errors.Join(errors.New("bad.csv: line 3: x"), errors.New("100.hea line 4: y")), []string{"bad.csv, line 3: x", "100.hea, line 4: y"}, []int{3, 4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ps := problemsOf(files, tc.err)
			if len(ps) != len(tc.want) {
				t.Fatalf("got %d problems %+v, want %d", len(ps), ps, len(tc.want))
			}
			for i, p := range ps {
				if got := p.String(); got != tc.want[i] {
					t.Errorf("problem %d: got %q, want %q", i, got, tc.want[i])
				}
				if p.Line != tc.line[i] {
					t.Errorf("problem %d: line %d, want %d", i, p.Line, tc.line[i])
				}
				if n := strings.Count(p.String(), p.File); n != 1 {
					t.Errorf("problem %d: %q names %s %d times", i, p.String(), p.File, n)
				}
			}
		})
	}
}
