package grid

import (
	"slices"

	"github.com/pulsegrid/pulsegrid/protocol"
	"github.com/pulsegrid/pulsegrid/server/store"
)

// The server's own verification work, done by trusted in-process workers:
// auditors (Config.Auditors) and --local-workers.
//
//   - Chunks that wait for a vote nobody established can give (fresh
//     identities agreed among themselves, volunteers agreed that a chunk
//     fails, or the replica cap passed without agreement) are settled by a
//     trusted worker's own run: the need queue.
//   - A random sample of accepted chunks (AuditRate, doubled for chunks
//     accepted on one volunteer's trust) is computed again after the fact,
//     finished analyses included: the audit queue. An audit that disagrees
//     catches every voter of the chunk (trust.go).
//
// Auditors take only this work; local workers take it before ordinary
// work. Volunteers never see any of it.

// Audit queue bounds: entries and payload bytes held for them.
const (
	maxAudits     = 4096
	maxAuditBytes = 64 << 20
)

// check is a chunk whose output is known: an audit of an accepted chunk,
// or a known-answer chunk for volunteers (ringer.go).
type check struct {
	alg        string
	payload    []byte
	digest     string // of the payload
	want       string // the accepted output's digest
	analysisID int64
	index      int
	voters     []string
	nets       []string // of the voters
	held       []string // every identity that was leased the chunk: never given it as a known answer
	c          *chunk   // while its analysis is in memory
	// For ringers: identities and networks that have computed it.
	touchedVols map[string]bool
	touchedNets map[string]bool
}

// needVoteLocked queues a chunk for a trusted or established vote.
func (g *Grid) needVoteLocked(c *chunk) {
	if !c.inNeed {
		c.inNeed = true
		g.needQ = append(g.needQ, c)
	}
}

// needPickLocked finds a chunk of the need queue that s may vote on.
func (g *Grid) needPickLocked(s *Session) *chunk {
	g.needQ = slices.DeleteFunc(g.needQ, func(c *chunk) bool {
		dead := c.state != chunkOpen || c.a.gone || c.needs == needNone
		if dead {
			c.inNeed = false
		}
		return dead
	})
	for _, c := range g.needQ {
		if g.mayRunLocked(c.a, s) && g.needsLeaseLocked(c) && g.eligibleLocked(c, s) == eligible {
			return c
		}
	}
	return nil
}

// sampleAuditLocked draws whether an accepted chunk is audited.
func (g *Grid) sampleAuditLocked(c *chunk, gr *group, onTrust bool) {
	p := g.cfg.AuditRate
	if onTrust {
		p *= 2
	}
	if p <= 0 || c.audited || g.rand() >= p || len(g.auditQ) >= maxAudits || g.auditBytes+c.payload.Len() > maxAuditBytes {
		return
	}
	body, err := c.payload.Bytes()
	if err != nil {
		return
	}
	c.audited = true
	g.auditBytes += len(body)
	g.auditQ = append(g.auditQ, &check{alg: c.a.alg.Name(), payload: body, digest: c.digest, want: c.outDig,
		analysisID: c.a.id, index: c.spec.Index, voters: slices.Clone(c.voters), nets: gr.netList(), held: heldList(c), c: c})
	g.kickLocked()
}

// pickCheckLocked takes the next audit for a trusted worker.
func (g *Grid) pickCheckLocked(s *Session) *check {
	for i, k := range g.auditQ {
		if s.algs[k.alg] {
			g.auditQ = slices.Delete(g.auditQ, i, i+1)
			g.auditBytes -= len(k.payload)
			return k
		}
	}
	return nil
}

// issueCheckLocked leases a check (an audit or a ringer) to s; the lease
// looks like any other.
func (g *Grid) issueCheckLocked(s *Session, k *check) {
	now := g.now()
	g.nextLease++
	l := &lease{id: g.nextLease, c: k.c, s: s, issued: now, beat: now, deadline: now.Add(g.leaseTime(s.vol, len(k.payload))), check: k}
	g.track(s, l)
	if k.touchedVols != nil {
		k.touchedVols[s.vol.rec.ID] = true
		k.touchedNets[s.net] = true
	}
	s.sendLocked(&protocol.Message{Type: protocol.TypeLease, LeaseID: l.id, Algorithm: k.alg,
		Deadline: l.deadline.UnixMilli(), Digest: k.digest, Size: len(k.payload)}, k.payload)
}

// checkResultLocked judges the result of a check lease.
func (g *Grid) checkResultLocked(s *Session, l *lease, r replica) {
	k := l.check
	v := s.vol
	if v.local {
		if r.digest == k.want {
			g.metrics.AuditsPassed.Inc()
			g.ringers.offer(k)
			return
		}
		g.metrics.AuditsFailed.Inc()
		why := "an audit by the server disagreed with its accepted output for chunk " + itoa(int64(k.index)) + " of analysis " + itoa(k.analysisID)
		var fix *store.ChunkOutput
		if r.digest != errorDigest {
			// The audit's own output settles the chunk, in memory or in the
			// store once the voters' outputs are withdrawn there.
			fix = &store.ChunkOutput{AnalysisID: k.analysisID, Index: k.index, Digest: r.digest, Output: r.output, Replicas: 1}
		}
		for _, id := range k.voters {
			g.catchByIDLocked(id, why, fix)
		}
		// The audit's own output settles the chunk if it is still open here.
		if c := k.c; c != nil && !c.a.gone && c.state == chunkOpen && r.digest != errorDigest {
			c.results = append(c.results, r)
			g.evaluateLocked(c)
		}
		return
	}
	// A volunteer's answer to a known-answer chunk.
	m := &protocol.Message{Type: protocol.TypeVerdict, LeaseID: l.id, Verdict: protocol.VerdictVerified}
	switch r.digest {
	case k.want:
		g.metrics.RingersPassed.Inc()
		v.rec.Reputation++
		v.rec.Validated++
		v.rec.CreditMicros += g.creditLocked(k.alg, len(k.payload))
	case errorDigest:
		v.rec.Rejected++
		v.rec.Reputation = 0
		g.saveStandingLocked(v)
		m.Verdict, m.Reason = protocol.VerdictRejected, "the output disagreed with the verified one"
	default:
		g.metrics.RingersFailed.Inc()
		m.Verdict, m.Reason = protocol.VerdictRejected, "the output disagreed with the verified one"
		g.verdicts = append(g.verdicts, verdict{s, m}) // before the session is closed
		g.caughtLocked(v, "returned a wrong output for a chunk whose answer the server knew", nil)
		g.signalFlush()
		return
	}
	v.dirty = true
	m.TotalVerified, m.Credit = v.rec.Validated, v.rec.Credit()
	g.verdicts = append(g.verdicts, verdict{s, m})
	g.signalFlush()
}

// catchByIDLocked catches a volunteer by id, connected or not; fix, if
// set, is a trusted output to store for a chunk the reopening withdraws.
func (g *Grid) catchByIDLocked(id, why string, fix *store.ChunkOutput) {
	if v := g.recordLocked(id); v != nil {
		g.caughtLocked(v, why, fix)
		return
	}
	ban := g.now().Add(g.cfg.BanFor)
	g.metrics.VolunteersCaught.Inc()
	g.after = append(g.after, func() { g.store.BanVolunteer(ctxBackground(), id, ban) })
	g.dropAllResultsLocked(id)
	g.reopenLocked(id, why, fix)
}

// auditorsIdleLocked wakes trusted workers when verification work waits.
func (g *Grid) auditorsIdleLocked() {
	if len(g.needQ) == 0 && len(g.auditQ) == 0 {
		return
	}
	for s := range g.hungryEst {
		if s.vol.local {
			g.dispatchLocked(s)
		}
	}
}
