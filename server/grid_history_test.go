package server_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/pulsegrid/pulsegrid/server/store"
	"github.com/pulsegrid/pulsegrid/volunteer"
)

// TestGridHistorySurvivesARestart: the last hour of /admin/grid's charts
// (GET /api/v1/grid's history) is the same after the server restarts on
// its database: every minute it had, with its verified chunks and its
// peaks, and the chunks verified add up to the analysis's.
func TestGridHistorySurvivesARestart(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, dir, "127.0.0.1:0", gridConfig())
	tok := ts.user("history@example.org", store.RoleClinician)
	var stops []func()
	for range 2 {
		_, stop := runVolunteer(ts.base, volunteer.Config{Slots: 2})
		stops = append(stops, stop)
	}
	id := ts.analyse(tok, ts.upload(tok, "119", nil), "ecg.beats@1", "routine")
	s := ts.waitDone(tok, id, 90*time.Second)
	chunks := s.Progress.ChunksTotal
	if s.Status != store.StatusDone || chunks < 2 {
		t.Fatalf("analysis: %+v, want done with chunks", s)
	}
	for _, stop := range stops {
		stop()
	}
	history := func(ts *testServer) []gridMinute {
		t.Helper()
		code, body := ts.do("GET", "/api/v1/grid", tok, nil, "")
		var g struct {
			History []gridMinute `json:"history"`
		}
		if err := json.Unmarshal(body, &g); code != 200 || err != nil {
			t.Fatalf("GET /api/v1/grid: %d %v %s", code, err, body)
		}
		return g.History
	}
	verified := func(ms []gridMinute) (n int) {
		for _, m := range ms {
			n += m.Verified
		}
		return n
	}
	before := history(ts)
	if verified(before) != chunks {
		t.Fatalf("before the restart: %d chunks verified in the history, want %d", verified(before), chunks)
	}
	ts.stop()

	ts = startServer(t, dir, "127.0.0.1:0", gridConfig())
	defer ts.stop()
	after := history(ts)
	if verified(after) != chunks {
		t.Errorf("after the restart: %d chunks verified in the history, want the %d from before", verified(after), chunks)
	}
	at := map[time.Time]gridMinute{}
	for _, m := range after {
		at[m.Start.UTC()] = m
	}
	for _, m := range before {
		got, ok := at[m.Start.UTC()]
		// Nobody is connected now: the peaks of the minute are the ones
		// from before the restart.
		got.Start, m.Start = got.Start.UTC(), m.Start.UTC()
		if !ok || got != m {
			t.Errorf("minute %s: before the restart %+v, after %+v (present %v)", m.Start.UTC().Format(time.TimeOnly), m, got, ok)
		}
	}
}

// gridMinute is a minute of GET /api/v1/grid's history.
type gridMinute struct {
	Start      time.Time `json:"start"`
	Verified   int       `json:"chunks_verified"`
	Failed     int       `json:"chunks_failed"`
	Volunteers int       `json:"volunteers"`
	Leases     int       `json:"leases"`
	Unverified int       `json:"chunks_unverified"`
}
