package grid

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pulsegrid/pulsegrid/algorithms/canon"
	"github.com/pulsegrid/pulsegrid/protocol"
	"github.com/pulsegrid/pulsegrid/server/auth"
	"github.com/pulsegrid/pulsegrid/server/store"
)

// Session is one connected volunteer (or in-process worker).
type Session struct {
	g           *Grid
	vol         *volunteer
	addr        string
	net         string
	send        Sender
	algs        map[string]bool
	credits     int
	leases      map[int64]*lease
	cursors     map[*queue]int // scan positions in analyses' more queues (schedule.go)
	lastDataset int64
	faults      int
	closed      bool
}

// Peer is what the transport knows of a connecting volunteer.
type Peer struct {
	// Addr is the client's address without port, after trusted proxies.
	Addr string
	// Nonce is the challenge this connection sent; the hello signs it.
	Nonce string
}

// RefusedError is a connection the grid will not take now: the server is
// full, the network has too many connections, or the identity or network
// is suspended. The transport closes with "try again later".
type RefusedError struct{ Reason string }

// Error implements error.
func (e *RefusedError) Error() string { return e.Reason }

// ErrBadToken refuses a hello whose enrollment token is not valid; the
// server counts these per address, as it counts bad API tokens.
var ErrBadToken = errors.New("enrollment token not valid (it must belong to an enabled volunteer or admin account)")

// Connect admits a volunteer after its hello: it checks the hello's
// signature of the connection's challenge, resolves (or creates) the
// identity its public key stands for, checks an enrollment token and the
// connection caps, and returns the session and the welcome to send.
func (g *Grid) Connect(ctx context.Context, hello *protocol.Message, peer Peer, send Sender) (*Session, *protocol.Message, error) {
	if hello.Type != protocol.TypeHello {
		return nil, nil, fmt.Errorf("first message must be hello, got %q", hello.Type)
	}
	id, err := protocol.VerifyHello(hello, peer.Nonce)
	if err != nil {
		return nil, nil, err
	}
	var enrolledBy int64
	if hello.Token != "" {
		u, err := g.store.UserByToken(ctx, auth.HashToken(hello.Token))
		if err != nil || (u.Role != store.RoleVolunteer && u.Role != store.RoleAdmin) {
			return nil, nil, ErrBadToken
		}
		enrolledBy = u.ID
	}
	rec, err := g.store.Volunteer(ctx, id)
	if err != nil {
		rec = store.Volunteer{ID: id, PublicKey: hello.PublicKey, CreatedAt: g.now()}
	}
	if enrolledBy == 0 && rec.UserID != 0 {
		// Enrolled once with a token: the key carries the enrolment for as
		// long as the account stays enabled.
		if u, err := g.store.User(ctx, rec.UserID); err == nil && !u.Disabled && (u.Role == store.RoleVolunteer || u.Role == store.RoleAdmin) {
			enrolledBy = u.ID
		}
	}
	return g.connect(hello, rec, enrolledBy, peer.Addr, send, remote)
}

// Kinds of sessions.
const (
	remote  = iota // a volunteer over the network
	local          // a trusted in-process worker (--local-workers)
	auditor        // a trusted in-process worker that only verifies (audit.go)
)

// liveVolLocked is the one in-memory record of v's identity. A result
// outlives the connection that sent it: its identity may have reconnected
// since (with a new record) or be gone (then v is kept until it is saved),
// and standing earned or lost must land on the record that is saved.
func (g *Grid) liveVolLocked(v *volunteer) *volunteer {
	if v.local {
		return v
	}
	if o := g.recordLocked(v.rec.ID); o != nil {
		return o
	}
	g.vols[v.rec.ID] = v
	return v
}

func (g *Grid) connect(hello *protocol.Message, rec store.Volunteer, enrolledBy int64, addr string, send Sender, kind int) (*Session, *protocol.Message, error) {
	local := kind != remote
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return nil, nil, ErrClosed
	}
	now := g.now()
	v := g.vols[rec.ID]
	if v == nil {
		if v = g.backLocked(rec); v == nil {
			v = &volunteer{rec: rec, local: local, auditor: kind == auditor, window: 2}
			g.decayLocked(v, now)
		}
	}
	net := g.cfg.networkOf(addr)
	if local {
		net = "local:" + rec.ID
	}
	n := g.network(net)
	if !local {
		switch {
		case v.rec.BannedUntil.After(now):
			return nil, nil, &RefusedError{fmt.Sprintf("this volunteer identity returned a wrong output and gets no work until %s", v.rec.BannedUntil.UTC().Format(time.RFC3339))}
		case n.banned.After(now):
			return nil, nil, &RefusedError{fmt.Sprintf("a volunteer of your network returned a wrong output; your network gets no work until %s", n.banned.UTC().Format(time.RFC3339))}
		case g.cfg.MaxConnections > 0 && g.remoteSessionsLocked() >= g.cfg.MaxConnections:
			return nil, nil, &RefusedError{"the server has as many volunteers as it can hold; try again later"}
		case n.conns >= g.cfg.PerNetworkConnections:
			return nil, nil, &RefusedError{fmt.Sprintf("your network already has %d volunteer connections, the most this server takes from one network", n.conns)}
		case v.conns >= g.cfg.PerIdentityConnections:
			return nil, nil, &RefusedError{fmt.Sprintf("this identity already has %d connections, the most one volunteer may hold", v.conns)}
		}
	}
	g.vols[rec.ID] = v
	v.conns++
	n.conns++
	v.rec.Agent = truncate(hello.Agent, 200)
	// The last hello names the volunteer: reconnecting changes the nickname
	// (an empty one makes it anonymous again).
	v.rec.Nickname = protocol.CleanNickname(hello.Nickname)
	v.rec.Team = protocol.CleanTeam(hello.Team) // likewise: the last hello says which team, if any
	v.rec.LastSeen = now
	if enrolledBy != 0 {
		v.enrolled, v.rec.UserID = true, enrolledBy
		// An enrolled machine starts trusted, until it is caught once.
		if v.rec.Rejected == 0 {
			v.rec.Reputation = max(v.rec.Reputation, int64(g.cfg.TrustAfter))
		}
	}
	v.dirty = true
	algs := map[string]bool{}
	for _, name := range hello.Algorithms {
		if a, err := g.reg.Lookup(name); err == nil && a.Name() == name {
			algs[name] = true
		}
	}
	s := &Session{g: g, vol: v, addr: addr, net: net, send: send, algs: algs, leases: map[int64]*lease{}, cursors: map[*queue]int{}}
	g.sessions[s] = struct{}{}
	if kind != auditor {
		g.metrics.Connected.Inc()
		g.online++
		// The peak only: statsLocked walks every session and volunteer,
		// too much for each of thousands of connections.
		g.hist.online(g.now(), g.online)
	}
	welcome := &protocol.Message{Type: protocol.TypeWelcome, Version: protocol.Version, VolunteerID: rec.ID,
		Enrolled: v.enrolled, HeartbeatMS: int(g.cfg.Heartbeat / time.Millisecond), AckMS: int(g.cfg.AckTimeout / time.Millisecond),
		TotalVerified: v.rec.Validated, Credit: v.rec.Credit()}
	return s, welcome, nil
}

func (g *Grid) remoteSessionsLocked() int {
	n := len(g.sessions)
	for _, w := range g.locals {
		if w.s != nil {
			n--
		}
	}
	return n
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

// maxFaults is how many ignorable faults (results for leases not held or
// expired) a session may make before it is dropped.
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
	now := g.now()
	switch m.Type {
	case protocol.TypeRequest:
		s.addCreditsLocked(m.Count)
		g.dispatchLocked(s)
	case protocol.TypeAck:
		if l := s.leases[m.LeaseID]; l != nil && l.acked.IsZero() {
			g.ackLocked(l, now)
		}
	case protocol.TypeProgress:
		// Progress shows the volunteer is alive; it never extends the
		// deadline, so a hoarder cannot hold a chunk by reporting forever.
		if l := s.leases[m.LeaseID]; l != nil {
			if l.acked.IsZero() {
				g.ackLocked(l, now)
			}
			l.beat = now
		}
	case protocol.TypeResult, protocol.TypeError:
		if m.Count > 0 { // a piggybacked request, served after the result
			s.addCreditsLocked(m.Count)
			defer g.dispatchLocked(s)
		}
		l := s.leases[m.LeaseID]
		if l != nil && now.After(l.deadline) {
			g.expireLocked(l, "lease expired")
			l = nil
		}
		if l == nil {
			g.metrics.ResultsIgnored.Inc()
			s.faults++
			s.sendLocked(&protocol.Message{Type: protocol.TypeVerdict, LeaseID: m.LeaseID, Verdict: protocol.VerdictIgnored, Reason: "no such lease is held by this connection (expired, cancelled or never issued)"}, nil)
			if s.faults > maxFaults {
				return &ProtocolError{fmt.Sprintf("%d results for leases not held", s.faults)}
			}
			return nil
		}
		if m.Type == protocol.TypeResult && (len(payload) != m.Size || canon.Digest(payload) != m.Digest) {
			g.removeLeaseLocked(l)
			g.metrics.ResultsRejected.Inc()
			g.requeueLocked(l.c)
			return &ProtocolError{fmt.Sprintf("result for lease %d: output of %d bytes does not match its declared size %d and digest", m.LeaseID, len(payload), m.Size)}
		}
		g.resultLocked(s, l, m, payload, now)
	default:
		return &ProtocolError{fmt.Sprintf("message type %q is not expected from a volunteer", m.Type)}
	}
	return nil
}

func (s *Session) addCreditsLocked(n int) {
	s.credits = min(s.credits+n, 256)
	s.vol.rec.Requests += int64(n)
	s.vol.dirty = true
}

// resultLocked takes a result or an error for a lease s holds.
func (g *Grid) resultLocked(s *Session, l *lease, m *protocol.Message, payload []byte, now time.Time) {
	wall := now.Sub(l.issued)
	r := replica{s: s, leaseID: l.id, vol: s.vol, net: s.net, wall: wall}
	v := s.vol
	v.dirty = true
	if m.Type == protocol.TypeError {
		// The reason is the volunteer's text: kept nowhere, shown to no one.
		r.digest = errorDigest
		v.rec.Failed++
	} else {
		r.digest, r.output = m.Digest, payload
		v.rec.Results++
		v.rec.CompletionMicros += wall.Microseconds()
		v.rec.CPUMicros += capCPU(m.CPUMS, wall)
		if !l.acked.IsZero() && l.check == nil {
			g.measureLocked(v, l, now)
		}
	}
	if v.local && m.Type == protocol.TypeResult {
		n := len(payload)
		if l.check != nil {
			n = len(l.check.payload)
		} else {
			n = l.c.payload.Len()
		}
		g.measureCostLocked(l.alg(), n, m.CPUMS)
	}
	if l.check != nil {
		g.removeLeaseLocked(l)
		g.checkResultLocked(s, l, r)
		return
	}
	c := l.c
	if c.state != chunkOpen || c.a.gone {
		g.removeLeaseLocked(l)
		s.sendLocked(&protocol.Message{Type: protocol.TypeVerdict, LeaseID: m.LeaseID, Verdict: protocol.VerdictIgnored, Reason: "chunk already settled"}, nil)
		return
	}
	c.results = append(c.results, r) // before the lease goes, so c.single stays
	g.removeLeaseLocked(l)
	g.evaluateLocked(c)
	g.pendLocked(c, r) // kept in the store while it waits (pending.go)
}

// measureLocked updates the volunteer's measured speed and the analysis's
// typical chunk time from a result.
func (g *Grid) measureLocked(v *volunteer, l *lease, now time.Time) {
	took := now.Sub(l.acked)
	mb := float64(l.c.payload.Len()+1) / (1 << 20)
	sec := took.Seconds() / mb
	if v.secPerMB == 0 {
		v.secPerMB = sec
	} else {
		v.secPerMB = 0.8*v.secPerMB + 0.2*sec
	}
	if a := l.c.a; a.chunkTime == 0 {
		a.chunkTime = took
	} else {
		a.chunkTime = (4*a.chunkTime + took) / 5
	}
}

// capCPU is the CPU time a volunteer reported for a result, in
// microseconds, never more than the lease's wall time nor less than zero.
// It is a statistic only: credit is what the server estimates (credit.go).
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
	g.fedLocked(s)
	if !s.vol.auditor {
		g.metrics.Connected.Dec()
		g.online--
	}
	for _, l := range s.leases {
		g.removeLeaseLocked(l)
		g.metrics.LeasesReleased.Inc()
		if l.check == nil && !l.c.a.gone {
			// Never leased to this identity again: established volunteers
			// and the auditors take it, so two volunteers that each held
			// it do not leave it waiting for a third.
			g.stalledLocked(l.c)
			g.requeueLocked(l.c)
		}
	}
	v := s.vol
	v.conns--
	g.nets[s.net].conns--
	g.forgetNetworkLocked(s.net)
	v.rec.LastSeen = g.now()
	v.dirty = true
	if v.conns == 0 && !v.local {
		g.awayLocked(v)
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

// sessionsOf lists the live sessions of a volunteer, or of a network.
func (g *Grid) sessionsLocked(match func(*Session) bool) []*Session {
	var out []*Session
	for s := range g.sessions {
		if match(s) {
			out = append(out, s)
		}
	}
	return out
}
