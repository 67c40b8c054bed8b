package grid

import (
	mrand "math/rand/v2"
	"slices"
)

// Known-answer chunks ("ringers", Golle & Mironov): chunks whose output a
// trusted worker computed or confirmed are kept in a small pool and leased
// again, now and then, to volunteers who have not computed them — neither
// the identity nor anyone of its network. Such a lease carries the same
// fields and payload as any other, so a volunteer cannot tell it from real
// work (unless colluders remember every payload they saw, see
// docs/security.md). A right answer adds to the volunteer's standing; a
// wrong one catches it.

// Ringer pool bounds.
const (
	maxRingers      = 64
	maxRingerBytes  = 16 << 20
	maxRingerSingle = 512 << 10
)

type ringerPool struct {
	items []*check
	bytes int
}

// offer adds a confirmed chunk to the pool, replacing a random one when full.
func (p *ringerPool) offer(k *check) {
	if len(k.payload) == 0 || len(k.payload) > maxRingerSingle {
		return
	}
	r := &check{alg: k.alg, payload: k.payload, digest: k.digest, want: k.want, analysisID: k.analysisID, index: k.index,
		touchedVols: map[string]bool{}, touchedNets: map[string]bool{}}
	for _, id := range k.voters {
		r.touchedVols[id] = true
	}
	for _, id := range k.held {
		r.touchedVols[id] = true
	}
	for _, n := range k.nets {
		r.touchedNets[n] = true
	}
	if len(p.items) >= maxRingers || p.bytes+len(r.payload) > maxRingerBytes {
		if len(p.items) == 0 {
			return
		}
		i := mrand.IntN(len(p.items))
		p.bytes -= len(p.items[i].payload)
		p.items = slices.Delete(p.items, i, i+1)
	}
	p.items = append(p.items, r)
	p.bytes += len(r.payload)
}

// pick returns a ringer s has not computed, nor anyone of its network.
func (p *ringerPool) pick(s *Session) *check {
	if len(p.items) == 0 {
		return nil
	}
	start := mrand.IntN(len(p.items))
	for i := range p.items {
		k := p.items[(start+i)%len(p.items)]
		if s.algs[k.alg] && !k.touchedVols[s.vol.rec.ID] && !k.touchedNets[s.net] {
			return k
		}
	}
	return nil
}

// ringerDueLocked draws whether s's next lease is a known-answer chunk.
func (g *Grid) ringerDueLocked(s *Session) bool {
	if s.vol.local || g.cfg.RingerRate <= 0 || len(g.ringers.items) == 0 {
		return false
	}
	p := g.cfg.RingerRate
	if g.trustedLocked(s.vol) {
		p /= 4
	}
	return g.rand() < p
}

// offerChunkLocked adds a chunk a trusted worker voted for to the ringers.
func (g *Grid) offerChunkLocked(c *chunk, gr *group) {
	if c.payload.Len() > maxRingerSingle {
		return
	}
	body, err := c.payload.Bytes()
	if err != nil {
		return
	}
	g.ringers.offer(&check{alg: c.a.alg.Name(), payload: body, digest: c.digest, want: c.outDig, analysisID: c.a.id,
		index: c.spec.Index, voters: c.voters, nets: gr.netList(), held: heldList(c)})
}

// heldList is the ids of every identity leased c.
func heldList(c *chunk) []string {
	out := make([]string, 0, len(c.held))
	for id := range c.held {
		out = append(out, id)
	}
	return out
}

func (gr *group) netList() []string {
	out := make([]string, 0, len(gr.nets))
	for n := range gr.nets {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}
