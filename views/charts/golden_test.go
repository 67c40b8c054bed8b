package charts

import (
	"flag"
	"math"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden SVG files in testdata/golden")

// TestGoldenSVG pins the exact output of each chart kind on small inputs,
// so a change in rendering is a visible diff of testdata/golden/*.svg
// (open them in a browser). Regenerate with: go test ./views/charts -update
func TestGoldenSVG(t *testing.T) {
	nan := math.NaN()
	ecg := make([]float64, 720)
	for i := range ecg {
		tt := math.Mod(float64(i)/360, 0.8)
		ecg[i] = 0.1*math.Sin(2*math.Pi*tt/0.8) + 1.2*math.Exp(-(tt-0.3)*(tt-0.3)/0.0004)
	}
	cases := map[string]string{
		"line": LineChart{
			Title: "Heart rate", Width: 400, Height: 200,
			X:      Axis{Label: "Time", Time: true},
			Y:      Axis{Label: "Heart rate", Unit: "bpm"},
			Series: []Series{{Label: "HR", Step: 60, Y: []float64{62, 64, 70, nan, nan, 88, 91, 75, 66}}},
			Bands:  []Band{{Lo: 60, Hi: 100, Label: "usual range"}},
		}.SVG(),
		"strip": Strip{
			Width: 500, Height: 220, From: 0, To: 2, Rate: 360, Samples: ecg, Lead: "MLII", Unit: "mV",
			Detected:  []Mark{{Time: 0.3, Label: "N"}, {Time: 1.1, Label: "V"}, {Time: 1.9, Label: "N"}},
			Reference: []Mark{{Time: 0.31, Label: "N"}, {Time: 1.1, Label: "V"}},
		}.SVG(),
		"poincare": Poincare([]float64{800, 820, 790, 810, nan, 805, 830, 780}, 240).SVG(),
		"timeline": Timeline{Width: 400, Duration: 3600, Episodes: []Episode{
			{Start: 600, End: 900, Label: "SpO2 low", Kind: "low", Detail: "min 86 %", Href: "/analyses/1/result?from=599&to=609#strip"},
			{Start: 2000, End: 2010, Label: "HR high", Kind: "high"},
		}}.SVG(),
		"sparkline": Sparkline{Label: "V5 preview", Width: 120, Height: 30, Samples: []float64{0, 1, 0.5, nan, 0.2, 0.8}}.SVG(),
	}
	for name, got := range cases {
		t.Run(name, func(t *testing.T) {
			wellFormed(t, got)
			path := filepath.Join("testdata", "golden", name+".svg")
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./views/charts -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("%s differs from the golden file; if the change is intended, run go test ./views/charts -update and look at the SVG", name)
			}
		})
	}
}
