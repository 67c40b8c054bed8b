package grid

// ProgressDetail is what the chunks of one running analysis are doing now,
// read from the grid's memory: the progress page and the API show it so
// that an analysis which does not move says why.
type ProgressDetail struct {
	// Total and Verified count the analysis's chunks.
	Total, Verified int
	// Queued chunks have no lease and no result: they wait for any volunteer.
	Queued int
	// Running chunks are leased to at least one volunteer now.
	Running int
	// AwaitingReplica chunks have results, too few for the quorum, and no
	// lease: they wait for a second opinion from another volunteer.
	AwaitingReplica int
	// ReplicaBlocked is true when chunks await a second opinion and none of
	// the connected volunteers may give it (each already ran them, or shares
	// a network with one that did). Checked on a bounded sample: the first
	// few waiting chunks against the first few connected volunteers.
	ReplicaBlocked bool
	// VolunteersWorking counts the distinct volunteers (local workers
	// included) holding a lease on this analysis.
	VolunteersWorking int
	// VolunteersConnected counts the distinct connected volunteers (local
	// workers included) that can run this analysis: they have its algorithm
	// and, for a trusted-only dataset, are enrolled or local.
	VolunteersConnected int
	// Quorum is how many agreeing results from distinct volunteers settle
	// a chunk.
	Quorum int
}

// Bounds of the ReplicaBlocked check, so that a progress poll costs the
// mutex little whatever the size of the grid.
const (
	blockedSampleChunks   = 64
	blockedSampleSessions = 256
)

// ProgressDetail returns what the chunks of a running analysis wait for; ok
// is false when the grid does not hold the analysis (finished, cancelled,
// deleted, or not started on this server).
func (g *Grid) ProgressDetail(id int64) (ProgressDetail, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	a := g.analyses[id]
	if a == nil || a.gone {
		return ProgressDetail{}, false
	}
	d := ProgressDetail{Total: len(a.chunks), Verified: a.verified, Quorum: g.cfg.Quorum}
	working := map[*volunteer]bool{}
	var awaiting []*chunk
	for _, c := range a.chunks {
		if c.state != chunkOpen {
			continue
		}
		switch {
		case len(c.leases) > 0:
			d.Running++
			for _, l := range c.leases {
				if !l.s.vol.auditor {
					working[l.s.vol] = true
				}
			}
		case len(c.results) > 0:
			d.AwaitingReplica++
			if len(awaiting) < blockedSampleChunks {
				awaiting = append(awaiting, c)
			}
		default:
			d.Queued++
		}
	}
	d.VolunteersWorking = len(working)
	connected := map[*volunteer]bool{}
	var able []*Session
	for s := range g.sessions {
		if s.closed || s.vol.auditor || !s.algs[a.alg.Name()] || (a.trustedOnly && !s.vol.local && !s.vol.enrolled) {
			continue
		}
		connected[s.vol] = true
		if len(able) < blockedSampleSessions {
			able = append(able, s)
		}
	}
	d.VolunteersConnected = len(connected)
	if len(awaiting) > 0 {
		d.ReplicaBlocked = true
	sample:
		for _, c := range awaiting {
			for _, s := range able {
				if g.eligibleLocked(c, s) == eligible {
					d.ReplicaBlocked = false
					break sample
				}
			}
		}
	}
	return d, true
}

// Backlog sums what the chunks of every running analysis are doing now
// (Total, Verified, Queued, Running, AwaitingReplica and Quorum; the
// volunteer fields are left 0): the volunteer page shows it so that a
// volunteer can tell "no work" from "my results wait for a second opinion".
func (g *Grid) Backlog() ProgressDetail {
	g.mu.Lock()
	defer g.mu.Unlock()
	d := ProgressDetail{Quorum: g.cfg.Quorum}
	for _, a := range g.analyses {
		if a.gone {
			continue
		}
		d.Total += len(a.chunks)
		d.Verified += a.verified
		for _, c := range a.chunks {
			switch {
			case c.state != chunkOpen:
			case len(c.leases) > 0:
				d.Running++
			case len(c.results) > 0:
				d.AwaitingReplica++
			default:
				d.Queued++
			}
		}
	}
	return d
}
