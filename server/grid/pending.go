package grid

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/pulsegrid/pulsegrid/algorithms/canon"
	"github.com/pulsegrid/pulsegrid/server/store"
)

// Pending results. A volunteer's result that does not settle its chunk
// (the first of a quorum of two, a fresh group waiting for an established
// vote, a dispute) and still waits after Config.PendingDelay is written
// to the store in the flusher's batch (store.GridWrite.Pend), so that a
// leader that takes over counts it instead of asking for it again. The
// store drops it when the chunk is verified or withdrawn, when its
// volunteer is caught, and when the analysis finishes or is deleted.
//
// A restored result counts as it did on the leader that received it, and
// never for more:
//
//   - one identity, one vote: the store keeps the first result of an
//     identity for a chunk, the identity is marked as having held the
//     chunk (it is never leased it again), and restored chunks go through
//     the more queues, which check that, never through the fresh queue;
//   - its network is the one it came from, so a neighbour cannot add the
//     second vote and its network's prefix still counts once;
//   - it answers the chunk's payload (task digest) and its output matches
//     its digest; a volunteer banned now, or unknown to the store, or an
//     in-process worker's id, gives nothing;
//   - standing is read when the chunk is judged, as for any result, and
//     a takeover settles nothing by itself (judgeLocked with settle
//     false): the chunk waits for its next vote, with the same rules;
//   - a lone trusted volunteer's result settles its chunk when it arrives
//     or not at all, so restored results never settle alone.

// pend is a result that waits for a quorum, held for Config.PendingDelay
// before it is written: most get their second replica within it.
type pend struct {
	at time.Time
	c  *chunk
	r  replica
}

// pendLocked holds r, just judged, for the store if it still waits.
func (g *Grid) pendLocked(c *chunk, r replica) {
	if r.vol.local || !g.waitsLocked(c, r) {
		return
	}
	g.pends = append(g.pends, pend{at: g.now(), c: c, r: r})
}

// waitsLocked: r is still one of c's results, waiting.
func (g *Grid) waitsLocked(c *chunk, r replica) bool {
	return c.state == chunkOpen && !c.a.gone &&
		slices.ContainsFunc(c.results, func(x replica) bool { return x.leaseID == r.leaseID && x.vol == r.vol })
}

// duePendsLocked moves the held results older than PendingDelay (all of
// them when all is set) to the batch, except those that no longer wait:
// verified, withdrawn, dropped with a caught volunteer, or of an analysis
// gone.
func (g *Grid) duePendsLocked(all bool) {
	cut := g.now().Add(-g.cfg.PendingDelay)
	n := 0
	for _, p := range g.pends {
		if !all && p.at.After(cut) {
			break
		}
		n++
		if !g.waitsLocked(p.c, p.r) {
			continue
		}
		g.pending = append(g.pending, store.GridWrite{Pend: &store.PendingResult{AnalysisID: p.c.a.id, Index: p.c.spec.Index, Task: p.c.digest,
			Volunteer: p.r.vol.rec.ID, Network: p.r.net, Digest: p.r.digest, Output: p.r.output}})
		g.metrics.PendingWritten.Inc()
	}
	clear(g.pends[:n])
	g.pends = g.pends[n:]
}

// saveStandingLocked saves a volunteer's record right after the next
// batch, not at the next periodic save, when its standing fell: its
// pending results, written PendingDelay later at the earliest, must never
// be counted after a takeover with the standing it had before.
func (g *Grid) saveStandingLocked(v *volunteer) {
	if v.local {
		return
	}
	rec := v.rec
	g.after = append(g.after, func() { g.store.SaveVolunteers(context.Background(), []store.Volunteer{rec}) })
	g.signalFlush()
}

// pendingVoters reads the pending results of an analysis and the records
// of their volunteers (those the store knows).
func (g *Grid) pendingVoters(ctx context.Context, id int64) ([]store.PendingResult, map[string]store.Volunteer, error) {
	ps, err := g.store.PendingResults(ctx, id)
	if err != nil || len(ps) == 0 {
		return nil, nil, err
	}
	recs := map[string]store.Volunteer{}
	for _, p := range ps {
		if _, ok := recs[p.Volunteer]; ok {
			continue
		}
		rec, err := g.store.Volunteer(ctx, p.Volunteer)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		recs[p.Volunteer] = rec
	}
	return ps, recs, nil
}

// restoreLocked gives a's open chunks their pending results back, under
// the rules above, and says what each now waits for.
func (g *Grid) restoreLocked(a *analysis, ps []store.PendingResult, recs map[string]store.Volunteer) {
	now := g.now()
	var touched []*chunk
	for _, p := range ps {
		if p.Index < 0 || p.Index >= len(a.chunks) {
			continue
		}
		c := a.chunks[p.Index]
		if c.state != chunkOpen || p.Task != c.digest {
			continue
		}
		c.held[p.Volunteer] = true // whatever becomes of its result
		rec, known := recs[p.Volunteer]
		if !known || rec.BannedUntil.After(now) {
			continue
		}
		if p.Digest == errorDigest {
			if len(p.Output) != 0 {
				continue
			}
		} else if canon.Digest(p.Output) != p.Digest {
			continue
		}
		if slices.ContainsFunc(c.results, func(r replica) bool { return r.vol.rec.ID == p.Volunteer }) {
			continue
		}
		v := g.recordLocked(p.Volunteer)
		if v == nil {
			v = &volunteer{rec: rec, window: 2}
			g.decayLocked(v, now)
			g.vols[p.Volunteer] = v // one object per identity, shared by every chunk restored
		}
		if v.local {
			continue
		}
		c.results = append(c.results, replica{vol: v, net: p.Network, digest: p.Digest, output: p.Output})
		g.metrics.PendingRestored.Inc()
		if !c.entered {
			c.entered = true
			touched = append(touched, c)
		}
	}
	for _, c := range touched {
		g.judgeLocked(c, false)
	}
}
