package server

import (
	"math"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/pulsegrid/pulsegrid/algorithms/formats"
)

func TestStripWindow(t *testing.T) {
	for _, tc := range []struct {
		name             string
		query            string
		dur              float64
		wantFrom, wantTo float64
	}{
		{"Default", "", 1800, 0, 10},
		{"Given", "from=60&to=70", 1800, 60, 70},
		{"PastTheEnd", "from=1795&to=1805", 1800, 1790, 1800},
		{"TooWide", "from=0&to=10000", 1800, 0, 300},
		{"Reversed", "from=50&to=40", 1800, 50, 60},
		{"NaN", "from=NaN&to=Inf", 1800, 0, 10},
		{"ShortRecord", "from=0&to=30", 12, 0, 12},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/analyses/1/strip?"+tc.query, nil)
			from, to := stripWindow(r, tc.dur)
			if from != tc.wantFrom || to != tc.wantTo {
				t.Fatalf("got [%g, %g), want [%g, %g)", from, to, tc.wantFrom, tc.wantTo)
			}
		})
	}
}

func TestGroupFiles(t *testing.T) {
	read := func(names ...string) []formats.File {
		var fs []formats.File
		for _, n := range names {
			b, err := os.ReadFile("../../shared/data/" + n)
			if err != nil {
				t.Fatal(err)
			}
			fs = append(fs, formats.File{Name: n[len(n)-len(lastPart(n)):], Data: b})
		}
		return fs
	}
	for _, tc := range []struct {
		name  string
		files []formats.File
		want  []int // files per group
	}{
		{"OneRecord", read("mitdb/100.hea", "mitdb/100.dat", "mitdb/100.atr"), []int{3}},
		{"TwoRecords", read("mitdb/100.hea", "mitdb/100.dat", "mitdb/101.hea", "mitdb/101.dat"), []int{2, 2}},
		{"MultiSegment", read("vitals/041s.hea", "vitals/041s01.hea", "vitals/041s01.dat", "vitals/041s02.hea", "vitals/041s02.dat"), []int{5}},
		{"EDFAndWFDB", read("edf/test_generator_2.edf", "mitdb/100.hea", "mitdb/100.dat"), []int{1, 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gs := groupFiles(tc.files)
			var got []int
			for _, g := range gs {
				got = append(got, len(g))
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got groups of %v files, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("got groups of %v files, want %v", got, tc.want)
				}
			}
		})
	}
}

func lastPart(p string) string {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' {
			return p[i+1:]
		}
	}
	return p
}

func TestDecimateMinMax(t *testing.T) {
	x := make([]float64, 10000)
	for i := range x {
		x[i] = float64(i % 100)
	}
	x[5000] = 1e6
	x[7000] = math.NaN()
	got := decimateMinMax(x, 100)
	if len(got) != 200 {
		t.Fatalf("got %d points, want 200", len(got))
	}
	maxv := math.Inf(-1)
	for _, v := range got {
		if v == v && v > maxv {
			maxv = v
		}
	}
	if maxv != 1e6 {
		t.Fatalf("the spike was lost: max %g", maxv)
	}
	if short := decimateMinMax([]float64{1, 2, 3}, 100); len(short) != 3 {
		t.Fatalf("a short channel was changed: %v", short)
	}
}
