package grid

import (
	"context"
	"time"

	"github.com/pulsegrid/pulsegrid/server/store"
)

// HistoryMinutes is how far back the grid's history goes, in minutes.
const HistoryMinutes = 60

// Minute is what the grid did in one minute of its history: the chunks it
// verified and failed in it, and the most volunteers (local workers
// included), leases and unverified chunks it held in it.
type Minute struct {
	Start      time.Time `json:"start"`
	Verified   int       `json:"chunks_verified"`
	Failed     int       `json:"chunks_failed"`
	Volunteers int       `json:"volunteers"`
	Leases     int       `json:"leases"`
	Unverified int       `json:"chunks_unverified"`
}

// history is the grid's last HistoryMinutes minutes, one bucket a minute in
// a ring: its memory does not grow with uptime. Counts are added when
// chunks settle, the leases' peak at every lease and the volunteers' at
// every connection; the other gauges are sampled by the flusher every 5 s,
// at every analysis added and at every read. Guarded by Grid.mu.
//
// The ring is also kept in the store (store.HistoryStore, one row a
// minute in a slot of its own, so at most 60 rows): the flusher writes the
// minutes that changed since its last write, at most one or two rows every
// 5 s and none while the grid is idle, and New reads the hour back, so
// the charts survive a restart. What the grid did between its last write
// and a crash (under 5 s) is lost; the minutes it was down have no bar.
type history struct {
	ring  [HistoryMinutes]Minute
	saved [HistoryMinutes]Minute // what the store holds of each slot
}

// slot is the ring index of the minute starting at start (the store's
// slot too: store.HistorySlot).
func slot(start time.Time) int64 { return store.HistorySlot(start) }

// at is the bucket of the minute holding t, emptied if it held an older minute.
func (h *history) at(t time.Time) *Minute {
	start := t.Truncate(time.Minute)
	m := &h.ring[slot(start)]
	if !m.Start.Equal(start) {
		*m = Minute{Start: start}
	}
	return m
}

func (h *history) verified(t time.Time) { h.at(t).Verified++ }
func (h *history) failed(t time.Time)   { h.at(t).Failed++ }

// leased keeps the peak of the leases held in t's minute (at every lease:
// a chunk may be leased and settled between two samples).
func (h *history) leased(t time.Time, n int) {
	m := h.at(t)
	m.Leases = max(m.Leases, n)
}

// online keeps the peak of the volunteers (local workers included)
// connected in t's minute, at every connection: one may come and go
// between two samples.
func (h *history) online(t time.Time, n int) {
	m := h.at(t)
	m.Volunteers = max(m.Volunteers, n)
}

// sample keeps the peaks of st's gauges in t's minute.
func (h *history) sample(t time.Time, st Stats) {
	m := h.at(t)
	m.Volunteers = max(m.Volunteers, st.Volunteers+st.LocalWorkers)
	m.Leases = max(m.Leases, st.ActiveLeases)
	m.Unverified = max(m.Unverified, st.ChunksQueued)
}

// last returns the minutes of the hour up to now, oldest first; minutes the
// grid has no record of (before it started) are left out.
func (h *history) last(now time.Time) []Minute {
	end := now.Truncate(time.Minute)
	out := make([]Minute, 0, HistoryMinutes)
	for i := HistoryMinutes - 1; i >= 0; i-- {
		start := end.Add(-time.Duration(i) * time.Minute)
		if m := h.ring[slot(start)]; m.Start.Equal(start) {
			out = append(out, m)
		}
	}
	return out
}

// perMinute is the chunks verified over the minute before now: all of
// now's minute so far, and the share of the previous minute that falls in
// the window. It is 0, not unknown, right after a start: the grid counts
// from its first chunk.
func (h *history) perMinute(now time.Time) float64 {
	cur := now.Truncate(time.Minute)
	n := 0.0
	if m := h.ring[slot(cur)]; m.Start.Equal(cur) {
		n += float64(m.Verified)
	}
	prev := cur.Add(-time.Minute)
	if m := h.ring[slot(prev)]; m.Start.Equal(prev) {
		n += float64(m.Verified) * (1 - now.Sub(cur).Seconds()/60)
	}
	return n
}

// Recent is the grid now and over the last hour.
type Recent struct {
	Stats
	// VerifiedPerMinute is the chunks verified over the last 60 s.
	VerifiedPerMinute float64 `json:"chunks_verified_per_minute"`
	// History is the last hour, minute by minute, oldest first.
	History []Minute `json:"history"`
}

// Recent returns the grid's figures now, its rate over the last minute and
// its history over the last hour.
func (g *Grid) Recent() Recent {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	st := g.statsLocked()
	g.hist.sample(now, st)
	return Recent{Stats: st, VerifiedPerMinute: g.hist.perMinute(now), History: g.hist.last(now)}
}

// sampleHistory records the gauges for the history (the flusher's tick).
func (g *Grid) sampleHistory() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.hist.sample(g.now(), g.statsLocked())
}

// unsaved returns the minutes that changed since the store last had them,
// and counts them as saved.
func (h *history) unsaved() []store.GridMinute {
	var out []store.GridMinute
	for i, m := range h.ring {
		if m.Start.IsZero() || m == h.saved[i] {
			continue
		}
		h.saved[i] = m
		out = append(out, store.GridMinute{Start: m.Start, Verified: m.Verified, Failed: m.Failed, Volunteers: m.Volunteers, Leases: m.Leases, Unverified: m.Unverified})
	}
	return out
}

// unsave forgets that ms were saved (their write failed): the next write
// tries them again.
func (h *history) unsave(ms []store.GridMinute) {
	for _, m := range ms {
		h.saved[slot(m.Start)] = Minute{}
	}
}

// restore puts the stored minutes of the hour up to now back in the ring.
func (h *history) restore(ms []store.GridMinute, now time.Time) {
	end := now.Truncate(time.Minute)
	for _, sm := range ms {
		start := sm.Start.Truncate(time.Minute)
		if start.After(end) || !start.After(end.Add(-HistoryMinutes*time.Minute)) {
			continue
		}
		m := Minute{Start: start, Verified: sm.Verified, Failed: sm.Failed, Volunteers: sm.Volunteers, Leases: sm.Leases, Unverified: sm.Unverified}
		h.ring[slot(start)], h.saved[slot(start)] = m, m
	}
}

// loadHistory reads the last hour back from the store (New, before the
// flusher runs: nothing can have been written over it yet).
func (g *Grid) loadHistory() {
	now := g.now()
	ms, err := g.store.GridHistory(context.Background(), now.Truncate(time.Minute).Add(-(HistoryMinutes-1)*time.Minute))
	if err != nil {
		g.log.Error("load the grid's history; the charts start empty", "err", err)
		return
	}
	g.hist.restore(ms, now)
}

// saveHistory writes the minutes that changed since the last write.
func (g *Grid) saveHistory() {
	g.mu.Lock()
	ms := g.hist.unsaved()
	g.mu.Unlock()
	if len(ms) == 0 {
		return
	}
	if err := g.store.SaveGridHistory(context.Background(), ms); err != nil {
		g.log.Error("save the grid's history", "err", err)
		g.mu.Lock()
		g.hist.unsave(ms)
		g.mu.Unlock()
	}
}
