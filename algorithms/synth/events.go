package synth

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Events says how many of each arrhythmia event a synthetic ECG holds. Each
// count is exact: the record has that many events of the kind, placed at
// random times that do not overlap, with sinus rhythm between them. The
// zero value is plain sinus rhythm.
type Events struct {
	PVC       int `json:"pvc"`         // isolated premature ventricular beats (V)
	SVPB      int `json:"svpb"`        // isolated supraventricular (atrial) premature beats (A)
	Fusion    int `json:"fusion"`      // fusion beats (F)
	Couplet   int `json:"couplet"`     // two V beats in a row
	Triplet   int `json:"triplet"`     // three V beats in a row, faster than 100 bpm
	NSVT      int `json:"nsvt"`        // runs of 4–15 V beats faster than 100 bpm
	SVRun     int `json:"sv_run"`      // runs of 3–12 A beats faster than 100 bpm
	Bigeminy  int `json:"bigeminy"`    // stretches of N V N V …
	Trigeminy int `json:"trigeminy"`   // stretches of N N V N N V …
	Pause     int `json:"pause"`       // sinus arrest: an RR interval of 2.1–3.5 s
	Brady     int `json:"bradycardia"` // sinus bradycardia at 38–47 bpm for 1–5 minutes
	Tachy     int `json:"tachycardia"` // sinus tachycardia at 110–150 bpm for 1–5 minutes
	AF        int `json:"af"`          // atrial fibrillation for 2–20 minutes
}

// kinds lists the event kinds with their Events field, in the order the
// spec, the truth file and the docs use.
var kinds = []struct {
	name  string
	field func(*Events) *int
}{
	{"pvc", func(e *Events) *int { return &e.PVC }},
	{"svpb", func(e *Events) *int { return &e.SVPB }},
	{"fusion", func(e *Events) *int { return &e.Fusion }},
	{"couplet", func(e *Events) *int { return &e.Couplet }},
	{"triplet", func(e *Events) *int { return &e.Triplet }},
	{"nsvt", func(e *Events) *int { return &e.NSVT }},
	{"sv_run", func(e *Events) *int { return &e.SVRun }},
	{"bigeminy", func(e *Events) *int { return &e.Bigeminy }},
	{"trigeminy", func(e *Events) *int { return &e.Trigeminy }},
	{"pause", func(e *Events) *int { return &e.Pause }},
	{"bradycardia", func(e *Events) *int { return &e.Brady }},
	{"tachycardia", func(e *Events) *int { return &e.Tachy }},
	{"af", func(e *Events) *int { return &e.AF }},
}

// Profiles are the event densities `--events` names, per 24 hours. The
// default is a plausible ambulatory record of a patient with some ectopy
// (about 30 PVCs and 15 SVPBs an hour, a few runs, two AF episodes a day);
// dense packs every kind into each hour for short test records.
var profiles = map[string]Events{
	"none": {},
	"default": {PVC: 720, SVPB: 360, Fusion: 24, Couplet: 6, Triplet: 3, NSVT: 2, SVRun: 4,
		Bigeminy: 2, Trigeminy: 2, Pause: 4, Brady: 2, Tachy: 2, AF: 2},
	"dense": {PVC: 24 * 60, SVPB: 24 * 30, Fusion: 24 * 4, Couplet: 24 * 4, Triplet: 24 * 3, NSVT: 24 * 3, SVRun: 24 * 3,
		Bigeminy: 24, Trigeminy: 24, Pause: 24 * 3, Brady: 24, Tachy: 24, AF: 24},
}

// ParseEvents reads an event spec for a record of the given length: a
// profile name ("none", "default" or "dense", whose daily counts are scaled
// to the length and rounded), optionally followed by exact counts that
// override it, as in "default,af=3,pause=0" or "none,nsvt=2".
func ParseEvents(spec string, minutes float64) (Events, error) {
	parts := strings.Split(spec, ",")
	base, ok := profiles[strings.TrimSpace(parts[0])]
	if !ok {
		return Events{}, fmt.Errorf("events %q: expected a profile (none, default or dense) first, then KIND=COUNT overrides", spec)
	}
	var e Events
	for _, k := range kinds {
		*k.field(&e) = int(math.Round(float64(*k.field(&base)) * minutes / 1440))
	}
	for _, p := range parts[1:] {
		name, val, ok := strings.Cut(strings.TrimSpace(p), "=")
		n, err := strconv.Atoi(val)
		if !ok || err != nil || n < 0 || n > 1_000_000 {
			return Events{}, fmt.Errorf("events %q: %q is not KIND=COUNT with a count from 0 to 1000000", spec, p)
		}
		found := false
		for _, k := range kinds {
			if k.name == name {
				*k.field(&e), found = n, true
			}
		}
		if !found {
			return Events{}, fmt.Errorf("events %q: unknown kind %q (expected one of %s)", spec, name, kindNames())
		}
	}
	return e, nil
}

func kindNames() string {
	var s []string
	for _, k := range kinds {
		s = append(s, k.name)
	}
	return strings.Join(s, ", ")
}

// String renders the counts as a spec ParseEvents reads back.
func (e Events) String() string {
	s := "none"
	for _, k := range kinds {
		if n := *k.field(&e); n != 0 {
			s += "," + k.name + "=" + strconv.Itoa(n)
		}
	}
	return s
}

// total is the number of events.
func (e Events) total() int {
	n := 0
	for _, k := range kinds {
		n += *k.field(&e)
	}
	return n
}
