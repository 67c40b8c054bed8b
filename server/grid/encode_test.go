package grid

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pulsegrid/pulsegrid/algorithms/canon"
	"github.com/pulsegrid/pulsegrid/algorithms/signal"
	"github.com/pulsegrid/pulsegrid/server/store"
)

// awaitQueued waits until every chunk of a started analysis is queued (or
// its encoding gave up), for tests that want Start's old synchronous form.
func (g *Grid) awaitQueued(id int64) {
	g.mu.Lock()
	a := g.analyses[id]
	g.mu.Unlock()
	if a != nil && a.queued != nil {
		<-a.queued
	}
}

// awaitAllQueued is awaitQueued for every analysis held (after Resume,
// which encodes the payloads of what it loads as Start does).
func (g *Grid) awaitAllQueued() {
	g.mu.Lock()
	var qs []chan struct{}
	for _, a := range g.analyses {
		if a.queued != nil {
			qs = append(qs, a.queued)
		}
	}
	g.mu.Unlock()
	for _, q := range qs {
		<-q
	}
}

// restart closes the env's grid and returns a new one on the same store,
// not resumed yet (tests of how it resumes), closed at the test's end.
func (e *env) restart(cfg Config) *Grid {
	e.g.Close()
	g := New(e.st, testReg, cfg)
	e.t.Cleanup(g.Close)
	return g
}

// startAsync uploads a dataset of n samples of value and starts test.sum@1
// on it, returning as Start does: before its chunks are all encoded.
func (e *env) startAsync(owner int64, value float64, n int) store.Analysis {
	e.t.Helper()
	s := make([]float64, n)
	for i := range s {
		s[i] = value
	}
	ctx := context.Background()
	ds, err := e.st.CreateDataset(ctx, store.Dataset{OwnerID: owner, Name: "d"}, &signal.Recording{Signal: signal.Signal{Channels: []signal.Channel{{Name: "x", Rate: 1, Samples: s}}}})
	if err != nil {
		e.t.Fatal(err)
	}
	a, err := e.g.Start(ctx, store.Analysis{DatasetID: ds.ID, OwnerID: owner, Algorithm: "test.sum@1", Params: []byte("{}"), Priority: "routine"})
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

// TestChunksAreLeasedAsTheyAreEncoded: Start answers with every chunk
// counted (the API reports the total from the start) while the payloads
// are still being encoded; each chunk is queued as soon as its payload is,
// and volunteers that were waiting for work get it without asking again.
func TestChunksAreLeasedAsTheyAreEncoded(t *testing.T) {
	e := newEnv(t, quiet(Config{Quorum: 2}))
	vols := []*vol{e.connect("", ""), e.connect("", "")}
	for _, v := range vols {
		v.setStanding(3)
		if l := v.take(); l != nil {
			t.Fatalf("a lease before any analysis: %+v", l)
		}
	}
	a := e.startAsync(e.owner("a@x"), 1, 2000)
	if a.Status != store.StatusRunning || a.ChunksTotal != 200 {
		t.Errorf("Start answered %s with %d chunks, want running with 200", a.Status, a.ChunksTotal)
	}
	if _, total, ok := e.g.Progress(a.ID); !ok || total != 200 {
		t.Errorf("progress right after Start: total %d (held %v), want 200", total, ok)
	}
	// What GET /api/v1/analyses/{id} reports while payloads are encoded:
	// every chunk counted once, those not yet encoded as queued.
	if d, ok := e.g.ProgressDetail(a.ID); !ok || d.Total != 200 || d.Queued+d.Running+d.AwaitingReplica+d.Verified != 200 {
		t.Errorf("progress detail right after Start: %+v (held %v), want 200 chunks counted once", d, ok)
	}
	e.g.awaitQueued(a.ID)
	for i, v := range vols {
		if n := len(v.leases()); n != 1 {
			t.Fatalf("volunteer %d, waiting for work, was sent %d leases once the chunks were queued, want 1", i, n)
		}
	}
	for round := 0; round < 1000 && e.verified(a.ID) < 200; round++ {
		for _, v := range vols {
			v.work()
		}
	}
	e.wait(a.ID, store.StatusDone)
	if got, want := e.result(a.ID), sums(200, 10); got != want {
		t.Errorf("result %s, want %s", got, want)
	}
}

// TestPayloadsThatCannotBeKeptFailTheAnalysis: when the spill cannot be
// opened (its directory is a file), the analysis Start answered fails with
// the reason instead of staying running with chunks that never come.
func TestPayloadsThatCannotBeKeptFailTheAnalysis(t *testing.T) {
	notDir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, quiet(Config{Quorum: 2, SpillDir: notDir, SpillBytes: 1}))
	a := e.startAsync(e.owner("a@x"), 1, 50)
	e.g.awaitQueued(a.ID)
	got := e.wait(a.ID, store.StatusFailed)
	if !strings.Contains(got.Error, "payloads") {
		t.Errorf("failed with %q, want the payloads named", got.Error)
	}
	if _, _, ok := e.g.Progress(a.ID); ok {
		t.Error("the grid still holds the failed analysis")
	}
}

// TestForgedResultOfAnEncodingAnalysisFails: a forged output on a chunk
// leased while its analysis was started the new way (queued as encoded)
// is still not accepted: the two volunteers disagree, the auditor's run
// settles the chunk, and the result is the true sum.
func TestForgedResultOfAnEncodingAnalysisFails(t *testing.T) {
	e := newEnv(t, Config{Quorum: 2, MaxReplicas: 3, SpotCheck: -1, AuditRate: -1, RingerRate: -1, Auditors: 1})
	a := e.startAsync(e.owner("a@x"), 1, 10)
	e.g.awaitQueued(a.ID)
	for i, lie := range []bool{true, false} {
		v := e.connect("", "")
		v.setStanding(3)
		l := v.take()
		if l == nil {
			t.Fatalf("volunteer %d got no lease", i)
		}
		v.answer(l, lie)
	}
	e.wait(a.ID, store.StatusDone)
	if got, want := e.result(a.ID), sums(1, 10); got != want {
		t.Errorf("result %s, want %s (the true sum, not the forged one)", got, want)
	}
}

// TestReloadEncodesAfterQueueing: an analysis loaded again (a restart, a
// takeover) is held with every chunk counted before its payloads are
// encoded, its open chunks first; a chunk verified before and reopened
// while its payload is not encoded yet (its voter caught) is leased once
// it is, with its payload, and the result is the true one. The bug this
// catches: a reopened chunk queued for a second opinion with no payload
// (leased empty), or a loaded chunk never queued.
func TestReloadEncodesAfterQueueing(t *testing.T) {
	const n, open = 2000, 10
	ctx := context.Background()
	db := engines[0].db(t)
	cfg := quiet(Config{Quorum: 2, FlushInterval: time.Millisecond})
	first := startLeader(t, db, cfg)
	id := startSum(t, first, n)
	first.g.Close()
	// Every chunk but the first ten verified, with a liar among the voters.
	out := binary.LittleEndian.AppendUint64(nil, 10)
	var ws []store.GridWrite
	for i := open; i < n; i++ {
		ws = append(ws, store.GridWrite{Verify: &store.ChunkOutput{AnalysisID: id, Index: i, Digest: canon.Digest(out), Output: out, Replicas: 2, Voters: []string{"v-liar", "v-other"}}})
	}
	if err := first.st.ApplyGridWrites(ctx, ws); err != nil {
		t.Fatal(err)
	}
	st := db()
	g := New(st, testReg, cfg)
	t.Cleanup(func() { g.Close(); st.Close() })
	if err := g.Resume(ctx); err != nil {
		t.Fatal(err)
	}
	g.mu.Lock()
	a := g.analyses[id]
	unencoded := 0
	for _, c := range a.chunks {
		if c.digest == "" {
			unencoded++
		}
	}
	if a.verified != n-open {
		t.Errorf("reloaded with %d chunks verified, want %d", a.verified, n-open)
	}
	g.reopenLocked("v-liar", "caught", nil)
	g.mu.Unlock()
	t.Logf("%d of %d payloads not yet encoded when the voter was caught", unencoded, n)
	// Volunteers ask at once, while the payloads are encoded: whatever
	// they are leased carries its payload (answer decodes it).
	e := &env{t: t, g: g, st: st.(*store.SQLite)}
	vols := []*vol{e.connect("10.0.1.1", ""), e.connect("10.0.2.1", "")}
	for _, v := range vols {
		v.setStanding(3)
		v.work()
	}
	g.awaitQueued(id)
	for round := 0; round < 4*n && e.verified(id) < n; round++ {
		for _, v := range vols {
			v.work()
		}
	}
	e.wait(id, store.StatusDone)
	if got, want := e.result(id), sums(n, 10); got != want {
		t.Errorf("result %s, want %s", got, want)
	}
}

// TestResumeInBackground: a server that serves while it resumes holds its
// unfinished analyses one by one after ResumeInBackground returned, the
// most urgent first, and skips one cancelled meanwhile. The bugs this
// catches: loading in the stored order (the stat analysis would wait
// behind the routine one), and loading the row as listed instead of as it
// is now (the cancelled analysis would be computed again).
func TestResumeInBackground(t *testing.T) {
	e := newEnv(t, quiet(Config{Quorum: 2}))
	owner := e.owner("a@x")
	routine := e.analysis(owner, 1, 30, "routine", false)
	stat := e.analysis(owner, 2, 30, "stat", false)
	cancelled := e.analysis(owner, 3, 30, "routine", false)
	var log bytes.Buffer
	g := e.restart(quiet(Config{Quorum: 2, Logger: slog.New(slog.NewTextHandler(&log, nil))}))
	// Sync waits for the starting lock: the loads wait until it is free.
	g.starting.Lock()
	if err := g.ResumeInBackground(context.Background()); err != nil {
		g.starting.Unlock()
		t.Fatal(err)
	}
	for _, id := range []int64{routine, stat, cancelled} {
		if _, _, ok := g.Progress(id); ok {
			t.Errorf("analysis %d held before the loads ran", id)
		}
	}
	if err := e.st.CancelAnalysis(context.Background(), cancelled, CancelReason); err != nil {
		t.Fatal(err)
	}
	g.starting.Unlock()
	g.encoders.Wait()
	for id, want := range map[int64]bool{routine: true, stat: true, cancelled: false} {
		if _, _, ok := g.Progress(id); ok != want {
			t.Errorf("analysis %d held %v, want %v", id, ok, want)
		}
	}
	var order []string
	for _, line := range strings.Split(log.String(), "\n") {
		if strings.Contains(line, "loaded analysis") {
			f := strings.Fields(line[strings.Index(line, "analysis="):])[0]
			order = append(order, f)
		}
	}
	if want := []string{fmt.Sprintf("analysis=%d", stat), fmt.Sprintf("analysis=%d", routine)}; !slices.Equal(order, want) {
		t.Errorf("loaded in the order %v, want %v (the stat analysis first)", order, want)
	}
}
