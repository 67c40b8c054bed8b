package grid

import (
	"context"
	"errors"
	"slices"

	"github.com/pulsegrid/pulsegrid/algorithms/canon"
	"github.com/pulsegrid/pulsegrid/server/store"
)

// Pending results. A volunteer's result that does not settle its chunk
// (the first of a quorum of two, a fresh group waiting for an established
// vote, a dispute) is written to the store in the flusher's batch
// (store.GridWrite.Pend), so that a leader that takes over counts it
// instead of asking for it again. The store drops it when the chunk is
// verified or withdrawn, when its volunteer is caught, and when the
// analysis finishes or is deleted.
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

// pendLocked queues r, just judged, for the store if it still waits.
func (g *Grid) pendLocked(c *chunk, r replica) {
	if c.state != chunkOpen || c.a.gone || r.vol.local ||
		!slices.ContainsFunc(c.results, func(x replica) bool { return x.leaseID == r.leaseID && x.vol == r.vol }) {
		return
	}
	g.pending = append(g.pending, store.GridWrite{Pend: &store.PendingResult{AnalysisID: c.a.id, Index: c.spec.Index, Task: c.digest,
		Volunteer: r.vol.rec.ID, Network: r.net, Digest: r.digest, Output: r.output}})
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
		v := g.vols[p.Volunteer]
		if v == nil {
			v = &volunteer{rec: rec, window: 2}
			g.decayLocked(v, now)
			g.vols[p.Volunteer] = v // one object per identity, shared by every chunk restored
		}
		if v.local {
			continue
		}
		c.results = append(c.results, replica{vol: v, net: p.Network, digest: p.Digest, output: p.Output})
		if !c.entered {
			c.entered = true
			touched = append(touched, c)
		}
	}
	for _, c := range touched {
		g.judgeLocked(c, false)
	}
}

// compactWrites drops from a batch the pending results whose chunk is
// verified or withdrawn later in the same batch: the store would delete
// them at once.
func compactWrites(ws []store.GridWrite) []store.GridWrite {
	type key struct {
		a int64
		i int
	}
	var later map[key]bool
	out := ws[:0:0]
	for i := len(ws) - 1; i >= 0; i-- {
		w := ws[i]
		switch {
		case w.Verify != nil || w.Withdraw != nil:
			if later == nil {
				later = map[key]bool{}
			}
			if w.Verify != nil {
				later[key{w.Verify.AnalysisID, w.Verify.Index}] = true
			} else {
				later[key{w.Withdraw.AnalysisID, w.Withdraw.Index}] = true
			}
		case w.Pend != nil && later[key{w.Pend.AnalysisID, w.Pend.Index}]:
			continue
		}
		out = append(out, w)
	}
	slices.Reverse(out)
	return out
}
