package grid

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/pulsegrid/pulsegrid/protocol"
)

// TestStarvedSecondOpinion: at quorum 2 a chunk whose first result no
// connected volunteer can second (the only other one shares its network,
// as two volunteers on one machine do) goes to the server's auditor after
// ReplicaPatience, which settles it right: an honest first result is
// verified, a lie is caught and the auditor's output kept. A volunteer of
// another network that could still vote keeps the chunk for itself.
// One-line bugs: starveLocked not called (the analysis never finishes),
// someoneMayVoteLocked ignored (the auditor settles what the third
// volunteer was to vote on), a starved chunk verified on the first result
// alone (the lie is accepted).
func TestStarvedSecondOpinion(t *testing.T) {
	// Shorter than AckTimeout (5 s): the busy volunteer's lease outlives it.
	const patience = 3 * time.Second
	var clock *manualClock
	cfg := func() Config {
		clock = newManualClock()
		return quiet(Config{Quorum: 2, Auditors: 1, ReplicaPatience: patience, Now: clock.Now})
	}
	// past is the patience gone by, and the reaper's look at it.
	past := func(e *env) {
		clock.Advance(patience + time.Second)
		e.reap()
	}
	for _, lie := range []bool{false, true} {
		name := map[bool]string{false: "Honest", true: "Liar"}[lie]
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, cfg())
			id := e.analysis(e.owner("a@x"), 1, 30, "routine", false) // three chunks
			v1, v2 := e.connect("203.0.113.1", ""), e.connect("203.0.113.2", "")
			for l := v1.take(); l != nil; l = v1.take() {
				v1.answer(l, lie)
			}
			if l := v2.take(); l != nil {
				t.Fatalf("a volunteer of the same /24 was leased %+v", l)
			}
			clock.Advance(patience / 2)
			e.reap()
			e.g.syncFlush()
			if n := e.verified(id); n != 0 {
				t.Fatalf("%d chunks settled before the patience ran out", n)
			}
			past(e)
			e.wait(id, "done")
			if got := e.result(id); got != sums(3, 10) {
				t.Errorf("result %s, want %s", got, sums(3, 10))
			}
			if n := testutil.ToFloat64(e.g.metrics.ReplicasStarved); n != 3 {
				t.Errorf("%v chunks starved, want 3", n)
			}
			if caught := testutil.ToFloat64(e.g.metrics.VolunteersCaught) > 0; caught != lie {
				t.Errorf("volunteer caught: %v, want %v", caught, lie)
			}
		})
	}
	t.Run("SomeoneElseMayVote", func(t *testing.T) {
		e := newEnv(t, cfg())
		id := e.analysis(e.owner("a@x"), 1, 10, "routine", false) // one chunk
		other := e.analysis(e.owner("b@x"), 1, 10, "routine", false)
		v1 := e.connect("203.0.113.1", "")
		l := v1.take()
		if l == nil {
			t.Fatal("no lease")
		}
		v3 := e.connect("198.51.100.1", "") // busy with the other analysis's chunk
		busy := v3.take()
		if busy == nil || chunkAnalysis(e, busy) != other {
			t.Fatalf("the second volunteer was not leased the other analysis's chunk: %+v", busy)
		}
		v1.answer(l, false)
		past(e)
		if n := testutil.ToFloat64(e.g.metrics.ReplicasStarved); n != 0 || e.verified(id) != 0 {
			t.Fatalf("starved %v, verified %d while a volunteer of another network could vote", n, e.verified(id))
		}
		v3.answer(busy, false)
		v3.work()
		e.wait(id, "done")
	})
	// A connection that never asks for work (idle, or an attacker's that
	// only holds a socket) does not keep the chunk from the auditors.
	t.Run("IdleConnectionsDoNotBlock", func(t *testing.T) {
		e := newEnv(t, cfg())
		id := e.analysis(e.owner("a@x"), 1, 10, "routine", false)
		v1 := e.connect("203.0.113.1", "")
		for i := range 20 {
			e.connect(fmt.Sprintf("198.51.%d.1", i), "")
		}
		l := v1.take()
		if l == nil {
			t.Fatal("no lease")
		}
		v1.answer(l, false)
		past(e)
		e.wait(id, "done")
	})
}

// chunkAnalysis is the analysis of the chunk a lease carries.
func chunkAnalysis(e *env, l *protocol.Message) int64 {
	e.g.mu.Lock()
	defer e.g.mu.Unlock()
	for id, a := range e.g.analyses {
		for _, c := range a.chunks {
			for _, cl := range c.leases {
				if cl.id == l.LeaseID {
					return id
				}
			}
		}
	}
	return 0
}
