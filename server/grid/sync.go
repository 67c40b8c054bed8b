package grid

import (
	"context"
	"errors"

	"github.com/pulsegrid/pulsegrid/algorithms/pipeline"
	"github.com/pulsegrid/pulsegrid/server/store"
)

// Several replicas share one PostgreSQL; one of them, the leader, runs the
// grid. The others serve the portal and the API too, and what they are
// asked to do that concerns the grid they only record (Standby): the
// store tells the leader (store/postgres WatchAnalyses), whose grid then
// catches up with Sync. The use cases (server/app.go) are the same on
// both: they call Start, Cancel and Forget of a Grid or of a Standby.

// Standby is what a replica that does not run the grid does for the use
// cases that involve it: a start is checked and split exactly as Grid.Start
// does (the same refusals, the same chunk count) and recorded running; a
// cancel is recorded. The leader's grid hears of both (Sync) and loads or
// drops the analysis; a delete needs nothing more than the store's.
type Standby struct {
	sp  splitter
	cfg Config
}

// NewStandby returns the Standby of a replica whose grid would have cfg.
func NewStandby(st store.GridStore, reg *pipeline.Registry, cfg Config) *Standby {
	return &Standby{sp: splitter{st, reg, cfg.ChunkSeconds}, cfg: cfg.Effective()}
}

// Start checks and splits a as Grid.Start does and records it, running,
// for the leader to load.
func (s *Standby) Start(ctx context.Context, a store.Analysis) (store.Analysis, error) {
	p, err := s.sp.plan(ctx, a)
	if err != nil {
		return a, err
	}
	return s.sp.store.CreateAnalysis(ctx, p.a)
}

// Cancel records the cancel of an unfinished analysis; the leader drops
// it from its queues when it hears of it.
func (s *Standby) Cancel(ctx context.Context, id int64) error {
	return s.sp.store.CancelAnalysis(ctx, id, CancelReason)
}

// Forget does nothing: the delete that follows reaches the leader.
func (s *Standby) Forget(datasetID, analysisID int64) {}

// Config is the configuration the leader's grid is assumed to have.
func (s *Standby) Config() Config { return s.cfg }

// Sync brings the grid in step with analysis id as the store holds it,
// after another replica or a command wrote it: an unfinished analysis
// the grid does not hold is loaded (started elsewhere, or while no
// replica led), one the store has finished or no longer has is dropped
// (cancelled or deleted elsewhere). One being merged is left to its
// merge. Analyses this grid starts itself are found held (Start holds
// g.starting from the row's creation until then).
func (g *Grid) Sync(ctx context.Context, id int64) error {
	g.starting.Lock()
	sa, err := g.store.Analysis(ctx, id)
	g.starting.Unlock()
	gone := errors.Is(err, store.ErrNotFound)
	if err != nil && !gone {
		return err
	}
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return ErrClosed
	}
	a := g.analyses[id]
	switch {
	case a == nil && !gone && !sa.Finished():
		if _, busy := g.loading[id]; busy {
			g.loading[id] = true
			g.mu.Unlock()
			return nil
		}
		if g.loading == nil {
			g.loading = map[int64]bool{}
		}
		g.loading[id] = false
		g.mu.Unlock()
		err := g.load(ctx, sa)
		g.mu.Lock()
		again := g.loading[id]
		delete(g.loading, id)
		g.mu.Unlock()
		if again && err == nil {
			return g.Sync(ctx, id) // asked again while loading: it may have changed since
		}
		return err
	case a == nil:
	case gone:
		g.dropLocked(a, "analysis deleted")
	case sa.Finished() && !a.finishing:
		g.dropLocked(a, "analysis "+sa.Status)
	}
	g.mu.Unlock()
	return nil
}

// SyncAll is Sync for every analysis the store has unfinished or the grid
// holds: after the notifications may have been missed (the listening
// connection failed, or the grid has just taken over).
func (g *Grid) SyncAll(ctx context.Context) error {
	g.starting.Lock()
	as, err := g.store.UnfinishedAnalyses(ctx)
	g.starting.Unlock()
	if err != nil {
		return err
	}
	ids := map[int64]bool{}
	for _, a := range as {
		ids[a.ID] = true
	}
	g.mu.Lock()
	for id := range g.analyses {
		ids[id] = true
	}
	g.mu.Unlock()
	for id := range ids {
		if err := g.Sync(ctx, id); err != nil {
			return err
		}
	}
	return nil
}
