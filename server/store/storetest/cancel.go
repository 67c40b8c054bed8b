package storetest

import (
	"errors"
	"strings"
	"testing"

	"github.com/pulsegrid/pulsegrid/server/store"
)

// testCancelAnalysis: a cancel marks a running analysis cancelled with its
// reason and drops its chunk outputs and pending results, and never
// overwrites a final status (a replica that does not run the grid cancels
// while the leader may be merging): done stays done with its outputs.
func testCancelAnalysis(t *testing.T, h *harness) {
	ctx, s := h.ctx, h.s
	u := h.user("a@x.org")
	ds, err := s.CreateDataset(ctx, store.Dataset{OwnerID: u.ID, Name: "n"}, recording())
	must(t, err)
	run := newAnalysis(t, h, u.ID, ds.ID, store.StatusRunning, 2)
	done := newAnalysis(t, h, u.ID, ds.ID, store.StatusRunning, 1)
	must(t, s.ApplyGridWrites(ctx, []store.GridWrite{
		{Verify: &store.ChunkOutput{AnalysisID: run.ID, Index: 0, Digest: "d0", Output: []byte{0}, Replicas: 2}},
		{Pend: &store.PendingResult{AnalysisID: run.ID, Index: 1, Task: "t", Volunteer: "v", Network: "n", Digest: "d1", Output: []byte{1}}},
		{Verify: &store.ChunkOutput{AnalysisID: done.ID, Index: 0, Digest: "e0", Output: []byte{2}, Replicas: 2}},
	}))
	must(t, s.FinishAnalysis(ctx, done.ID, []byte(`{}`), "s", false, []string{"e0"}))

	must(t, s.CancelAnalysis(ctx, run.ID, "cancelled at the owner's request"))
	got, err := s.Analysis(ctx, run.ID)
	must(t, err)
	if got.Status != store.StatusCancelled || got.Error != "cancelled at the owner's request" || got.FinishedAt.IsZero() {
		t.Errorf("cancelled analysis: %+v", got)
	}
	if outs, err := s.ChunkOutputs(ctx, run.ID); err != nil || len(outs) != 0 {
		t.Errorf("a cancelled analysis keeps %d chunk outputs (%v)", len(outs), err)
	}
	wantPending(t, h, "after the cancel", run.ID)

	err = s.CancelAnalysis(ctx, done.ID, "cancelled at the owner's request")
	if !errors.Is(err, store.ErrConflict) || !strings.Contains(err.Error(), "done") {
		t.Errorf("cancelling a done analysis: %v, want ErrConflict naming its status", err)
	}
	got, err = s.Analysis(ctx, done.ID)
	must(t, err)
	if got.Status != store.StatusDone {
		t.Errorf("a cancel overwrote done with %s", got.Status)
	}
	if outs, err := s.ChunkOutputs(ctx, done.ID); err != nil || len(outs) != 1 {
		t.Errorf("a refused cancel left %d chunk outputs of a done analysis (%v), want 1", len(outs), err)
	}
	if err := s.CancelAnalysis(ctx, run.ID, "again"); !errors.Is(err, store.ErrConflict) {
		t.Errorf("cancelling twice: %v, want ErrConflict", err)
	}
	wantNotFound(t, "CancelAnalysis(9999)", s.CancelAnalysis(ctx, 9999, "x"))
}
