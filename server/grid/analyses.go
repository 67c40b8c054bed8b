package grid

import (
	"context"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"strings"

	"github.com/pulsegrid/pulsegrid/algorithms/canon"
	"github.com/pulsegrid/pulsegrid/algorithms/pipeline"
	"github.com/pulsegrid/pulsegrid/algorithms/signal"
	"github.com/pulsegrid/pulsegrid/server/store"
)

// Start splits an analysis, records it (status running, every chunk
// counted) and returns; its chunks are queued as their payloads are
// encoded (encodeChunks). a carries dataset, owner, algorithm, canonical
// params and priority; the stored analysis is returned.
func (g *Grid) Start(ctx context.Context, a store.Analysis) (store.Analysis, error) {
	p, err := g.splitter().plan(ctx, a)
	if err != nil {
		return a, err
	}
	an, err := g.prepareAnalysis(p.alg, p.chunks)
	if err != nil {
		return a, err
	}
	// A Sync that hears of this analysis (PostgreSQL tells every replica,
	// this one included) waits until it is held here (sync.go).
	g.starting.RLock()
	defer g.starting.RUnlock()
	a, err = g.store.CreateAnalysis(ctx, p.a)
	if err != nil {
		an.spill.Close()
		return a, err
	}
	// The payloads are encoded after the answer, each chunk queued as soon
	// as its own is ready (encodeChunks): the first leases go out while
	// the last chunks are encoded, instead of after all of them.
	_, err = g.holdEncoding(an, a, p.ds.TrustedOnly, p.chunks, nil, nil, nil)
	return a, err // held already (sync.go) is no error
}

// holdEncoding holds an analysis (add) whose payloads encodeChunks then
// encodes in the background, and reports whether it was held (false: the
// grid holds it already).
func (g *Grid) holdEncoding(an *analysis, sa store.Analysis, trustedOnly bool, chunks []pipeline.Chunk, verified []store.ChunkOutput, pending []store.PendingResult, recs map[string]store.Volunteer) (bool, error) {
	g.mu.Lock()
	closed := g.closed
	if !closed {
		an.encoding, an.queued = true, make(chan struct{})
		g.encoders.Add(1)
	}
	g.mu.Unlock()
	if closed {
		an.spill.Close()
		return false, ErrClosed
	}
	if !g.add(an, sa, trustedOnly, verified, pending, recs) {
		close(an.queued)
		g.encoders.Done()
		return false, nil
	}
	go g.encodeChunks(an, chunks)
	return true, nil
}

// encodeChunks encodes the payloads of an analysis that Start or load
// queued without them, in a shuffled order (a volunteer never gets a
// recording's chunks in sequence), and queues each open chunk as soon as
// its payload is kept. A reloaded analysis's chunks verified before come
// last: only a reopen needs theirs. Chunks encoded already (load encodes
// those with restored results first) are skipped. Until it has encoded
// them all the analysis holds the split signal. A payload that cannot be
// kept (the spill's disk is full) fails the analysis.
func (g *Grid) encodeChunks(a *analysis, chunks []pipeline.Chunk) {
	defer g.encoders.Done()
	defer close(a.queued)
	var open, verified []int
	g.mu.Lock()
	if a.gone || g.closed {
		g.mu.Unlock()
		return
	}
	for _, i := range mrand.Perm(len(chunks)) {
		switch c := a.chunks[i]; {
		case c.digest != "":
			if c.state == chunkOpen && !c.entered {
				a.fresh.push(c) // encoded by load, its restored results not counted
			}
		case c.state == chunkVerified:
			verified = append(verified, i)
		default:
			open = append(open, i)
		}
	}
	if len(open)+len(verified) == 0 {
		a.encoding = false
	}
	g.kickLocked()
	g.mu.Unlock()
	order := append(open, verified...)
	for n, i := range order {
		b := chunks[i].Task.Encode()
		err := g.openSpill(a, len(b))
		var p payload
		if err == nil {
			p, err = g.keepPayload(a, b)
		}
		dig := canon.Digest(b)
		chunks[i].Task = pipeline.Task{} // its samples are encoded: let them go
		g.mu.Lock()
		if a.gone || g.closed {
			g.mu.Unlock()
			return
		}
		if err != nil {
			g.failAnalysisLocked(a, "keeping the chunks' payloads failed: "+err.Error())
			g.mu.Unlock()
			return
		}
		c := a.chunks[i]
		c.payload, c.digest = p, dig
		if c.state == chunkOpen && !c.entered {
			a.fresh.push(c) // an open chunk, or one reopened before it was encoded
		}
		a.encoding = n+1 < len(order)
		g.kickLocked()
		g.mu.Unlock()
	}
}

// SplitError is returned by Start when the algorithm cannot cut the dataset
// (wrong kind of signal, too short...): the client's mistake, not the
// server's. It says each thing once: the algorithm, the recording by its
// name (never by id), and why.
type SplitError struct {
	Algorithm string // e.g. "vitals.alarms@1"
	Dataset   string // the recording's name
	// Reason is why, without the algorithm's name, which the algorithms put
	// at the head of their own errors ("vitals.alarms@1: no rule applies…").
	Reason string
	Err    error // the algorithm's error; nil when the grid found the problem
}

// Error implements error: "ALGORITHM cannot run on RECORDING: REASON".
func (e *SplitError) Error() string {
	return e.Algorithm + " cannot run on " + e.Dataset + ": " + e.Reason
}

// Unwrap returns the algorithm's error.
func (e *SplitError) Unwrap() error { return e.Err }

// splitError is the one place an algorithm's refusal becomes a SplitError.
func splitError(alg pipeline.Algorithm, ds store.Dataset, err error) *SplitError {
	return &SplitError{Algorithm: alg.Name(), Dataset: ds.Name, Reason: strings.TrimPrefix(err.Error(), alg.Name()+": "), Err: err}
}

// CanRun says whether alg with params can run on ds, from the channels'
// names, units, rates and sample counts alone (no sample is read), or
// returns the *SplitError that Start would give. Start asks it first, so
// the new-analysis form, which asks it for every algorithm and recording,
// and the server cannot disagree on it. An algorithm that picks its
// channels is asked which (pipeline.ChannelPicker); another is split whole
// on a stand-in with one sample per channel that has any, which fails the
// same way when no channel suits it. When the stand-in cannot tell (the
// algorithm panics on it), CanRun says yes and the real split decides.
func CanRun(alg pipeline.Algorithm, ds store.Dataset, params []byte) (err error) {
	meta := &signal.Signal{}
	for _, c := range ds.Channels {
		meta.Channels = append(meta.Channels, c.Channel())
	}
	if len(meta.Channels) == 0 {
		return &SplitError{Algorithm: alg.Name(), Dataset: ds.Name, Reason: "the recording has no channels"}
	}
	if picker, ok := alg.(pipeline.ChannelPicker); ok {
		if _, err := picker.SplitChannels(meta, params); err != nil {
			return splitError(alg, ds, err)
		}
		return nil
	}
	defer func() {
		if recover() != nil {
			err = nil
		}
	}()
	for i, c := range ds.Channels {
		if c.Samples > 0 {
			meta.Channels[i].Samples = []float64{0}
		}
	}
	if _, err := alg.Split(meta, params, pipeline.SplitOptions{Whole: true}); err != nil {
		return splitError(alg, ds, err)
	}
	return nil
}

// splitter cuts analyses into chunks for the grid, and for a replica
// that runs none (Standby), so that both record the same chunk count and
// refuse a start for the same reasons.
type splitter struct {
	store        store.GridStore
	reg          *pipeline.Registry
	chunkSeconds float64
}

func (g *Grid) splitter() splitter { return splitter{g.store, g.reg, g.cfg.ChunkSeconds} }

func (g *Grid) split(ctx context.Context, alg pipeline.Algorithm, a store.Analysis) ([]pipeline.Chunk, error) {
	return g.splitter().split(ctx, alg, a)
}

// startPlan is an analysis checked and split, ready to be recorded.
type startPlan struct {
	a      store.Analysis // status running, every chunk counted
	alg    pipeline.Algorithm
	ds     store.Dataset
	chunks []pipeline.Chunk
}

// plan checks a start (algorithm, priority, dataset) and splits it.
func (sp splitter) plan(ctx context.Context, a store.Analysis) (startPlan, error) {
	alg, err := sp.reg.Lookup(a.Algorithm)
	if err != nil {
		return startPlan{}, err
	}
	prio, err := ParsePriority(a.Priority)
	if err != nil {
		return startPlan{}, err
	}
	a.Algorithm = alg.Name()
	a.Priority = store.Priorities[prio]
	ds, err := sp.store.Dataset(ctx, a.DatasetID)
	if err != nil {
		return startPlan{}, err
	}
	chunks, err := sp.split(ctx, alg, a)
	if err != nil {
		return startPlan{}, err
	}
	a.Status = store.StatusRunning
	a.ChunksTotal = len(chunks)
	return startPlan{a: a, alg: alg, ds: ds, chunks: chunks}, nil
}

func (sp splitter) split(ctx context.Context, alg pipeline.Algorithm, a store.Analysis) ([]pipeline.Chunk, error) {
	ds, err := sp.store.Dataset(ctx, a.DatasetID)
	if err != nil {
		return nil, err
	}
	if err := CanRun(alg, ds, a.Params); err != nil {
		return nil, err
	}
	sig, err := sp.loadSignal(ctx, alg, a, ds)
	if err != nil {
		return nil, err
	}
	chunks, err := alg.Split(sig, a.Params, pipeline.SplitOptions{ChunkSeconds: sp.chunkSeconds})
	if err != nil {
		return nil, splitError(alg, ds, err)
	}
	if len(chunks) == 0 {
		return nil, &SplitError{Algorithm: alg.Name(), Dataset: ds.Name, Reason: "it made no chunks (is the recording empty?)"}
	}
	// Volunteers never see the recording's channel labels when the
	// algorithm does not need them: Split has chosen the channels (the
	// ECG lead included) here on the server.
	if _, ok := alg.(pipeline.LabelBlind); ok {
		pipeline.UseRoles(chunks)
	}
	return chunks, nil
}

// loadSignal reads the dataset's signal for Split: only the channels the
// algorithm reads when it says which (pipeline.ChannelPicker), so that an
// ECG analysis of a 12-lead 24-hour record loads one lead.
func (sp splitter) loadSignal(ctx context.Context, alg pipeline.Algorithm, a store.Analysis, ds store.Dataset) (*signal.Signal, error) {
	picker, ok := alg.(pipeline.ChannelPicker)
	if !ok {
		return sp.store.DatasetSignal(ctx, a.DatasetID)
	}
	sig := &signal.Signal{}
	for _, c := range ds.Channels {
		sig.Channels = append(sig.Channels, c.Channel())
	}
	picked, err := picker.SplitChannels(sig, a.Params)
	if err != nil {
		return nil, splitError(alg, ds, err)
	}
	for _, i := range picked {
		if i < 0 || i >= len(sig.Channels) {
			return nil, fmt.Errorf("%s picked channel %d of dataset %d, which has %d", alg.Name(), i, a.DatasetID, len(sig.Channels))
		}
		if sig.Channels[i].Samples, err = sp.store.DatasetSamples(ctx, a.DatasetID, i, 0, int64(ds.Channels[i].Samples)); err != nil {
			return nil, err
		}
	}
	return sig, nil
}

// Resume reloads queued and running analyses from the store: verified chunk
// outputs are kept, everything else is leased again. It returns once all
// are held.
func (g *Grid) Resume(ctx context.Context) error {
	as, err := g.unfinished(ctx)
	if err != nil {
		return err
	}
	for _, a := range as {
		if err := g.load(ctx, a); err != nil {
			return err
		}
	}
	return nil
}

// ResumeInBackground is Resume for a server that serves meanwhile (a
// start, a takeover): it returns once the bans are in force, and loads
// the analyses one by one after, the most urgent first, so that the
// first leases go out after one analysis is split instead of all of them
// (a 24 h Holter takes most of a second). Each is loaded through Sync,
// which reads it again: one cancelled or deleted meanwhile is skipped,
// and one a start or a Sync holds already is not loaded twice. A load
// that fails is logged and retried once the others are loaded.
func (g *Grid) ResumeInBackground(ctx context.Context) error {
	as, err := g.unfinished(ctx)
	if err != nil {
		return err
	}
	slices.SortStableFunc(as, func(x, y store.Analysis) int {
		px, _ := ParsePriority(x.Priority)
		py, _ := ParsePriority(y.Priority)
		return px - py // PriorityStat is 0
	})
	g.encoders.Add(1)
	go func() {
		defer g.encoders.Done()
		for round := 0; len(as) > 0 && round < 3; round++ {
			var failed []store.Analysis
			for _, a := range as {
				switch err := g.Sync(ctx, a.ID); {
				case errors.Is(err, ErrClosed) || ctx.Err() != nil:
					return
				case err != nil:
					g.log.Error("load an unfinished analysis", "analysis", a.ID, "err", err)
					failed = append(failed, a)
				}
			}
			as = failed
		}
	}()
	return nil
}

// unfinished puts the stored network bans in force and lists the
// unfinished analyses.
func (g *Grid) unfinished(ctx context.Context) ([]store.Analysis, error) {
	bans, err := g.store.NetworkBans(ctx)
	if err != nil {
		return nil, err
	}
	g.mu.Lock()
	for net, until := range bans {
		g.network(net).banned = until
	}
	g.mu.Unlock()
	return g.store.UnfinishedAnalyses(ctx)
}

// load queues a stored, unfinished analysis again with the chunk outputs
// the store kept (after a restart, or when a caught volunteer reopened it).
func (g *Grid) load(ctx context.Context, a store.Analysis) error {
	alg, err := g.reg.Lookup(a.Algorithm)
	if err != nil {
		g.store.SetAnalysisStatus(ctx, a.ID, store.StatusFailed, "algorithm no longer available: "+err.Error(), a.ChunksTotal)
		return nil
	}
	ds, err := g.store.Dataset(ctx, a.DatasetID)
	if err != nil {
		return err
	}
	chunks, err := g.split(ctx, alg, a)
	if err != nil {
		g.store.SetAnalysisStatus(ctx, a.ID, store.StatusFailed, err.Error(), a.ChunksTotal)
		return nil
	}
	outs, err := g.store.ChunkOutputs(ctx, a.ID)
	if err != nil {
		return err
	}
	pend, recs, err := g.pendingVoters(ctx, a.ID)
	if err != nil {
		return err
	}
	if a.ChunksTotal != len(chunks) {
		g.store.SetAnalysisStatus(ctx, a.ID, store.StatusRunning, "", len(chunks))
	}
	an, err := g.prepareAnalysis(alg, chunks)
	if err != nil {
		return err
	}
	// The chunks with results restored are encoded now: restoring compares
	// each result's task digest with its chunk's. The others are encoded
	// after (encodeChunks), the open ones first, so that a takeover or a
	// restart leases its first chunks before it has encoded the last.
	for _, p := range pend {
		if p.Index < 0 || p.Index >= len(chunks) || an.chunks[p.Index].digest != "" {
			continue
		}
		if err := g.encodeNow(an, chunks, p.Index); err != nil {
			an.spill.Close()
			return err
		}
	}
	if held, err := g.holdEncoding(an, a, ds.TrustedOnly, chunks, outs, pend, recs); !held {
		return err // nil when held already: a reopen and a Sync loaded it at once
	}
	g.log.Info("loaded analysis", "analysis", a.ID, "chunks", len(chunks), "verified", len(outs), "pending", len(pend), "revision", a.Revision)
	return nil
}

// encodeNow encodes chunk i of an analysis no one else sees yet.
func (g *Grid) encodeNow(a *analysis, chunks []pipeline.Chunk, i int) error {
	b := chunks[i].Task.Encode()
	p, err := g.keepPayload(a, b)
	if err != nil {
		return err
	}
	a.chunks[i].payload, a.chunks[i].digest = p, canon.Digest(b)
	chunks[i].Task = pipeline.Task{}
	return nil
}

// keepPayload keeps one chunk's payload in memory or, when large and
// SpillDir is set, in the analysis's spill file.
func (g *Grid) keepPayload(a *analysis, b []byte) (payload, error) {
	if g.cfg.SpillDir == "" || len(b) < g.cfg.SpillBytes {
		return payload{mem: b}, nil
	}
	if a.spill == nil {
		sp, err := newSpill(g.cfg.SpillDir)
		if err != nil {
			return payload{}, err
		}
		a.spill = sp
	}
	return a.spill.add(b)
}

// openSpill opens the spill file of a queued analysis before the first
// payload of n bytes that goes there, under the lock that dropLocked
// closes it under; keepPayload then finds it.
func (g *Grid) openSpill(a *analysis, n int) error {
	if g.cfg.SpillDir == "" || n < g.cfg.SpillBytes || a.spill != nil {
		return nil
	}
	sp, err := newSpill(g.cfg.SpillDir)
	if err != nil {
		return err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if a.gone {
		sp.Close()
		return errors.New("analysis dropped")
	}
	a.spill = sp
	return nil
}

// prepareAnalysis holds an algorithm's chunks without their payloads.
func (g *Grid) prepareAnalysis(alg pipeline.Algorithm, chunks []pipeline.Chunk) (*analysis, error) {
	a := &analysis{alg: alg, inflight: map[*chunk]struct{}{}}
	for i := range chunks {
		a.chunks = append(a.chunks, &chunk{a: a, spec: chunks[i].Spec, held: map[string]bool{}})
	}
	return a, nil
}

// add queues an analysis made by newAnalysis as the stored sa, with the
// chunks already verified before (their voters kept, so that a volunteer
// caught later still reopens them) and the results that waited for more
// (pending.go; recs are their volunteers' records).
//
// It reports false, and holds nothing, when the grid holds the analysis
// already: a reopen and a Sync (sync.go) may load one analysis at once.
func (g *Grid) add(a *analysis, sa store.Analysis, trustedOnly bool, verified []store.ChunkOutput, pending []store.PendingResult, recs map[string]store.Volunteer) bool {
	prio, _ := ParsePriority(sa.Priority)
	a.id, a.owner, a.dataset, a.priority, a.created = sa.ID, sa.OwnerID, sa.DatasetID, prio, sa.CreatedAt
	a.params, a.trustedOnly, a.revision = sa.Params, trustedOnly, sa.Revision
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.analyses[a.id] != nil {
		a.gone = true
		a.spill.Close()
		return false
	}
	for _, o := range verified {
		if o.Index >= 0 && o.Index < len(a.chunks) {
			c := a.chunks[o.Index]
			c.state, c.output, c.outDig = chunkVerified, o.Output, o.Digest
			c.voters = o.Voters
			a.verified++
		}
	}
	g.analyses[a.id] = a
	g.byPrio[prio] = append(g.byPrio[prio], a)
	// Chunks with results restored go to the more queues, which check
	// who may vote on them; the others are fresh, in shuffled order: a
	// volunteer never gets a recording's chunks in sequence. While
	// encodeChunks runs it queues them itself.
	g.restoreLocked(a, pending, recs)
	for _, c := range a.chunks {
		if c.state == chunkOpen && !c.entered && !a.encoding {
			a.fresh.push(c)
		}
	}
	mrand.Shuffle(len(a.fresh.items), func(i, j int) { a.fresh.items[i], a.fresh.items[j] = a.fresh.items[j], a.fresh.items[i] })
	g.hist.sample(g.now(), g.statsLocked()) // a short analysis may come and go between two ticks
	if a.verified == len(a.chunks) {
		g.finishLocked(a)
		return true
	}
	g.kickLocked()
	return true
}

// Cancel stops an analysis: its leases are cancelled and it is marked
// cancelled. Finished analyses are left as they are.
func (g *Grid) Cancel(ctx context.Context, id int64) error {
	g.mu.Lock()
	a := g.analyses[id]
	if a != nil && a.finishing {
		g.mu.Unlock()
		return fmt.Errorf("analysis %d is being merged: %w", id, store.ErrConflict)
	}
	if a != nil {
		g.dropLocked(a, "analysis cancelled")
	}
	g.mu.Unlock()
	return g.store.CancelAnalysis(ctx, id, CancelReason)
}

// CancelReason is the error text of an analysis its owner cancelled.
const CancelReason = "cancelled at the owner's request"

// Forget drops every analysis of a dataset (or one analysis, datasetID 0)
// from the queues before the store deletes them.
func (g *Grid) Forget(datasetID, analysisID int64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, a := range g.analyses {
		if (datasetID != 0 && a.dataset == datasetID) || (analysisID != 0 && a.id == analysisID) {
			g.dropLocked(a, "analysis deleted")
		}
	}
}

// dropLocked removes an analysis from the queues and cancels its leases.
func (g *Grid) dropLocked(a *analysis, reason string) {
	if a.gone {
		return
	}
	a.gone = true
	a.spill.Close()
	delete(g.analyses, a.id)
	g.byPrio[a.priority] = slices.DeleteFunc(g.byPrio[a.priority], func(x *analysis) bool { return x == a })
	for c := range a.inflight {
		for _, l := range slices.Clone(c.leases) {
			g.cancelLeaseLocked(l, reason)
		}
	}
	a.fresh, a.more, a.moreEst = queue{}, queue{}, queue{}
	for s := range g.sessions {
		delete(s.cursors, &a.more)
		delete(s.cursors, &a.moreEst)
	}
}

// Progress returns chunks verified and total of a running analysis from
// memory (fresher than the store's batched count); ok is false otherwise.
func (g *Grid) Progress(id int64) (verified, total int, ok bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	a := g.analyses[id]
	if a == nil {
		return 0, 0, false
	}
	return a.verified, len(a.chunks), true
}

func (g *Grid) queueDepth(prio int) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for _, a := range g.byPrio[prio] {
		n += len(a.chunks) - a.verified
	}
	return n
}

// Stats is a snapshot of the grid for dashboards.
type Stats struct {
	Volunteers     int `json:"volunteers"`
	LocalWorkers   int `json:"local_workers"`
	Auditors       int `json:"auditors"`
	ActiveLeases   int `json:"active_leases"`
	Analyses       int `json:"analyses_running"`
	ChunksQueued   int `json:"chunks_unverified"`
	TrustedVolunts int `json:"trusted_volunteers"`
}

// Stats returns a snapshot of the grid.
func (g *Grid) Stats() Stats {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.statsLocked()
}

func (g *Grid) statsLocked() Stats {
	st := Stats{ActiveLeases: len(g.leases), Analyses: len(g.analyses)}
	for s := range g.sessions {
		if s.vol.auditor {
			st.Auditors++
		} else if s.vol.local {
			st.LocalWorkers++
		} else {
			st.Volunteers++
		}
	}
	for _, v := range g.vols {
		if !v.local && g.trustedLocked(v) {
			st.TrustedVolunts++
		}
	}
	for _, a := range g.analyses {
		st.ChunksQueued += len(a.chunks) - a.verified
	}
	return st
}

// OnlineVolunteers returns the standing of every connected volunteer and
// local worker as the grid holds it in memory (fresher than the store,
// which the flusher updates every few seconds), without secret hashes.
func (g *Grid) OnlineVolunteers() []store.Volunteer {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]store.Volunteer, 0, len(g.vols))
	for _, v := range g.vols {
		if v.auditor {
			continue
		}
		rec := v.rec
		out = append(out, rec)
	}
	slices.SortFunc(out, func(a, b store.Volunteer) int { return strings.Compare(a.ID, b.ID) })
	return out
}
