package grid

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/pulsegrid/pulsegrid/algorithms/pipeline"
	"github.com/pulsegrid/pulsegrid/server/store"
)

func ctxBackground() context.Context { return context.Background() }

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// merge merges a verified analysis and stores its result; a reopen that
// raced with it loads the analysis again.
func (g *Grid) merge(a *analysis, parts []pipeline.Part, digests []string) {
	ctx := context.Background()
	res, err := a.alg.Merge(a.params, parts)
	var body []byte
	if err == nil {
		body, err = json.Marshal(res)
	}
	if err != nil {
		g.log.Error("merge", "analysis", a.id, "err", err)
		g.store.SetAnalysisStatus(ctx, a.id, store.StatusFailed, "merging the verified chunks failed: "+err.Error(), len(a.chunks))
	} else if err := g.store.FinishAnalysis(ctx, a.id, body, res.Summary(), a.revision > 0, digests); errors.Is(err, store.ErrConflict) {
		// A caught volunteer's outputs were withdrawn from the store while
		// this merge ran: verify them again.
		a.reopen = true
	} else if err != nil && !errors.Is(err, store.ErrNotFound) {
		g.log.Error("store result", "analysis", a.id, "err", err)
		return // stays unfinished: merged again after a restart
	} else if err == nil && a.revision > 0 {
		g.store.Audit(ctx, store.AuditEntry{Action: "analysis.revised", Object: "analysis/" + itoa(a.id),
			Detail: fmt.Sprintf("result merged again (revision %d) after chunks were verified again", a.revision)})
	}
	g.mu.Lock()
	g.dropLocked(a, "analysis done")
	reload := a.reopen
	g.mu.Unlock()
	g.log.Info("analysis finished", "analysis", a.id, "chunks", len(parts), "err", err, "reopened", reload)
	if reload {
		if sa, err := g.store.Analysis(ctx, a.id); err == nil && !sa.Finished() {
			if err := g.load(ctx, sa); err != nil {
				g.log.Error("load reopened analysis", "analysis", a.id, "err", err)
			}
		}
	}
}

func (g *Grid) signalFlush() {
	select {
	case g.flushNow <- struct{}{}:
	default:
	}
}

// syncFlush has the flusher write everything queued before the call, run
// what waited for it (verdicts, merges) and then returns: tests wait on it
// instead of polling the store. The flusher is one goroutine, so the batch
// it writes holds every change made before.
func (g *Grid) syncFlush() {
	done := make(chan struct{})
	select {
	case g.flushSync <- done:
		<-done
	case <-g.stop:
	}
}

func (g *Grid) flusher() {
	defer g.wg.Done()
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	// Held pending results are written when due even if nothing else is.
	pt := time.NewTicker(max(g.cfg.PendingDelay/2, g.cfg.FlushInterval, time.Millisecond))
	defer pt.Stop()
	for {
		select {
		case <-g.stop:
			return
		case <-t.C:
			g.sampleHistory()
			g.saveHistory()
			g.saveVolunteers(false)
		case <-pt.C:
			g.mu.Lock()
			due := len(g.pends) > 0 && !g.pends[0].at.After(g.now().Add(-g.cfg.PendingDelay))
			g.mu.Unlock()
			if due {
				g.flush(false)
			}
		case <-g.flushNow:
			// Gather a batch: under load many chunks verify within one interval.
			time.Sleep(g.cfg.FlushInterval)
			g.flush(false)
		case done := <-g.flushSync:
			g.flush(false)
			close(done)
		}
	}
}

// flush writes pending changes in one transaction, then runs what waited for
// them (verdicts, merges, status changes). Results that wait for a quorum
// go with them once held for PendingDelay, or all of them (at Close).
func (g *Grid) flush(allPends bool) {
	g.mu.Lock()
	g.duePendsLocked(allPends)
	ws, after, verdicts := g.pending, g.after, g.verdicts
	g.pending, g.after, g.verdicts = nil, nil, nil
	g.mu.Unlock()
	if len(ws) > 0 {
		for {
			err := g.store.ApplyGridWrites(context.Background(), ws)
			if err == nil {
				break
			}
			g.log.Error("store verified chunks; retrying", "err", err, "writes", len(ws))
			select {
			case <-time.After(time.Second):
			case <-g.stop:
				return
			}
		}
	}
	if len(verdicts) > 0 {
		g.mu.Lock()
		for _, v := range verdicts {
			v.s.sendLocked(v.m, nil)
		}
		g.mu.Unlock()
	}
	for _, f := range after {
		f()
	}
}

func (g *Grid) saveVolunteers(all bool) {
	g.mu.Lock()
	var vs []store.Volunteer
	for _, v := range g.vols {
		if !v.local && (v.dirty || all) {
			vs = append(vs, v.rec)
			v.dirty = false
		}
		if !v.local && v.conns == 0 {
			g.awayLocked(v) // saved above: kept only while its results wait
		}
	}
	g.forgetAwayLocked()
	g.mu.Unlock()
	if len(vs) > 0 {
		if err := g.store.SaveVolunteers(context.Background(), vs); err != nil {
			g.log.Error("save volunteers", "err", err)
		}
	}
}
