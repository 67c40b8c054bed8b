package grid

import (
	"fmt"
	"slices"
	"time"

	"github.com/pulsegrid/pulsegrid/protocol"
)

// A lease has a hard deadline, fixed when it is issued from the chunk's
// size and the volunteer's measured speed; progress messages prove the
// volunteer alive but never move it. A lease expires when it is not
// acknowledged within AckTimeout, when no progress came for three
// heartbeats, or at its deadline; a result after that is ignored. A chunk
// is never leased again to an identity that held it.

func (g *Grid) issueLocked(s *Session, c *chunk) {
	a := c.a
	now := g.now()
	g.nextLease++
	l := &lease{id: g.nextLease, c: c, s: s, issued: now, beat: now, deadline: now.Add(g.leaseTime(s.vol, c.payload.Len()))}
	if len(c.leases) == 0 && len(c.results) == 0 && c.single == nil && c.needs == needNone && g.trustedLocked(s.vol) {
		// No spot checks on trusted-only data: there may be no second
		// eligible machine to run them.
		if s.vol.local || a.trustedOnly || g.rand() >= g.spotCheckLocked(s.vol) {
			c.single = s.vol
		}
	}
	if !c.entered {
		c.entered = true
	}
	c.leases = append(c.leases, l)
	c.held[s.vol.rec.ID] = true
	g.track(s, l)
	a.inflight[c] = struct{}{}
	s.lastDataset = a.dataset
	g.seq++
	g.owners[a.owner] = g.seq
	body, err := c.payload.Bytes()
	if err != nil {
		// The server's own disk failed it: no volunteer can help.
		g.failChunkLocked(c, fmt.Sprintf("chunk %d could not be read back from the server's disk", c.spec.Index))
		g.log.Error("read payload", "analysis", a.id, "chunk", c.spec.Index, "err", err)
		return
	}
	// The chunk may want more replicas than this one (quorum 2): offer it.
	if g.needsLeaseLocked(c) {
		g.offerLocked(c)
	}
	s.sendLocked(&protocol.Message{Type: protocol.TypeLease, LeaseID: l.id, Algorithm: a.alg.Name(),
		Deadline: l.deadline.UnixMilli(), Digest: c.digest, Size: len(body)}, body)
}

// track records a new lease of s in the grid's books.
func (g *Grid) track(s *Session, l *lease) {
	s.leases[l.id] = l
	g.leases[l.id] = l
	g.hist.leased(g.now(), len(g.leases))
	s.credits--
	s.vol.unacked++
	g.nets[s.net].leases++
	s.vol.rec.Issued++
	s.vol.dirty = true
	g.metrics.LeasesIssued.Inc()
}

func (g *Grid) ackLocked(l *lease, now time.Time) {
	l.acked, l.beat = now, now
	g.releaseUnackedLocked(l)
	if v := l.s.vol; v.window < g.cfg.MaxUnacked {
		v.window++
	}
	g.kickLocked() // room for another lease of this identity or network
}

// releaseUnackedLocked drops a lease from its identity's and network's
// unacknowledged counts.
func (g *Grid) releaseUnackedLocked(l *lease) {
	l.s.vol.unacked = max(l.s.vol.unacked-1, 0)
	if n := g.nets[l.s.net]; n != nil {
		n.leases = max(n.leases-1, 0)
	}
}

func (g *Grid) removeLeaseLocked(l *lease) {
	if _, ok := g.leases[l.id]; !ok {
		return
	}
	if l.acked.IsZero() {
		g.releaseUnackedLocked(l)
	}
	delete(g.leases, l.id)
	delete(l.s.leases, l.id)
	if l.check != nil {
		return
	}
	c := l.c
	c.leases = slices.DeleteFunc(c.leases, func(x *lease) bool { return x == l })
	if len(c.leases) == 0 {
		delete(c.a.inflight, c)
	}
	if c.single == l.s.vol && len(c.results) == 0 {
		c.single = nil
	}
}

func (g *Grid) cancelLeaseLocked(l *lease, reason string) {
	g.removeLeaseLocked(l)
	g.metrics.LeasesReleased.Inc()
	l.s.sendLocked(&protocol.Message{Type: protocol.TypeCancel, LeaseID: l.id, Reason: reason}, nil)
}

// expireLocked ends a lease that ran out of time: the volunteer is told,
// counted as failed, and the chunk offered to someone else.
func (g *Grid) expireLocked(l *lease, reason string) {
	g.metrics.LeasesExpired.Inc()
	v := l.s.vol
	v.rec.Failed++
	v.dirty = true
	g.removeLeaseLocked(l)
	l.s.sendLocked(&protocol.Message{Type: protocol.TypeCancel, LeaseID: l.id, Reason: reason}, nil)
	if l.check == nil {
		g.stalledLocked(l.c)
		g.requeueLocked(l.c)
	}
}

// stalledLocked: a lease of c was overdue or expired. Hoarders come in
// numbers (a thousand fresh identities each holding a chunk), so the
// chunk now goes only to a volunteer with a record or to the auditors,
// never to the next fresh identity in line.
func (g *Grid) stalledLocked(c *chunk) {
	if c.state == chunkOpen && !c.a.gone {
		c.stalled = true
		if c.needs == needNone {
			c.needs = needEstablished
			g.needVoteLocked(c)
		}
	}
}

// leaseTime is the deadline a volunteer gets for a payload of n bytes:
// four times what its measured speed predicts, clamped to MinLease ..
// MaxLease; MinLease before its first measurement.
func (g *Grid) leaseTime(v *volunteer, n int) time.Duration {
	if v.secPerMB == 0 {
		return g.cfg.MinLease
	}
	d := time.Duration(4 * v.secPerMB * float64(n+1) / (1 << 20) * float64(time.Second))
	return min(max(d, g.cfg.MinLease), g.cfg.MaxLease)
}

// reaper expires leases without ack in time, without heartbeat or past
// their deadline, and offers chunks whose leases became overdue again.
func (g *Grid) reaper() {
	defer g.wg.Done()
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-g.stop:
			return
		case <-t.C:
			g.mu.Lock()
			g.reapLocked(g.now())
			g.mu.Unlock()
		}
	}
}

func (g *Grid) reapLocked(now time.Time) {
	for _, l := range g.leases {
		switch {
		case l.acked.IsZero() && now.Sub(l.issued) > g.cfg.AckTimeout:
			l.s.vol.window = 1
			g.expireLocked(l, "lease expired: not acknowledged in time")
		case now.After(l.deadline):
			g.expireLocked(l, "lease expired: deadline passed")
		case !l.acked.IsZero() && now.Sub(l.beat) > 3*g.cfg.Heartbeat:
			g.expireLocked(l, "lease expired: no progress")
		case l.check == nil && g.overdueLocked(l, now) && !l.overdue:
			l.overdue = true
			g.stalledLocked(l.c)
			g.requeueLocked(l.c)
		}
	}
	g.starveLocked(now)
	g.auditorsIdleLocked()
}

// alg is the algorithm a lease runs.
func (l *lease) alg() string {
	if l.check != nil {
		return l.check.alg
	}
	return l.c.a.alg.Name()
}
