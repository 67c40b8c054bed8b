package server_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/pulsegrid/pulsegrid/server/store"
	"github.com/pulsegrid/pulsegrid/volunteer"
)

// progressAnswer is the "progress" object of GET /api/v1/analyses/{id},
// decoded loosely so that a missing or renamed field shows.
type progressAnswer map[string]any

func (ts *testServer) progress(token string, id int64) (string, progressAnswer) {
	ts.t.Helper()
	code, body := ts.do("GET", fmt.Sprintf("/api/v1/analyses/%d", id), token, nil, "")
	if code != 200 {
		ts.t.Fatalf("get analysis %d: %d %s", id, code, body)
	}
	var a struct {
		Status   string
		Progress progressAnswer
	}
	if err := json.Unmarshal(body, &a); err != nil {
		ts.t.Fatal(err)
	}
	return a.Status, a.Progress
}

func (p progressAnswer) num(k string) int {
	v, _ := p[k].(float64)
	return int(v)
}

// check compares the fields of want with p; a nil want value means JSON null.
func (p progressAnswer) check(t *testing.T, when string, want map[string]any) {
	t.Helper()
	for k, w := range want {
		got, ok := p[k]
		if !ok {
			t.Errorf("%s: progress.%s is missing (got %v)", when, k, p)
			continue
		}
		if n, isInt := w.(int); isInt {
			w = float64(n)
		}
		if got != w {
			t.Errorf("%s: progress.%s: got %v, want %v", when, k, got, w)
		}
	}
}

// TestProgressExplainsStalls follows one analysis through the states the
// progress page explains: no volunteer (waiting for volunteers), one
// volunteer at quorum 2 (every chunk computed once, waiting for a second
// opinion), a second volunteer (done, with nobody working and no time left).
func TestProgressExplainsStalls(t *testing.T) {
	ts := startServer(t, t.TempDir(), "127.0.0.1:0", gridConfig())
	defer ts.stop()
	tok := ts.user("clin@example.org", store.RoleClinician)
	id := ts.analyse(tok, ts.upload(tok, "119", nil), "ecg.beats@1", "routine")

	status, p := ts.progress(tok, id)
	total := p.num("chunks_total")
	if status != store.StatusRunning || total < 2 {
		t.Fatalf("new analysis: got %s with %d chunks, want running with several", status, total)
	}
	p.check(t, "no volunteer", map[string]any{"chunks_verified": 0, "chunks_queued": total, "chunks_running": 0, "chunks_awaiting_replica": 0,
		"volunteers_working": 0, "volunteers_connected": 0, "quorum": 2, "eta_seconds": nil, "waiting_for": "volunteers"})

	startVolunteers(t, ts.base, 1, volunteer.Config{Slots: 2})
	deadline := time.Now().Add(60 * time.Second)
	for p.num("chunks_awaiting_replica") < total {
		if time.Now().After(deadline) {
			t.Fatalf("one volunteer: after 60 s, got %v, want all %d chunks waiting for a second opinion", p, total)
		}
		time.Sleep(50 * time.Millisecond)
		_, p = ts.progress(tok, id)
	}
	p.check(t, "one volunteer", map[string]any{"chunks_verified": 0, "chunks_queued": 0, "chunks_running": 0,
		"volunteers_working": 0, "volunteers_connected": 1, "eta_seconds": nil, "waiting_for": "second_opinion"})

	startVolunteers(t, ts.base, 1, volunteer.Config{Slots: 2})
	if s := ts.waitDone(tok, id, 60*time.Second); s.Status != store.StatusDone {
		t.Fatalf("two volunteers: got %s (%s), want done", s.Status, s.Error)
	}
	_, p = ts.progress(tok, id)
	p.check(t, "done", map[string]any{"chunks_verified": total, "chunks_total": total, "chunks_queued": 0, "chunks_running": 0, "chunks_awaiting_replica": 0,
		"volunteers_working": 0, "volunteers_connected": 0, "eta_seconds": nil, "waiting_for": ""})
}
