package ecg

import "slices"

// Rhythm events are found in Merge, on the whole record's classified beats,
// so chunk boundaries can neither split nor double one: every event is a
// function of the beat list alone, which equals the whole-record run's.

// Event kinds.
const (
	EventAF          = "af"         // atrial fibrillation episode
	EventPause       = "pause"      // RR interval of at least pause_s
	EventBrady       = "brady"      // heart rate below brady_bpm for episode_s
	EventTachy       = "tachy"      // heart rate above tachy_bpm for episode_s
	EventVCouplet    = "v_couplet"  // two consecutive V beats
	EventVTriplet    = "v_triplet"  // three consecutive V beats at 100 bpm or less
	EventVRun        = "v_run"      // 3+ V beats at 100 bpm or less (idioventricular)
	EventNSVT        = "nsvt"       // 3+ V beats above 100 bpm, shorter than 30 s
	EventVT          = "vt"         // V beats above 100 bpm for 30 s or more
	EventSVCouplet   = "sv_couplet" // two consecutive S beats
	EventSVRun       = "sv_run"     // 3+ consecutive S beats
	EventBigeminy    = "bigeminy"   // 3+ cycles of one non-V beat and one V beat
	EventTrigeminy   = "trigeminy"  // 3+ cycles of two non-V beats and one V beat
	sustainedSeconds = 30
)

// Rhythm summarises the rhythm of the record.
type Rhythm struct {
	// AnalysedSeconds is the time from the first to the last beat.
	AnalysedSeconds float64 `json:"analysed_s"`
	// AFBurden is the fraction of the analysed time in atrial
	// fibrillation episodes; AFSeconds that time.
	AFBurden  float64 `json:"af_burden"`
	AFSeconds float64 `json:"af_s"`
	// LongestPause is the longest RR interval, seconds.
	LongestPause float64 `json:"longest_pause_s"`
	// Counts of events by kind, in the order of Kinds.
	Counts []KindCount `json:"counts"`
	// LongestVRun and FastestVRun index Events (−1 when there is no run
	// of three or more V beats).
	LongestVRun int `json:"longest_v_run"`
	FastestVRun int `json:"fastest_v_run"`
}

// KindCount is the number of events of one kind.
type KindCount struct {
	Kind  string `json:"kind"`
	Count int    `json:"count"`
}

// Kinds lists the event kinds in report order.
var Kinds = []string{EventAF, EventPause, EventBrady, EventTachy, EventVCouplet, EventVTriplet, EventVRun,
	EventNSVT, EventVT, EventSVCouplet, EventSVRun, EventBigeminy, EventTrigeminy}

// Event is one rhythm event: an episode or a run of beats.
type Event struct {
	Kind      string  `json:"kind"`
	Start     int64   `json:"start"` // sample of its first beat
	End       int64   `json:"end"`   // sample of its last beat
	StartTime float64 `json:"start_s"`
	EndTime   float64 `json:"end_s"`
	Beats     int     `json:"beats"`
	// RateBPM is the event's mean heart rate (for a pause, 60 / its RR).
	RateBPM float64 `json:"rate_bpm"`
	// Beat is a representative beat's sample: the beat that ends a pause,
	// the fastest or slowest of an episode, the first ectopic of a run.
	Beat int64 `json:"beat"`
	// MaxRateBPM and RVRSeconds are set on atrial fibrillation episodes
	// with the tachycardia folded in (FoldRVR; ecg.classify@2 does it in
	// Merge): the fastest ventricular rate over hrBeats intervals inside
	// the episode, and the time inside it in tachycardia stretches of at
	// least episode_s, its rapid ventricular response (0: none).
	MaxRateBPM float64 `json:"max_rate_bpm,omitempty"`
	RVRSeconds float64 `json:"rvr_s,omitempty"`
}

// hrBeats is how many intervals the rate of bradycardia, tachycardia and
// an AF episode's fastest ventricular rate is taken over.
const hrBeats = 8

// FoldRVR returns evs (sorted by start, as events and a result's Events
// are) with the tachycardia inside atrial fibrillation folded into the AF
// episodes, as a Holter report reads it: AF with rapid ventricular
// response, not episodes of tachycardia of their own. A tachycardia
// episode at least half of whose time lies in AF episodes is left out and
// the time it overlaps each goes to that episode's RVRSeconds; one mostly
// outside AF stays as it is (its time is not counted twice). Every AF
// episode gets its MaxRateBPM from samples, the beats of the record. The
// result is new; applied again it changes nothing more.
func FoldRVR(evs []Event, samples []int64, rate float64) []Event {
	out := slices.Clone(evs)
	var af []int
	for k, e := range out {
		if e.Kind == EventAF {
			af = append(af, k)
			out[k].MaxRateBPM = maxRate(samples, e.Start, e.End, rate)
		}
	}
	if len(af) == 0 {
		return out
	}
	drop := make([]bool, len(out))
	overlap := make([]int64, len(af))
	for k, e := range out {
		if e.Kind != EventTachy {
			continue
		}
		var in int64
		for j, a := range af {
			overlap[j] = max(0, min(e.End, out[a].End)-max(e.Start, out[a].Start))
			in += overlap[j]
		}
		if drop[k] = in > 0 && 2*in >= e.End-e.Start; drop[k] {
			for j, a := range af {
				out[a].RVRSeconds += float64(overlap[j]) / rate
			}
		}
	}
	kept := out[:0]
	for k, e := range out {
		if !drop[k] {
			kept = append(kept, e)
		}
	}
	return kept
}

// maxRate is the fastest rate over hrBeats intervals whose beats all lie
// in [start, end] (samples; 0 when there are too few).
func maxRate(samples []int64, start, end int64, rate float64) float64 {
	lo, _ := slices.BinarySearch(samples, start)
	hi, _ := slices.BinarySearch(samples, end+1)
	best := 0.0
	for i := lo + hrBeats; i < hi; i++ {
		best = max(best, 60*rate*hrBeats/float64(samples[i]-samples[i-hrBeats]))
	}
	return best
}

// AF detection. Atrial fibrillation makes the ventricular rhythm
// irregularly irregular: successive RR intervals differ by a large
// fraction of the mean interval, all the time, where sinus rhythm varies
// smoothly and isolated ectopics make only a few large differences. For
// each beat, the irregularity is the median of |RR[k] − RR[k−1]| over the
// afWindow intervals around it, divided by their median RR; intervals next
// to a ventricular beat are left out. The median makes a few ectopics
// (or a missed beat) irrelevant; AF makes half the differences large.
const (
	afWindow = 32
	// afIrregularity is the irregularity above which a beat is in AF.
	afIrregularity = 0.1
)

// afFlags marks the beats in atrial fibrillation by irregularity alone
// (episodes shorter than the minimum are dropped by the caller).
func afFlags(samples []int64, cls []Class) []bool {
	n := len(samples)
	rr := make([]float64, n) // rr[i]: interval ending at beat i, 0 if unusable
	for i := 1; i < n; i++ {
		if cls[i] != ClassV && cls[i-1] != ClassV {
			rr[i] = float64(samples[i] - samples[i-1])
		}
	}
	out := make([]bool, n)
	var ints, diffs []float64
	for i := range n {
		ints, diffs = ints[:0], diffs[:0]
		lo, hi := max(1, i-afWindow/2), min(n-1, i+afWindow/2)
		for k := lo; k <= hi; k++ {
			if rr[k] == 0 {
				continue
			}
			ints = append(ints, rr[k])
			if k > lo && rr[k-1] != 0 {
				d := rr[k] - rr[k-1]
				if d < 0 {
					d = -d
				}
				diffs = append(diffs, d)
			}
		}
		if len(diffs) < afWindow/2 {
			continue
		}
		m := median(ints)
		out[i] = m > 0 && median(diffs) > float64(afIrregularity*m)
	}
	return out
}

// spans returns the maximal runs [i, j] of consecutive true flags.
func spans(flags []bool) [][2]int {
	var out [][2]int
	for i := 0; i < len(flags); {
		if !flags[i] {
			i++
			continue
		}
		j := i
		for j+1 < len(flags) && flags[j+1] {
			j++
		}
		out = append(out, [2]int{i, j})
		i = j + 1
	}
	return out
}

// events finds the rhythm events of classified beats; af marks the beats in
// atrial fibrillation episodes (already at least the minimum duration).
// With rvr (ecg.classify@2) the tachycardia inside AF is folded into the
// AF episodes (FoldRVR).
func events(p ClassifyParams, samples []int64, cls []Class, af []bool, rate float64, rvr bool) ([]Event, Rhythm) {
	n := len(samples)
	var evs []Event
	t := func(i int) float64 { return float64(samples[i]) / rate }
	mk := func(kind string, i, j int, beat int) Event {
		e := Event{Kind: kind, Start: samples[i], End: samples[j], StartTime: t(i), EndTime: t(j), Beats: j - i + 1, Beat: samples[beat]}
		if j > i {
			e.RateBPM = 60 * rate * float64(j-i) / float64(samples[j]-samples[i])
		}
		return e
	}
	rh := Rhythm{LongestVRun: -1, FastestVRun: -1}
	if n > 1 {
		rh.AnalysedSeconds = t(n-1) - t(0)
	}

	for _, s := range spans(af) {
		evs = append(evs, mk(EventAF, s[0], s[1], s[0]))
		rh.AFSeconds += t(s[1]) - t(s[0])
	}
	if rh.AnalysedSeconds > 0 {
		rh.AFBurden = rh.AFSeconds / rh.AnalysedSeconds
	}

	pause := int64(float64(p.PauseSeconds*rate) + 0.5)
	for i := 1; i < n; i++ {
		d := samples[i] - samples[i-1]
		rh.LongestPause = max(rh.LongestPause, float64(d)/rate)
		if d >= pause {
			e := mk(EventPause, i-1, i, i)
			e.RateBPM = 60 * rate / float64(d)
			evs = append(evs, e)
		}
	}

	// Bradycardia and tachycardia: the rate over the last hrBeats
	// intervals, in episodes of at least episode_s.
	hr := make([]float64, n)
	for i := hrBeats; i < n; i++ {
		hr[i] = 60 * rate * hrBeats / float64(samples[i]-samples[i-hrBeats])
	}
	for _, kind := range []string{EventBrady, EventTachy} {
		in := make([]bool, n)
		for i := hrBeats; i < n; i++ {
			in[i] = kind == EventBrady && hr[i] < p.BradyBPM || kind == EventTachy && hr[i] > p.TachyBPM
		}
		for _, s := range spans(in) {
			// The episode starts with the interval into its first beat.
			i, j := s[0]-1, s[1]
			if t(j)-t(i) < p.EpisodeSeconds {
				continue
			}
			rep := s[0]
			for k := s[0]; k <= s[1]; k++ {
				if kind == EventBrady && hr[k] < hr[rep] || kind == EventTachy && hr[k] > hr[rep] {
					rep = k
				}
			}
			e := mk(kind, i, j, rep)
			evs = append(evs, e)
		}
	}

	// Runs of consecutive ectopic beats.
	for _, c := range []Class{ClassV, ClassS} {
		is := make([]bool, n)
		for i := range n {
			is[i] = cls[i] == c
		}
		for _, s := range spans(is) {
			i, j := s[0], s[1]
			l := j - i + 1
			if l < 2 {
				continue
			}
			var kind string
			switch {
			case c == ClassS && l == 2:
				kind = EventSVCouplet
			case c == ClassS:
				kind = EventSVRun
			case l == 2:
				kind = EventVCouplet
			default:
				// A run's rate counts the interval into its first beat.
				from := max(0, i-1)
				bpm := 60 * rate * float64(j-from) / float64(samples[j]-samples[from])
				switch {
				case bpm > 100 && t(j)-t(i) >= sustainedSeconds:
					kind = EventVT
				case bpm > 100:
					kind = EventNSVT
				case l == 3:
					kind = EventVTriplet
				default:
					kind = EventVRun
				}
			}
			e := mk(kind, i, j, i)
			if c == ClassV && l >= 3 {
				from := max(0, i-1)
				e.RateBPM = 60 * rate * float64(j-from) / float64(samples[j]-samples[from])
			}
			evs = append(evs, e)
		}
	}

	// Bigeminy (every 2nd beat V) and trigeminy (every 3rd), for at least
	// three cycles in a row.
	for _, period := range []int{2, 3} {
		kind := EventBigeminy
		if period == 3 {
			kind = EventTrigeminy
		}
		var vs []int
		flush := func() {
			if len(vs) >= 3 {
				evs = append(evs, mk(kind, vs[0]-(period-1), vs[len(vs)-1], vs[0]))
			}
			vs = vs[:0]
		}
		for i := range n {
			if cls[i] != ClassV {
				continue
			}
			cycle := i >= period-1
			for k := i - period + 1; cycle && k < i; k++ {
				cycle = cls[k] != ClassV
			}
			if !cycle {
				flush()
				continue
			}
			if len(vs) > 0 && i-vs[len(vs)-1] != period {
				flush()
			}
			vs = append(vs, i)
		}
		flush()
	}

	slices.SortStableFunc(evs, func(a, b Event) int {
		if a.Start != b.Start {
			if a.Start < b.Start {
				return -1
			}
			return 1
		}
		return slices.Index(Kinds, a.Kind) - slices.Index(Kinds, b.Kind)
	})
	if rvr {
		evs = FoldRVR(evs, samples, rate)
	}
	counts := map[string]int{}
	for k, e := range evs {
		counts[e.Kind]++
		if e.Kind == EventVTriplet || e.Kind == EventVRun || e.Kind == EventNSVT || e.Kind == EventVT {
			if rh.LongestVRun < 0 || e.Beats > evs[rh.LongestVRun].Beats {
				rh.LongestVRun = k
			}
			if rh.FastestVRun < 0 || e.RateBPM > evs[rh.FastestVRun].RateBPM {
				rh.FastestVRun = k
			}
		}
	}
	for _, k := range Kinds {
		rh.Counts = append(rh.Counts, KindCount{Kind: k, Count: counts[k]})
	}
	return evs, rh
}
