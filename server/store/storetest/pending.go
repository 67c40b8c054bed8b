package storetest

import (
	"fmt"
	"testing"

	"github.com/pulsegrid/pulsegrid/server/store"
)

// pendingKeys lists pending results as "idx/volunteer/digest".
func pendingKeys(t *testing.T, h *harness, analysisID int64) []string {
	t.Helper()
	ps, err := h.s.PendingResults(h.ctx, analysisID)
	must(t, err)
	var out []string
	for _, p := range ps {
		out = append(out, fmt.Sprintf("%d/%s/%s", p.Index, p.Volunteer, p.Digest))
	}
	return out
}

func wantPending(t *testing.T, h *harness, what string, analysisID int64, want ...string) {
	t.Helper()
	got := pendingKeys(t, h, analysisID)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s: pending results %v, want %v", what, got, want)
	}
}

// testPendingResults: results that wait for a quorum are kept across a
// restart, one per identity per chunk (a second one from the same
// identity, a replay or a changed answer, never replaces the first), and
// go when their chunk is verified or withdrawn, their volunteer is caught,
// or their analysis finishes.
func testPendingResults(t *testing.T, h *harness) {
	ctx, s := h.ctx, h.s
	u := h.user("a@x.org")
	ds, err := s.CreateDataset(ctx, store.Dataset{OwnerID: u.ID, Name: "n"}, recording())
	must(t, err)
	a := newAnalysis(t, h, u.ID, ds.ID, store.StatusRunning, 3)
	pend := func(idx int, vol, net, digest string, out []byte) store.GridWrite {
		return store.GridWrite{Pend: &store.PendingResult{AnalysisID: a.ID, Index: idx, Task: fmt.Sprintf("task-%d", idx), Volunteer: vol, Network: net, Digest: digest, Output: out}}
	}
	must(t, s.ApplyGridWrites(ctx, []store.GridWrite{
		pend(1, "v-b", "10.0.2.0/24", "d1", []byte{1}),
		pend(0, "v-a", "10.0.1.0/24", "d0", []byte{0, 1}),
		pend(0, "v-c", "10.0.3.0/24", "error", nil),
	}))
	// A replay, and a changed answer from the same identity: the first stays.
	must(t, s.ApplyGridWrites(ctx, []store.GridWrite{pend(0, "v-a", "10.0.9.0/24", "forged", []byte{9})}))
	h.restart()
	s = h.s
	ps, err := s.PendingResults(ctx, a.ID)
	must(t, err)
	if len(ps) != 3 {
		t.Fatalf("after a restart: %d pending results, want 3: %+v", len(ps), ps)
	}
	if p := ps[0]; p.AnalysisID != a.ID || p.Index != 0 || p.Volunteer != "v-a" || p.Network != "10.0.1.0/24" || p.Task != "task-0" || p.Digest != "d0" || string(p.Output) != "\x00\x01" {
		t.Errorf("first pending result: %+v, want v-a's first answer for chunk 0 as stored", p)
	}
	if p := ps[1]; p.Volunteer != "v-c" || p.Digest != "error" || len(p.Output) != 0 {
		t.Errorf("second pending result: %+v, want v-c's error", p)
	}
	if got, _ := s.Analysis(ctx, a.ID); got.ChunksVerified != 0 {
		t.Errorf("pending results counted as verified: %d", got.ChunksVerified)
	}
	// Verifying chunk 0 drops its pending results, not chunk 1's.
	must(t, s.ApplyGridWrites(ctx, []store.GridWrite{{Verify: &store.ChunkOutput{AnalysisID: a.ID, Index: 0, Digest: "d0", Output: []byte{0, 1}, Replicas: 2, Voters: []string{"v-a", "v-d"}}}}))
	wantPending(t, h, "after chunk 0 was verified", a.ID, "1/v-b/d1")
	// In one batch, writes apply in order: a pending result before its
	// chunk's verification goes, one after its withdrawal stays.
	o := newAnalysis(t, h, u.ID, ds.ID, store.StatusRunning, 2)
	pendO := func(idx int, vol string) store.GridWrite {
		return store.GridWrite{Pend: &store.PendingResult{AnalysisID: o.ID, Index: idx, Task: "t", Volunteer: vol, Network: "n-" + vol, Digest: "d", Output: []byte{1}}}
	}
	must(t, s.ApplyGridWrites(ctx, []store.GridWrite{
		pendO(0, "v-x"),
		{Verify: &store.ChunkOutput{AnalysisID: o.ID, Index: 0, Digest: "d", Output: []byte{1}, Replicas: 2}},
		pendO(1, "v-x"),
		{Verify: &store.ChunkOutput{AnalysisID: o.ID, Index: 1, Digest: "d", Output: []byte{1}, Replicas: 2}},
		{Withdraw: &store.ChunkRef{AnalysisID: o.ID, Index: 1}},
		pendO(1, "v-y"),
	}))
	wantPending(t, h, "after one batch of verify, withdraw and pend", o.ID, "1/v-y/d")
	// A caught volunteer's pending results go everywhere; others' stay.
	b := newAnalysis(t, h, u.ID, ds.ID, store.StatusRunning, 1)
	must(t, s.ApplyGridWrites(ctx, []store.GridWrite{
		pend(2, "v-c", "10.0.3.0/24", "d2", []byte{2}),
		{Pend: &store.PendingResult{AnalysisID: b.ID, Index: 0, Task: "t", Volunteer: "v-b", Network: "n", Digest: "e0", Output: []byte{3}}},
		{Pend: &store.PendingResult{AnalysisID: b.ID, Index: 0, Task: "t", Volunteer: "v-c", Network: "n3", Digest: "e0", Output: []byte{3}}},
	}))
	must(t, s.ApplyGridWrites(ctx, []store.GridWrite{{Discard: "v-b"}}))
	wantPending(t, h, "analysis a after v-b was caught", a.ID, "2/v-c/d2")
	wantPending(t, h, "analysis b after v-b was caught", b.ID, "0/v-c/e0")
	// A withdrawn chunk starts again from nothing.
	must(t, s.ApplyGridWrites(ctx, []store.GridWrite{{Withdraw: &store.ChunkRef{AnalysisID: a.ID, Index: 2}}}))
	wantPending(t, h, "after chunk 2 was withdrawn", a.ID)
	// A finished analysis keeps none and takes no more.
	must(t, s.ApplyGridWrites(ctx, []store.GridWrite{pend(1, "v-e", "10.0.5.0/24", "d1", []byte{1})}))
	must(t, s.SetAnalysisStatus(ctx, a.ID, store.StatusCancelled, "cancelled", 3))
	wantPending(t, h, "after a cancel", a.ID)
	must(t, s.ApplyGridWrites(ctx, []store.GridWrite{pend(1, "v-f", "10.0.6.0/24", "d1", []byte{1})}))
	wantPending(t, h, "a late pending result of a cancelled analysis", a.ID)
	must(t, s.ApplyGridWrites(ctx, []store.GridWrite{{Verify: &store.ChunkOutput{AnalysisID: b.ID, Index: 0, Digest: "e0", Output: []byte{3}, Replicas: 2}}}))
	must(t, s.ApplyGridWrites(ctx, []store.GridWrite{{Pend: &store.PendingResult{AnalysisID: b.ID, Index: 0, Task: "t", Volunteer: "v-g", Network: "n7", Digest: "e0", Output: []byte{3}}}}))
	must(t, s.FinishAnalysis(ctx, b.ID, []byte(`{}`), "", false, []string{"e0"}))
	wantPending(t, h, "after the merge", b.ID)
	f := newAnalysis(t, h, u.ID, ds.ID, store.StatusRunning, 1)
	must(t, s.ApplyGridWrites(ctx, []store.GridWrite{{Pend: &store.PendingResult{AnalysisID: f.ID, Index: 0, Task: "t", Volunteer: "v-a", Network: "n", Digest: "x"}}}))
	must(t, s.SetAnalysisStatus(ctx, f.ID, store.StatusFailed, "failed", 1))
	wantPending(t, h, "after a failure", f.ID)
	// A pending result for an analysis deleted meanwhile is dropped, not an error.
	must(t, s.ApplyGridWrites(ctx, []store.GridWrite{{Pend: &store.PendingResult{AnalysisID: 99999, Index: 0, Task: "t", Volunteer: "v-a", Network: "n", Digest: "x"}}}))
}
