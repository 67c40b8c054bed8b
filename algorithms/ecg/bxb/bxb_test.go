package bxb

import (
	"testing"

	"github.com/pulsegrid/pulsegrid/algorithms/signal"
)

func beats(samples ...int64) []signal.Annotation {
	out := make([]signal.Annotation, len(samples))
	for i, s := range samples {
		out[i] = signal.Annotation{Sample: s, Code: signal.CodeNormal}
	}
	return out
}

func TestScore(t *testing.T) {
	const rate = 100 // 150 ms = 15 samples; learning period 300 s = 30000 samples
	opt := Options{Learn: -1}
	tests := []struct {
		name string
		ref  []signal.Annotation
		det  []int64
		opt  Options
		want Stats
	}{
		{"Perfect", beats(100, 200, 300), []int64{100, 200, 300}, opt, Stats{TP: 3}},
		{"WithinWindow", beats(100, 200), []int64{115, 185}, opt, Stats{TP: 2}},
		{"OutsideWindow", beats(100), []int64{116}, opt, Stats{FN: 1, FP: 1}},
		{"Missed", beats(100, 200, 300), []int64{100, 300}, opt, Stats{TP: 2, FN: 1}},
		{"Extra", beats(100, 200), []int64{100, 150, 200}, opt, Stats{TP: 2, FP: 1}},
		{"OneDetectionTwoBeats", beats(100, 110), []int64{105}, opt, Stats{TP: 1, FN: 1}},
		{"NearestWins", beats(100, 120), []int64{108, 119}, opt, Stats{TP: 2}},
		{"LearningPeriod", beats(100, 40000), []int64{50, 40000}, Options{}, Stats{TP: 1}},
		{"LearningEdgeNotFP", beats(29995), []int64{30005}, Options{}, Stats{}},
		{"End", beats(100, 200, 300), []int64{100, 200, 300, 400}, Options{Learn: -1, End: 250}, Stats{TP: 2}},
		{"NonBeatIgnored", []signal.Annotation{{Sample: 100, Code: signal.CodeRhythm}, {Sample: 200, Code: signal.CodeNoise}}, []int64{300}, opt, Stats{FP: 1}},
		{"Flutter", []signal.Annotation{
			{Sample: 100, Code: signal.CodeNormal},
			{Sample: 200, Code: signal.CodeVFOn},
			{Sample: 250, Code: signal.CodeVFlutter},
			{Sample: 300, Code: signal.CodeVFlutter},
			{Sample: 400, Code: signal.CodeVFOff},
			{Sample: 500, Code: signal.CodeNormal},
		}, []int64{100, 230, 260, 350, 500}, opt, Stats{TP: 2}},
		{"FlutterUnclosed", []signal.Annotation{{Sample: 100, Code: signal.CodeVFOn}, {Sample: 150, Code: signal.CodeVFlutter}}, []int64{300}, opt, Stats{}},
		{"Empty", nil, nil, opt, Stats{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Score(tc.ref, tc.det, rate, tc.opt); got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestStatsFigures(t *testing.T) {
	s := Stats{TP: 990, FN: 10, FP: 5}
	if s.Se() != 0.99 || s.PPV() != 990.0/995 {
		t.Errorf("Se %v, +P %v", s.Se(), s.PPV())
	}
	if (Stats{}).Se() != 1 || (Stats{}).PPV() != 1 {
		t.Errorf("empty stats: want Se = +P = 1")
	}
	if got := s.Add(Stats{TP: 1, FN: 2, FP: 3}); got != (Stats{TP: 991, FN: 12, FP: 8}) {
		t.Errorf("Add: got %+v", got)
	}
	if got, want := s.String(), "Se 99.00% +P 99.50% (TP 990, FN 10, FP 5)"; got != want {
		t.Errorf("String: got %q, want %q", got, want)
	}
}
