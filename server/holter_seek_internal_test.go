package server

import (
	"math"
	"strconv"
	"testing"

	"github.com/pulsegrid/pulsegrid/algorithms/ecg"
)

// TestSeekSteps walks the strip's seek logic (seekTime, seekWindow,
// seekCursor, as the seek handler chains them) over a 100 s record with
// events of several kinds and V beats on both sides of the 60 s chunk
// boundary, 10 s windows:
//   - next/prev event visit every event start in time order whatever its
//     kind (a search over one kind only skips the pause and fails), the two
//     events that start on the same beat once, and stop at the ends;
//   - next V from the last V before 60 s lands on the first after it;
//   - at the ends the window is held inside the record (from 0, from 90)
//     and the cursor still moves on: next from the event at 97 s finds the
//     one at 99 s, not 97 s again (a search from the window's seekLead point
//     instead of the cursor fails here), prev from 0.5 s reports none.
func TestSeekSteps(t *testing.T) {
	const duration, width = 100.0, 10.0
	res := &ecg.ClassifyResult{Events: []ecg.Event{
		{Kind: "v_couplet", StartTime: 0.5}, {Kind: "bigeminy", StartTime: 30}, {Kind: "pause", StartTime: 12.25},
		{Kind: "v_couplet", StartTime: 30}, {Kind: "nsvt", StartTime: 59.8}, {Kind: "af", StartTime: 61.2},
		{Kind: "tachy", StartTime: 97}, {Kind: "sv_run", StartTime: 99},
	}}
	for _, s := range []struct {
		t float64
		k ecg.Class
	}{{0.4, ecg.ClassN}, {1.5, ecg.ClassV}, {58.9, ecg.ClassV}, {59.7, ecg.ClassN}, {60.4, ecg.ClassS}, {60.9, ecg.ClassV}, {98, ecg.ClassV}} {
		res.Beats = append(res.Beats, ecg.ClassifiedBeat{Time: s.t, Class: s.k})
	}
	// step is one press: the window and cursor it lands on, or ok false
	// and the same window.
	step := func(what, dir string, from float64, cursor string) (float64, float64, bool) {
		t.Helper()
		at := seekCursor(from, from+width, cursor)
		got, ok, err := seekTime(res, what, dir, at)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return from, at, false
		}
		q := seekWindow(got, width, duration)
		f, _ := strconv.ParseFloat(q.Get("from"), 64)
		to, _ := strconv.ParseFloat(q.Get("to"), 64)
		c, _ := strconv.ParseFloat(q.Get("cursor"), 64)
		if math.Abs(to-f-width) > 1e-9 || f < 0 || to > duration || c < f || c > to {
			t.Fatalf("%s %s to %v: window %v–%v, cursor %v", dir, what, got, f, to, c)
		}
		return f, c, true
	}
	walk := func(what, dir string, from float64) (stops []float64, froms []float64) {
		t.Helper()
		cursor := ""
		for range 20 {
			f, c, ok := step(what, dir, from, cursor)
			if !ok {
				return stops, froms
			}
			stops, froms = append(stops, c), append(froms, f)
			from, cursor = f, strconv.FormatFloat(c, 'f', 3, 64)
		}
		t.Fatalf("%s %s: no end after 20 presses", dir, what)
		return nil, nil
	}
	eq := func(a, b []float64) bool {
		if len(a) != len(b) {
			return false
		}
		for i := range a {
			if math.Abs(a[i]-b[i]) > 1e-9 {
				return false
			}
		}
		return true
	}
	// From the window at 0 (cursor at 2 s): the event at 0.5 s is behind.
	stops, froms := walk("event", "next", 0)
	if want := []float64{12.25, 30, 59.8, 61.2, 97, 99}; !eq(stops, want) {
		t.Errorf("next event from 0: stops %v, want %v", stops, want)
	}
	if want := []float64{10.25, 28, 57.8, 59.2, 90, 90}; !eq(froms, want) {
		t.Errorf("next event from 0: windows at %v, want %v", froms, want)
	}
	stops, froms = walk("event", "prev", 90)
	if want := []float64{61.2, 59.8, 30, 12.25, 0.5}; !eq(stops, want) {
		t.Errorf("prev event from 90: stops %v, want %v", stops, want)
	}
	if froms[len(froms)-1] != 0 {
		t.Errorf("prev event to 0.5 s: window at %v, want 0", froms[len(froms)-1])
	}
	// prev from the cursor on 0.5 s: none, the window stays.
	if f, c, ok := step("event", "prev", 0, "0.500"); ok || f != 0 || c != 0.5 {
		t.Errorf("prev event from 0.5 s: %v %v %v, want none", f, c, ok)
	}
	// Beats of a class, across the chunk boundary at 60 s.
	if _, c, ok := step("V", "next", 56.9, "58.900"); !ok || c != 60.9 {
		t.Errorf("next V from 58.9 s: %v %v, want 60.9", c, ok)
	}
	if _, c, ok := step("V", "prev", 58.9, "60.900"); !ok || c != 58.9 {
		t.Errorf("prev V from 60.9 s: %v %v, want 58.9", c, ok)
	}
	if _, c, ok := step("S", "next", 0, ""); !ok || c != 60.4 {
		t.Errorf("next S from 0: %v %v, want 60.4", c, ok)
	}
	if stops, _ := walk("V", "next", 0); !eq(stops, []float64{58.9, 60.9, 98}) {
		t.Errorf("next V from 0: %v", stops) // 1.5 s is behind the cursor at 2 s
	}
	if _, _, ok := step("F", "next", 0, ""); ok {
		t.Error("next F: found one in a record without F beats")
	}
	// A cursor outside the window is not used: the search starts 2 s in.
	if c := seekCursor(40, 50, "97.000"); c != 42 {
		t.Errorf("cursor 97 in the window 40–50: search from %v, want 42", c)
	}
	if c := seekCursor(0, 2, ""); c != 1 {
		t.Errorf("2-s window: search from %v, want 1", c)
	}
	for _, bad := range []struct{ what, dir string }{{"V", "up"}, {"X", "next"}, {"", "prev"}} {
		if _, _, err := seekTime(res, bad.what, bad.dir, 0); err == nil {
			t.Errorf("seek %q dir %q: no error", bad.what, bad.dir)
		}
	}
}
