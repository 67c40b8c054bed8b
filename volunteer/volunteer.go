// Package volunteer is the volunteer loop, the same in the native
// `pulsegrid volunteer` and in the browser's Web Worker (js/wasm): dial the
// server, say hello, ask for work, run each chunk in slices through a
// pipeline.Yielder that enforces a CPU duty cycle, report progress, return
// the output and its digest, and reconnect with backoff when the
// connection drops.
//
// A host (a main, or the js/wasm binding) drives it with New, Run (blocks
// until its context ends), SetCPU, SetSlots, Stats and Identity, and
// observes it through Config.OnEvent. It imports only the protocol, the
// pipeline and coder/websocket's client, so it builds for js/wasm.
package volunteer

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/pulsegrid/pulsegrid/algorithms/canon"
	"github.com/pulsegrid/pulsegrid/algorithms/pipeline"
	"github.com/pulsegrid/pulsegrid/protocol"
)

// Config configures a Volunteer.
type Config struct {
	// Server is the server's base URL (http://host:port) or the websocket
	// URL itself (ws://host:port/ws/volunteer).
	Server string
	// Registry lists the algorithms this volunteer can run.
	Registry *pipeline.Registry
	// Slots is how many chunks run at once (default 1).
	Slots int
	// CPU is the share of a core each slot may use, in percent (1..100,
	// default 100): the chunk runs for a slice, then rests.
	CPU int
	// Token is an enrollment token (an API token of a volunteer or admin
	// account); enrolled volunteers may run trusted-only datasets.
	Token string
	// Identity resumes a previous identity, so that reputation carries over
	// (the browser keeps it in localStorage). Zero, or a secret that is not
	// a key (an identity of protocol version 1): a new key pair is made.
	Identity Identity
	// Agent describes this volunteer to the server, e.g. "pulsegrid-native linux/amd64".
	Agent string
	// Nickname is the public name shown on the server's leaderboard (the
	// server keeps protocol.CleanNickname of it); empty: anonymous. It is
	// sent with every hello, so SetNickname takes effect at the next
	// connection.
	Nickname string
	// Team is the team this volunteer joins, by name (the server keeps
	// protocol.CleanTeam of it and sums a team's credit on its
	// leaderboard); empty: none. Sent with every hello, like Nickname.
	Team string
	// OnEvent, if set, receives status events. It is called from the
	// volunteer's goroutines and must not block.
	OnEvent func(Event)
	// MinBackoff and MaxBackoff bound the reconnect delay (1s, 30s).
	MinBackoff, MaxBackoff time.Duration
	// Slice is the duty-cycle period: how long a chunk runs before it rests
	// (default 100ms). Short slices keep a browser page responsive. At 100 %
	// CPU there is no rest, but the chunk still yields once per slice (on
	// js/wasm: one turn of the event loop, so Pause is answered at once).
	Slice time.Duration
	// Prefetch is how many leases to hold beyond Slots while chunks are
	// short (the last one computed in under a second): the next chunk is then
	// already here when one ends, instead of a round trip to the server
	// later. A lease waiting for its slot is acknowledged on arrival and
	// heartbeated, so it does not expire. 0 (the default): none.
	Prefetch int
	// LocalAddr, if set, is the local IP address connections are made from
	// (native only; a browser chooses its own).
	LocalAddr string
	// Cheat, if set, replaces every output before it is sent. For tests of
	// the server's verification only.
	Cheat func(out []byte) []byte
}

// Identity is a volunteer's name at the server and the secret that proves
// it: Secret is the volunteer's private key (protocol.Key's String), which
// signs the server's challenge at every connection and never leaves this
// volunteer; ID is derived from its public key.
type Identity struct {
	ID     string `json:"id"`
	Secret string `json:"secret"`
}

// EventKind says what happened.
type EventKind string

// Event kinds.
const (
	EventConnecting   EventKind = "connecting"
	EventConnected    EventKind = "connected"    // Identity set
	EventDisconnected EventKind = "disconnected" // Err set; Retry is the delay before the next attempt
	EventChunkStarted EventKind = "chunk-started"
	EventProgress     EventKind = "progress" // Done of Total units
	EventChunkDone    EventKind = "chunk-done"
	EventChunkFailed  EventKind = "chunk-failed"    // Err set
	EventCancelled    EventKind = "chunk-cancelled" // Err holds the server's reason
	EventVerdict      EventKind = "verdict"         // Verdict: verified, rejected or ignored
)

// Event is one status change, for a host to display.
type Event struct {
	Kind      EventKind     `json:"kind"`
	Time      time.Time     `json:"time"`
	LeaseID   int64         `json:"lease_id,omitempty"`
	Algorithm string        `json:"algorithm,omitempty"`
	Done      int64         `json:"done,omitempty"`
	Total     int64         `json:"total,omitempty"`
	Elapsed   time.Duration `json:"elapsed,omitempty"`
	Verdict   string        `json:"verdict,omitempty"`
	Err       string        `json:"error,omitempty"`
	Retry     time.Duration `json:"retry,omitempty"`
	Identity  *Identity     `json:"identity,omitempty"`
	Enrolled  bool          `json:"enrolled,omitempty"`
}

// Stats count what this volunteer did since New.
type Stats struct {
	Connected bool          `json:"connected"`
	Running   int           `json:"running"`
	Done      int64         `json:"chunks_done"`
	Failed    int64         `json:"chunks_failed"`
	Verified  int64         `json:"results_verified"`
	Rejected  int64         `json:"results_rejected"`
	Busy      time.Duration `json:"busy"` // time spent computing (not resting)
	// TotalVerified and Credit are the server's all-time totals for this
	// identity (every connection and visit), as of the last welcome or
	// verified verdict; Credit is CPU seconds of verified results.
	TotalVerified int64   `json:"total_verified"`
	Credit        float64 `json:"credit"`
}

// prefetchBelow: leases are prefetched (Config.Prefetch) only while the
// last chunk computed took less than this, so a prefetched lease waits at
// most about this long for its slot.
const prefetchBelow = time.Second

// Volunteer is one volunteer: several slots over one connection at a time.
type Volunteer struct {
	cfg       Config
	cpu       atomic.Int32
	slots     atomic.Int32
	lastChunk atomic.Int64 // busy time of the last chunk computed, ns; 0: none yet

	key protocol.Key // signs each connection's challenge

	mu       sync.Mutex
	nickname string
	team     string
	identity Identity
	stats    Stats
	conn     *session // current connection, nil when disconnected
}

// New returns a volunteer; Run starts it.
func New(cfg Config) *Volunteer {
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 30 * time.Second
	}
	if cfg.Slice <= 0 {
		cfg.Slice = 100 * time.Millisecond
	}
	if cfg.Agent == "" {
		cfg.Agent = "pulsegrid-volunteer"
	}
	v := &Volunteer{cfg: cfg, nickname: cfg.Nickname, team: cfg.Team}
	v.key, v.identity = identityKey(cfg.Identity)
	v.SetCPU(cfg.CPU)
	v.SetSlots(cfg.Slots)
	return v
}

// SetCPU sets the share of a core each slot may use, in percent (clamped to
// 1..100; 0 means 100). It applies to running chunks at their next slice.
func (v *Volunteer) SetCPU(percent int) {
	if percent <= 0 || percent > 100 {
		percent = 100
	}
	v.cpu.Store(int32(percent))
}

// SetSlots sets how many chunks run at once (1..64). More slots ask the
// server for more work at once; fewer take effect as running chunks end.
func (v *Volunteer) SetSlots(n int) {
	v.slots.Store(int32(min(max(n, 1), 64)))
	v.mu.Lock()
	s := v.conn
	v.mu.Unlock()
	if s != nil {
		s.topUp()
	}
}

// SetNickname changes the nickname sent with the next hello: the server
// renames a volunteer when it reconnects.
func (v *Volunteer) SetNickname(name string) {
	v.mu.Lock()
	v.nickname = name
	v.mu.Unlock()
}

// SetTeam changes the team sent with the next hello: the server moves a
// volunteer (and its credit) to the new team when it reconnects.
func (v *Volunteer) SetTeam(name string) {
	v.mu.Lock()
	v.team = name
	v.mu.Unlock()
}

// identityKey resumes the key of id, or makes a new identity when id holds
// none (or one whose id does not match its key).
func identityKey(id Identity) (protocol.Key, Identity) {
	if k, err := protocol.ParseKey(id.Secret); err == nil && (id.ID == "" || id.ID == k.ID()) {
		return k, Identity{ID: k.ID(), Secret: k.String()}
	}
	k := protocol.NewKey()
	return k, Identity{ID: k.ID(), Secret: k.String()}
}

// Identity returns the volunteer's identity.
func (v *Volunteer) Identity() Identity {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.identity
}

// Stats returns the counters.
func (v *Volunteer) Stats() Stats {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.stats
}

func (v *Volunteer) emit(e Event) {
	if v.cfg.OnEvent != nil {
		e.Time = time.Now()
		v.cfg.OnEvent(e)
	}
}

// WebsocketURL turns a server's base URL into its volunteer websocket URL.
func WebsocketURL(server string) (string, error) {
	u, err := url.Parse(server)
	if err != nil {
		return "", fmt.Errorf("server URL %q: %w", server, err)
	}
	switch u.Scheme {
	case "http":
		u.Scheme = "ws"
	case "https":
		u.Scheme = "wss"
	case "ws", "wss":
	default:
		return "", fmt.Errorf("server URL %q: want http://, https://, ws:// or wss://", server)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = protocol.Path
	}
	return u.String(), nil
}

// Run connects and works until ctx ends, reconnecting after failures with
// exponential backoff and jitter. It returns ctx's error, or an error the
// server made clear will not go away (wrong protocol version, bad token).
func (v *Volunteer) Run(ctx context.Context) error {
	wsURL, err := WebsocketURL(v.cfg.Server)
	if err != nil {
		return err
	}
	if v.cfg.Registry == nil {
		return errors.New("volunteer: no algorithm registry")
	}
	backoff := v.cfg.MinBackoff
	for {
		v.emit(Event{Kind: EventConnecting})
		welcomed, err := v.session(ctx, wsURL)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var fatal *fatalError
		if errors.As(err, &fatal) && fatal.permanent {
			v.emit(Event{Kind: EventDisconnected, Err: err.Error()})
			return err
		}
		if welcomed {
			backoff = v.cfg.MinBackoff
		}
		wait := backoff/2 + rand.N(backoff/2+1)
		v.emit(Event{Kind: EventDisconnected, Err: errString(err), Retry: wait})
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		backoff = min(2*backoff, v.cfg.MaxBackoff)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// fatalError is the server's fatal message; permanent ones end Run.
type fatalError struct {
	reason    string
	permanent bool
}

// Error implements error.
func (e *fatalError) Error() string { return "server: " + e.reason }

// session is one connection's state.
type session struct {
	v           *Volunteer
	conn        *websocket.Conn
	ctx         context.Context
	cancel      context.CancelFunc
	out         chan frame
	heartbeat   time.Duration
	epoch       time.Time    // lastTurn counts from here
	lastTurn    atomic.Int64 // ns after epoch of the last yield to the event loop (see throttle)
	mu          sync.Mutex
	outstanding int // leases requested, not yet received
	jobs        map[int64]*job
	running     int           // jobs holding a slot (computing)
	freed       chan struct{} // closed, and replaced, whenever a slot is released
}

type frame struct {
	msg     *protocol.Message
	payload []byte
}

type job struct {
	lease    *protocol.Message
	cancel   context.CancelFunc
	slot     bool // holds a slot (guarded by session.mu)
	finished bool // lease released (guarded by session.mu)
}

// turned records that the event loop had a turn at t.
func (s *session) turned(t time.Time) { s.lastTurn.Store(int64(t.Sub(s.epoch))) }

// sinceTurn is the time since the event loop's last recorded turn.
func (s *session) sinceTurn(now time.Time) time.Duration {
	return now.Sub(s.epoch) - time.Duration(s.lastTurn.Load())
}

func (v *Volunteer) session(ctx context.Context, wsURL string) (welcomed bool, err error) {
	dctx, dcancel := context.WithTimeout(ctx, 15*time.Second)
	conn, _, err := websocket.Dial(dctx, wsURL, dialOptions(&v.cfg))
	dcancel()
	if err != nil {
		return false, fmt.Errorf("dial %s: %w", wsURL, err)
	}
	defer conn.CloseNow()
	conn.SetReadLimit(protocol.MaxPayload + 1024)
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s := newSession(v, sctx, cancel)
	s.conn = conn

	v.mu.Lock()
	id, nickname, team := v.identity, v.nickname, v.team
	v.mu.Unlock()
	wctx, wcancel := context.WithTimeout(sctx, 10*time.Second)
	// The server speaks first: a challenge whose nonce the hello signs.
	challenge, err := s.readControl(wctx)
	if err == nil && challenge.Type == protocol.TypeFatal {
		err = &fatalError{reason: challenge.Reason, permanent: true}
	} else if err == nil && challenge.Type != protocol.TypeChallenge {
		err = fmt.Errorf("server opened with %q, want a challenge (protocol version %d)", challenge.Type, protocol.Version)
	}
	if err == nil {
		hello := &protocol.Message{Type: protocol.TypeHello, Version: protocol.Version, Algorithms: v.cfg.Registry.Names(),
			Slots: int(v.slots.Load()), Agent: v.cfg.Agent, PublicKey: v.key.PublicKey(), Signature: v.key.Sign(challenge.Nonce),
			Token: v.cfg.Token, Nickname: nickname, Team: team}
		err = conn.Write(wctx, websocket.MessageText, hello.Encode())
	}
	if err == nil {
		var welcome *protocol.Message
		welcome, err = s.readControl(wctx)
		if err == nil && welcome.Type == protocol.TypeFatal {
			err = &fatalError{reason: welcome.Reason, permanent: true}
		} else if err == nil && welcome.Type != protocol.TypeWelcome {
			err = fmt.Errorf("server answered hello with %q", welcome.Type)
		}
		if err == nil {
			s.heartbeat = time.Duration(welcome.HeartbeatMS) * time.Millisecond
			if s.heartbeat <= 0 {
				s.heartbeat = 5 * time.Second
			}
			if welcome.VolunteerID != id.ID {
				err = fmt.Errorf("server welcomed %q, but this key is %q", welcome.VolunteerID, id.ID)
			}
		}
		if err == nil {
			v.mu.Lock()
			v.stats.Connected = true
			v.stats.TotalVerified, v.stats.Credit = welcome.TotalVerified, welcome.Credit
			v.conn = s
			v.mu.Unlock()
			v.emit(Event{Kind: EventConnected, Identity: &id, Enrolled: welcome.Enrolled})
		}
	}
	wcancel()
	if err != nil {
		return false, err
	}
	defer func() {
		v.mu.Lock()
		v.stats.Connected = false
		v.conn = nil
		v.mu.Unlock()
	}()

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.writer()
	}()
	s.topUp()
	err = s.reader()
	cancel()
	conn.Close(websocket.StatusNormalClosure, "")
	wg.Wait()
	return true, err
}

func newSession(v *Volunteer, ctx context.Context, cancel context.CancelFunc) *session {
	return &session{v: v, ctx: ctx, cancel: cancel, out: make(chan frame, 64), jobs: map[int64]*job{},
		freed: make(chan struct{}), epoch: time.Now(), heartbeat: 5 * time.Second}
}

func (s *session) readControl(ctx context.Context) (*protocol.Message, error) {
	typ, b, err := s.conn.Read(ctx)
	if err != nil {
		return nil, err
	}
	if typ != websocket.MessageText {
		return nil, fmt.Errorf("expected a control message, got a binary frame of %d bytes", len(b))
	}
	return protocol.Decode(b)
}

// reader is the connection's only reader: control messages, and the
// payload frame that follows each lease.
func (s *session) reader() error {
	for {
		m, err := s.readControl(s.ctx)
		if err != nil {
			if websocket.CloseStatus(err) == websocket.StatusNormalClosure || s.ctx.Err() != nil {
				return nil
			}
			return err
		}
		switch m.Type {
		case protocol.TypeLease:
			typ, payload, err := s.conn.Read(s.ctx)
			if err != nil {
				return err
			}
			if typ != websocket.MessageBinary || len(payload) != m.Size {
				return fmt.Errorf("lease %d: expected a binary payload of %d bytes", m.LeaseID, m.Size)
			}
			// A frame came in: the event loop had a turn (on js/wasm the
			// reader runs only after one).
			s.turned(time.Now())
			s.start(m, payload)
		case protocol.TypeCancel:
			s.mu.Lock()
			j := s.jobs[m.LeaseID]
			s.mu.Unlock()
			if j != nil {
				j.cancel()
				s.v.emit(Event{Kind: EventCancelled, LeaseID: m.LeaseID, Algorithm: j.lease.Algorithm, Err: m.Reason})
			}
		case protocol.TypeVerdict:
			s.v.mu.Lock()
			switch m.Verdict {
			case protocol.VerdictVerified:
				s.v.stats.Verified++
				// Totals of all connections: verdicts may arrive out of order.
				s.v.stats.TotalVerified = max(s.v.stats.TotalVerified, m.TotalVerified)
				s.v.stats.Credit = max(s.v.stats.Credit, m.Credit)
			case protocol.VerdictRejected:
				s.v.stats.Rejected++
			}
			s.v.mu.Unlock()
			s.v.emit(Event{Kind: EventVerdict, LeaseID: m.LeaseID, Verdict: m.Verdict, Err: m.Reason})
		case protocol.TypeFatal:
			return &fatalError{reason: m.Reason}
		default:
			return fmt.Errorf("unexpected %q message from the server", m.Type)
		}
	}
}

// writer is the connection's only writer.
func (s *session) writer() {
	for {
		select {
		case <-s.ctx.Done():
			return
		case f := <-s.out:
			ctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
			err := s.conn.Write(ctx, websocket.MessageText, f.msg.Encode())
			if err == nil && f.payload != nil {
				err = s.conn.Write(ctx, websocket.MessageBinary, f.payload)
			}
			cancel()
			if err != nil {
				s.cancel()
				return
			}
		}
	}
}

// send queues a message; with wait false it is dropped if the queue is full
// (progress heartbeats only).
func (s *session) send(m *protocol.Message, payload []byte, wait bool) {
	f := frame{m, payload}
	if !wait {
		select {
		case s.out <- f:
		default:
		}
		return
	}
	select {
	case s.out <- f:
	case <-s.ctx.Done():
	}
}

// topUp asks for as many leases as free slots (and prefetch) allow.
func (s *session) topUp() {
	if want := s.reserve(); want > 0 {
		s.send(&protocol.Message{Type: protocol.TypeRequest, Count: want}, nil, true)
	}
}

// reserve counts the leases to ask for now as outstanding and returns how
// many: free slots, plus Config.Prefetch while chunks are short.
func (s *session) reserve() int {
	want := int(s.v.slots.Load())
	if d := time.Duration(s.v.lastChunk.Load()); s.v.cfg.Prefetch > 0 && d > 0 && d < prefetchBelow {
		want += s.v.cfg.Prefetch
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	want = min(want-len(s.jobs)-s.outstanding, 256)
	if want <= 0 {
		return 0
	}
	s.outstanding += want
	return want
}

func (s *session) start(lease *protocol.Message, payload []byte) {
	ctx, cancel := context.WithCancel(s.ctx)
	j := &job{lease: lease, cancel: cancel}
	s.mu.Lock()
	s.outstanding = max(s.outstanding-1, 0)
	s.jobs[lease.LeaseID] = j
	s.mu.Unlock()
	go func() {
		defer func() {
			cancel()
			if want := s.finish(j); want > 0 {
				s.send(&protocol.Message{Type: protocol.TypeRequest, Count: want}, nil, true)
			}
		}()
		s.run(ctx, j, payload)
	}()
}

// acquire waits for a free slot for j, heartbeating its (acknowledged)
// lease meanwhile so that the server keeps it.
func (s *session) acquire(ctx context.Context, j *job) error {
	var beat *time.Ticker
	defer func() {
		if beat != nil {
			beat.Stop()
		}
	}()
	for {
		s.mu.Lock()
		if s.running < int(s.v.slots.Load()) {
			s.running++
			j.slot = true
			s.mu.Unlock()
			s.v.mu.Lock()
			s.v.stats.Running++
			s.v.mu.Unlock()
			return nil
		}
		freed := s.freed
		s.mu.Unlock()
		if beat == nil {
			beat = time.NewTicker(s.heartbeat / 2)
		}
		select {
		case <-freed:
		case <-beat.C:
			s.send(&protocol.Message{Type: protocol.TypeProgress, LeaseID: j.lease.LeaseID}, nil, false)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// finish releases j's lease and its slot, once; it returns how many leases
// to ask for now (already counted as outstanding), which the caller sends
// with the result or error, or in a request of its own.
func (s *session) finish(j *job) int {
	s.mu.Lock()
	if j.finished {
		s.mu.Unlock()
		return 0
	}
	j.finished = true
	delete(s.jobs, j.lease.LeaseID)
	slot := j.slot
	if slot {
		j.slot = false
		s.running--
		close(s.freed)
		s.freed = make(chan struct{})
	}
	s.mu.Unlock()
	if slot {
		s.v.mu.Lock()
		s.v.stats.Running--
		s.v.mu.Unlock()
	}
	if s.ctx.Err() != nil {
		return 0
	}
	return s.reserve()
}

// run computes one lease and reports the outcome.
func (s *session) run(ctx context.Context, j *job, payload []byte) {
	v := s.v
	lease := j.lease
	id := lease.LeaseID
	fail := func(err error) {
		v.mu.Lock()
		v.stats.Failed++
		v.mu.Unlock()
		v.emit(Event{Kind: EventChunkFailed, LeaseID: id, Algorithm: lease.Algorithm, Err: err.Error()})
		s.send(&protocol.Message{Type: protocol.TypeError, LeaseID: id, Reason: err.Error(), Count: s.finish(j)}, nil, true)
	}
	digest, err := payloadDigest(ctx, payload)
	if err != nil {
		return // cancelled
	}
	if digest != lease.Digest {
		fail(fmt.Errorf("payload digest does not match the lease"))
		return
	}
	// Acknowledged on arrival, before the lease waits for a slot (prefetch).
	s.send(&protocol.Message{Type: protocol.TypeAck, LeaseID: id}, nil, true)
	if s.acquire(ctx, j) != nil {
		return
	}
	v.emit(Event{Kind: EventChunkStarted, LeaseID: id, Algorithm: lease.Algorithm})
	alg, err := v.cfg.Registry.Lookup(lease.Algorithm)
	if err != nil {
		fail(err)
		return
	}
	task, err := pipeline.DecodeTask(payload)
	if err != nil {
		fail(err)
		return
	}
	if task.Algorithm != alg.Name() {
		fail(fmt.Errorf("payload is for %s but the lease names %s", task.Algorithm, alg.Name()))
		return
	}
	start := time.Now()
	y := &throttle{ctx: ctx, v: v, s: s, id: id, alg: lease.Algorithm, sliceStart: start, lastBeat: start}
	out, err := alg.Run(task, y)
	busy := time.Since(start) - y.rested
	// The last slice rests too (before the result goes out), so that short
	// chunks keep to the duty cycle as well as long ones.
	if y.end() != nil {
		return
	}
	v.mu.Lock()
	v.stats.Busy += busy
	v.mu.Unlock()
	v.lastChunk.Store(int64(max(busy, 1)))
	if ctx.Err() != nil {
		return // cancelled by the server, or the connection went away
	}
	if err != nil {
		fail(err)
		return
	}
	if v.cfg.Cheat != nil {
		out = v.cfg.Cheat(out)
	}
	if len(out) > protocol.MaxOutput {
		fail(fmt.Errorf("output of %d bytes exceeds the protocol limit %d", len(out), protocol.MaxOutput))
		return
	}
	v.mu.Lock()
	v.stats.Done++
	v.mu.Unlock()
	v.emit(Event{Kind: EventChunkDone, LeaseID: id, Algorithm: lease.Algorithm, Elapsed: time.Since(start)})
	// The freed slot's request rides on the result (one message fewer).
	s.send(&protocol.Message{Type: protocol.TypeResult, LeaseID: id, Digest: canon.Digest(out), Size: len(out),
		CPUMS: float64(busy.Microseconds()) / 1000, Count: s.finish(j)}, out, true)
}

// throttle is the Yielder a chunk runs under: it enforces the CPU duty
// cycle (work a slice, rest in proportion), sends progress heartbeats and
// stops the chunk when its lease is cancelled. Resting is a timer wait,
// which on js/wasm hands control back to the browser's event loop. At
// 100 % there is nothing to rest, and the chunk only yields one turn of the
// event loop per slice (eventLoopTurn: no timer, whose 1 ms became 4 ms in
// Chromium), counting the slice from the session's last turn, so that
// chunks shorter than a slice run back to back without a yield each.
type throttle struct {
	ctx        context.Context
	v          *Volunteer
	s          *session
	id         int64
	alg        string
	sliceStart time.Time
	lastBeat   time.Time
	rested     time.Duration
	yields     int // rests and event-loop turns taken, for tests
}

// Yield implements pipeline.Yielder.
func (t *throttle) Yield(done, total int64) error {
	if err := t.ctx.Err(); err != nil {
		return err
	}
	now := time.Now()
	if now.Sub(t.lastBeat) >= t.s.heartbeat/2 {
		t.lastBeat = now
		t.s.send(&protocol.Message{Type: protocol.TypeProgress, LeaseID: t.id, Done: done, Total: total}, nil, false)
		t.v.emit(Event{Kind: EventProgress, LeaseID: t.id, Algorithm: t.alg, Done: done, Total: total})
	}
	if t.v.cpu.Load() >= 100 {
		return t.turnIfDue(now)
	}
	worked := now.Sub(t.sliceStart)
	if worked < t.v.cfg.Slice {
		return nil
	}
	return t.rest(worked)
}

// end is the chunk's last yield, before its result goes out: below 100 %
// the rest owed for the last slice, at 100 % a turn if one is due.
func (t *throttle) end() error {
	now := time.Now()
	if t.v.cpu.Load() >= 100 {
		if err := t.turnIfDue(now); err != nil {
			return err
		}
		return t.ctx.Err()
	}
	return t.rest(now.Sub(t.sliceStart))
}

// turnIfDue is the yield at 100 %: a turn of the event loop once a slice
// has passed since the session's last one.
func (t *throttle) turnIfDue(now time.Time) error {
	if t.s.sinceTurn(now) < t.v.cfg.Slice {
		return nil
	}
	return t.turn()
}

// turn lets the event loop run once, without resting.
func (t *throttle) turn() error {
	if err := eventLoopTurn(t.ctx); err != nil {
		return err
	}
	t.yields++
	t.sliceStart = time.Now()
	t.s.turned(t.sliceStart)
	return nil
}

// rest waits in proportion to worked, the time computed since the last rest.
func (t *throttle) rest(worked time.Duration) error {
	share := float64(t.v.cpu.Load()) / 100
	rest := time.Duration(float64(worked) * (1 - share) / share)
	rest = max(rest, time.Millisecond) // always give the event loop (and other goroutines) a turn
	if err := sleep(t.ctx, rest); err != nil {
		return err
	}
	t.rested += rest
	t.yields++
	t.sliceStart = time.Now()
	t.s.turned(t.sliceStart)
	return nil
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	select {
	case <-ctx.Done():
		timer.Stop()
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

// Describe is a one-line summary of a configuration, for logs.
func (c *Config) Describe() string {
	return fmt.Sprintf("server %s, %d slot(s) at %d%% CPU, algorithms %s", c.Server, max(c.Slots, 1), c.CPU, strings.Join(c.Registry.Names(), ", "))
}
