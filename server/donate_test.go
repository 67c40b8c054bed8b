package server_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/pulsegrid/pulsegrid/server/store"
	"github.com/pulsegrid/pulsegrid/volunteer"
)

// TestBacklogAPI follows GET /api/v1/backlog, which /donate polls without an
// account, through the states the volunteer page tells apart: no work, work
// queued, and every chunk computed once waiting for a second opinion.
func TestBacklogAPI(t *testing.T) {
	ts := startServer(t, t.TempDir(), "127.0.0.1:0", gridConfig())
	defer ts.stop()
	backlog := func() map[string]int {
		t.Helper()
		code, body := ts.do("GET", "/api/v1/backlog", "", nil, "")
		if code != 200 {
			t.Fatalf("GET /api/v1/backlog without a token: %d %s, want 200 (the volunteer page is public)", code, body)
		}
		var b map[string]int
		if err := json.Unmarshal(body, &b); err != nil {
			t.Fatalf("GET /api/v1/backlog: %v in %s", err, body)
		}
		return b
	}
	check := func(when string, got map[string]int, want map[string]int) {
		t.Helper()
		for k, w := range want {
			v, ok := got[k]
			if !ok {
				t.Errorf("%s: %s missing in %v", when, k, got)
			} else if v != w {
				t.Errorf("%s: %s = %d, want %d (all: %v)", when, k, v, w, got)
			}
		}
	}
	check("no analysis", backlog(), map[string]int{"quorum": 2, "chunks_total": 0, "chunks_queued": 0, "chunks_running": 0, "chunks_awaiting_replica": 0})

	tok := ts.user("vol-backlog@example.org", store.RoleClinician)
	ts.analyse(tok, ts.upload(tok, "119", nil), "ecg.beats@1", "routine")
	b := backlog()
	total := b["chunks_total"]
	if total < 2 {
		t.Fatalf("one analysis: %v, want several chunks", b)
	}
	check("queued", b, map[string]int{"chunks_queued": total, "chunks_awaiting_replica": 0, "chunks_verified": 0})

	startVolunteers(t, ts.base, 1, volunteer.Config{Slots: 2})
	deadline := time.Now().Add(60 * time.Second)
	for b["chunks_awaiting_replica"] < total {
		if time.Now().After(deadline) {
			t.Fatalf("one volunteer at quorum 2: after 60 s %v, want all %d chunks awaiting a second opinion", b, total)
		}
		time.Sleep(50 * time.Millisecond)
		b = backlog()
	}
	check("one volunteer", b, map[string]int{"chunks_queued": 0, "chunks_running": 0, "chunks_verified": 0})
}
