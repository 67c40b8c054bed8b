package grid

import "time"

// Second opinions nobody connected can give. At quorum 2 a chunk's first
// result waits for a volunteer of another network that has not computed
// it. When every connected volunteer computed it or shares its network
// (two volunteers on one machine, or one alone), it would wait for ever;
// after ReplicaPatience the auditors (the server's own trusted workers)
// are asked too, and their result settles it: a wrong first result is
// then caught, not accepted. Volunteers of another network may still vote
// on it meanwhile.

// waitingChunk is a chunk at its first result and when it got it.
type waitingChunk struct {
	c     *chunk
	since time.Time
}

// waitingLocked notes that c waits for a second opinion from now.
func (g *Grid) waitingLocked(c *chunk) {
	if g.cfg.ReplicaPatience > 0 && !c.starved {
		g.waiting = append(g.waiting, waitingChunk{c, g.now()})
	}
}

// starveLocked asks the auditors for the chunks that waited
// ReplicaPatience with no connected volunteer able to vote. One that
// someone could still take waits another ReplicaPatience. The queue is
// in time order, so a call looks only at the chunks that are due.
func (g *Grid) starveLocked(now time.Time) {
	n := 0
	for n < len(g.waiting) && now.Sub(g.waiting[n].since) >= g.cfg.ReplicaPatience {
		n++
	}
	if n == 0 {
		return
	}
	// The rest stays where it is (appends reallocate the slice from time
	// to time, which drops the front): no copy of the whole queue per tick.
	due := g.waiting[:n:n]
	g.waiting = g.waiting[n:]
	for _, w := range due {
		c := w.c
		if c.state != chunkOpen || c.a.gone || c.starved || c.needs != needNone || len(c.results) == 0 || len(c.leases) > 0 {
			continue // settled, in need already, or being computed
		}
		if g.someoneMayVoteLocked(c) {
			g.waiting = append(g.waiting, waitingChunk{c, now})
			continue
		}
		c.starved = true
		c.single = nil
		c.needs = needTieBreak
		g.metrics.ReplicasStarved.Inc()
		g.needVoteLocked(c)
	}
}

// someoneMayVoteLocked: a volunteer other than the trusted workers, busy
// with other leases, could be leased c once its own work is done. One
// that holds nothing is not waited for: if it asked, it would have been
// given c, and connections that never ask (idle, or an attacker's) must
// not keep a chunk from the auditors.
func (g *Grid) someoneMayVoteLocked(c *chunk) bool {
	for s := range g.sessions {
		if !s.vol.local && !s.closed && len(s.leases) > 0 && g.mayRunLocked(c.a, s) && g.eligibleLocked(c, s) != never {
			return true
		}
	}
	return false
}
