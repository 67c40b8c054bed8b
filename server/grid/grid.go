// Package grid is the coordinator: it splits analyses into chunks, leases
// them to volunteers, verifies results by redundant execution, keeps
// volunteers' reputation and merges verified outputs into results.
//
// All scheduling state lives in memory behind one mutex (the queues are
// rebuilt from the store at start); the store receives batched writes from
// one flusher goroutine. The grid knows nothing of websockets: a transport
// hands it protocol messages through a Session and receives messages
// through a Sender.
package grid

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pulsegrid/pulsegrid/algorithms/canon"
	"github.com/pulsegrid/pulsegrid/algorithms/pipeline"
	"github.com/pulsegrid/pulsegrid/algorithms/signal"
	"github.com/pulsegrid/pulsegrid/protocol"
	"github.com/pulsegrid/pulsegrid/server/auth"
	"github.com/pulsegrid/pulsegrid/server/store"
)

// Config tunes the grid. Zero values take the defaults noted.
type Config struct {
	// Quorum is how many distinct volunteers must return equal outputs (2).
	Quorum int
	// MaxReplicas caps the results gathered for one chunk before it fails
	// for want of agreement (Quorum+3).
	MaxReplicas int
	// TrustAfter is the number of consecutive validated results from which a
	// volunteer runs work at quorum 1 (10).
	TrustAfter int
	// SpotCheck is the probability that trusted work is replicated anyway (0.1).
	SpotCheck float64
	// AckTimeout is how long a lease may wait for its ack (5s).
	AckTimeout time.Duration
	// Heartbeat is how often a volunteer reports progress while running (5s);
	// a lease without a heartbeat for 3 of them expires.
	Heartbeat time.Duration
	// MinLease and MaxLease clamp a lease's deadline (30s, 10m).
	MinLease, MaxLease time.Duration
	// AllowSameIP lets agreeing results come from one non-loopback IP address
	// (for a hospital behind one NAT). Loopback is always exempt.
	AllowSameIP bool
	// ChunkSeconds overrides the algorithms' chunk length (0: their default).
	ChunkSeconds float64
	// FlushInterval is the longest a verified chunk waits for its batched write (10ms).
	FlushInterval time.Duration
	// SpillDir, if set, is where payloads of SpillBytes or more wait for
	// their leases, instead of the heap (payload.go).
	SpillDir string
	// SpillBytes is the smallest payload spilled (64 KiB).
	SpillBytes int
	// Logger receives the grid's log; nil discards it.
	Logger *slog.Logger
	// Metrics registers the grid's series; nil registers none.
	Metrics prometheus.Registerer
}

func (c *Config) defaults() {
	if c.Quorum <= 0 {
		c.Quorum = 2
	}
	if c.MaxReplicas <= 0 {
		c.MaxReplicas = c.Quorum + 3
	}
	if c.MaxReplicas < c.Quorum {
		c.MaxReplicas = c.Quorum
	}
	if c.TrustAfter <= 0 {
		c.TrustAfter = 10
	}
	if c.SpotCheck == 0 {
		c.SpotCheck = 0.1
	}
	if c.AckTimeout <= 0 {
		c.AckTimeout = 5 * time.Second
	}
	if c.Heartbeat <= 0 {
		c.Heartbeat = 5 * time.Second
	}
	if c.MinLease <= 0 {
		c.MinLease = 30 * time.Second
	}
	if c.MaxLease <= 0 {
		c.MaxLease = 10 * time.Minute
	}
	if c.FlushInterval <= 0 {
		c.FlushInterval = 10 * time.Millisecond
	}
	if c.SpillBytes <= 0 {
		c.SpillBytes = 64 << 10
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Priorities in scheduling order.
const (
	PriorityStat = iota
	PriorityUrgent
	PriorityRoutine
)

var priorityNames = []string{"stat", "urgent", "routine"}

// ParsePriority maps "stat", "urgent", "routine" (or "") to a priority.
func ParsePriority(s string) (int, error) {
	if s == "" {
		return PriorityRoutine, nil
	}
	if i := slices.Index(priorityNames, s); i >= 0 {
		return i, nil
	}
	return 0, fmt.Errorf("priority %q: want stat, urgent or routine", s)
}

// Sender delivers messages to one volunteer. Send must not block: it
// returns false when the volunteer cannot keep up, and the grid then drops
// the session. A payload, if any, goes in a binary frame after m.
type Sender interface {
	Send(m *protocol.Message, payload []byte) bool
	// Close ends the connection (after a protocol violation or when dropped).
	Close(reason string)
}

// Grid is the coordinator.
type Grid struct {
	cfg     Config
	store   store.Store
	reg     *pipeline.Registry
	log     *slog.Logger
	metrics *Metrics

	mu        sync.Mutex
	analyses  map[int64]*analysis
	byPrio    [3][]*analysis
	sessions  map[*Session]struct{}
	hungry    map[*Session]struct{}
	leases    map[int64]*lease
	vols      map[string]*volunteer
	owners    map[int64]uint64 // owner → sequence number of their last lease
	seq       uint64
	nextLease int64
	pending   []store.GridWrite
	verdicts  []verdict
	after     []func()
	closed    bool

	flushNow chan struct{}
	stop     chan struct{}
	wg       sync.WaitGroup
	locals   []*localWorker
}

type analysis struct {
	id, owner, dataset int64
	priority           int
	created            time.Time
	alg                pipeline.Algorithm
	params             []byte
	trustedOnly        bool
	chunks             []*chunk
	spill              *spill // large payloads, when Config.SpillDir is set
	ready              queue  // chunks never leased yet, in shuffled order
	retry              queue  // chunks that want another lease (expired, disputed...): served first
	inflight           map[*chunk]struct{}
	verified           int
	finishing          bool
	gone               bool // cancelled, deleted, failed or done
}

type chunkState uint8

const (
	chunkOpen chunkState = iota
	chunkVerified
	chunkFailed
)

type chunk struct {
	a       *analysis
	spec    pipeline.Spec
	payload payload
	digest  string
	state   chunkState
	leases  []*lease
	results []replica
	queued  bool
	single  *volunteer // may settle the chunk alone (local or trusted, no spot check)
	output  []byte
	outDig  string
	onTrust *volunteer // verified on this volunteer's word alone
}

type replica struct {
	s       *Session // nil for a result re-opened after its volunteer lost trust
	leaseID int64
	vol     *volunteer
	ip      string
	digest  string // "error:" + reason for a reported error
	output  []byte
	cpuUS   int64 // CPU µs reported, capped by the lease's wall time: the credit if verified
}

type lease struct {
	id       int64
	c        *chunk
	s        *Session
	issued   time.Time
	acked    time.Time
	beat     time.Time // last ack or progress
	deadline time.Time
}

type volunteer struct {
	rec      store.Volunteer
	local    bool
	enrolled bool
	secPerMB float64 // measured compute speed, EWMA; 0 until measured
	singles  []*chunk
	refs     int
	dirty    bool
}

func (v *volunteer) trusted(after int) bool {
	return v.local || v.rec.Reputation >= int64(after)
}

// New returns a grid on a store. Call Resume to reload unfinished work,
// then Close when done.
func New(st store.Store, reg *pipeline.Registry, cfg Config) *Grid {
	cfg.defaults()
	g := &Grid{
		cfg: cfg, store: st, reg: reg, log: cfg.Logger,
		analyses: map[int64]*analysis{}, sessions: map[*Session]struct{}{}, hungry: map[*Session]struct{}{},
		leases: map[int64]*lease{}, vols: map[string]*volunteer{}, owners: map[int64]uint64{},
		nextLease: time.Now().UnixMilli() << 8, // unique across restarts: stale leases never match
		flushNow:  make(chan struct{}, 1), stop: make(chan struct{}),
	}
	g.metrics = newMetrics(cfg.Metrics, g)
	g.wg.Add(2)
	go g.flusher()
	go g.reaper()
	return g
}

// Config returns the effective configuration.
func (g *Grid) Config() Config { return g.cfg }

// Close stops the grid: drops every session, flushes pending writes and
// saves volunteers' standing. Work in flight is re-leased after a restart.
func (g *Grid) Close() {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return
	}
	g.closed = true
	sessions := make([]*Session, 0, len(g.sessions))
	for s := range g.sessions {
		sessions = append(sessions, s)
	}
	g.mu.Unlock()
	for _, w := range g.locals {
		w.stop()
	}
	for _, s := range sessions {
		s.send.Close("server shutting down")
		s.Close()
	}
	close(g.stop)
	g.wg.Wait()
	g.flush()
	g.saveVolunteers(true)
}

// ---- analyses

// Start splits an analysis, records it (status running) and queues its
// chunks. a carries dataset, owner, algorithm, canonical params and
// priority; the stored analysis is returned.
func (g *Grid) Start(ctx context.Context, a store.Analysis) (store.Analysis, error) {
	alg, err := g.reg.Lookup(a.Algorithm)
	if err != nil {
		return a, err
	}
	prio, err := ParsePriority(a.Priority)
	if err != nil {
		return a, err
	}
	a.Algorithm = alg.Name()
	a.Priority = priorityNames[prio]
	ds, err := g.store.Dataset(ctx, a.DatasetID)
	if err != nil {
		return a, err
	}
	chunks, err := g.split(ctx, alg, a)
	if err != nil {
		return a, err
	}
	an, err := g.newAnalysis(alg, chunks)
	if err != nil {
		return a, err
	}
	a.Status = store.StatusRunning
	a.ChunksTotal = len(chunks)
	a, err = g.store.CreateAnalysis(ctx, a)
	if err != nil {
		an.spill.Close()
		return a, err
	}
	g.add(an, a, ds.TrustedOnly, nil)
	return a, nil
}

// SplitError is returned by Start when the algorithm cannot cut the dataset
// (wrong kind of signal, too short...): the client's mistake, not the server's.
type SplitError struct{ Err error }

// Error implements error.
func (e *SplitError) Error() string { return e.Err.Error() }

// Unwrap returns the algorithm's error.
func (e *SplitError) Unwrap() error { return e.Err }

func (g *Grid) split(ctx context.Context, alg pipeline.Algorithm, a store.Analysis) ([]pipeline.Chunk, error) {
	sig, err := g.loadSignal(ctx, alg, a)
	if err != nil {
		return nil, err
	}
	chunks, err := alg.Split(sig, a.Params, pipeline.SplitOptions{ChunkSeconds: g.cfg.ChunkSeconds})
	if err != nil {
		return nil, &SplitError{fmt.Errorf("%s cannot run on dataset %d: %w", alg.Name(), a.DatasetID, err)}
	}
	if len(chunks) == 0 {
		return nil, &SplitError{fmt.Errorf("%s made no chunks of dataset %d (is the recording empty?)", alg.Name(), a.DatasetID)}
	}
	return chunks, nil
}

// loadSignal reads the dataset's signal for Split: only the channels the
// algorithm reads when it says which (pipeline.ChannelPicker), so that an
// ECG analysis of a 12-lead 24-hour record loads one lead.
func (g *Grid) loadSignal(ctx context.Context, alg pipeline.Algorithm, a store.Analysis) (*signal.Signal, error) {
	picker, ok := alg.(pipeline.ChannelPicker)
	if !ok {
		return g.store.DatasetSignal(ctx, a.DatasetID)
	}
	ds, err := g.store.Dataset(ctx, a.DatasetID)
	if err != nil {
		return nil, err
	}
	sig := &signal.Signal{}
	for _, c := range ds.Channels {
		sig.Channels = append(sig.Channels, c.Channel())
	}
	picked, err := picker.SplitChannels(sig, a.Params)
	if err != nil {
		return nil, &SplitError{fmt.Errorf("%s cannot run on dataset %d: %w", alg.Name(), a.DatasetID, err)}
	}
	for _, i := range picked {
		if i < 0 || i >= len(sig.Channels) {
			return nil, fmt.Errorf("%s picked channel %d of dataset %d, which has %d", alg.Name(), i, a.DatasetID, len(sig.Channels))
		}
		if sig.Channels[i].Samples, err = g.store.DatasetSamples(ctx, a.DatasetID, i, 0, int64(ds.Channels[i].Samples)); err != nil {
			return nil, err
		}
	}
	return sig, nil
}

// Resume reloads queued and running analyses from the store: verified chunk
// outputs are kept, everything else is leased again.
func (g *Grid) Resume(ctx context.Context) error {
	as, err := g.store.UnfinishedAnalyses(ctx)
	if err != nil {
		return err
	}
	for _, a := range as {
		alg, err := g.reg.Lookup(a.Algorithm)
		if err != nil {
			g.store.SetAnalysisStatus(ctx, a.ID, store.StatusFailed, "algorithm no longer available: "+err.Error(), a.ChunksTotal)
			continue
		}
		ds, err := g.store.Dataset(ctx, a.DatasetID)
		if err != nil {
			return err
		}
		chunks, err := g.split(ctx, alg, a)
		if err != nil {
			g.store.SetAnalysisStatus(ctx, a.ID, store.StatusFailed, err.Error(), a.ChunksTotal)
			continue
		}
		outs, err := g.store.ChunkOutputs(ctx, a.ID)
		if err != nil {
			return err
		}
		if a.ChunksTotal != len(chunks) {
			g.store.SetAnalysisStatus(ctx, a.ID, store.StatusRunning, "", len(chunks))
		}
		an, err := g.newAnalysis(alg, chunks)
		if err != nil {
			return err
		}
		g.add(an, a, ds.TrustedOnly, outs)
		g.log.Info("resumed analysis", "analysis", a.ID, "chunks", len(chunks), "verified", len(outs))
	}
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

// newAnalysis holds an algorithm's chunks ready to be leased: their
// payloads encoded (and spilled, when large) and digested.
func (g *Grid) newAnalysis(alg pipeline.Algorithm, chunks []pipeline.Chunk) (*analysis, error) {
	a := &analysis{alg: alg, inflight: map[*chunk]struct{}{}}
	for i := range chunks {
		b := chunks[i].Task.Encode()
		p, err := g.keepPayload(a, b)
		if err != nil {
			a.spill.Close()
			return nil, err
		}
		a.chunks = append(a.chunks, &chunk{a: a, spec: chunks[i].Spec, payload: p, digest: canon.Digest(b)})
	}
	return a, nil
}

// add queues an analysis made by newAnalysis as the stored sa, with the
// chunks already verified before a restart.
func (g *Grid) add(a *analysis, sa store.Analysis, trustedOnly bool, verified []store.ChunkOutput) {
	prio, _ := ParsePriority(sa.Priority)
	a.id, a.owner, a.dataset, a.priority, a.created = sa.ID, sa.OwnerID, sa.DatasetID, prio, sa.CreatedAt
	a.params, a.trustedOnly = sa.Params, trustedOnly
	for _, o := range verified {
		if o.Index >= 0 && o.Index < len(a.chunks) {
			c := a.chunks[o.Index]
			c.state, c.output, c.outDig = chunkVerified, o.Output, o.Digest
			a.verified++
		}
	}
	// Shuffled order: a volunteer never gets a recording's chunks in sequence.
	for _, c := range a.chunks {
		if c.state == chunkOpen {
			a.ready.items = append(a.ready.items, c)
			c.queued = true
		}
	}
	mrand.Shuffle(len(a.ready.items), func(i, j int) { a.ready.items[i], a.ready.items[j] = a.ready.items[j], a.ready.items[i] })
	g.mu.Lock()
	defer g.mu.Unlock()
	g.analyses[a.id] = a
	g.byPrio[prio] = append(g.byPrio[prio], a)
	if a.verified == len(a.chunks) {
		g.finishLocked(a)
		return
	}
	g.kickLocked()
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
	sa, err := g.store.Analysis(ctx, id)
	if err != nil {
		return err
	}
	if sa.Finished() {
		return fmt.Errorf("analysis %d is already %s: %w", id, sa.Status, store.ErrConflict)
	}
	return g.store.SetAnalysisStatus(ctx, id, store.StatusCancelled, "cancelled at the owner's request", sa.ChunksTotal)
}

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
	a.ready, a.retry = queue{}, queue{}
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
	ActiveLeases   int `json:"active_leases"`
	Analyses       int `json:"analyses_running"`
	ChunksQueued   int `json:"chunks_unverified"`
	TrustedVolunts int `json:"trusted_volunteers"`
}

// Stats returns a snapshot of the grid.
func (g *Grid) Stats() Stats {
	g.mu.Lock()
	defer g.mu.Unlock()
	st := Stats{ActiveLeases: len(g.leases), Analyses: len(g.analyses)}
	for s := range g.sessions {
		if s.vol.local {
			st.LocalWorkers++
		} else {
			st.Volunteers++
		}
	}
	for _, v := range g.vols {
		if !v.local && v.trusted(g.cfg.TrustAfter) {
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
		rec := v.rec
		rec.SecretHash = ""
		out = append(out, rec)
	}
	slices.SortFunc(out, func(a, b store.Volunteer) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// ---- sessions

// Session is one connected volunteer (or local worker).
type Session struct {
	g           *Grid
	vol         *volunteer
	ip          string
	loopback    bool
	send        Sender
	algs        map[string]bool
	credits     int
	leases      map[int64]*lease
	lastDataset int64
	faults      int
	closed      bool
}

// ErrClosed is returned by Connect after Close.
var ErrClosed = errors.New("grid is shutting down")

// Connect admits a volunteer after its hello: it resolves (or creates) the
// volunteer's identity, checks an enrollment token, and returns the session
// and the welcome to send. ip is the remote address without port.
func (g *Grid) Connect(ctx context.Context, hello *protocol.Message, ip string, send Sender) (*Session, *protocol.Message, error) {
	if hello.Type != protocol.TypeHello {
		return nil, nil, fmt.Errorf("first message must be hello, got %q", hello.Type)
	}
	algs := map[string]bool{}
	for _, name := range hello.Algorithms {
		if a, err := g.reg.Lookup(name); err == nil && a.Name() == name {
			algs[name] = true
		}
	}
	var enrolledBy int64
	if hello.Token != "" {
		u, err := g.store.UserByToken(ctx, auth.HashToken(hello.Token))
		if err != nil || (u.Role != store.RoleVolunteer && u.Role != store.RoleAdmin) {
			return nil, nil, fmt.Errorf("enrollment token not valid (it must belong to an enabled volunteer or admin account)")
		}
		enrolledBy = u.ID
	}
	var rec store.Volunteer
	var secret string
	if hello.VolunteerID != "" && hello.Secret != "" {
		if r, err := g.store.Volunteer(ctx, hello.VolunteerID); err == nil && r.SecretHash == auth.HashToken(hello.Secret) {
			rec = r
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return nil, nil, ErrClosed
	}
	if rec.ID == "" && hello.VolunteerID != "" {
		// A volunteer seen minutes ago may not be saved yet (the flusher
		// writes identities every few seconds): its other slots resume it
		// from memory, so they stay one volunteer.
		if mem := g.vols[hello.VolunteerID]; mem != nil && mem.rec.SecretHash == auth.HashToken(hello.Secret) {
			rec = mem.rec
		}
	}
	v := g.vols[rec.ID]
	if rec.ID == "" {
		secret = randomID(24)
		rec = store.Volunteer{ID: "v-" + randomID(9), SecretHash: auth.HashToken(secret), CreatedAt: time.Now()}
	}
	if v == nil {
		v = &volunteer{rec: rec}
		g.vols[rec.ID] = v
	}
	v.refs++
	v.rec.Agent = truncate(hello.Agent, 200)
	// The last hello names the volunteer: reconnecting changes the nickname
	// (an empty one makes it anonymous again).
	v.rec.Nickname = protocol.CleanNickname(hello.Nickname)
	v.rec.LastSeen = time.Now()
	if enrolledBy != 0 {
		v.enrolled, v.rec.UserID = true, enrolledBy
		// An enrolled machine starts trusted, until it is caught once.
		if v.rec.Rejected == 0 {
			v.rec.Reputation = max(v.rec.Reputation, int64(g.cfg.TrustAfter))
		}
	}
	v.dirty = true
	addr, _ := netip.ParseAddr(ip)
	s := &Session{g: g, vol: v, ip: ip, loopback: addr.IsLoopback(), send: send, algs: algs, leases: map[int64]*lease{}}
	s.credits = 0
	g.sessions[s] = struct{}{}
	g.metrics.Connected.Inc()
	welcome := &protocol.Message{Type: protocol.TypeWelcome, Version: protocol.Version, VolunteerID: rec.ID, Secret: secret,
		Enrolled: v.enrolled, HeartbeatMS: int(g.cfg.Heartbeat / time.Millisecond), AckMS: int(g.cfg.AckTimeout / time.Millisecond),
		TotalVerified: v.rec.Validated, Credit: v.rec.Credit()}
	return s, welcome, nil
}

func randomID(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)[:n*2*2/3]
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// VolunteerID is the session's volunteer identity.
func (s *Session) VolunteerID() string { return s.vol.rec.ID }

// ProtocolError is a violation by the volunteer; the transport sends it as
// a fatal message and closes the connection.
type ProtocolError struct{ Msg string }

// Error implements error.
func (e *ProtocolError) Error() string { return e.Msg }

// maxFaults is how many ignorable faults (results for leases not held) a
// session may make before it is dropped.
const maxFaults = 50

// Handle processes one message from the volunteer (payload is the binary
// frame that followed a result). A ProtocolError means: close the connection.
func (s *Session) Handle(m *protocol.Message, payload []byte) error {
	g := s.g
	g.mu.Lock()
	defer g.mu.Unlock()
	if s.closed {
		return nil
	}
	switch m.Type {
	case protocol.TypeRequest:
		s.credits = min(s.credits+m.Count, 256)
		s.vol.rec.Requests += int64(m.Count)
		s.vol.dirty = true
		g.dispatchLocked(s)
	case protocol.TypeAck:
		if l := s.leases[m.LeaseID]; l != nil && l.acked.IsZero() {
			l.acked = time.Now()
			l.beat = l.acked
			l.deadline = l.acked.Add(g.leaseTime(s.vol, l.c.payload.Len()))
		}
	case protocol.TypeProgress:
		if l := s.leases[m.LeaseID]; l != nil {
			if l.acked.IsZero() {
				l.acked = time.Now()
			}
			l.beat = time.Now()
			l.deadline = later(l.deadline, time.Now().Add(3*g.cfg.Heartbeat))
		}
	case protocol.TypeResult, protocol.TypeError:
		if m.Count > 0 { // a piggybacked request, served after the result
			s.credits = min(s.credits+m.Count, 256)
			s.vol.rec.Requests += int64(m.Count)
			s.vol.dirty = true
			defer g.dispatchLocked(s)
		}
		l := s.leases[m.LeaseID]
		if l == nil {
			g.metrics.ResultsIgnored.Inc()
			s.faults++
			s.sendLocked(&protocol.Message{Type: protocol.TypeVerdict, LeaseID: m.LeaseID, Verdict: protocol.VerdictIgnored, Reason: "no such lease is held by this connection"}, nil)
			if s.faults > maxFaults {
				return &ProtocolError{fmt.Sprintf("%d results for leases not held", s.faults)}
			}
			return nil
		}
		r := replica{s: s, leaseID: l.id, vol: s.vol, ip: s.ip}
		s.vol.dirty = true
		if m.Type == protocol.TypeError {
			r.digest = "error:" + truncate(m.Reason, 500)
			s.vol.rec.Failed++
		} else {
			if len(payload) != m.Size || canon.Digest(payload) != m.Digest {
				g.removeLeaseLocked(l)
				g.metrics.ResultsRejected.Inc()
				g.requeueLocked(l.c)
				return &ProtocolError{fmt.Sprintf("result for lease %d: output of %d bytes does not match its declared size %d and digest", m.LeaseID, len(payload), m.Size)}
			}
			r.digest, r.output = m.Digest, payload
			wall := time.Since(l.issued)
			r.cpuUS = capCPU(m.CPUMS, wall)
			s.vol.rec.Results++
			s.vol.rec.CompletionMicros += wall.Microseconds()
			s.vol.rec.CPUMicros += r.cpuUS
			if !l.acked.IsZero() {
				mb := float64(l.c.payload.Len()+1) / (1 << 20)
				sec := time.Since(l.acked).Seconds() / mb
				if s.vol.secPerMB == 0 {
					s.vol.secPerMB = sec
				} else {
					s.vol.secPerMB = 0.8*s.vol.secPerMB + 0.2*sec
				}
			}
		}
		c := l.c
		if c.state != chunkOpen || c.a.gone {
			g.removeLeaseLocked(l)
			s.sendLocked(&protocol.Message{Type: protocol.TypeVerdict, LeaseID: m.LeaseID, Verdict: protocol.VerdictIgnored, Reason: "chunk already settled"}, nil)
			return nil
		}
		c.results = append(c.results, r) // before the lease goes, so c.single stays
		g.removeLeaseLocked(l)
		g.evaluateLocked(c)
	default:
		return &ProtocolError{fmt.Sprintf("message type %q is not expected from a volunteer", m.Type)}
	}
	return nil
}

// capCPU is the CPU time credited for a result, in microseconds: what the
// volunteer reported (in milliseconds), but never more than the lease's
// wall time (a chunk cannot take more CPU time than elapsed while it was
// leased) nor less than zero.
func capCPU(reportedMS float64, wall time.Duration) int64 {
	us := min(max(reportedMS, 0)*1000, float64(wall.Microseconds())) // NaN cannot come from JSON
	return int64(us)
}

// Close ends a session: its leases go back to the queue.
func (s *Session) Close() {
	g := s.g
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closeLocked(s)
}

func (g *Grid) closeLocked(s *Session) {
	if s.closed {
		return
	}
	s.closed = true
	delete(g.sessions, s)
	delete(g.hungry, s)
	g.metrics.Connected.Dec()
	for _, l := range s.leases {
		g.removeLeaseLocked(l)
		g.metrics.LeasesReleased.Inc()
		if !l.c.a.gone {
			g.requeueLocked(l.c)
		}
	}
	s.vol.refs--
	s.vol.rec.LastSeen = time.Now()
	s.vol.dirty = true
	if s.vol.refs == 0 && !s.vol.local {
		v := s.vol
		delete(g.vols, v.rec.ID)
		rec := v.rec
		g.after = append(g.after, func() { g.store.SaveVolunteers(context.Background(), []store.Volunteer{rec}) })
		g.signalFlush()
	}
	g.kickLocked()
}

// sendLocked sends to a volunteer; a volunteer that cannot keep up is dropped.
func (s *Session) sendLocked(m *protocol.Message, payload []byte) {
	if s.closed {
		return
	}
	if !s.send.Send(m, payload) {
		s.g.log.Warn("dropping slow volunteer", "volunteer", s.vol.rec.ID)
		s.g.closeLocked(s)
		go s.send.Close("too slow: send buffer full")
	}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// leaseTime is the deadline a volunteer gets for a payload of n bytes:
// four times what its measured speed predicts, clamped.
func (g *Grid) leaseTime(v *volunteer, n int) time.Duration {
	if v.secPerMB == 0 {
		return max(g.cfg.MinLease, 2*time.Minute)
	}
	d := time.Duration(4 * v.secPerMB * float64(n+1) / (1 << 20) * float64(time.Second))
	return min(max(d, g.cfg.MinLease), g.cfg.MaxLease)
}

// ---- scheduling

// dispatchLocked hands leases to s while it has credits and work exists.
func (g *Grid) dispatchLocked(s *Session) bool {
	got := false
	for s.credits > 0 && !s.closed && !g.closed {
		c := g.pickLocked(s)
		if c == nil {
			g.hungry[s] = struct{}{}
			return got
		}
		g.issueLocked(s, c)
		got = true
	}
	delete(g.hungry, s)
	return got
}

// kickLocked offers new work to idle sessions.
func (g *Grid) kickLocked() {
	misses := 0
	for s := range g.hungry {
		if !g.dispatchLocked(s) {
			misses++
			if misses >= 8 {
				return
			}
		}
	}
}

// pickLocked chooses the next chunk for s: stat before urgent before
// routine; within a priority the owner served least recently first (fair
// share), then a dataset other than the one s saw last (interleaving), then
// the oldest analysis. Failing that, an end-game replica.
func (g *Grid) pickLocked(s *Session) *chunk {
	for p := range g.byPrio {
		list := g.byPrio[p]
		var tried []*analysis
		for len(tried) < len(list) {
			var best *analysis
			for _, a := range list {
				if a.gone || a.ready.len()+a.retry.len() == 0 || !s.algs[a.alg.Name()] || (a.trustedOnly && !s.vol.local && !s.vol.enrolled) {
					continue
				}
				if slices.Contains(tried, a) {
					continue
				}
				if best == nil || g.before(a, best, s) {
					best = a
				}
			}
			if best == nil {
				break
			}
			if c := g.readyChunkLocked(best, s); c != nil {
				return c
			}
			tried = append(tried, best)
		}
	}
	// End-game: everything is leased; replicate outstanding chunks to idle
	// volunteers so the slowest one does not set the finish time.
	for p := range g.byPrio {
		for _, a := range g.byPrio[p] {
			if a.gone || a.ready.len()+a.retry.len() > 0 || !s.algs[a.alg.Name()] || (a.trustedOnly && !s.vol.local && !s.vol.enrolled) {
				continue
			}
			for c := range a.inflight {
				if c.state == chunkOpen && len(c.leases)+len(c.results) <= g.targetLocked(c) && g.eligibleLocked(c, s) {
					return c
				}
			}
		}
	}
	return nil
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

// readyChunkLocked finds a chunk of a that s may run, looking at the first
// few entries of the retry queue, then of the ready queue (skipping ones s
// already holds).
func (g *Grid) readyChunkLocked(a *analysis, s *Session) *chunk {
	for _, q := range []*queue{&a.retry, &a.ready} {
		if c := g.scanLocked(q, s); c != nil {
			return c
		}
	}
	return nil
}

func (g *Grid) scanLocked(q *queue, s *Session) *chunk {
	const look = 64
	for i := q.head; i < len(q.items) && i < q.head+look; {
		c := q.items[i]
		if c.state != chunkOpen || !g.needsLeaseLocked(c) {
			c.queued = false
			q.remove(i)
			i = q.head // indices may have shifted
			continue
		}
		if g.eligibleLocked(c, s) {
			return c
		}
		i++
	}
	return nil
}

// queue is a FIFO of chunks that is cheap to pop at the front.
type queue struct {
	items []*chunk
	head  int
}

func (q *queue) len() int { return len(q.items) - q.head }

func (q *queue) remove(i int) {
	if i == q.head {
		q.items[i] = nil
		q.head++
	} else {
		q.items = slices.Delete(q.items, i, i+1)
	}
	if q.head > 1024 && q.head > len(q.items)/2 {
		q.items = slices.Delete(q.items, 0, q.head)
		q.head = 0
	}
}

// target is how many results (counting leases in flight) the chunk wants now.
func (g *Grid) targetLocked(c *chunk) int {
	if len(c.results) > 0 {
		counts := map[string]int{}
		best := 0
		for _, r := range c.results {
			counts[r.digest]++
			best = max(best, counts[r.digest])
		}
		if len(counts) > 1 {
			return min(len(c.results)+g.cfg.Quorum-best, g.cfg.MaxReplicas)
		}
	}
	if c.single != nil {
		return 1
	}
	return g.cfg.Quorum
}

func (g *Grid) needsLeaseLocked(c *chunk) bool {
	return c.state == chunkOpen && len(c.leases)+len(c.results) < g.targetLocked(c)
}

// eligibleLocked: s may run c if its volunteer has not already worked on it
// and, unless loopback or allowed, no other holder shares its IP address.
func (g *Grid) eligibleLocked(c *chunk, s *Session) bool {
	for _, l := range c.leases {
		if l.s.vol == s.vol || (!g.cfg.AllowSameIP && !s.loopback && l.s.ip == s.ip) {
			return false
		}
	}
	for _, r := range c.results {
		if r.vol == s.vol || (!g.cfg.AllowSameIP && !s.loopback && r.ip == s.ip) {
			return false
		}
	}
	return true
}

func (g *Grid) issueLocked(s *Session, c *chunk) {
	a := c.a
	now := time.Now()
	g.nextLease++
	l := &lease{id: g.nextLease, c: c, s: s, issued: now, deadline: now.Add(g.leaseTime(s.vol, c.payload.Len()))}
	if len(c.leases) == 0 && len(c.results) == 0 && c.single == nil && s.vol.trusted(g.cfg.TrustAfter) {
		// No spot checks on trusted-only data: there may be no second
		// eligible machine to run them.
		if s.vol.local || a.trustedOnly || mrand.Float64() >= g.cfg.SpotCheck {
			c.single = s.vol
		}
	}
	c.leases = append(c.leases, l)
	s.leases[l.id] = l
	g.leases[l.id] = l
	a.inflight[c] = struct{}{}
	s.credits--
	s.vol.rec.Issued++
	s.vol.dirty = true
	s.lastDataset = a.dataset
	g.seq++
	g.owners[a.owner] = g.seq
	g.metrics.LeasesIssued.Inc()
	body, err := c.payload.Bytes()
	if err != nil {
		// The server's own disk failed it: no volunteer can help.
		g.failChunkLocked(c, fmt.Sprintf("chunk %d could not be read back: %v", c.spec.Index, err))
		return
	}
	s.sendLocked(&protocol.Message{Type: protocol.TypeLease, LeaseID: l.id, Algorithm: a.alg.Name(),
		Deadline: l.deadline.UnixMilli(), Digest: c.digest, Size: len(body)}, body)
}

func (g *Grid) removeLeaseLocked(l *lease) {
	delete(g.leases, l.id)
	delete(l.s.leases, l.id)
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

// requeueLocked puts a chunk that wants another lease back at the front of
// its analysis's ready queue.
func (g *Grid) requeueLocked(c *chunk) {
	if c.a.gone || c.state != chunkOpen || c.queued || !g.needsLeaseLocked(c) {
		return
	}
	c.queued = true
	c.a.retry.items = append(c.a.retry.items, c)
	g.kickLocked()
}

// ---- verification

// evaluateLocked settles a chunk if its results allow: quorum agreement,
// a trusted result, or the replica cap reached without agreement.
func (g *Grid) evaluateLocked(c *chunk) {
	type group struct {
		vols  []*volunteer
		ips   map[string]bool
		count int
		trust bool
		out   []byte
	}
	groups := map[string]*group{}
	var order []string
	for _, r := range c.results {
		gr := groups[r.digest]
		if gr == nil {
			gr = &group{ips: map[string]bool{}, out: r.output}
			groups[r.digest] = gr
			order = append(order, r.digest)
		}
		gr.vols = append(gr.vols, r.vol)
		addr, _ := netip.ParseAddr(r.ip)
		if g.cfg.AllowSameIP || addr.IsLoopback() || !gr.ips[r.ip] {
			gr.count++
		}
		gr.ips[r.ip] = true
		if r.vol.local {
			gr.trust = true
		}
	}
	for _, d := range order {
		gr := groups[d]
		switch {
		case gr.count >= g.cfg.Quorum, gr.trust:
			g.verifyLocked(c, d, gr.out, gr.count, nil)
			return
		case len(groups) == 1 && c.single != nil && gr.vols[0] == c.single && len(c.results) == 1:
			g.verifyLocked(c, d, gr.out, 1, c.single)
			return
		}
	}
	if len(c.results) >= g.cfg.MaxReplicas {
		g.failChunkLocked(c, fmt.Sprintf("chunk %d: %d volunteers returned %d different outputs and no %d agreed", c.spec.Index, len(c.results), len(groups), g.cfg.Quorum))
		return
	}
	if len(groups) > 1 {
		c.single = nil // a disagreement: no one settles this chunk alone
	}
	g.requeueLocked(c)
}

// verifyLocked accepts digest d for chunk c, rewards the agreeing
// volunteers and penalises the others.
func (g *Grid) verifyLocked(c *chunk, d string, out []byte, replicas int, onTrust *volunteer) {
	a := c.a
	results := c.results
	c.results, c.single = nil, nil
	errText, isErr := stringsCut(d, "error:")
	// Settle the chunk before anything else runs (cancelling a lease may drop
	// a slow session, which hands out work): it must not be leased again.
	c.state = chunkVerified
	if isErr {
		c.state = chunkFailed
	}
	for _, l := range slices.Clone(c.leases) {
		g.cancelLeaseLocked(l, "chunk verified without this result")
	}
	if isErr {
		g.failChunkLocked(c, fmt.Sprintf("chunk %d: %s", c.spec.Index, errText))
		return
	}
	c.output, c.outDig, c.onTrust = out, d, onTrust
	a.verified++
	g.metrics.ChunksVerified.Inc()
	if onTrust != nil && !onTrust.local {
		onTrust.singles = append(slices.DeleteFunc(onTrust.singles, func(x *chunk) bool { return x.a.gone || x.state != chunkVerified }), c)
	}
	for _, r := range results {
		if r.digest == d {
			g.metrics.ResultsAccepted.Inc()
			r.vol.rec.Reputation++
			r.vol.rec.Validated++
			r.vol.rec.CreditMicros += r.cpuUS
		} else {
			g.metrics.ResultsRejected.Inc()
			g.penalizeLocked(r.vol)
		}
		r.vol.dirty = true
	}
	g.pending = append(g.pending, store.GridWrite{Verify: &store.ChunkOutput{AnalysisID: a.id, Index: c.spec.Index, Digest: d, Output: out, Replicas: replicas}})
	// Verdicts go out after the write commits: "verified" means durable.
	for _, r := range results {
		if r.s == nil {
			continue
		}
		m := &protocol.Message{Type: protocol.TypeVerdict, LeaseID: r.leaseID, Verdict: protocol.VerdictVerified,
			TotalVerified: r.vol.rec.Validated, Credit: r.vol.rec.Credit()}
		if r.digest != d {
			m.Verdict, m.Reason = protocol.VerdictRejected, "the output disagreed with the verified one"
		}
		g.verdicts = append(g.verdicts, verdict{r.s, m})
	}
	if a.verified == len(a.chunks) {
		g.finishLocked(a)
	}
	g.signalFlush()
}

func stringsCut(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && s[:len(prefix)] == prefix {
		return s[len(prefix):], true
	}
	return "", false
}

type verdict struct {
	s *Session
	m *protocol.Message
}

// penalizeLocked resets a volunteer's reputation and re-opens the chunks
// accepted on its word alone, so they are verified again by others.
func (g *Grid) penalizeLocked(v *volunteer) {
	v.rec.Reputation = 0
	v.rec.Rejected++
	v.dirty = true
	for _, c := range v.singles {
		a := c.a
		if a.gone || a.finishing || c.state != chunkVerified || c.onTrust != v {
			continue
		}
		c.state = chunkOpen
		c.results = []replica{{vol: v, ip: "", digest: c.outDig, output: c.output}}
		c.output, c.outDig, c.onTrust = nil, "", nil
		a.verified--
		g.pending = append(g.pending, store.GridWrite{Withdraw: &store.ChunkRef{AnalysisID: a.id, Index: c.spec.Index}})
		g.requeueLocked(c)
	}
	v.singles = nil
}

func (g *Grid) failChunkLocked(c *chunk, reason string) {
	c.state = chunkFailed
	g.metrics.ChunksFailed.Inc()
	a := c.a
	g.dropLocked(a, "analysis failed")
	id, total := a.id, len(a.chunks)
	g.log.Warn("analysis failed", "analysis", id, "reason", reason)
	g.after = append(g.after, func() {
		if err := g.store.SetAnalysisStatus(context.Background(), id, store.StatusFailed, reason, total); err != nil {
			g.log.Error("mark analysis failed", "analysis", id, "err", err)
		}
	})
	g.signalFlush()
}

// finishLocked merges a fully verified analysis once its writes are durable.
func (g *Grid) finishLocked(a *analysis) {
	if a.finishing {
		return
	}
	a.finishing = true
	parts := make([]pipeline.Part, len(a.chunks))
	for i, c := range a.chunks {
		parts[i] = pipeline.Part{Spec: c.spec, Output: c.output}
	}
	g.after = append(g.after, func() { go g.merge(a, parts) })
	g.signalFlush()
}

func (g *Grid) merge(a *analysis, parts []pipeline.Part) {
	ctx := context.Background()
	res, err := a.alg.Merge(a.params, parts)
	var body []byte
	if err == nil {
		body, err = json.Marshal(res)
	}
	if err != nil {
		g.log.Error("merge", "analysis", a.id, "err", err)
		g.store.SetAnalysisStatus(ctx, a.id, store.StatusFailed, "merging the verified chunks failed: "+err.Error(), len(a.chunks))
	} else if err := g.store.FinishAnalysis(ctx, a.id, body, res.Summary()); err != nil && !errors.Is(err, store.ErrNotFound) {
		g.log.Error("store result", "analysis", a.id, "err", err)
		return // stays unfinished: merged again after a restart
	}
	g.mu.Lock()
	g.dropLocked(a, "analysis done")
	g.mu.Unlock()
	g.log.Info("analysis finished", "analysis", a.id, "chunks", len(parts), "err", err)
}

// ---- background

func (g *Grid) signalFlush() {
	select {
	case g.flushNow <- struct{}{}:
	default:
	}
}

func (g *Grid) flusher() {
	defer g.wg.Done()
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-g.stop:
			return
		case <-t.C:
			g.saveVolunteers(false)
		case <-g.flushNow:
			// Gather a batch: under load many chunks verify within one interval.
			time.Sleep(g.cfg.FlushInterval)
			g.flush()
		}
	}
}

// flush writes pending changes in one transaction, then runs what waited for
// them (verdicts, merges, status changes).
func (g *Grid) flush() {
	g.mu.Lock()
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
	}
	g.mu.Unlock()
	if len(vs) > 0 {
		if err := g.store.SaveVolunteers(context.Background(), vs); err != nil {
			g.log.Error("save volunteers", "err", err)
		}
	}
}

// reaper expires leases without ack in time or past their deadline.
func (g *Grid) reaper() {
	defer g.wg.Done()
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-g.stop:
			return
		case now := <-t.C:
			g.mu.Lock()
			for _, l := range g.leases {
				if (l.acked.IsZero() && now.Sub(l.issued) > g.cfg.AckTimeout) || now.After(l.deadline) ||
					(!l.acked.IsZero() && now.Sub(l.beat) > 3*g.cfg.Heartbeat) {
					g.metrics.LeasesExpired.Inc()
					l.s.vol.rec.Failed++
					l.s.vol.dirty = true
					g.removeLeaseLocked(l)
					l.s.sendLocked(&protocol.Message{Type: protocol.TypeCancel, LeaseID: l.id, Reason: "lease expired"}, nil)
					g.requeueLocked(l.c)
				}
			}
			g.mu.Unlock()
		}
	}
}
