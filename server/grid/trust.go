package grid

import (
	"context"
	"math"
	"slices"
	"time"

	"github.com/pulsegrid/pulsegrid/server/store"
)

// Standing (store.Volunteer.Reputation) counts a volunteer's outputs that
// another party confirmed: agreement in an accepted group with a trusted
// worker or an established volunteer other than itself, or a correct
// answer to a known-answer chunk. Results accepted on its own trust never
// add to it, and it halves for every week the volunteer is away.
//
//   - From EstablishAfter a volunteer is established: its vote lets a
//     quorum of distinct networks accept an output.
//   - From TrustAfter it is trusted: its lone result may settle a chunk,
//     except for spot checks drawn with probability max(SpotCheck,
//     1/sqrt(standing)), which it cannot tell from other leases.
//
// A volunteer caught returning a wrong output (outvoted by an accepted
// group, failing an audit or a known-answer chunk) loses its standing, is
// banned with its network for a while, and every chunk it helped settle is
// reopened, in finished analyses too (they are merged again and marked
// revised). Those who agreed with it on any chunk lose their trust
// (standing capped below TrustAfter) until they earn it again.

// standingHalfLife is how fast standing decays while a volunteer is away.
const standingHalfLife = 7 * 24 * time.Hour

func (g *Grid) establishedLocked(v *volunteer) bool {
	return v.local || v.rec.Reputation >= int64(g.cfg.EstablishAfter)
}

func (g *Grid) trustedLocked(v *volunteer) bool {
	return v.local || v.rec.Reputation >= int64(g.cfg.TrustAfter)
}

// spotCheckLocked is the probability that a trusted volunteer's lease is
// replicated anyway.
func (g *Grid) spotCheckLocked(v *volunteer) float64 {
	if v.local || g.cfg.SpotCheck < 0 {
		return 0
	}
	p := 1 / math.Sqrt(float64(max(v.rec.Reputation, 1)))
	return min(max(p, g.cfg.SpotCheck), 1)
}

// decayLocked applies the standing's decay for the time since the
// volunteer was last seen.
func (g *Grid) decayLocked(v *volunteer, now time.Time) {
	if v.rec.LastSeen.IsZero() || v.rec.Reputation == 0 {
		return
	}
	away := now.Sub(v.rec.LastSeen)
	if away < time.Hour {
		return
	}
	v.rec.Reputation = int64(float64(v.rec.Reputation) * math.Exp2(-away.Hours()/standingHalfLife.Hours()))
}

func (g *Grid) rand() float64 { return g.cfg.Rand() }

// caughtLocked deals with a volunteer that returned a wrong output; fix,
// if set, is a trusted output for one of the chunks it reopens.
func (g *Grid) caughtLocked(v *volunteer, why string, fix *store.ChunkOutput) {
	if v.local {
		g.log.Error("a trusted worker disagreed with an accepted output", "worker", v.rec.ID, "why", why)
		return
	}
	now := g.now()
	g.metrics.VolunteersCaught.Inc()
	v.rec.Reputation = 0
	v.rec.Rejected++
	if !v.rec.BannedUntil.After(now) {
		// One ban per incident: its other wrong results of the moment do
		// not lengthen it; a catch after the ban doubles it.
		ban := g.cfg.BanFor << min(v.rec.Rejected-1, 6)
		v.rec.BannedUntil = now.Add(ban)
		g.log.Warn("volunteer caught", "volunteer", v.rec.ID, "why", why, "banned_until", v.rec.BannedUntil)
	}
	v.dirty = true
	// Its networks are suspended too, unless one network may verify
	// itself (AllowSameNetwork): then its neighbours are the honest
	// volunteers the operator counts on.
	nets := map[string]bool{}
	for _, s := range g.sessionsLocked(func(s *Session) bool { return s.vol == v && !g.cfg.AllowSameNetwork }) {
		nets[s.net] = true
	}
	for net := range nets {
		n := g.network(net)
		n.banned = later(n.banned, now.Add(g.cfg.BanFor/4))
		until := n.banned
		g.after = append(g.after, func() { g.store.BanNetwork(context.Background(), net, until, why) })
	}
	// Its sessions and its network's get no more work (bannedLocked), lose
	// their leases now, and are closed once the verdicts went out.
	victims := g.sessionsLocked(func(s *Session) bool { return s.vol == v || nets[s.net] })
	for _, s := range victims {
		for _, l := range s.leases {
			g.cancelLeaseLocked(l, "this volunteer or its network is suspended")
			if l.check == nil {
				g.requeueLocked(l.c)
			}
		}
		g.fedLocked(s)
	}
	g.dropAllResultsLocked(v.rec.ID)
	g.after = append(g.after, func() {
		g.mu.Lock()
		for _, s := range victims {
			g.closeLocked(s)
		}
		g.mu.Unlock()
		for _, s := range victims {
			s.send.Close("suspended: a wrong output was returned from this identity or network")
		}
	})
	g.reopenLocked(v.rec.ID, why, fix)
	rec := v.rec
	g.after = append(g.after, func() { g.store.SaveVolunteers(context.Background(), []store.Volunteer{rec}) })
	g.signalFlush()
}

// dropAllResultsLocked: a caught volunteer's results still waiting for a
// second opinion count for nothing, in memory and in the store.
func (g *Grid) dropAllResultsLocked(volID string) {
	for _, a := range g.analyses {
		for c := range a.inflight {
			g.dropResultsLocked(c, volID)
		}
		for _, q := range []*queue{&a.more, &a.moreEst} {
			for _, e := range q.items[q.head:] {
				g.dropResultsLocked(e.c, volID)
			}
		}
	}
	g.pending = append(g.pending, store.GridWrite{Discard: volID})
	g.signalFlush()
}

// dropResultsLocked removes a volunteer's results from an open chunk.
func (g *Grid) dropResultsLocked(c *chunk, volID string) {
	if c.state != chunkOpen || !slices.ContainsFunc(c.results, func(r replica) bool { return r.vol.rec.ID == volID }) {
		return
	}
	c.results = slices.DeleteFunc(c.results, func(r replica) bool { return r.vol.rec.ID == volID })
	g.evaluateLocked(c) // what remains may settle it now
}

// bannedLocked: s's identity or network is suspended.
func (g *Grid) bannedLocked(s *Session) bool {
	if s.vol.local {
		return false
	}
	now := g.now()
	return s.vol.rec.BannedUntil.After(now) || g.nets[s.net].banned.After(now)
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// reopenLocked withdraws every accepted output the volunteer voted for:
// in memory at once; in the store (finished analyses included) after the
// pending writes, by the store's ReopenVoted, whose analyses are then
// loaded and verified again.
func (g *Grid) reopenLocked(volID, why string, fix *store.ChunkOutput) {
	suspects := map[string]bool{}
	for _, a := range g.analyses {
		if a.gone || a.finishing {
			continue // a finishing analysis is reopened through the store once merged
		}
		for _, c := range a.chunks {
			if c.state != chunkVerified || !slices.Contains(c.voters, volID) {
				continue
			}
			for _, id := range c.voters {
				suspects[id] = true
			}
			c.state, c.output, c.outDig, c.voters, c.audited = chunkOpen, nil, "", nil, false
			c.results, c.held, c.needs, c.stalled, c.starved = nil, map[string]bool{}, needNone, false, false
			a.verified--
			g.metrics.ChunksReopened.Inc()
			g.pending = append(g.pending, store.GridWrite{Withdraw: &store.ChunkRef{AnalysisID: a.id, Index: c.spec.Index}})
			// A chunk not encoded yet (encodeChunks after a load) goes to
			// the fresh queue once it is.
			c.entered = c.digest != ""
			c.inMore = false
			g.requeueLocked(c)
		}
	}
	delete(suspects, volID)
	for id := range suspects {
		if o := g.recordLocked(id); o != nil && !o.local {
			o.rec.Reputation = min(o.rec.Reputation, int64(g.cfg.TrustAfter-1))
			o.dirty = true
		}
	}
	g.after = append(g.after, func() { g.reopenStored(volID, why, fix) })
}

// reopenStored reopens what the store holds of a caught volunteer: chunk
// outputs it voted for, in finished analyses too, which go back to
// running with their revision counted; they are loaded into the queues.
func (g *Grid) reopenStored(volID, why string, fix *store.ChunkOutput) {
	ctx := context.Background()
	reopened, suspects, err := g.store.ReopenVoted(ctx, volID, "revised: a volunteer that contributed to it returned a wrong output")
	if err != nil {
		g.log.Error("reopen chunks of a caught volunteer", "volunteer", volID, "err", err)
		return
	}
	if fix != nil {
		if err := g.store.ApplyGridWrites(ctx, []store.GridWrite{{Verify: fix}}); err != nil {
			g.log.Error("store an audit's output", "analysis", fix.AnalysisID, "err", err)
		}
	}
	if len(suspects) > 0 {
		g.store.CapReputation(ctx, suspects, int64(g.cfg.TrustAfter-1))
		// The same cap on the records in memory, which would otherwise
		// save their standing over the store's at their next save.
		g.mu.Lock()
		for _, id := range suspects {
			if o := g.recordLocked(id); o != nil && !o.local && o.rec.Reputation > int64(g.cfg.TrustAfter-1) {
				o.rec.Reputation = int64(g.cfg.TrustAfter - 1)
				o.dirty = true
			}
		}
		g.mu.Unlock()
	}
	for _, id := range reopened {
		g.mu.Lock()
		a := g.analyses[id]
		if a != nil && a.finishing {
			a.reopen = true // its merge loads it again (flush.go)
		}
		g.mu.Unlock()
		if a != nil {
			continue // reopened in memory, or by its merge
		}
		sa, err := g.store.Analysis(ctx, id)
		if err != nil || sa.Finished() {
			continue
		}
		g.store.Audit(ctx, store.AuditEntry{Action: "analysis.revise", Object: "analysis/" + itoa(id),
			Detail: "reopened for verification again: a volunteer that contributed to it returned a wrong output (" + why + ")"})
		if err := g.load(ctx, sa); err != nil {
			g.log.Error("load reopened analysis", "analysis", id, "err", err)
		}
	}
}
