package server_test

import (
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestHolterStripSeek drives the report strip's LightWAVE-style buttons on
// mitdb 119, analysed in 60 s chunks, through the portal: next event from
// the start visits every distinct event start in time order to the last
// (whatever its kind, events on both sides of chunk boundaries, each once)
// and then says there is none later; prev walks back to the first and says
// there is none earlier; every landing window is 10 s wide, inside the
// record, with the cursor on the target 2 s in (or held at the record's
// ends). Next V from the last V before a chunk boundary lands on the first
// after it, prev V goes back (next/prev swapped fails); after a V beat is
// corrected to N, next V skips it, and a dismissed event is skipped too (a
// search in the verified result fails both).
// The strip shows both leads (MLII and V1) in one SVG, with ten seek
// buttons that carry the cursor.
func TestHolterStripSeek(t *testing.T) {
	email, password := "seek@example.org", "Quiet-Harbour-Lantern-7"
	ts, token, id := classifiedOnGrid(t, email, password, "119", "ecg.classify@1")
	_, body := ts.do("GET", fmt.Sprintf("/api/v1/analyses/%d/result", id), token, nil, "")
	var res struct {
		Beats []struct {
			Sample int64
			Time   float64
			Class  string
		}
		Events []struct {
			Kind      string
			Start     int64
			StartTime float64 `json:"start_s"`
		}
	}
	if err := json.Unmarshal(body, &res); err != nil {
		t.Fatal(err)
	}
	var vs []float64
	for _, b := range res.Beats {
		if b.Class == "V" {
			vs = append(vs, b.Time)
		}
	}
	if len(vs) < 3 || len(res.Events) == 0 {
		t.Fatalf("119: %d V beats, %d events", len(vs), len(res.Events))
	}
	dur := 1805.556      // 650000 samples at 360 Hz
	var starts []float64 // distinct event starts, in order
	for _, e := range res.Events {
		starts = append(starts, e.StartTime)
	}
	slices.Sort(starts)
	starts = slices.CompactFunc(starts, func(a, b float64) bool { return math.Abs(a-b) < 0.001 })

	b := newBrowser(t, ts.base)
	b.login(email, password)
	// seek follows one button from the window at from (cursor "" for none)
	// and returns the window and cursor it lands on and the flash shown.
	seekW := func(what, dir string, from, width float64, cursor string) (float64, string, string) {
		t.Helper()
		q := fmt.Sprintf("/analyses/%d/report?seek=%s&dir=%s&from=%.3f&to=%.3f", id, what, dir, from, from+width)
		if cursor != "" {
			q += "&cursor=" + cursor
		}
		p := b.get(q)
		if p.status != 303 {
			t.Fatalf("seek %s %s from %.3f: %d %s", what, dir, from, p.status, p.body)
		}
		u, _ := url.Parse(p.location())
		if u.Fragment != "strip-seek-"+dir+"-"+what {
			t.Errorf("seek %s %s: fragment %q, want the button's id (the focus goes back to it)", what, dir, u.Fragment)
		}
		f, _ := strconv.ParseFloat(u.Query().Get("from"), 64)
		to, _ := strconv.ParseFloat(u.Query().Get("to"), 64)
		c := u.Query().Get("cursor")
		cv, _ := strconv.ParseFloat(c, 64)
		if math.Abs(to-f-width) > 0.002 || f < 0 || to > dur+0.002 || cv < f || cv > to {
			t.Errorf("seek %s %s: window %v to %v, cursor %q, want %v s wide inside the record with the cursor in it", what, dir, f, to, c, width)
		}
		flash := b.get(p.location()).text("flash")
		return f, c, flash
	}
	seek := func(what, dir string, from float64, cursor string) (float64, string, string) {
		t.Helper()
		return seekW(what, dir, from, 10, cursor)
	}
	near := func(got, want float64) bool { return math.Abs(got-want) < 0.002 }
	num := func(c string) float64 { v, _ := strconv.ParseFloat(c, 64); return v }

	// Every event, forwards and back.
	walk := func(from float64) []float64 {
		t.Helper()
		var stops []float64
		cursor := ""
		for range len(starts) + 2 {
			f, c, flash := seek("event", "next", from, cursor)
			if flash != "" {
				if !strings.Contains(flash, "No later event") || f != from {
					t.Errorf("next event at the end: window %v (was %v), flash %q", f, from, flash)
				}
				return stops
			}
			if want := max(min(num(c)-2, dur-10), 0); !near(f, want) {
				t.Errorf("next event to %s: window at %.3f, want %.3f", c, f, want)
			}
			stops = append(stops, num(c))
			from, cursor = f, c
		}
		t.Fatalf("next event: no end after %d presses", len(starts)+2)
		return nil
	}
	same := func(got, want []float64) bool {
		return slices.EqualFunc(got, want, near)
	}
	if len(starts) < 3 {
		t.Fatalf("119: %d distinct event starts", len(starts))
	}
	straddles := 0
	for i := 1; i < len(starts); i++ {
		if math.Floor(starts[i-1]/60) != math.Floor(starts[i]/60) {
			straddles++
		}
	}
	if straddles == 0 {
		t.Fatalf("119: no two consecutive events in different 60 s chunks: %v", starts)
	}
	t.Logf("119: %d distinct event starts, %d pairs in different chunks", len(starts), straddles)
	first := 0
	for first < len(starts) && starts[first] <= 2.001 {
		first++ // behind the cursor of the window at 0
	}
	if fw := walk(0); !same(fw, starts[first:]) {
		t.Errorf("next event from 0: stops %v, want %v", fw, starts[first:])
	}
	last := starts[len(starts)-1]
	back := slices.Clone(starts[:len(starts)-1])
	slices.Reverse(back)
	// Back from the last event, its cursor on it.
	{
		from := max(min(last-2, dur-10), 0)
		var stops []float64
		cursor := strconv.FormatFloat(last, 'f', 3, 64)
		for range len(starts) + 2 {
			f, c, flash := seek("event", "prev", from, cursor)
			if flash != "" {
				if !strings.Contains(flash, "No earlier event") || f != from {
					t.Errorf("prev event at the start: window %v (was %v), flash %q", f, from, flash)
				}
				break
			}
			stops = append(stops, num(c))
			from, cursor = f, c
		}
		if !same(stops, back) {
			t.Errorf("prev event from the last: stops %v, want %v", stops, back)
		}
	}

	// V beats across a chunk boundary.
	k := -1
	for i := 1; i+1 < len(vs); i++ {
		if math.Floor(vs[i-1]/60) != math.Floor(vs[i]/60) && vs[i-1] > 3 {
			k = i
			break
		}
	}
	if k < 0 {
		t.Fatalf("119: no V beats on both sides of a chunk boundary")
	}
	if f, c, _ := seek("V", "next", vs[k-1]-2, strconv.FormatFloat(vs[k-1], 'f', 3, 64)); !near(num(c), vs[k]) || !near(f, vs[k]-2) {
		t.Errorf("next V from %.3f: window %.3f cursor %s, want %.3f", vs[k-1], f, c, vs[k])
	}
	if _, c, _ := seek("V", "prev", vs[k]-2, strconv.FormatFloat(vs[k], 'f', 3, 64)); !near(num(c), vs[k-1]) {
		t.Errorf("prev V from %.3f: cursor %s, want %.3f", vs[k], c, vs[k-1])
	}
	// A 2-s window at 0 is in focus at 1 s, before any V beat.
	if vs[0] <= 1.01 {
		t.Fatalf("119's first V beat at %.3f s", vs[0])
	}
	if f, _, flash := seekW("V", "prev", 0, 2, ""); f != 0 || !strings.Contains(flash, "No earlier V beat") {
		t.Errorf("previous V from 0: window at %.3f, flash %q", f, flash)
	}
	for _, bad := range []string{"seek=V&dir=up", "seek=X&dir=next"} {
		if p := b.get(fmt.Sprintf("/analyses/%d/report?%s&from=0&to=10", id, bad)); p.status != 400 {
			t.Errorf("%s: %d", bad, p.status)
		}
	}
	a := k
	// The report as corrected: V beat a is now N.
	if code, b := ts.do("POST", fmt.Sprintf("/api/v1/analyses/%d/corrections", id), token, strings.NewReader(fmt.Sprintf(`{"target":"beat","time_s":%.4f,"class":"N"}`, vs[a])), "application/json"); code != 201 {
		t.Fatalf("relabel: %d %s", code, b)
	}
	if _, c, _ := seek("V", "next", vs[a-1]-2, strconv.FormatFloat(vs[a-1], 'f', 3, 64)); !near(num(c), vs[a+1]) {
		t.Errorf("next V after correcting V %d to N: cursor %s, want %.3f", a, c, vs[a+1])
	}
	// A dismissed event is no stop: dismiss every event starting at the
	// second stop, and next event from the first goes to the third.
	for _, e := range res.Events {
		if near(e.StartTime, starts[first+1]) {
			if code, b := ts.do("POST", fmt.Sprintf("/api/v1/analyses/%d/corrections", id), token, strings.NewReader(fmt.Sprintf(`{"target":"event","kind":%q,"start":%d,"dismiss":true}`, e.Kind, e.Start)), "application/json"); code != 201 {
				t.Fatalf("dismiss: %d %s", code, b)
			}
		}
	}
	s0 := starts[first]
	if _, c, _ := seek("event", "next", max(min(s0-2, dur-10), 0), strconv.FormatFloat(s0, 'f', 3, 64)); !near(num(c), starts[first+2]) {
		t.Errorf("next event after dismissing the one at %.3f: cursor %s, want %.3f", starts[first+1], c, starts[first+2])
	}

	// Both leads, and the buttons.
	pg := b.get(fmt.Sprintf("/analyses/%d/report?from=%.3f&to=%.3f", id, vs[0]-2, vs[0]+8))
	svg := pg.doc.Find(`[data-testid="strip-svg"] svg.chart-strip`)
	if svg.Length() != 1 || svg.AttrOr("data-leads", "") != "2" || svg.Find(`g.lead.second[data-lead="V1"] path.series`).Length() != 1 {
		t.Errorf("strip: %d SVGs, leads %q, second lead traces %d", svg.Length(), svg.AttrOr("data-leads", ""), svg.Find(`g.lead.second path.series`).Length())
	}
	if n := pg.doc.Find(`[data-testid="strip-seek"] a[data-strip-seek]`).Length(); n != 10 {
		t.Errorf("%d seek buttons, want 10", n)
	}
	if href := pg.doc.Find(`[data-testid="strip-seek-next-V"]`).AttrOr("href", ""); !strings.Contains(href, "seek=V") || !strings.Contains(href, "dir=next") || !strings.Contains(href, "cursor=") {
		t.Errorf("next V button: %q", href)
	}
}
