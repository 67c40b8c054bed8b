package grid

import (
	"fmt"
	"slices"

	"github.com/pulsegrid/pulsegrid/algorithms/pipeline"
	"github.com/pulsegrid/pulsegrid/protocol"
	"github.com/pulsegrid/pulsegrid/server/store"
)

// The verification policy. Results for a chunk are grouped by output
// digest; an output is accepted when its group has
//
//   - a trusted worker's vote (an in-process worker or auditor), or
//   - Quorum votes from distinct networks (distinct identities with
//     AllowSameNetwork), at least one of them from an established
//     volunteer, or
//   - the single vote of a trusted volunteer on a lease issued for it
//     alone (no spot check drawn).
//
// Agreement among fresh identities only is not enough: the chunk then
// waits for an established volunteer or an auditor to vote, so identities
// made for the purpose cannot settle anything among themselves. A dispute
// takes a further vote from anyone, and the auditors are asked to give one. Errors are
// an outcome like an output, but one that only a trusted worker can
// accept: when volunteers agree that a chunk fails, an auditor runs it, and
// the chunk fails with the reason the server's own run gives. Disagreement
// brings more replicas; at MaxReplicas without agreement a trusted worker
// decides.

type group struct {
	digest      string
	members     []replica
	nets        map[string]bool
	vols        map[*volunteer]bool
	trusted     bool // a trusted worker voted for it
	established bool // an established volunteer voted for it
}

func (gr *group) count(sameNetwork bool) int {
	if sameNetwork {
		return len(gr.vols)
	}
	return len(gr.nets)
}

func (g *Grid) groupsLocked(c *chunk) []*group {
	var out []*group
	for _, r := range c.results {
		i := slices.IndexFunc(out, func(gr *group) bool { return gr.digest == r.digest })
		if i < 0 {
			out = append(out, &group{digest: r.digest, nets: map[string]bool{}, vols: map[*volunteer]bool{}})
			i = len(out) - 1
		}
		gr := out[i]
		gr.members = append(gr.members, r)
		gr.nets[r.net] = true
		v := g.liveVolLocked(r.vol)
		gr.vols[v] = true
		gr.trusted = gr.trusted || v.local
		gr.established = gr.established || g.establishedLocked(v)
	}
	return out
}

// evaluateLocked settles a chunk if its results allow, or says what it
// waits for and offers it again.
func (g *Grid) evaluateLocked(c *chunk) { g.judgeLocked(c, true) }

// judgeLocked is evaluateLocked; with settle false (results restored from
// the store at a takeover) it never settles: a group that would settle
// waits for the next vote, so a takeover accepts nothing by itself.
func (g *Grid) judgeLocked(c *chunk, settle bool) {
	groups := g.groupsLocked(c)
	c.needs = needNone
	waitsEstablished, completable, deferred := false, false, false
	for _, gr := range groups {
		n := gr.count(g.cfg.AllowSameNetwork)
		if gr.digest == errorDigest {
			switch {
			case gr.trusted && settle:
				g.failChunkLocked(c, fmt.Sprintf("chunk %d of the recording could not be processed: the server's own run of it failed too", c.spec.Index))
				return
			case n >= g.cfg.Quorum || (len(groups) == 1 && c.single != nil):
				c.needs = needTrusted
			}
			continue
		}
		switch {
		case !settle && (gr.trusted || n >= g.cfg.Quorum && gr.established):
			deferred = true
		case gr.trusted:
			g.verifyLocked(c, gr, false)
			return
		case len(groups) == 1 && len(c.results) == 1 && c.single != nil && gr.members[0].vol == c.single:
			g.verifyLocked(c, gr, true)
			return
		case n >= g.cfg.Quorum && gr.established:
			g.verifyLocked(c, gr, false)
			return
		case n >= g.cfg.Quorum:
			waitsEstablished = true
		case gr.established:
			completable = true // any further vote from another network settles it
		}
	}
	switch {
	case c.needs != needNone:
	case deferred:
		// It would settle now, but a takeover accepts nothing by itself:
		// the next vote, from anyone, settles it (or the auditors').
		c.needs = needTieBreak
	case c.stalled:
		// Its holders never get it again, and they may be every volunteer
		// there is: keep asking the auditors.
		c.needs = needEstablished
	case c.starved:
		c.needs = needTieBreak // anyone from another network, or the auditors
	case waitsEstablished && !completable:
		c.needs = needEstablished
	case len(groups) > 1:
		// A dispute: any further vote may settle it, and the auditors are
		// asked too, so that a chunk every connected volunteer has already
		// computed does not wait for ever.
		c.needs = needTieBreak
	}
	if len(c.results) >= g.cfg.MaxReplicas {
		c.needs = needTrusted // no agreement within the cap: a trusted worker decides
	}
	if len(groups) > 1 || c.needs != needNone || (len(groups) == 1 && groups[0].digest == errorDigest) {
		c.single = nil // no one settles this chunk alone
	}
	if c.needs != needNone {
		g.needVoteLocked(c)
	} else if len(c.results) == 1 {
		g.waitingLocked(c)
	}
	g.requeueLocked(c)
}

// verifyLocked accepts group gr's output for chunk c: it is stored, its
// voters are credited and gain standing where another party confirmed
// them, and those who disagreed are dealt with.
func (g *Grid) verifyLocked(c *chunk, gr *group, onTrust bool) {
	a := c.a
	results := c.results
	c.results, c.single, c.needs, c.stalled, c.starved = nil, nil, needNone, false, false
	// Settle the chunk before anything else runs (cancelling a lease may drop
	// a slow session, which hands out work): it must not be leased again.
	c.state = chunkVerified
	for _, l := range slices.Clone(c.leases) {
		g.cancelLeaseLocked(l, "chunk verified without this result")
	}
	c.output, c.outDig = gr.members[0].output, gr.digest
	c.voters = c.voters[:0]
	for vol := range gr.vols {
		if !vol.auditor {
			c.voters = append(c.voters, vol.rec.ID)
		}
	}
	slices.Sort(c.voters)
	a.verified++
	g.metrics.ChunksVerified.Inc()
	g.hist.verified(g.now())
	credit := g.creditLocked(a.alg.Name(), c.payload.Len())
	for _, r := range results {
		v := g.liveVolLocked(r.vol)
		v.dirty = true
		switch {
		case r.digest == gr.digest:
			g.metrics.ResultsAccepted.Inc()
			v.rec.Validated++
			v.rec.CreditMicros += credit
			if !onTrust && gr.confirmsLocked(g, v) {
				v.rec.Reputation++
			}
		case r.digest == errorDigest:
			// An error where others computed the chunk: not a forgery, but
			// the volunteer's word counts for nothing until it earns it again.
			g.metrics.ResultsRejected.Inc()
			v.rec.Rejected++
			v.rec.Reputation = 0
			g.saveStandingLocked(v)
		default:
			g.metrics.ResultsRejected.Inc()
			g.caughtLocked(v, fmt.Sprintf("returned an output for chunk %d of analysis %d that disagreed with the verified one", c.spec.Index, a.id), nil)
		}
	}
	g.pending = append(g.pending, store.GridWrite{Verify: &store.ChunkOutput{AnalysisID: a.id, Index: c.spec.Index, Digest: c.outDig, Output: c.output, Replicas: len(gr.members), Voters: slices.Clone(c.voters)}})
	// Verdicts go out after the write commits: "verified" means durable.
	for _, r := range results {
		v := g.liveVolLocked(r.vol)
		if r.s == nil || v.local {
			continue
		}
		m := &protocol.Message{Type: protocol.TypeVerdict, LeaseID: r.leaseID, Verdict: protocol.VerdictVerified,
			TotalVerified: v.rec.Validated, Credit: v.rec.Credit()}
		if r.digest != gr.digest {
			m.Verdict, m.Reason = protocol.VerdictRejected, "the output disagreed with the verified one"
		}
		g.verdicts = append(g.verdicts, verdict{r.s, m})
	}
	if gr.trusted {
		g.offerChunkLocked(c, gr)
	} else {
		g.sampleAuditLocked(c, gr, onTrust)
	}
	if a.verified == len(a.chunks) {
		g.finishLocked(a)
	}
	g.signalFlush()
}

// confirmsLocked: some other voter of the group can vouch for v — a
// trusted worker or an established volunteer other than v itself.
func (gr *group) confirmsLocked(g *Grid, v *volunteer) bool {
	for o := range gr.vols {
		if o != v && (o.local || g.establishedLocked(o)) {
			return true
		}
	}
	return false
}

type verdict struct {
	s *Session
	m *protocol.Message
}

func (g *Grid) failChunkLocked(c *chunk, reason string) {
	c.state = chunkFailed
	g.metrics.ChunksFailed.Inc()
	g.hist.failed(g.now())
	g.failAnalysisLocked(c.a, reason)
}

// failAnalysisLocked stops an analysis for good and records why.
func (g *Grid) failAnalysisLocked(a *analysis, reason string) {
	g.dropLocked(a, "analysis failed")
	id, total := a.id, len(a.chunks)
	g.log.Warn("analysis failed", "analysis", id, "reason", reason)
	g.after = append(g.after, func() {
		if err := g.store.SetAnalysisStatus(ctxBackground(), id, store.StatusFailed, reason, total); err != nil {
			g.log.Error("mark analysis failed", "analysis", id, "err", err)
		}
	})
	g.signalFlush()
}

// finishLocked merges a fully verified analysis once its writes are durable.
func (g *Grid) finishLocked(a *analysis) {
	if a.finishing {
		return
	}
	a.finishing = true
	parts := make([]pipeline.Part, len(a.chunks))
	digests := make([]string, len(a.chunks))
	for i, c := range a.chunks {
		parts[i] = pipeline.Part{Spec: c.spec, Output: c.output}
		digests[i] = c.outDig
	}
	g.after = append(g.after, func() { go g.merge(a, parts, digests) })
	g.signalFlush()
}
