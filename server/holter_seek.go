package server

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/pulsegrid/pulsegrid/algorithms/ecg"
	"github.com/pulsegrid/pulsegrid/server/store"
	"github.com/pulsegrid/pulsegrid/views"
)

// Strip navigation of the Holter report (issue 13), as PhysioNet's
// LightWAVE offers it: buttons to the previous and next event, and to the
// previous and next beat of a class. GET /analyses/{id}/report?seek=WHAT&
// dir=next|prev&from=&to=[&cursor=] finds the target in the report as
// corrected, searching from the cursor (the time the last seek landed on,
// or seekLead seconds into the window shown), and redirects to the window
// that shows it seekLead seconds after its start, with the cursor on it
// and the focus on the button pressed; the window keeps its width. Near the record's ends the window is held
// inside the record and the cursor still says which target is in focus,
// so that the next press moves on from it and never finds it again.

// seekTargets are what the strip seeks, in button order.
var seekTargets = []struct{ what, name string }{
	{"event", "event"}, {"V", "V beat"}, {"S", "S beat"}, {"F", "F beat"}, {"Q", "Q beat"},
}

// seekLead is where in its window a sought beat or event is shown: 2 s
// of context before it, or half a window narrower than 4 s.
func seekLead(width float64) float64 { return min(2, width/2) }

// seekEps is how close to the cursor a target is the one in focus, not
// the next or previous one: the cursor is written to 1 ms. Events that
// start on the same beat are one stop.
const seekEps = 0.001

// seekTime finds, in res, the start of the next (dir "next") or previous
// ("prev") event of any kind, or beat of class what, after or before the
// time at.
func seekTime(res *ecg.ClassifyResult, what, dir string, at float64) (float64, bool, error) {
	if dir != "next" && dir != "prev" {
		return 0, false, Errorf(EInvalid, "dir %q: want next or prev", dir)
	}
	var times []float64
	switch what {
	case "event":
		for _, e := range res.Events {
			times = append(times, e.StartTime)
		}
	default:
		var k ecg.Class
		if err := k.UnmarshalJSON([]byte(strconv.Quote(what))); err != nil {
			return 0, false, Errorf(EInvalid, "seek %q: want event or a beat class N, S, V, F, Q", what)
		}
		for _, b := range res.Beats {
			if b.Class == k {
				times = append(times, b.Time)
			}
		}
	}
	best, found := 0.0, false
	for _, t := range times {
		if dir == "next" && t > at+seekEps && (!found || t < best) {
			best, found = t, true
		}
		if dir == "prev" && t < at-seekEps && (!found || t > best) {
			best, found = t, true
		}
	}
	return best, found, nil
}

// seekCursor is the time a seek from the window [from, to) starts at: the
// cursor when it lies in the window, else seekLead seconds into it.
func seekCursor(from, to float64, cursor string) float64 {
	if c, err := strconv.ParseFloat(cursor, 64); err == nil && c >= from && c <= to {
		return c
	}
	return from + seekLead(to-from)
}

// seekWindow is the from/to/cursor query of the strip window, width wide
// and inside a record of duration seconds, that shows t seekLead seconds
// after its start.
func seekWindow(t, width, duration float64) url.Values {
	from := t - seekLead(width)
	if duration > 0 {
		from = min(from, duration-width)
	}
	from = max(from, 0)
	q := url.Values{}
	q.Set("from", strconv.FormatFloat(from, 'f', 3, 64))
	q.Set("to", strconv.FormatFloat(from+width, 'f', 3, 64))
	q.Set("cursor", strconv.FormatFloat(t, 'f', 3, 64))
	return q
}

// seekButtons are the strip's seek buttons for the window s shows, with
// the cursor of the request when it lies in that window.
func seekButtons(id int64, s views.StripView, cursor string) []views.StripSeek {
	var out []views.StripSeek
	c := seekCursor(s.From, s.To, cursor)
	for _, t := range seekTargets {
		for _, dir := range []string{"prev", "next"} {
			q := url.Values{}
			q.Set("seek", t.what)
			q.Set("dir", dir)
			q.Set("from", strconv.FormatFloat(s.From, 'f', 3, 64))
			q.Set("to", strconv.FormatFloat(s.To, 'f', 3, 64))
			q.Set("cursor", strconv.FormatFloat(c, 'f', 3, 64))
			label, title := "◀ "+t.what, "Previous "+t.name
			if dir == "next" {
				label, title = t.what+" ▶", "Next "+t.name
			}
			out = append(out, views.StripSeek{Label: label, Title: title, What: t.what, Dir: dir,
				Href: fmt.Sprintf("/analyses/%d/report?%s", id, q.Encode())})
		}
	}
	return out
}

// seek answers ?seek=: a redirect to the window of the target, or back to
// the same window with a message when there is none that way.
// res is the result as corrected: a relabelled beat and a dismissed event
// are what the strip shows.
func (p *portal) seek(w http.ResponseWriter, r *http.Request, a store.Analysis, ds store.Dataset, res *ecg.ClassifyResult) {
	q := r.URL.Query()
	duration := 0.0
	if i := res.LeadIndex; i >= 0 && i < len(ds.Channels) && ds.Channels[i].Rate > 0 {
		duration = float64(ds.Channels[i].Samples) / ds.Channels[i].Rate
	}
	from, to := stripWindow(r, duration)
	width := to - from
	at := seekCursor(from, to, q.Get("cursor"))
	what, dir := q.Get("seek"), q.Get("dir")
	t, ok, err := seekTime(res, what, dir, at)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	var win url.Values
	if ok {
		win = seekWindow(t, width, duration)
	} else {
		// The same window and cursor.
		win = url.Values{}
		win.Set("from", strconv.FormatFloat(from, 'f', 3, 64))
		win.Set("to", strconv.FormatFloat(to, 'f', 3, 64))
		win.Set("cursor", strconv.FormatFloat(at, 'f', 3, 64))
		name := what + " beat"
		if what == "event" {
			name = "event"
		}
		way := "later"
		if dir == "prev" {
			way = "earlier"
		}
		p.flash(r, "info", fmt.Sprintf("No %s %s in the report.", way, name))
	}
	// The fragment is the button pressed: the browser scrolls to it and
	// gives it the focus, so that Enter pressed again goes on.
	http.Redirect(w, r, fmt.Sprintf("/analyses/%d/report?%s#%s", a.ID, win.Encode(), views.StripSeekID(dir, what)), http.StatusSeeOther)
}
