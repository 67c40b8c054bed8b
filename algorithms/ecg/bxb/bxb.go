// Package bxb scores beat detections against reference annotations the way
// ANSI/AAMI EC57 and WFDB's bxb do: a detection matches a reference beat
// within a 150 ms window, the first 5 minutes are a learning period that is
// not scored, and beats inside ventricular flutter episodes ([ … ]) are
// ignored on both sides.
package bxb

import (
	"fmt"

	"github.com/pulsegrid/pulsegrid/algorithms/signal"
)

// Options tune the scoring; the zero value means the EC57 defaults.
type Options struct {
	// Window is the match window in seconds (default 0.150).
	Window float64
	// Learn is the unscored learning period at the start, in seconds
	// (default 300). A negative value scores from the first sample.
	Learn float64
	// End, if positive, is the sample index at which scoring stops
	// (exclusive); 0 scores to the end.
	End int64
}

// Stats are the beat-by-beat counts and the figures derived from them.
type Stats struct {
	TP int `json:"tp"` // reference beats matched by a detection
	FN int `json:"fn"` // reference beats without a detection
	FP int `json:"fp"` // detections without a reference beat
}

// Se is the sensitivity TP/(TP+FN), 1 when there is nothing to detect.
func (s Stats) Se() float64 {
	if s.TP+s.FN == 0 {
		return 1
	}
	return float64(s.TP) / float64(s.TP+s.FN)
}

// PPV is the positive predictivity TP/(TP+FP), 1 when nothing was detected.
func (s Stats) PPV() float64 {
	if s.TP+s.FP == 0 {
		return 1
	}
	return float64(s.TP) / float64(s.TP+s.FP)
}

// Add sums two score sheets (gross statistics).
func (s Stats) Add(o Stats) Stats {
	return Stats{TP: s.TP + o.TP, FN: s.FN + o.FN, FP: s.FP + o.FP}
}

// String formats the counts and percentages.
func (s Stats) String() string {
	return fmt.Sprintf("Se %.2f%% +P %.2f%% (TP %d, FN %d, FP %d)", 100*s.Se(), 100*s.PPV(), s.TP, s.FN, s.FP)
}

// Score matches detections det (sample indices, ascending) against the beat
// annotations in ref (annotations in sample order; non-beat codes other than
// the flutter markers are ignored) at the given sample rate.
func Score(ref []signal.Annotation, det []int64, rate float64, opt Options) Stats {
	win := opt.Window
	if win <= 0 {
		win = 0.150
	}
	learn := opt.Learn
	if learn == 0 {
		learn = 300
	}
	if learn < 0 {
		learn = 0
	}
	w := int64(float64(win*rate) + 0.5)
	start := int64(float64(learn*rate) + 0.5)
	end := opt.End
	if end <= 0 {
		end = 1<<62 - 1
	}

	// Flutter episodes [on, off): beats and detections inside are ignored.
	type span struct{ lo, hi int64 }
	var flutter []span
	on := int64(-1)
	var beats []int64
	for _, a := range ref {
		switch {
		case a.Code == signal.CodeVFOn:
			if on < 0 {
				on = a.Sample
			}
		case a.Code == signal.CodeVFOff:
			if on >= 0 {
				flutter = append(flutter, span{on, a.Sample})
				on = -1
			}
		case signal.IsQRS(a.Code):
			beats = append(beats, a.Sample)
		}
	}
	if on >= 0 {
		flutter = append(flutter, span{on, 1<<62 - 1})
	}
	scored := func(s int64) bool {
		if s < start || s >= end {
			return false
		}
		for _, f := range flutter {
			if s >= f.lo && s <= f.hi {
				return false
			}
		}
		return true
	}

	// Greedy matching in time order: each reference beat takes the nearest
	// unmatched detection within the window. Unscored beats still consume
	// their detection, so a detection of an ignored beat is not a false
	// positive.
	matched := make([]bool, len(det))
	var st Stats
	j := 0
	for _, r := range beats {
		for j < len(det) && det[j] < r-w {
			j++
		}
		best := -1
		for k := j; k < len(det) && det[k] <= r+w; k++ {
			if matched[k] {
				continue
			}
			if best < 0 || abs64(det[k]-r) < abs64(det[best]-r) {
				best = k
			}
		}
		if best >= 0 {
			matched[best] = true
		}
		if !scored(r) {
			continue
		}
		if best >= 0 {
			st.TP++
		} else {
			st.FN++
		}
	}
	for k, d := range det {
		if !matched[k] && scored(d) {
			st.FP++
		}
	}
	return st
}

func abs64(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}
