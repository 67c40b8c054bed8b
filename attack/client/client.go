package client

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/pulsegrid/pulsegrid/algorithms/catalog"
	"github.com/pulsegrid/pulsegrid/algorithms/pipeline"
)

// Lie says when a volunteer lies.
type Lie int

const (
	// LieNever returns honest outputs.
	LieNever Lie = iota
	// LieAlways forges every output.
	LieAlways
	// LieAfterTrusted is honest until the identity has Behaviour.After
	// verified verdicts in a row, then forges every output until one is
	// rejected; then it is honest again to rebuild its standing (a
	// reputation that resets on a catch is earned back this way).
	LieAfterTrusted
	// LieRare forges one output in Behaviour.Every (the last of each run
	// of Every answers), honest otherwise.
	LieRare
)

// Hoard says how a volunteer sits on leases instead of answering them.
type Hoard int

const (
	// HoardNone answers every lease.
	HoardNone Hoard = iota
	// HoardNeverAck never acknowledges a lease nor answers it; when the
	// server cancels one it asks for another.
	HoardNeverAck
	// HoardProgress acknowledges every lease and then sends progress
	// forever, never a result; when the server cancels one it asks for
	// another.
	HoardProgress
)

// Behaviour is what one identity does. The fields compose: e.g. Lie with
// Renew is a liar that comes back as a new identity each time it is
// caught; HoldFor with CPUMS holds leases and claims huge CPU times.
type Behaviour struct {
	Lie   Lie
	Forge Forge
	// After is LieAfterTrusted's count of verified verdicts in a row.
	After int
	// Every is LieRare's period.
	Every int
	// Renew starts a new identity after every rejected verdict, fatal
	// message, close for a policy violation (1008) or application-defined
	// close status (4000 and up, a ban), as an attacker whose identities
	// cost nothing would. 1013 (try again later) keeps the identity.
	Renew bool
	Hoard Hoard
	// ErrorReason, if set, is the lie: an error with this text instead of
	// a result, on every lease (Lie LieNever) or on those Lie picks (e.g.
	// a trusted volunteer's single error).
	ErrorReason string
	// CPUMS, if above 0, is the cpu_ms claimed for every result (else
	// the compute time measured).
	CPUMS float64
	// HoldFor holds each lease (acknowledged, with progress) this long
	// before answering it.
	HoldFor time.Duration
	// PartialFrame, if above 0: right after welcome, send a result that
	// declares MaxOutput bytes, then this many bytes of its binary frame,
	// and nothing more (the frame never ends).
	PartialFrame int
	// Slots is how many leases it asks for at once (1 when 0).
	Slots int
	// Token is an enrollment token for hello (empty: anonymous).
	Token string
}

// Config is one hostile volunteer.
type Config struct {
	// Server is the server's base URL, e.g. http://127.0.0.1:8080.
	Server string
	// Protocol is 1 (volunteer_id + secret in hello) or 2 (challenge,
	// Ed25519 key and signature).
	Protocol int
	// LocalAddr is the source IP to dial from (an address in 127.0.0.0/8
	// when the server listens on 127.0.0.1); empty lets the kernel choose.
	LocalAddr string
	Behaviour Behaviour
	// Stats collects what every volunteer sharing it did; required.
	Stats *Stats
	// Identity, if set, is shared with other Volunteers (one identity, many
	// connections); nil makes a new one.
	Identity *Identity
	// BadSignature signs another nonce than the challenge's (v2): the
	// server must refuse the hello.
	BadSignature bool
	// Seed makes ForgeSolo forgeries differ between volunteers.
	Seed uint64
	// MinBackoff is the first wait before reconnecting (200 ms when 0),
	// doubling to 5 s.
	MinBackoff time.Duration
	// Logf, if set, receives one line per notable event.
	Logf func(format string, args ...any)
}

// Volunteer is one hostile identity (renewed as its Behaviour says).
type Volunteer struct {
	cfg   Config
	reg   *pipeline.Registry
	httpc *http.Client
	id    *Identity
}

// Identity is who a volunteer is to the server: v1 an id and a secret the
// server issued, v2 an Ed25519 key. Several Volunteers may share one (one
// identity over many connections).
type Identity struct {
	mu       sync.Mutex
	id       string // from welcome
	secret   string // v1
	key      ed25519.PrivateKey
	verified int // verified verdicts since the last rejected one
	answered int // results sent
	// leased are the payload digests this identity has been leased.
	leased map[string]bool
}

// held records a lease's payload digest and reports whether this identity
// had been leased it before.
func (id *Identity) held(digest string) bool {
	id.mu.Lock()
	defer id.mu.Unlock()
	if id.leased == nil {
		id.leased = map[string]bool{}
	}
	again := id.leased[digest]
	id.leased[digest] = true
	return again
}

// New returns a Volunteer; Run connects it.
func New(cfg Config) *Volunteer {
	if cfg.Protocol == 0 {
		cfg.Protocol = 1
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 200 * time.Millisecond
	}
	if cfg.Behaviour.Slots <= 0 {
		cfg.Behaviour.Slots = 1
	}
	d := &net.Dialer{Timeout: 5 * time.Second}
	if cfg.LocalAddr != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(cfg.LocalAddr)}
	}
	tr := &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}
	id := cfg.Identity
	if id == nil {
		id = NewIdentity()
	}
	return &Volunteer{cfg: cfg, reg: catalog.All(), httpc: &http.Client{Transport: tr}, id: id}
}

// NewIdentity makes a new identity: a fresh Ed25519 key (v2), no id yet
// (v1: the first welcome issues one).
func NewIdentity() *Identity {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic("client: " + err.Error()) // crypto/rand does not fail on Linux
	}
	return &Identity{key: key}
}

func (v *Volunteer) logf(format string, args ...any) {
	if v.cfg.Logf != nil {
		v.cfg.Logf(format, args...)
	}
}

// errRenew ends a session so that the next one starts a new identity.
var errRenew = errors.New("renewing the identity")

// Run connects, and reconnects with backoff, until ctx is done.
func (v *Volunteer) Run(ctx context.Context) {
	backoff := v.cfg.MinBackoff
	for ctx.Err() == nil {
		started := time.Now()
		err := v.session(ctx)
		if ctx.Err() != nil {
			return
		}
		renew := errors.Is(err, errRenew)
		status := websocket.CloseStatus(err)
		switch {
		case status == statusTryAgainLater:
			v.cfg.Stats.add(func(s *Summary) { s.Refused++ })
		case renew:
		case v.cfg.Behaviour.Renew && (status == websocket.StatusPolicyViolation || status >= 4000):
			renew = true // a fatal or an application-defined ban: come back as someone else
		}
		if renew {
			v.id = NewIdentity()
			v.cfg.Stats.add(func(s *Summary) { s.Renewed++ })
			backoff = v.cfg.MinBackoff
			continue
		}
		if time.Since(started) > 10*time.Second {
			backoff = v.cfg.MinBackoff
		}
		v.logf("reconnecting in %v after %v", backoff, err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// conn is one websocket with a write lock, so that a result and its binary
// frame go out together.
type conn struct {
	ws  *websocket.Conn
	wmu sync.Mutex
}

func (c *conn) send(ctx context.Context, m *message, bin []byte) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := c.ws.Write(wctx, websocket.MessageText, b); err != nil {
		return err
	}
	if bin != nil {
		return c.ws.Write(wctx, websocket.MessageBinary, bin)
	}
	return nil
}

func (c *conn) readText(ctx context.Context) (*message, error) {
	typ, b, err := c.ws.Read(ctx)
	if err != nil {
		return nil, err
	}
	if typ != websocket.MessageText {
		return nil, fmt.Errorf("unexpected binary frame of %d bytes where a control message was due", len(b))
	}
	var m message
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("control message is not JSON: %w", err)
	}
	return &m, nil
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// hello builds the first message: v1 resumes the identity with its id and
// secret (none yet: a new identity); v2 signs the challenge.
func (v *Volunteer) hello(nonce []byte) *message {
	b := v.cfg.Behaviour
	algs := v.reg.Names()
	h := &message{Type: "hello", Version: v.cfg.Protocol, Algorithms: algs, Slots: b.Slots,
		Agent: "pulsegrid-attack", Token: b.Token}
	if v.cfg.Protocol >= 2 {
		pub := v.id.key.Public().(ed25519.PublicKey)
		h.PublicKey = b64(pub)
		signed := nonce
		if v.cfg.BadSignature {
			signed = make([]byte, len(nonce))
			rand.Read(signed)
		}
		h.Signature = b64(ed25519.Sign(v.id.key, append([]byte(helloV2Prefix), signed...)))
		return h
	}
	v.id.mu.Lock()
	h.VolunteerID, h.Secret = v.id.id, v.id.secret
	v.id.mu.Unlock()
	return h
}

// V2ID is the identity a v2 server derives from a public key: "v-" and the
// first 20 hex digits of its SHA-256.
func V2ID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return "v-" + hex.EncodeToString(sum[:])[:20]
}

func (v *Volunteer) session(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	url := "ws" + strings.TrimPrefix(v.cfg.Server, "http") + wsPath
	dctx, dcancel := context.WithTimeout(ctx, 10*time.Second)
	ws, _, err := websocket.Dial(dctx, url, &websocket.DialOptions{HTTPClient: v.httpc})
	dcancel()
	if err != nil {
		v.cfg.Stats.add(func(s *Summary) { s.DialErrors++ })
		return fmt.Errorf("dial %s from %s: %w", url, v.cfg.LocalAddr, err)
	}
	defer ws.CloseNow()
	ws.SetReadLimit(maxPayload)
	c := &conn{ws: ws}

	var nonce []byte
	if v.cfg.Protocol >= 2 {
		hctx, hcancel := context.WithTimeout(ctx, 10*time.Second)
		ch, err := c.readText(hctx)
		hcancel()
		if err != nil {
			return fmt.Errorf("waiting for the challenge: %w", err)
		}
		if ch.Type != "challenge" {
			return fmt.Errorf("first message %q, want challenge (is the server protocol v1?)", ch.Type)
		}
		if raw, err := base64.RawURLEncoding.DecodeString(ch.Nonce); err != nil || len(raw) != 32 {
			return fmt.Errorf("challenge nonce %q is not 32 bytes of unpadded base64url", ch.Nonce)
		}
		// docs/protocol.md: the signed bytes are the prefix and the nonce
		// string exactly as received.
		nonce = []byte(ch.Nonce)
	}
	if err := c.send(ctx, v.hello(nonce), nil); err != nil {
		return err
	}
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	w, err := c.readText(wctx)
	wcancel()
	if err != nil {
		return fmt.Errorf("waiting for welcome: %w", err)
	}
	if w.Type == "fatal" {
		v.cfg.Stats.add(func(s *Summary) { s.Fatals++; s.FatalReasons = appendReason(s.FatalReasons, w.Reason) })
		return fmt.Errorf("fatal answer to hello: %s", w.Reason)
	}
	if w.Type != "welcome" {
		return fmt.Errorf("answer to hello is %q, want welcome", w.Type)
	}
	id := v.id
	id.mu.Lock()
	fresh := id.id == ""
	id.id = w.VolunteerID
	if w.Secret != "" {
		id.secret = w.Secret
	}
	id.mu.Unlock()
	connected := time.Now()
	v.cfg.Stats.add(func(s *Summary) {
		s.Connections++
		if fresh {
			s.Identities++
		}
		s.seen(w.VolunteerID, w.Credit, w.TotalVerified)
	})
	defer func() {
		d := time.Since(connected)
		v.cfg.Stats.add(func(s *Summary) { s.wall(w.VolunteerID, d) })
	}()
	v.logf("connected as %s from %s", w.VolunteerID, v.cfg.LocalAddr)
	hb := time.Duration(w.HeartbeatMS) * time.Millisecond
	if hb <= 0 {
		hb = 5 * time.Second
	}
	s := &session{v: v, c: c, id: id, heartbeat: hb, leases: map[int64]chan struct{}{}}
	return s.run(ctx)
}

// session is one connection's state.
type session struct {
	v         *Volunteer
	c         *conn
	id        *Identity
	heartbeat time.Duration
	mu        sync.Mutex
	leases    map[int64]chan struct{} // closed on cancel
	wg        sync.WaitGroup
}

func (s *session) run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer func() { cancel(); s.wg.Wait() }()
	b := s.v.cfg.Behaviour
	st := s.v.cfg.Stats
	if b.PartialFrame > 0 {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.partialFrame(ctx)
		}()
	} else if err := s.c.send(ctx, &message{Type: "request", Count: b.Slots}, nil); err != nil {
		return err
	}
	for {
		m, err := s.c.readText(ctx)
		if err != nil {
			return err
		}
		switch m.Type {
		case "lease":
			typ, payload, err := s.c.ws.Read(ctx)
			if err != nil {
				return err
			}
			if typ != websocket.MessageBinary || len(payload) != m.Size {
				return fmt.Errorf("lease %d: payload frame of %d bytes, want %d binary", m.LeaseID, len(payload), m.Size)
			}
			sum := sha256.Sum256(payload)
			if hex.EncodeToString(sum[:]) != m.Digest {
				return fmt.Errorf("lease %d: payload digest mismatch", m.LeaseID)
			}
			again := s.id.held(m.Digest)
			st.add(func(x *Summary) {
				x.Leases++
				if again {
					x.LeasedAgain++
				}
			})
			done := make(chan struct{})
			s.mu.Lock()
			s.leases[m.LeaseID] = done
			s.mu.Unlock()
			s.wg.Add(1)
			go func(l *message) {
				defer s.wg.Done()
				s.lease(ctx, l, payload, done)
			}(m)
		case "cancel":
			st.add(func(x *Summary) { x.Cancels++ })
			s.mu.Lock()
			done := s.leases[m.LeaseID]
			delete(s.leases, m.LeaseID)
			s.mu.Unlock()
			if done != nil {
				close(done)
				// The slot is free again (docs/protocol.md: after a cancel,
				// request again); a hoarder wants it filled at once too.
				if err := s.c.send(ctx, &message{Type: "request", Count: 1}, nil); err != nil {
					return err
				}
			}
		case "verdict":
			renew := s.verdict(m)
			if renew {
				s.c.ws.Close(websocket.StatusNormalClosure, "")
				return errRenew
			}
		case "fatal":
			st.add(func(x *Summary) { x.Fatals++; x.FatalReasons = appendReason(x.FatalReasons, m.Reason) })
			if b.Renew {
				return errRenew
			}
			return fmt.Errorf("fatal: %s", m.Reason)
		default:
			// Unknown server messages are skipped: a newer server may
			// send more than this client knows.
		}
	}
}

// verdict counts a verdict and says whether the identity should be
// renewed.
func (s *session) verdict(m *message) bool {
	b := s.v.cfg.Behaviour
	s.id.mu.Lock()
	switch m.Verdict {
	case "verified":
		s.id.verified++
	case "rejected":
		s.id.verified = 0 // caught: earn the standing back first
	}
	id := s.id.id
	s.id.mu.Unlock()
	s.v.cfg.Stats.add(func(x *Summary) {
		switch m.Verdict {
		case "verified":
			x.Verified++
			x.seen(id, m.Credit, m.TotalVerified)
		case "rejected":
			x.Rejected++
		case "ignored":
			x.Ignored++
		default:
			x.OtherVerdicts++
		}
	})
	return m.Verdict == "rejected" && b.Renew
}

// lease works on one lease as the behaviour says.
func (s *session) lease(ctx context.Context, l *message, payload []byte, cancelled <-chan struct{}) {
	b := s.v.cfg.Behaviour
	st := s.v.cfg.Stats
	forget := func() {
		s.mu.Lock()
		delete(s.leases, l.LeaseID)
		s.mu.Unlock()
	}
	switch b.Hoard {
	case HoardNeverAck:
		st.add(func(x *Summary) { x.Hoarded++ })
		return // the reader re-requests when the server cancels it
	case HoardProgress:
		st.add(func(x *Summary) { x.Hoarded++ })
		if s.c.send(ctx, &message{Type: "ack", LeaseID: l.LeaseID}, nil) != nil {
			return
		}
		s.keepAlive(ctx, l.LeaseID, cancelled, 0)
		return
	}
	if err := s.c.send(ctx, &message{Type: "ack", LeaseID: l.LeaseID}, nil); err != nil {
		return
	}
	st.add(func(x *Summary) { x.Acks++ })
	if b.ErrorReason != "" && (b.Lie == LieNever || s.shouldLie()) {
		forget()
		key := ""
		if task, err := pipeline.DecodeTask(payload); err == nil {
			key = ChunkKey(task)
		}
		st.add(func(x *Summary) {
			// An injected error is a lie about the chunk too.
			x.Errors++
			x.Lies++
			x.LiedOn[key]++
		})
		s.c.send(ctx, &message{Type: "error", LeaseID: l.LeaseID, Reason: b.ErrorReason, Count: 1}, nil)
		return
	}
	start := time.Now()
	task, out, err := s.compute(l, payload)
	cpu := float64(time.Since(start).Microseconds()) / 1000
	if err != nil {
		forget()
		st.add(func(x *Summary) { x.Errors++ })
		s.c.send(ctx, &message{Type: "error", LeaseID: l.LeaseID, Reason: err.Error(), Count: 1}, nil)
		return
	}
	if b.HoldFor > 0 && !s.keepAlive(ctx, l.LeaseID, cancelled, b.HoldFor) {
		return // cancelled while held
	}
	select {
	case <-cancelled:
		return
	default:
	}
	forget()
	lie := s.shouldLie()
	if lie {
		out = forgeOutput(task, out, b.Forge, s.v.cfg.Seed)
	}
	if b.CPUMS > 0 {
		cpu = b.CPUMS
	}
	sum := sha256.Sum256(out)
	key := ChunkKey(task)
	st.add(func(x *Summary) {
		x.Results++
		x.ClaimedCPUMS += cpu
		if lie {
			x.Lies++
			x.LiedOn[key]++
		}
	})
	s.c.send(ctx, &message{Type: "result", LeaseID: l.LeaseID, Digest: hex.EncodeToString(sum[:]), Size: len(out), CPUMS: cpu, Count: 1}, out)
}

// compute runs the chunk honestly, as docs/protocol.md says: decode the
// task, check its algorithm against the lease's, run it.
func (s *session) compute(l *message, payload []byte) (*pipeline.Task, []byte, error) {
	task, err := pipeline.DecodeTask(payload)
	if err != nil {
		return nil, nil, err
	}
	if task.Algorithm != l.Algorithm {
		return nil, nil, fmt.Errorf("task algorithm %q differs from the lease's %q", task.Algorithm, l.Algorithm)
	}
	alg, err := s.v.reg.Lookup(task.Algorithm)
	if err != nil {
		return nil, nil, err
	}
	out, err := alg.Run(task, pipeline.NoYield{})
	return task, out, err
}

// shouldLie decides for the next answer of this identity.
func (s *session) shouldLie() bool {
	b := s.v.cfg.Behaviour
	s.id.mu.Lock()
	defer s.id.mu.Unlock()
	s.id.answered++
	switch b.Lie {
	case LieAlways:
		return true
	case LieAfterTrusted:
		return s.id.verified >= b.After
	case LieRare:
		return b.Every > 0 && s.id.answered%b.Every == 0
	}
	return false
}

// keepAlive sends progress at half the heartbeat until the lease is
// cancelled, ctx ends, or hold has passed (hold 0: forever). It reports
// whether the hold ran out (the lease is still ours).
func (s *session) keepAlive(ctx context.Context, lease int64, cancelled <-chan struct{}, hold time.Duration) bool {
	tick := time.NewTicker(max(s.heartbeat/2, 50*time.Millisecond))
	defer tick.Stop()
	var until <-chan time.Time
	if hold > 0 {
		t := time.NewTimer(hold)
		defer t.Stop()
		until = t.C
	}
	for n := int64(1); ; n++ {
		select {
		case <-ctx.Done():
			return false
		case <-cancelled:
			return false
		case <-until:
			return true
		case <-tick.C:
			if s.c.send(ctx, &message{Type: "progress", LeaseID: lease, Done: n, Total: n + 1}, nil) != nil {
				return false
			}
			s.v.cfg.Stats.add(func(x *Summary) { x.Progress++ })
		}
	}
}

// partialFrame sends a result that declares a maximum-size output, then
// all but the last KiB of it in a frame that never ends, and falls silent:
// the server holds what it has read until the connection goes.
func (s *session) partialFrame(ctx context.Context) {
	n := min(s.v.cfg.Behaviour.PartialFrame, MaxOutput)
	m := &message{Type: "result", LeaseID: 1, Digest: strings.Repeat("0", 64), Size: MaxOutput}
	b, _ := json.Marshal(m)
	s.c.wmu.Lock() // held for good: nothing else is sent on this connection
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := s.c.ws.Write(wctx, websocket.MessageText, b); err != nil {
		return
	}
	w, err := s.c.ws.Writer(ctx, websocket.MessageBinary)
	if err != nil {
		return
	}
	// A Write larger than the writer's buffer goes out as one frame that
	// is not final; the message is never closed.
	if _, err := w.Write(make([]byte, n)); err != nil {
		return
	}
	s.v.cfg.Stats.add(func(x *Summary) { x.PartialFrames++; x.PartialBytes += int64(n) })
	<-ctx.Done()
}
