package server_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/pulsegrid/pulsegrid/algorithms/canon"
	"github.com/pulsegrid/pulsegrid/protocol"
	"github.com/pulsegrid/pulsegrid/server/store"
)

// TestDeletingRemovesPendingResults: results waiting for a quorum are rows
// (kept for a takeover); deleting a dataset removes those of its analyses,
// deleting an analysis removes its own, and no other's. One-line bug it
// catches: pending_results without ON DELETE CASCADE (migration 0190).
func TestDeletingRemovesPendingResults(t *testing.T) {
	cfg := gridConfig()
	cfg.PendingDelay = time.Millisecond
	ts := startServer(t, t.TempDir(), "127.0.0.1:0", cfg)
	defer ts.stop()
	tok := ts.user("clin@example.org", store.RoleClinician)
	byDataset := ts.analyse(tok, ts.upload(tok, "119", nil), "ecg.beats@1", "routine")
	other := ts.upload(tok, "119", nil)
	byAnalysis := ts.analyse(tok, other, "ecg.beats@1", "routine")
	kept := ts.analyse(tok, other, "ecg.beats@1", "routine")
	pending := func(id int64) int {
		t.Helper()
		var n int
		if err := ts.st.DB().QueryRow(`SELECT COUNT(*) FROM pending_results WHERE analysis_id = ?`, id).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	total := func() int {
		t.Helper()
		var n int
		if err := ts.st.DB().QueryRow(`SELECT COUNT(*) FROM pending_results`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	// One volunteer gives first replicas (any output: nobody compares
	// them before a second comes) until each analysis has some waiting.
	v, w := dialRaw(t, ts.base, nil)
	if w.Type != protocol.TypeWelcome {
		t.Fatalf("got %+v, want welcome", w)
	}
	for i := 0; pending(byDataset) == 0 || pending(byAnalysis) == 0 || pending(kept) == 0; i++ {
		if i == 90 {
			t.Fatalf("pending results after %d leases: %d, %d, %d", i, pending(byDataset), pending(byAnalysis), pending(kept))
		}
		l, _ := v.lease()
		out := []byte(fmt.Sprint("output ", i))
		v.send(&protocol.Message{Type: protocol.TypeAck, LeaseID: l.LeaseID}, nil)
		v.send(&protocol.Message{Type: protocol.TypeResult, LeaseID: l.LeaseID, Digest: canon.Digest(out), Size: len(out)}, out)
		for j := 0; total() != i+1; j++ { // each one waits alone: it is written after PendingDelay
			if j == 2000 {
				t.Fatalf("the first replica %d was never written: %d rows", i+1, total())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	del := func(path string) {
		t.Helper()
		if code, body := ts.do("DELETE", path, tok, nil, ""); code != http.StatusNoContent {
			t.Fatalf("DELETE %s: %d %s", path, code, body)
		}
	}
	del(fmt.Sprintf("/api/v1/analyses/%d", byAnalysis))
	if n := pending(byAnalysis); n != 0 {
		t.Errorf("a deleted analysis left %d pending results", n)
	}
	var ds int64
	if err := ts.st.DB().QueryRow(`SELECT dataset_id FROM analyses WHERE id = ?`, byDataset).Scan(&ds); err != nil {
		t.Fatal(err)
	}
	del(fmt.Sprintf("/api/v1/datasets/%d", ds))
	if n := pending(byDataset); n != 0 {
		t.Errorf("a deleted dataset's analysis left %d pending results", n)
	}
	if n := pending(kept); n == 0 {
		t.Error("deleting other analyses removed the pending results of one that stays")
	}
}
