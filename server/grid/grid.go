// Package grid is the coordinator: it splits analyses into chunks, leases
// them to volunteers, verifies results by redundant execution, keeps
// volunteers' standing and merges verified outputs into results.
//
// The files cut it by concern, all under one mutex (Grid.mu):
//
//	analyses.go  analysis lifecycle: split, resume, cancel, forget, reopen
//	sessions.go  volunteer connections: identity, caps, the messages they send
//	schedule.go  which chunk a volunteer gets next (queues, fair share, end game)
//	leases.go    lease issue, deadlines, expiry
//	verify.go    the verification policy: when an output is accepted
//	trust.go     standing, spot checks, bans, and what a caught liar reopens
//	audit.go     the server's own workers: audits, settling what nobody established vouches for
//	ringer.go    known-answer chunks
//	flush.go     batched durable writes, merges, saving volunteers
//	pending.go   results that wait for a quorum, kept in the store for a takeover
//	local.go     in-process workers (--local-workers, auditors)
//
// The grid knows nothing of websockets: a transport hands it protocol
// messages through a Session and receives messages through a Sender.
package grid

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/pulsegrid/pulsegrid/algorithms/pipeline"
	"github.com/pulsegrid/pulsegrid/protocol"
	"github.com/pulsegrid/pulsegrid/server/store"
)

// Priorities in scheduling order (indices into store.Priorities).
const (
	PriorityStat = iota
	PriorityUrgent
	PriorityRoutine
)

// ParsePriority maps "stat", "urgent", "routine" (or "") to a priority.
func ParsePriority(s string) (int, error) {
	if s == "" {
		return PriorityRoutine, nil
	}
	if i := slices.Index(store.Priorities, s); i >= 0 {
		return i, nil
	}
	return 0, fmt.Errorf("priority %q: want %s", s, store.PriorityChoices())
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
	store   store.GridStore
	reg     *pipeline.Registry
	log     *slog.Logger
	metrics *Metrics
	now     func() time.Time

	mu         sync.Mutex
	hist       history // the last hour, minute by minute (history.go)
	analyses   map[int64]*analysis
	byPrio     [3][]*analysis
	sessions   map[*Session]struct{}
	online     int            // sessions other than the auditors' (the volunteers_connected gauge)
	waiting    []waitingChunk // chunks at their first result, oldest first (starve.go)
	hungry     map[*Session]struct{}
	hungryEst  map[*Session]struct{} // the hungry sessions of established volunteers and trusted workers: kicked first
	leases     map[int64]*lease
	vols       map[string]*volunteer
	away       map[string]*volunteer // disconnected, results still waiting (records.go)
	nets       map[string]*network
	owners     map[int64]uint64 // owner → sequence number of their last lease
	seq        uint64
	nextLease  int64
	pending    []store.GridWrite
	pends      []pend // results that wait for a quorum, not yet in pending (pending.go)
	verdicts   []verdict
	after      []func()
	closed     bool
	needQ      []*chunk // chunks waiting for a trusted or established vote
	auditQ     []*check // accepted chunks the trusted workers compute again (bounded)
	auditBytes int
	ringers    ringerPool
	scanned    uint64           // more-queue entries looked at by picks (tests bound it)
	costs      map[string]*cost // per algorithm: CPU time per payload byte, for credit

	flushNow  chan struct{}
	flushSync chan chan struct{} // syncFlush
	stop      chan struct{}
	wg        sync.WaitGroup
	encoders  sync.WaitGroup // encodeChunks of started analyses
	// starting is read-held by Start from the analysis row's creation until
	// the grid holds it; Sync takes it to wait for those (sync.go).
	starting sync.RWMutex
	// loading holds the analyses a Sync is loading (split and encode take
	// most of a second for a 24 h recording): another Sync of one of them
	// (a takeover's background resume beside SyncAll) marks it true, to be
	// read again once loaded, instead of splitting it a second time.
	loading map[int64]bool
	locals  []*localWorker
}

type analysis struct {
	id, owner, dataset int64
	priority           int
	created            time.Time
	alg                pipeline.Algorithm
	params             []byte
	trustedOnly        bool
	revision           int
	chunks             []*chunk
	spill              *spill // large payloads, when Config.SpillDir is set
	fresh              queue  // chunks never leased, in shuffled order
	more               queue  // chunks that want another lease from anyone: second opinions, expired leases, disputes
	moreEst            queue  // chunks that want another lease from an established volunteer only
	inflight           map[*chunk]struct{}
	encoding           bool          // encodeChunks is still queueing its chunks
	queued             chan struct{} // closed when encodeChunks has returned (nil: never ran)
	verified           int
	finishing          bool
	reopen             bool          // a caught volunteer's outputs were withdrawn while it merged
	gone               bool          // cancelled, deleted, failed or done
	chunkTime          time.Duration // EWMA of ack → result, for overdue leases
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
	held    map[string]bool // ids of every identity ever leased this chunk: never leased to again
	entered bool            // has been leased at least once (left the fresh queue)
	inMore  bool            // has a live entry in a.more or, if inEst, a.moreEst
	inEst   bool            // its live entry is in a.moreEst
	inNeed  bool            // is in g.needQ
	qseq    uint32          // the live entry of this chunk in a more queue has this seq
	single  *volunteer      // may settle the chunk alone (trusted, no spot check)
	needs   need            // who must still vote before an output can be accepted
	output  []byte
	outDig  string
	voters  []string // ids of who settled it: all of it is reopened if one of them is caught
	audited bool
	stalled bool // a lease of it stalled or was dropped: the auditors are asked until it settles
	starved bool // waited ReplicaPatience for a second opinion no connected volunteer could give (starve.go)
}

// need is what an agreeing group still lacks before it can be accepted.
type need uint8

const (
	needNone        need = iota
	needTieBreak         // outputs disagree, or a second opinion starved: anyone may vote, and the auditors are asked to
	needEstablished      // agreement among volunteers none of whom is established
	needTrusted          // errors, or a dispute the replica cap cannot settle: a trusted worker decides
)

type replica struct {
	s       *Session // nil for a result kept across a reopen
	leaseID int64
	vol     *volunteer
	net     string
	digest  string // errorDigest for a reported error
	output  []byte
	wall    time.Duration
}

// errorDigest stands for every error a volunteer reports: errors are
// compared as one outcome, and their text is never shown to anyone.
const errorDigest = "error"

type lease struct {
	id       int64
	c        *chunk
	s        *Session
	issued   time.Time
	acked    time.Time
	beat     time.Time // last ack or progress
	deadline time.Time // fixed at issue: progress does not move it
	check    *check    // an audit or a known-answer chunk (audit.go), not c's work
	overdue  bool      // no longer counted towards c's replicas (schedule.go)
}

type network struct {
	conns  int
	leases int // unacked
	banned time.Time
}

type volunteer struct {
	rec      store.Volunteer
	local    bool // a trusted in-process worker (--local-workers or an auditor)
	auditor  bool
	enrolled bool
	secPerMB float64 // measured compute speed, EWMA; 0 until measured
	conns    int
	unacked  int
	window   int // unacked leases it may hold now: grows with acks, falls to 1 when one times out
	dirty    bool
}

// ErrClosed is returned by Connect after Close.
var ErrClosed = errors.New("grid is shutting down")

// New returns a grid on a store. Call Resume to reload unfinished work,
// then Close when done.
func New(st store.GridStore, reg *pipeline.Registry, cfg Config) *Grid {
	cfg.defaults()
	g := &Grid{
		cfg: cfg, store: st, reg: reg, log: cfg.Logger, now: cfg.Now,
		analyses: map[int64]*analysis{}, sessions: map[*Session]struct{}{}, hungry: map[*Session]struct{}{}, hungryEst: map[*Session]struct{}{},
		leases: map[int64]*lease{}, vols: map[string]*volunteer{}, away: map[string]*volunteer{}, nets: map[string]*network{}, owners: map[int64]uint64{},
		costs:     map[string]*cost{},
		nextLease: time.Now().UnixMilli() << 8, // unique across restarts: stale leases never match
		flushNow:  make(chan struct{}, 1), flushSync: make(chan chan struct{}), stop: make(chan struct{}),
	}
	g.metrics = newMetrics(cfg.Metrics, g)
	g.loadHistory()
	g.wg.Add(2)
	go g.flusher()
	go g.reaper()
	if cfg.Auditors > 0 {
		g.startLocal(cfg.Auditors, true)
	}
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
	g.encoders.Wait()
	g.wg.Wait()
	g.flush(true)
	g.saveVolunteers(true)
	g.saveHistory()
}

func (g *Grid) network(name string) *network {
	n := g.nets[name]
	if n == nil {
		n = &network{}
		g.nets[name] = n
	}
	return n
}

// forgetNetworkLocked drops a network's entry once nothing refers to it.
func (g *Grid) forgetNetworkLocked(name string) {
	if n := g.nets[name]; n != nil && n.conns == 0 && n.leases == 0 && !n.banned.After(g.now()) {
		delete(g.nets, name)
	}
}
