package grid

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/pulsegrid/pulsegrid/algorithms/signal"
	"github.com/pulsegrid/pulsegrid/server/store"
)

// TestStandbyAndSync: a Standby records a start exactly as Grid.Start
// would (running, every chunk counted, the same refusal for an unknown
// algorithm); the grid holds it only once Sync hears of it, once however
// often it hears (and never twice an analysis it started itself), drops it
// when the store says it is cancelled or gone, and computes it to the
// result the grid's own start gives. SyncAll finds what Sync missed.
//
// One-line bugs it catches: add without its "held already" check (the
// queue depth doubles when a second load races a first), Sync not loading
// an unfinished analysis, Sync's drop of a cancelled or of a deleted one.
func TestStandbyAndSync(t *testing.T) {
	e := newEnv(t, quiet(Config{}))
	ctx := context.Background()
	sb := NewStandby(e.st, testReg, e.g.cfg)
	owner := e.owner("a@x.org")
	s := make([]float64, 40)
	for i := range s {
		s[i] = 1
	}
	ds, err := e.st.CreateDataset(ctx, store.Dataset{OwnerID: owner, Name: "d"}, &signal.Recording{Signal: signal.Signal{Channels: []signal.Channel{{Name: "x", Rate: 1, Samples: s}}}})
	if err != nil {
		t.Fatal(err)
	}
	req := store.Analysis{DatasetID: ds.ID, OwnerID: owner, Algorithm: "test.sum@1", Params: []byte("{}"), Priority: "urgent"}
	if _, err := sb.Start(ctx, store.Analysis{DatasetID: ds.ID, OwnerID: owner, Algorithm: "nope@1"}); err == nil {
		t.Error("the standby started an unknown algorithm")
	}
	a, err := sb.Start(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	own, err := e.g.Start(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	e.g.awaitQueued(own.ID)
	if a.Status != store.StatusRunning || a.ChunksTotal != own.ChunksTotal || a.ChunksTotal == 0 {
		t.Fatalf("the standby recorded %+v; the grid's own start %+v", a, own)
	}
	held := func() (int, int) { st := e.g.Stats(); return st.Analyses, e.g.queueDepth(PriorityUrgent) }
	if n, _ := held(); n != 1 {
		t.Fatalf("the grid holds %d analyses before Sync, want its own 1", n)
	}
	for range 2 {
		for _, id := range []int64{a.ID, own.ID} {
			if err := e.g.Sync(ctx, id); err != nil {
				t.Fatal(err)
			}
		}
	}
	if n, depth := held(); n != 2 || depth != 2*a.ChunksTotal {
		t.Fatalf("after Sync: %d analyses, %d chunks queued; want 2 and %d", n, depth, 2*a.ChunksTotal)
	}
	// A reopen and a Sync may both read the row before either holds it
	// (reopenStored, flush.go's reload): the second load holds nothing.
	sa, err := e.st.Analysis(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.g.load(ctx, sa); err != nil {
		t.Fatal(err)
	}
	if n, depth := held(); n != 2 || depth != 2*a.ChunksTotal {
		t.Fatalf("after a second load: %d analyses, %d chunks queued; want 2 and %d", n, depth, 2*a.ChunksTotal)
	}

	// Cancelled elsewhere: dropped; deleted elsewhere: dropped.
	if err := sb.Cancel(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if err := sb.Cancel(ctx, a.ID); !errors.Is(err, store.ErrConflict) {
		t.Errorf("cancelling twice through the standby: %v, want a conflict", err)
	}
	if err := e.g.Sync(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if n, _ := held(); n != 1 {
		t.Fatalf("after a cancel elsewhere the grid holds %d analyses, want 1", n)
	}
	if err := e.st.DeleteAnalysis(ctx, own.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.g.Sync(ctx, own.ID); err != nil {
		t.Fatal(err)
	}
	if n, depth := held(); n != 0 || depth != 0 {
		t.Fatalf("after a delete elsewhere the grid holds %d analyses (%d chunks), want none", n, depth)
	}

	// Missed notifications: SyncAll loads the standby's start, and local
	// workers compute it to the grid's own result.
	b, err := sb.Start(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.g.SyncAll(ctx); err != nil {
		t.Fatal(err)
	}
	if n, _ := held(); n != 1 {
		t.Fatalf("after SyncAll the grid holds %d analyses, want 1", n)
	}
	if err := e.g.StartLocalWorkers(1); err != nil {
		t.Fatal(err)
	}
	e.wait(b.ID, store.StatusDone)
	if got, want := e.result(b.ID), sums(a.ChunksTotal, 10); got != want {
		t.Errorf("the standby's analysis: %s, want %s", got, want)
	}
}

// TestSyncSplitsOnce: two Syncs of one analysis the grid does not hold
// (a takeover's background resume beside the SyncAll of its first LISTEN)
// split it once; the second, asked while the first loads, is answered by
// the first reading the row again. The bug this catches: every Sync
// splitting a 24 h recording of its own.
func TestSyncSplitsOnce(t *testing.T) {
	e := newEnv(t, quiet(Config{Quorum: 2}))
	owner := e.owner("a@x")
	alone := e.analysis(owner, 1, 50, "routine", false)
	id := e.analysis(owner, 1, 50, "routine", false)
	g := e.restart(quiet(Config{Quorum: 2}))
	var splits atomic.Int32
	splitHook = func() { splits.Add(1) }
	defer func() { splitHook = nil }()
	// What one load costs in Split calls (CanRun tries one too).
	if err := g.Sync(context.Background(), alone); err != nil {
		t.Fatal(err)
	}
	once := splits.Swap(0)
	entered, release := make(chan struct{}), make(chan struct{})
	splitHook = func() {
		if splits.Add(1) == 1 {
			close(entered)
			<-release
		}
	}
	first := make(chan error)
	go func() { first <- g.Sync(context.Background(), id) }()
	<-entered
	if err := g.Sync(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if n := splits.Load(); n != once {
		t.Errorf("two Syncs called Split %d times, one load calls it %d times", n, once)
	}
	if _, total, ok := g.Progress(id); !ok || total != 5 {
		t.Errorf("held %v with %d chunks, want 5", ok, total)
	}
}
