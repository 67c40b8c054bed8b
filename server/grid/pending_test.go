package grid

import (
	"context"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/pulsegrid/pulsegrid/algorithms/canon"
	"github.com/pulsegrid/pulsegrid/algorithms/signal"
	"github.com/pulsegrid/pulsegrid/protocol"
	"github.com/pulsegrid/pulsegrid/server/store"
	"github.com/pulsegrid/pulsegrid/server/store/postgres"
	"github.com/pulsegrid/pulsegrid/server/store/postgres/pgtest"
)

// engines open one database twice, as two servers do: the leader that is
// killed and the one that takes over.
var engines = []struct {
	name string
	db   func(t *testing.T) func() store.Store
}{
	{"SQLite", func(t *testing.T) func() store.Store {
		path := filepath.Join(t.TempDir(), "db")
		return func() store.Store {
			st, err := store.OpenSQLite(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			return st
		}
	}},
	{"PostgreSQL", func(t *testing.T) func() store.Store {
		url := pgtest.URL(t)
		return func() store.Store {
			st, err := postgres.Open(context.Background(), url)
			if err != nil {
				t.Fatal(err)
			}
			return st
		}
	}},
}

// leader is one server's grid on its own connection to the database.
type leader struct {
	*env
	st store.Store
}

func startLeader(t *testing.T, open func() store.Store, cfg Config) *leader {
	t.Helper()
	st := open()
	g := New(st, testReg, cfg)
	if err := g.Resume(context.Background()); err != nil {
		t.Fatal(err)
	}
	g.awaitAllQueued()
	t.Cleanup(func() { g.Close(); st.Close() })
	return &leader{env: &env{t: t, g: g}, st: st}
}

// waitPending waits until the store holds n pending results of analysis
// id (the flusher writes them in its batch).
func waitPending(t *testing.T, st store.Store, id int64, n int) {
	t.Helper()
	for range 2000 {
		ps, err := st.PendingResults(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if len(ps) == n {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("the store never held %d pending results of analysis %d", n, id)
}

// TestPendingResultsSurviveTakeover: a leader gets one replica of three
// chunks of five (quorum 2) and dies without closing; the leader that
// takes over on the same database settles those three with one more
// replica each, while a wrong second replica does not verify and the
// identity that gave the first replica never gets its chunk again, from
// any network.
//
// One-line bugs it catches: restoreLocked not called from add (the three
// need two more each: 0 verified after one); c.held not set for a restored
// voter (it gets its own chunk again from another network and its two
// results verify it); restored chunks left in the fresh queue (same);
// judgeLocked(c, false) settling like evaluateLocked is not checked here
// (no restored group can settle by itself at quorum 2 with one result).
func TestPendingResultsSurviveTakeover(t *testing.T) {
	for _, eng := range engines {
		t.Run(eng.name, func(t *testing.T) {
			ctx := context.Background()
			open := eng.db(t)
			cfg := quiet(Config{Quorum: 2, FlushInterval: time.Millisecond, PendingDelay: time.Millisecond})
			first := startLeader(t, open, cfg)
			id := startSum(t, first, 5)
			// The first replica comes from an established volunteer, as the
			// store knows it (the flusher saves standing every few seconds).
			aKey := protocol.NewKey()
			if err := first.st.SaveVolunteers(ctx, []store.Volunteer{{ID: aKey.ID(), PublicKey: aKey.PublicKey(), Reputation: 3, CreatedAt: time.Now()}}); err != nil {
				t.Fatal(err)
			}
			a := first.connectKey(aKey, "10.0.1.1", "")
			got := map[int]bool{} // chunks a answered
			for range 3 {
				l := a.take()
				got[chunkOf(t, a, l)] = true
				a.answer(l, false)
			}
			if n := first.verified(id); n != 0 {
				t.Fatalf("%d chunks verified with one replica", n)
			}
			waitPending(t, first.st, id, 3)
			if n := counterValue(first.g.metrics.PendingWritten); n != 3 {
				t.Errorf("pulsegrid_results_pending_written_total %v, want 3", n)
			}
			// The first leader is killed: it never closes, flushes or
			// saves again; the next one opens the database on its own.
			second := startLeader(t, open, cfg)
			if p, _, ok := second.g.Progress(id); !ok || p != 0 {
				t.Fatalf("after the takeover: %d verified (loaded %v), want 0", p, ok)
			}
			if n := counterValue(second.g.metrics.PendingRestored); n != 3 {
				t.Errorf("pulsegrid_results_pending_restored_total %v, want 3", n)
			}
			// The identity of the first replica, back from another network,
			// gets only the two chunks it never computed.
			a2 := second.connectKey(aKey, "10.0.9.1", "")
			var mine []*protocol.Message
			for l := a2.take(); l != nil; l = a2.take() {
				if got[chunkOf(t, a2, l)] {
					t.Fatalf("after the takeover, chunk %d went back to the identity that computed it", chunkOf(t, a2, l))
				}
				mine = append(mine, l)
				a2.s.Handle(&protocol.Message{Type: protocol.TypeAck, LeaseID: l.LeaseID}, nil) // room for the next
			}
			if len(mine) != 2 {
				t.Fatalf("the first replica's identity got %d leases after the takeover, want the 2 chunks it never ran", len(mine))
			}
			// A neighbour of its first network gets none of the three: the
			// restored replica keeps its network.
			nb := second.connect("10.0.1.2", "")
			var nbs []*protocol.Message
			for l := nb.take(); l != nil; l = nb.take() {
				if got[chunkOf(t, nb, l)] {
					t.Fatalf("after the takeover, chunk %d went to a neighbour of the network of its first replica", chunkOf(t, nb, l))
				}
				nbs = append(nbs, l)
				nb.s.Handle(&protocol.Message{Type: protocol.TypeAck, LeaseID: l.LeaseID}, nil)
			}
			// A liar from its own network gives one of the three a wrong
			// second replica: it does not verify.
			liar := second.connect("10.0.2.1", "")
			l := liar.take()
			if l == nil || !got[chunkOf(t, liar, l)] {
				t.Fatalf("the next volunteer was not offered a chunk waiting for its second replica first: %v", l)
			}
			liar.answer(l, true)
			if n := second.verified(id); n != 0 {
				t.Fatalf("a wrong second replica verified a chunk (%d verified)", n)
			}
			// Honest volunteers: one more replica settles each of the three.
			h := second.connect("10.0.3.1", "")
			settled := 0
			for l := h.take(); l != nil; l = h.take() {
				if got[chunkOf(t, h, l)] {
					settled++
				}
				h.answer(l, false)
			}
			if settled != 3 {
				t.Fatalf("the honest volunteer was given %d of the 3 chunks with a restored replica, want 3", settled)
			}
			if n := second.verified(id); n != 3 {
				t.Fatalf("after one more replica of each of the 3: %d verified, want 3", n)
			}
			for _, l := range mine {
				a2.answer(l, false)
			}
			for _, l := range nbs {
				nb.answer(l, false)
			}
			for i := 0; !done(t, second.st, id); i++ {
				if i == 2000 {
					t.Fatal("the analysis did not finish")
				}
				time.Sleep(5 * time.Millisecond)
			}
			if body, err := second.st.AnalysisResult(ctx, id); err != nil || string(body) != sums(5, 10) {
				t.Errorf("result %s (%v), want %s", body, err, sums(5, 10))
			}
			if ps, _ := second.st.PendingResults(ctx, id); len(ps) != 0 {
				t.Errorf("%d pending results left after the merge", len(ps))
			}
			if v, _ := second.st.Volunteer(ctx, liar.key.ID()); !v.BannedUntil.After(time.Now()) {
				t.Error("the liar outvoted after the takeover was not banned")
			}
		})
	}
}

// startSum uploads n chunks of ten samples of 1 for a new clinician and
// starts test.sum@1.
func startSum(t *testing.T, l *leader, n int) int64 {
	t.Helper()
	ctx := context.Background()
	u, err := l.st.CreateUser(ctx, store.User{Email: "a@x", Role: store.RoleClinician, PasswordHash: "x"})
	if err != nil {
		t.Fatal(err)
	}
	owner := u.ID
	s := make([]float64, 10*n)
	for i := range s {
		s[i] = 1
	}
	ds, err := l.st.CreateDataset(ctx, store.Dataset{OwnerID: owner, Name: "d"}, &signal.Recording{Signal: signal.Signal{Channels: []signal.Channel{{Name: "x", Rate: 1, Samples: s}}}})
	if err != nil {
		t.Fatal(err)
	}
	a, err := l.g.Start(ctx, store.Analysis{DatasetID: ds.ID, OwnerID: owner, Algorithm: "test.sum@1", Params: []byte("{}"), Priority: "routine"})
	if err != nil {
		t.Fatal(err)
	}
	l.g.awaitQueued(a.ID) // the chunks' digests exist once encoded
	return a.ID
}

// chunkOf is the index of the chunk a lease carries (its first sample).
func chunkOf(t *testing.T, v *vol, l *protocol.Message) int {
	t.Helper()
	v.e.g.mu.Lock()
	defer v.e.g.mu.Unlock()
	ls := v.e.g.leases[l.LeaseID]
	if ls == nil {
		t.Fatalf("lease %d is not held", l.LeaseID)
	}
	return ls.c.spec.Index
}

func done(t *testing.T, st store.Store, id int64) bool {
	t.Helper()
	a, err := st.Analysis(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if a.Finished() && a.Status != store.StatusDone {
		t.Fatalf("analysis %d is %s: %s", id, a.Status, a.Error)
	}
	return a.Status == store.StatusDone
}

// TestRestoredResultsCountForNoMore: rows of the store that the first
// leader would not have counted (another payload, an output that does not
// match its digest, a volunteer banned now or unknown) give nothing after
// a takeover, and a group that would settle is not settled by the
// takeover itself but by the next vote.
//
// One-line bugs it catches, each by a chunk verified with one honest
// result: the task check (p.Task != c.digest) dropped, the output digest
// check dropped, the ban check dropped, an unknown volunteer counted; and
// judgeLocked(c, true) in restoreLocked (chunk 4 verified at takeover).
func TestRestoredResultsCountForNoMore(t *testing.T) {
	for _, eng := range engines {
		t.Run(eng.name, func(t *testing.T) {
			ctx := context.Background()
			open := eng.db(t)
			cfg := quiet(Config{Quorum: 2, FlushInterval: time.Millisecond, PendingDelay: time.Millisecond})
			first := startLeader(t, open, cfg)
			id := startSum(t, first, 5)
			first.g.mu.Lock()
			var tasks []string
			for _, c := range first.g.analyses[id].chunks {
				tasks = append(tasks, c.digest)
			}
			first.g.mu.Unlock()
			est, banned, fresh := protocol.NewKey(), protocol.NewKey(), protocol.NewKey()
			now := time.Now()
			if err := first.st.SaveVolunteers(ctx, []store.Volunteer{
				{ID: est.ID(), PublicKey: est.PublicKey(), Reputation: 3, CreatedAt: now},
				{ID: banned.ID(), PublicKey: banned.PublicKey(), Reputation: 3, CreatedAt: now, BannedUntil: now.Add(time.Hour)},
				{ID: fresh.ID(), PublicKey: fresh.PublicKey(), CreatedAt: now},
			}); err != nil {
				t.Fatal(err)
			}
			right := binary.LittleEndian.AppendUint64(nil, 10)
			wrong := binary.LittleEndian.AppendUint64(nil, 11)
			pend := func(idx int, task, volID, net, digest string, out []byte) store.GridWrite {
				return store.GridWrite{Pend: &store.PendingResult{AnalysisID: id, Index: idx, Task: task, Volunteer: volID, Network: net, Digest: digest, Output: out}}
			}
			if err := first.st.ApplyGridWrites(ctx, []store.GridWrite{
				pend(0, "another payload", est.ID(), "10.0.1.0/24", canon.Digest(right), right),
				pend(1, tasks[1], est.ID(), "10.0.1.0/24", canon.Digest(right), wrong),
				pend(2, tasks[2], banned.ID(), "10.0.2.0/24", canon.Digest(right), right),
				pend(3, tasks[3], "no-such-volunteer", "10.0.3.0/24", canon.Digest(right), right),
				pend(4, tasks[4], est.ID(), "10.0.1.0/24", canon.Digest(right), right),
				pend(4, tasks[4], fresh.ID(), "10.0.4.0/24", canon.Digest(right), right),
			}); err != nil {
				t.Fatal(err)
			}
			second := startLeader(t, open, cfg)
			if n := second.verified(id); n != 0 {
				t.Fatalf("the takeover verified %d chunks by itself", n)
			}
			// An established honest volunteer: any vote that counted with its
			// own would verify a chunk.
			hKey := protocol.NewKey()
			if err := second.st.SaveVolunteers(ctx, []store.Volunteer{{ID: hKey.ID(), PublicKey: hKey.PublicKey(), Reputation: 3, CreatedAt: now}}); err != nil {
				t.Fatal(err)
			}
			h := second.connectKey(hKey, "10.0.7.1", "")
			answered := map[int]bool{}
			for l := h.take(); l != nil; l = h.take() {
				answered[chunkOf(t, h, l)] = true
				h.answer(l, false)
			}
			if len(answered) != 5 {
				t.Fatalf("the honest volunteer answered chunks %v, want all 5", answered)
			}
			second.g.mu.Lock()
			var settled []int
			for _, c := range second.g.analyses[id].chunks {
				if c.state == chunkVerified {
					settled = append(settled, c.spec.Index)
				}
			}
			second.g.mu.Unlock()
			if fmt.Sprint(settled) != "[4]" {
				t.Errorf("chunks verified by one honest result after the takeover: %v, want [4] only (the agreeing pair with an established vote)", settled)
			}
		})
	}
}

// TestCaughtVolunteerLeavesNoPendingResult: a volunteer caught on one
// chunk loses its results waiting on others in the store too, so a
// leader that takes over does not count them. One-line bug it catches:
// dropAllResultsLocked not queueing the Discard write (its row stays).
func TestCaughtVolunteerLeavesNoPendingResult(t *testing.T) {
	e := newEnv(t, quiet(Config{Quorum: 2, PendingDelay: time.Millisecond}))
	id := e.analysis(e.owner("a@x"), 1, 20, "routine", false) // two chunks
	liar := e.connect("", "")
	l1, l2 := liar.take(), liar.take()
	liar.answer(l1, true)
	liar.answer(l2, true)
	waitPending(t, e.st, id, 2)
	est := e.connect("", "")
	est.setStanding(3)
	l := est.take()
	est.answer(l, false) // a dispute on one chunk
	h := e.connect("", "")
	h.answer(h.take(), false) // settles it: the liar is caught
	for i := 0; ; i++ {
		ps, err := e.st.PendingResults(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		mine := 0
		for _, p := range ps {
			if p.Volunteer == liar.key.ID() {
				mine++
			}
		}
		if mine == 0 {
			break
		}
		if i == 2000 {
			t.Fatalf("the caught volunteer still has %d pending results in the store", mine)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestPendingDelay: a first replica whose chunk verifies within
// PendingDelay is never written; one still waiting is written when due,
// or at Close. One-line bugs it catches: duePendsLocked ignoring the age
// (a row before Close) or ignoring all at Close (no row after it).
func TestPendingDelay(t *testing.T) {
	e := newEnv(t, quiet(Config{Quorum: 2, PendingDelay: time.Hour}))
	id := e.analysis(e.owner("a@x"), 1, 20, "routine", false) // two chunks
	a, b := e.connect("", ""), e.connect("", "")
	a.setStanding(3)
	l0 := a.take()
	a.answer(l0, false)
	b.answer(b.take(), false) // the same chunk: verified
	a.answer(a.take(), false) // the other: waits
	if n := e.verified(id); n != 1 {
		t.Fatalf("%d chunks verified, want 1", n)
	}
	e.g.syncFlush()
	if got, _ := e.st.Analysis(context.Background(), id); got.ChunksVerified != 1 {
		t.Fatalf("the batch with the verified chunk was not written: %d verified in the store", got.ChunksVerified)
	}
	if ps, _ := e.st.PendingResults(context.Background(), id); len(ps) != 0 {
		t.Fatalf("%d pending results written before PendingDelay, want none", len(ps))
	}
	e.g.Close()
	ps, _ := e.st.PendingResults(context.Background(), id)
	if len(ps) != 1 || ps[0].Volunteer != a.key.ID() {
		t.Fatalf("after Close: pending results %+v, want a's result for the chunk that waits", ps)
	}
}

func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	c.Write(&m)
	return m.GetCounter().GetValue()
}

// TestFallenStandingIsSavedAtOnce: a volunteer whose standing falls (an
// error where others computed the chunk) has it saved with the batch, so
// that its result waiting elsewhere is not counted after a takeover with
// the standing it had. One-line bug it catches: saveStandingLocked not
// called in verifyLocked (the store keeps 3 until the periodic save, 5 s
// later).
func TestFallenStandingIsSavedAtOnce(t *testing.T) {
	e := newEnv(t, quiet(Config{Quorum: 2}))
	id := e.analysis(e.owner("a@x"), 1, 10, "routine", false) // one chunk
	key := protocol.NewKey()
	if err := e.st.SaveVolunteers(context.Background(), []store.Volunteer{{ID: key.ID(), PublicKey: key.PublicKey(), Reputation: 3, CreatedAt: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	v := e.connectKey(key, "", "")
	v.fail(v.take(), "out of memory")
	a, b := e.connect("", ""), e.connect("", "")
	a.setStanding(3)
	a.answer(a.take(), false)
	b.answer(b.take(), false) // verified: v's error counts against it
	e.wait(id, store.StatusDone)
	rec, err := e.st.Volunteer(context.Background(), v.key.ID())
	if err != nil || rec.Reputation != 0 {
		t.Fatalf("stored standing after the fall: %d (%v), want 0 before the periodic save", rec.Reputation, err)
	}
}
