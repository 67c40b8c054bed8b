package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/pulsegrid/pulsegrid/algorithms/signal"
	"github.com/pulsegrid/pulsegrid/server/store"
	"github.com/pulsegrid/pulsegrid/server/store/postgres/pgtest"
)

// TestWatchAnalyses: a watcher hears, in order, every analysis created,
// changing status, deleted, and deleted with its dataset, written by
// another Store of the database, and nothing of a chunk count or of
// another schema; when its connection is killed it listens again and
// says so (resync) before it hears the next change.
//
// Bugs it catches: the trigger firing on every UPDATE (a verified chunk
// arrives before the next id), no DELETE in the trigger (the dataset's
// cascade is not heard), the channel not named after the schema, no
// reconnect in WatchAnalyses.
func TestWatchAnalyses(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	url := pgtest.URL(t)
	w, watcher := open(t, url), open(t, url)
	defer w.Close()
	defer watcher.Close()
	other := open(t, pgtest.URL(t))
	defer other.Close()

	ids, resyncs := make(chan int64, 100), make(chan struct{}, 10)
	done := make(chan struct{})
	go func() {
		defer close(done)
		watcher.WatchAnalyses(ctx, func(id int64) { ids <- id }, func() { resyncs <- struct{}{} })
	}()
	next := func(what string) int64 {
		t.Helper()
		select {
		case id := <-ids:
			return id
		case <-time.After(30 * time.Second):
			t.Fatalf("%s: no notification", what)
			return 0
		}
	}
	want := func(what string, id int64) {
		t.Helper()
		if got := next(what); got != id {
			t.Fatalf("%s: heard of analysis %d, want %d", what, got, id)
		}
	}
	<-resyncs

	u, err := w.CreateUser(ctx, store.User{Email: "a@x.org", Role: store.RoleClinician, PasswordHash: "h"})
	must(t, err)
	rec := &signal.Recording{Signal: signal.Signal{Channels: []signal.Channel{{Name: "MLII", Unit: "mV", Rate: 360, Gain: 200, Samples: []float64{1, 2}}}}, Identity: signal.Identity{Record: "r"}}
	ds, err := w.CreateDataset(ctx, store.Dataset{OwnerID: u.ID, Name: "n"}, rec)
	must(t, err)
	mk := func(s store.Store, ds, owner int64) store.Analysis {
		a, err := s.CreateAnalysis(ctx, store.Analysis{DatasetID: ds, OwnerID: owner, Algorithm: "ecg.beats@1", Params: []byte(`{}`), Priority: "routine", Status: store.StatusRunning, ChunksTotal: 2})
		must(t, err)
		return a
	}
	a := mk(w, ds.ID, u.ID)
	want("a created", a.ID)
	b := mk(w, ds.ID, u.ID)
	want("b created", b.ID)

	// Another schema's analysis, then a chunk of a verified: neither is heard.
	ou, err := other.CreateUser(ctx, store.User{Email: "o@x.org", Role: store.RoleClinician, PasswordHash: "h"})
	must(t, err)
	ods, err := other.CreateDataset(ctx, store.Dataset{OwnerID: ou.ID, Name: "o"}, rec)
	must(t, err)
	mk(other, ods.ID, ou.ID)
	must(t, w.ApplyGridWrites(ctx, []store.GridWrite{{Verify: &store.ChunkOutput{AnalysisID: a.ID, Index: 0, Digest: "d", Output: []byte{1}, Replicas: 2}}}))
	must(t, w.CancelAnalysis(ctx, b.ID, "cancelled"))
	want("b cancelled", b.ID)
	must(t, w.DeleteAnalysis(ctx, b.ID))
	want("b deleted", b.ID)

	// The watcher's connection dies: it listens again, resyncs, and hears on.
	var pid int32
	must(t, w.Pool().QueryRow(ctx, `SELECT pid FROM pg_stat_activity WHERE query LIKE 'LISTEN %' AND query LIKE '%' || current_schema() || '%'`).Scan(&pid))
	if _, err := w.Pool().Exec(ctx, `SELECT pg_terminate_backend($1)`, pid); err != nil {
		t.Fatal(err)
	}
	select {
	case <-resyncs:
	case <-time.After(30 * time.Second):
		t.Fatal("no resync after the listening connection was killed")
	}
	must(t, w.DeleteDataset(ctx, ds.ID))
	want("a deleted with its dataset", a.ID)
	cancel()
	<-done
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
