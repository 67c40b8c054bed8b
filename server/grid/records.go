package grid

import "github.com/pulsegrid/pulsegrid/server/store"

// One record per volunteer identity. g.vols holds the records of the
// connected volunteers and of those whose changes are not saved yet; a
// result outlives its connection, so a volunteer that left with results
// still waiting keeps its record in g.away until they are settled. Its
// verdicts then land on that one record, and so does its next
// connection: were the record dropped, a verdict would credit it as it
// was when dropped and save it over what the store learnt since (the
// credit of a later connection, a reputation cap), and a reconnection
// would load a second record beside it.

// recordLocked is the in-memory record of an identity, back in g.vols if
// it was away; nil when memory holds none.
func (g *Grid) recordLocked(id string) *volunteer {
	if v := g.vols[id]; v != nil {
		return v
	}
	if v := g.away[id]; v != nil {
		delete(g.away, id)
		g.vols[id] = v
		return v
	}
	return nil
}

// backLocked is the away record of a volunteer that connects again, with
// the store's record rec: memory has its latest counters, and whichever
// of the two is stricter on standing and suspension counts.
func (g *Grid) backLocked(rec store.Volunteer) *volunteer {
	v := g.recordLocked(rec.ID)
	if v == nil {
		return nil
	}
	v.rec.Reputation = min(v.rec.Reputation, rec.Reputation)
	v.rec.BannedUntil = later(v.rec.BannedUntil, rec.BannedUntil)
	return v
}

// awayLocked moves the record of a volunteer with no connection left out
// of g.vols (the caller saves it).
func (g *Grid) awayLocked(v *volunteer) {
	delete(g.vols, v.rec.ID)
	g.away[v.rec.ID] = v
}

// forgetAwayLocked lets go of the away records no waiting result holds.
func (g *Grid) forgetAwayLocked() {
	if len(g.away) == 0 {
		return
	}
	held := map[*volunteer]bool{}
	for _, a := range g.analyses {
		for _, c := range a.chunks {
			if c.state != chunkOpen {
				continue
			}
			for _, r := range c.results {
				held[r.vol] = true
			}
		}
	}
	for id, v := range g.away {
		if !held[v] {
			delete(g.away, id)
		}
	}
}
