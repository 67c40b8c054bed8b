package grid

import (
	"time"
)

// Scheduling: stat before urgent before routine; within a priority the
// owner served least recently first (fair share), then a recording other
// than the one the volunteer saw last (interleaving), then the oldest
// analysis. Within an analysis, second opinions (the more queue) before
// chunks nobody has seen (the fresh queue), so that chunks settle soon
// after their first result. When no chunk wants a lease, an idle volunteer
// gets an extra replica of one in flight (end game), so that a slow or
// hoarding volunteer does not set the finish time.
//
// Finding work takes bounded time wherever it is in a queue: the fresh
// queue's head is always eligible; a chunk that waits for an established
// vote sits in a queue of its own (moreEst), which fresh identities never
// scan, so a thousand of them asking for work do not each walk past it;
// and each session keeps a cursor into each more queue past the entries
// it can never take (chunks it held, dead entries), so those are skipped
// once, not at every request.

// maxScan bounds the entries one pick looks at in a more queue beyond the
// session's cursor (entries it cannot take for now, such as chunks a
// neighbour holds).
const maxScan = 4096

// maxEndGameScan bounds the in-flight chunks one end-game pick looks at:
// an extra replica is an optimisation, and every idle volunteer asks.
const maxEndGameScan = 256

// qentry is one place of a chunk in a queue; in a more queue it is live
// while seq equals the chunk's qseq and the chunk is marked inMore.
type qentry struct {
	c   *chunk
	seq uint32
}

// queue is a FIFO of chunks, cheap to pop at the front, whose positions
// are absolute (base counts the entries dropped from the front).
type queue struct {
	items []qentry
	head  int
	base  int
}

func (q *queue) push(c *chunk) { q.items = append(q.items, qentry{c, c.qseq}) }

func (q *queue) len() int { return len(q.items) - q.head }

// pos is the absolute position of the entry at index i.
func (q *queue) pos(i int) int { return q.base + i }

// index is the index of absolute position p (clamped to the head).
func (q *queue) index(p int) int { return max(p-q.base, q.head) }

func (q *queue) pop() {
	q.items[q.head] = qentry{}
	q.head++
	if q.head > 1024 && q.head > len(q.items)/2 {
		q.base += q.head
		q.items = append(q.items[:0:0], q.items[q.head:]...)
		q.head = 0
	}
}

// dispatchLocked hands leases to s while it has credits, room and work.
func (g *Grid) dispatchLocked(s *Session) bool {
	got := false
	if s.closed {
		// Dropped while its message was handled (a verdict that did not
		// fit): its network's entry may be gone with it.
		return false
	}
	if g.bannedLocked(s) {
		g.fedLocked(s)
		return false
	}
	for s.credits > 0 && !s.closed && !g.closed && g.roomLocked(s) {
		if g.ringerDueLocked(s) {
			if k := g.ringers.pick(s); k != nil {
				g.issueCheckLocked(s, k)
				got = true
				continue
			}
		}
		c := g.pickLocked(s)
		if c == nil && s.vol.local {
			if k := g.pickCheckLocked(s); k != nil {
				g.issueCheckLocked(s, k)
				got = true
				continue
			}
		}
		if c == nil {
			g.hungryLocked(s)
			return got
		}
		g.issueLocked(s, c)
		got = true
	}
	if s.credits == 0 || s.closed {
		g.fedLocked(s)
	} else {
		g.hungryLocked(s) // waits for room (an ack) or work
	}
	return got
}

// roomLocked: s may take another lease now. Unacknowledged leases are
// capped per identity and per network, so that connections which never
// ack cannot take a queue hostage; in-process workers are not capped.
// An identity's own cap starts at 2 and grows by one with each ack (slow
// start): one that lets an ack time out is back to one lease in flight.
func (g *Grid) roomLocked(s *Session) bool {
	if s.vol.local {
		return true
	}
	return s.vol.unacked < min(s.vol.window, g.cfg.MaxUnacked) && g.nets[s.net].leases < 4*g.cfg.MaxUnacked
}

// kickLocked offers work to idle sessions, after work appeared or room
// was freed. It stops after a few sessions found nothing, so one event
// costs bounded time however many volunteers wait.
func (g *Grid) kickLocked() {
	// Established volunteers first: work that waits for them (a stalled
	// chunk, a fresh group's agreement) must not be lost behind a crowd of
	// fresh identities that cannot take it.
	for _, set := range []map[*Session]struct{}{g.hungryEst, g.hungry} {
		misses := 0
		for s := range set {
			if !g.dispatchLocked(s) {
				misses++
				if misses >= 16 {
					break
				}
			}
		}
	}
}

// hungryLocked marks s as waiting for work or room.
func (g *Grid) hungryLocked(s *Session) {
	g.hungry[s] = struct{}{}
	if g.establishedLocked(s.vol) {
		g.hungryEst[s] = struct{}{}
	}
}

// fedLocked: s waits for nothing (no credits, closed or banned).
func (g *Grid) fedLocked(s *Session) {
	delete(g.hungry, s)
	delete(g.hungryEst, s)
}

// pickLocked chooses the next chunk for s, or nil. Trusted workers first
// settle chunks that wait for their vote; auditors take nothing else.
func (g *Grid) pickLocked(s *Session) *chunk {
	if s.vol.local {
		if c := g.needPickLocked(s); c != nil || s.vol.auditor {
			return c
		}
	}
	est := s.vol.local || g.establishedLocked(s.vol)
	for p := range g.byPrio {
		list := g.byPrio[p]
		tried := map[*analysis]bool{}
		for len(tried) < len(list) {
			var best *analysis
			for _, a := range list {
				if tried[a] || !g.mayRunLocked(a, s) || a.fresh.len()+a.more.len()+a.moreEst.len() == 0 {
					continue
				}
				if best == nil || g.before(a, best, s) {
					best = a
				}
			}
			if best == nil {
				break
			}
			if est && best.moreEst.len() > 0 {
				if c := g.moreLocked(&best.moreEst, s); c != nil {
					return c
				}
			}
			if c := g.moreLocked(&best.more, s); c != nil {
				return c
			}
			if c := g.freshLocked(best); c != nil {
				return c
			}
			tried[best] = true
		}
	}
	return g.endGameLocked(s)
}

// mayRunLocked: s runs a's algorithm and may see its data.
func (g *Grid) mayRunLocked(a *analysis, s *Session) bool {
	return !a.gone && s.algs[a.alg.Name()] && (!a.trustedOnly || s.vol.local || s.vol.enrolled)
}

func (g *Grid) before(a, b *analysis, s *Session) bool {
	if sa, sb := g.owners[a.owner], g.owners[b.owner]; sa != sb {
		return sa < sb
	}
	if (a.dataset == s.lastDataset) != (b.dataset == s.lastDataset) {
		return b.dataset == s.lastDataset
	}
	if !a.created.Equal(b.created) {
		return a.created.Before(b.created)
	}
	return a.id < b.id
}

// freshLocked pops a chunk nobody has been leased yet.
func (g *Grid) freshLocked(a *analysis) *chunk {
	q := &a.fresh
	for q.len() > 0 {
		c := q.items[q.head].c
		if c.state == chunkOpen && !c.entered && g.needsLeaseLocked(c) {
			return c
		}
		q.pop()
	}
	return nil
}

// moreLocked finds a chunk of the more queue q that s may take.
func (g *Grid) moreLocked(q *queue, s *Session) *chunk {
	// Drop dead entries at the front.
	for q.len() > 0 && !g.liveEntryLocked(q, q.items[q.head]) {
		q.pop()
	}
	i := q.index(s.cursors[q])
	advancing := true
	for scanned := 0; i < len(q.items) && scanned < maxScan; i, scanned = i+1, scanned+1 {
		g.scanned++
		e := q.items[i]
		if !g.liveEntryLocked(q, e) {
			if advancing {
				s.cursors[q] = q.pos(i + 1)
			}
			continue
		}
		switch g.eligibleLocked(e.c, s) {
		case eligible:
			return e.c
		case never:
			if advancing {
				s.cursors[q] = q.pos(i + 1)
			}
		default:
			advancing = false
		}
	}
	return nil
}

// liveEntryLocked: e is its chunk's current place in a more queue (q) and
// the chunk still wants a lease. An entry found dead stays dead: a chunk
// that wants a lease again gets a new entry (offerLocked). A chunk whose
// need changed since it was queued moves to the queue for that need.
func (g *Grid) liveEntryLocked(q *queue, e qentry) bool {
	c := e.c
	if e.seq != c.qseq || !c.inMore || (q == &c.a.moreEst) != c.inEst {
		return false
	}
	if c.state != chunkOpen || c.a.gone || !g.needsLeaseLocked(c) {
		c.inMore = false
		return false
	}
	if c.needs == needTrusted || (c.needs == needEstablished) != c.inEst {
		g.offerLocked(c)
		return false
	}
	return true
}

// offerLocked gives c a live entry in the more queue for what it waits
// for, unless it has one there already: moreEst when only an established
// volunteer may vote next, none when only a trusted worker may (those
// find it in the need queue).
func (g *Grid) offerLocked(c *chunk) {
	if c.needs == needTrusted {
		c.inMore = false
		return
	}
	est := c.needs == needEstablished
	if c.inMore && c.inEst == est {
		return
	}
	c.qseq++
	c.inMore, c.inEst = true, est
	if est {
		c.a.moreEst.push(c)
	} else {
		c.a.more.push(c)
	}
}

type eligibility uint8

const (
	eligible eligibility = iota
	notNow               // a neighbour holds it, or it waits for an established vote
	never                // s's volunteer held it or its network voted on it
)

// eligibleLocked: s may run c if its identity never held it, no result or
// live lease of c comes from s's network (unless AllowSameNetwork), and,
// when c waits for an established vote, s can give one.
func (g *Grid) eligibleLocked(c *chunk, s *Session) eligibility {
	if c.held[s.vol.rec.ID] {
		return never
	}
	if !g.cfg.AllowSameNetwork {
		for _, r := range c.results {
			if r.net == s.net {
				return never
			}
		}
		for _, l := range c.leases {
			if l.s.net == s.net {
				return notNow
			}
		}
	}
	if c.needs == needTrusted && !s.vol.local {
		return notNow
	}
	if c.needs == needEstablished && !g.establishedLocked(s.vol) {
		return notNow
	}
	return eligible
}

// endGameLocked finds an in-flight chunk for an idle volunteer: one extra
// replica beyond what the chunk wants.
func (g *Grid) endGameLocked(s *Session) *chunk {
	now := g.now()
	for p := range g.byPrio {
		for _, a := range g.byPrio[p] {
			if !g.mayRunLocked(a, s) || a.fresh.len() > 0 {
				continue
			}
			n := 0
			for c := range a.inflight { // map order: a different sample each time
				if n++; n > maxEndGameScan {
					break
				}
				g.scanned++
				if c.state == chunkOpen && g.liveLeasesLocked(c, now)+len(c.results) <= g.targetLocked(c) && len(c.leases)+len(c.results) < g.cfg.MaxReplicas+2 &&
					g.eligibleLocked(c, s) == eligible {
					return c
				}
			}
		}
	}
	return nil
}

// overdueLocked: a lease has taken much longer than the analysis's chunks
// typically take. It stops counting towards its chunk's replicas, so the
// chunk is offered again (a hoarder cannot hold it until its deadline).
func (g *Grid) overdueLocked(l *lease, now time.Time) bool {
	limit := max(4*l.c.a.chunkTime, time.Second)
	if l.acked.IsZero() {
		// An honest volunteer acks on receipt: a second without one is
		// enough to offer the chunk to someone else (the lease lives on).
		limit = min(g.cfg.AckTimeout, time.Second)
	}
	return now.Sub(l.issued) > limit
}

func (g *Grid) liveLeasesLocked(c *chunk, now time.Time) int {
	n := 0
	for _, l := range c.leases {
		if !g.overdueLocked(l, now) {
			n++
		}
	}
	return n
}

// targetLocked is how many results (counting live leases) the chunk wants now.
func (g *Grid) targetLocked(c *chunk) int {
	if len(c.results) > 0 {
		// best is the largest agreeing group; a handful of results, so
		// counting pairs beats allocating a map on this hot path.
		best, split := 0, false
		for _, r := range c.results {
			n := 0
			for _, o := range c.results {
				if o.digest == r.digest {
					n++
				}
			}
			best = max(best, n)
			split = split || r.digest != c.results[0].digest
		}
		if split || c.needs != needNone {
			return min(len(c.results)+max(g.cfg.Quorum-best, 1), g.cfg.MaxReplicas+1)
		}
	}
	if c.single != nil {
		return 1
	}
	return g.cfg.Quorum
}

func (g *Grid) needsLeaseLocked(c *chunk) bool {
	return c.state == chunkOpen && g.liveLeasesLocked(c, g.now())+len(c.results) < g.targetLocked(c)
}

// requeueLocked offers a chunk that wants another lease again, and wakes
// idle volunteers that might take it.
func (g *Grid) requeueLocked(c *chunk) {
	if c.a.gone || c.state != chunkOpen || !g.needsLeaseLocked(c) {
		return
	}
	if !c.entered {
		g.kickLocked() // still in the fresh queue
		return
	}
	g.offerLocked(c)
	g.kickLocked()
}
