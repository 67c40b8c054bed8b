package grid

import (
	"testing"
	"time"

	"github.com/pulsegrid/pulsegrid/server/store"
)

// TestHistory: counts land in their minute, gauges keep their peak, the
// hour is listed oldest first without minutes the grid never saw, a
// minute an hour old is overwritten (the ring never grows) and the rate
// weighs the previous minute by its share of the last 60 s.
func TestHistory(t *testing.T) {
	var h history
	t0 := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	for range 3 {
		h.verified(t0.Add(10 * time.Second))
	}
	h.failed(t0.Add(20 * time.Second))
	h.sample(t0.Add(5*time.Second), Stats{Volunteers: 2, LocalWorkers: 1, ActiveLeases: 4, ChunksQueued: 9})
	h.sample(t0.Add(50*time.Second), Stats{Volunteers: 1, ActiveLeases: 1, ChunksQueued: 3})
	h.leased(t0.Add(55*time.Second), 2) // under the sampled peak: kept at 4
	for range 6 {
		h.verified(t0.Add(2 * time.Minute))
	}
	h.leased(t0.Add(2*time.Minute), 5) // leased and settled between two samples

	got := h.last(t0.Add(2*time.Minute + 30*time.Second))
	if len(got) != 2 {
		t.Fatalf("last: %d minutes, want 2 (10:00 and 10:02; 10:01 has no record): %+v", len(got), got)
	}
	want0 := Minute{Start: t0, Verified: 3, Failed: 1, Volunteers: 3, Leases: 4, Unverified: 9}
	if got[0] != want0 {
		t.Errorf("10:00: got %+v, want %+v", got[0], want0)
	}
	if got[1] != (Minute{Start: t0.Add(2 * time.Minute), Verified: 6, Leases: 5}) {
		t.Errorf("10:02: got %+v, want 6 verified and 5 leases", got[1])
	}

	// At 10:02:30 the window holds all of 10:02 and half of 10:01 (empty).
	if r := h.perMinute(t0.Add(2*time.Minute + 30*time.Second)); r != 6 {
		t.Errorf("rate at 10:02:30 = %v, want 6", r)
	}
	// At 10:03:15 it holds a quarter of 10:03 (empty) and 3/4 of 10:02.
	if r := h.perMinute(t0.Add(3*time.Minute + 15*time.Second)); r != 4.5 {
		t.Errorf("rate at 10:03:15 = %v, want 4.5", r)
	}

	// An hour later, 10:00's bucket serves 11:00: the old counts are gone.
	h.verified(t0.Add(time.Hour))
	got = h.last(t0.Add(time.Hour))
	if len(got) != 2 || got[0].Start != t0.Add(2*time.Minute) || got[1] != (Minute{Start: t0.Add(time.Hour), Verified: 1}) {
		t.Errorf("an hour later: got %+v, want 10:02 then 11:00 with 1 verified", got)
	}
	if len(h.ring) != HistoryMinutes {
		t.Errorf("ring of %d minutes, want %d", len(h.ring), HistoryMinutes)
	}
}

// TestHistoryKeepsAConnectionBetweenSamples: a volunteer that comes and
// goes between two samples still counts in its minute's peak, and one
// that left is not counted as online after (one-line bugs: the count not
// raised at connect, or not lowered at close).
func TestHistoryKeepsAConnectionBetweenSamples(t *testing.T) {
	e := newEnv(t, quiet(Config{Quorum: 2}))
	a, b := e.connect("", ""), e.connect("", "")
	a.s.Close()
	b.s.Close()
	c := e.connect("", "")
	r := e.g.Recent()
	if last := r.History[len(r.History)-1]; last.Volunteers < 2 {
		t.Errorf("peak of the minute %d volunteers, want at least 2 (two were connected at once)", last.Volunteers)
	}
	e.g.mu.Lock()
	online := e.g.online
	e.g.mu.Unlock()
	if online != 1 || r.Volunteers != 1 {
		t.Errorf("online %d, stats %d, want 1 each", online, r.Volunteers)
	}
	c.s.Close()
}

// TestHistoryWritesOnlyWhatChanged: the store is sent the minutes that
// changed since the last write, nothing while the grid is idle, and a
// failed write is tried again; what it reads back outside the hour is
// left out.
func TestHistoryWritesOnlyWhatChanged(t *testing.T) {
	var h history
	t0 := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	h.verified(t0)
	h.verified(t0.Add(time.Minute))
	if got := h.unsaved(); len(got) != 2 || got[0].Verified != 1 {
		t.Fatalf("first write: %+v, want the two minutes", got)
	}
	if got := h.unsaved(); len(got) != 0 {
		t.Errorf("idle: %+v, want no write", got)
	}
	h.verified(t0.Add(time.Minute + 30*time.Second))
	got := h.unsaved()
	if len(got) != 1 || got[0].Verified != 2 || !got[0].Start.Equal(t0.Add(time.Minute)) {
		t.Fatalf("after one more chunk: %+v, want 10:01 alone with 2", got)
	}
	h.unsave(got) // the write failed
	if again := h.unsaved(); len(again) != 1 || again[0] != got[0] {
		t.Errorf("after a failed write: %+v, want %+v again", again, got)
	}

	var r history
	r.restore(append(h.unsaved(), store.GridMinute{Start: t0.Add(-time.Hour), Verified: 9}, store.GridMinute{Start: t0, Verified: 1}), t0.Add(30*time.Minute))
	if last := r.last(t0.Add(30 * time.Minute)); len(last) != 1 || last[0] != (Minute{Start: t0, Verified: 1}) {
		t.Errorf("restored: %+v, want 10:00 alone (09:00 is over an hour old)", last)
	}
	if len(r.unsaved()) != 0 {
		t.Errorf("restored minutes are written back: the store has them")
	}
}
