package grid

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	mrand "math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulsegrid/pulsegrid/algorithms/canon"
	"github.com/pulsegrid/pulsegrid/algorithms/pipeline"
	"github.com/pulsegrid/pulsegrid/algorithms/signal"
	"github.com/pulsegrid/pulsegrid/protocol"
	"github.com/pulsegrid/pulsegrid/server/auth"
	"github.com/pulsegrid/pulsegrid/server/store"
)

// sumAlg is a test-only algorithm: one chunk per 10 samples; a chunk's
// output is the sum of its samples; the result lists the sums.
type sumAlg struct{}

type sumResult struct {
	Sums []int64 `json:"sums"`
}

func (r *sumResult) Summary() string                  { return fmt.Sprint(len(r.Sums), " sums") }
func (r *sumResult) CSV() ([]byte, error)             { return []byte(fmt.Sprint(r.Sums)), nil }
func (sumAlg) Name() string                           { return "test.sum@1" }
func (sumAlg) Describe() pipeline.Info                { return pipeline.Info{Name: "test.sum@1"} }
func (sumAlg) Params(json.RawMessage) ([]byte, error) { return []byte("{}"), nil }
func (sumAlg) DecodeResult(b []byte) (pipeline.Result, error) {
	var r sumResult
	return &r, json.Unmarshal(b, &r)
}

// splitHook, when set, runs at the start of every test.sum@1 split (tests
// that count or hold splits; none runs in parallel).
var splitHook func()

func (sumAlg) Split(sig *signal.Signal, params []byte, _ pipeline.SplitOptions) ([]pipeline.Chunk, error) {
	if splitHook != nil {
		splitHook()
	}
	s := sig.Channels[0].Samples
	if len(s) == 0 {
		return nil, fmt.Errorf("no samples")
	}
	var out []pipeline.Chunk
	for lo := 0; lo < len(s); lo += 10 {
		hi := min(lo+10, len(s))
		out = append(out, pipeline.Chunk{
			Spec: pipeline.Spec{Index: len(out), Lo: int64(lo), Hi: int64(hi), Offset: int64(lo)},
			Task: pipeline.Task{Algorithm: "test.sum@1", Params: params, Channels: []signal.Channel{{Name: "x", Rate: 1, Samples: s[lo:hi]}}},
		})
	}
	return out, nil
}
func (sumAlg) Run(t *pipeline.Task, y pipeline.Yielder) ([]byte, error) {
	var sum int64
	for _, v := range t.Channels[0].Samples {
		if v < 0 {
			return nil, fmt.Errorf("negative sample %v", v)
		}
		sum += int64(v)
	}
	return binary.LittleEndian.AppendUint64(nil, uint64(sum)), nil
}
func (sumAlg) Merge(_ []byte, parts []pipeline.Part) (pipeline.Result, error) {
	r := &sumResult{}
	for _, p := range parts {
		r.Sums = append(r.Sums, int64(binary.LittleEndian.Uint64(p.Output)))
	}
	return r, nil
}

var testReg = pipeline.NewRegistry(sumAlg{})

type env struct {
	t   *testing.T
	st  *store.SQLite
	g   *Grid
	net int // distinct networks handed out by connect("")
}

// quiet disables the random parts of the trust model (spot checks, audits,
// known answers) and the auditors, for tests that follow one path.
func quiet(cfg Config) Config {
	if cfg.SpotCheck == 0 {
		cfg.SpotCheck = -1
	}
	if cfg.AuditRate == 0 {
		cfg.AuditRate = -1
	}
	if cfg.RingerRate == 0 {
		cfg.RingerRate = -1
	}
	if cfg.Auditors == 0 {
		cfg.Auditors = -1
	}
	return cfg
}

func newEnv(t *testing.T, cfg Config) *env {
	t.Helper()
	st, err := store.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.FlushInterval = time.Millisecond
	g := New(st, testReg, cfg)
	t.Cleanup(func() { g.Close(); st.Close() })
	return &env{t: t, st: st, g: g}
}

func (e *env) owner(email string) int64 {
	u, err := e.st.CreateUser(context.Background(), store.User{Email: email, Role: store.RoleClinician, PasswordHash: "x"})
	if err != nil {
		e.t.Fatal(err)
	}
	return u.ID
}

// analysis uploads a dataset of n samples, all equal to value, and starts
// test.sum@1 on it.
func (e *env) analysis(owner int64, value float64, n int, prio string, trustedOnly bool) int64 {
	e.t.Helper()
	s := make([]float64, n)
	for i := range s {
		s[i] = value
	}
	ctx := context.Background()
	ds, err := e.st.CreateDataset(ctx, store.Dataset{OwnerID: owner, Name: "d", TrustedOnly: trustedOnly}, &signal.Recording{Signal: signal.Signal{Channels: []signal.Channel{{Name: "x", Rate: 1, Samples: s}}}})
	if err != nil {
		e.t.Fatal(err)
	}
	a, err := e.g.Start(ctx, store.Analysis{DatasetID: ds.ID, OwnerID: owner, Algorithm: "test.sum@1", Params: []byte("{}"), Priority: prio})
	if err != nil {
		e.t.Fatal(err)
	}
	e.g.awaitQueued(a.ID)
	time.Sleep(time.Millisecond) // distinct creation times
	return a.ID
}

func (e *env) wait(id int64, status string) store.Analysis {
	e.t.Helper()
	for range 1000 {
		a, err := e.st.Analysis(context.Background(), id)
		if err != nil {
			e.t.Fatal(err)
		}
		if a.Status == status {
			return a
		}
		time.Sleep(5 * time.Millisecond)
	}
	a, _ := e.st.Analysis(context.Background(), id)
	e.t.Fatalf("analysis %d is %s (%q), want %s", id, a.Status, a.Error, status)
	return a
}

// result is the merged sums of a done analysis.
func (e *env) result(id int64) string {
	e.t.Helper()
	body, err := e.st.AnalysisResult(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return string(body)
}

// sums is the result test.sum@1 gives for n chunks of sum each.
func sums(n int, sum int) string {
	return `{"sums":[` + strings.TrimSuffix(strings.Repeat(fmt.Sprint(sum)+",", n), ",") + `]}`
}

// pipe is an in-memory transport: what the grid sends, a test reads.
type pipe struct {
	mu     sync.Mutex
	full   bool // the volunteer stopped reading: Send fails
	msgs   []*protocol.Message
	pay    map[int64][]byte
	closed bool
}

func (p *pipe) Send(m *protocol.Message, payload []byte) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.full {
		return false
	}
	p.msgs = append(p.msgs, m)
	if m.Type == protocol.TypeLease {
		p.pay[m.LeaseID] = payload
	}
	return true
}
func (p *pipe) Close(string) { p.mu.Lock(); p.closed = true; p.mu.Unlock() }

// last returns the last message of a type sent, or nil.
func (p *pipe) last(typ string) *protocol.Message {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := len(p.msgs) - 1; i >= 0; i-- {
		if p.msgs[i].Type == typ {
			return p.msgs[i]
		}
	}
	return nil
}

type vol struct {
	e        *env
	s        *Session
	p        *pipe
	key      protocol.Key
	answered map[int64]bool // by work
}

// hello is a signed hello of key for a challenge nonce.
func hello(key protocol.Key, nonce, token string) *protocol.Message {
	return &protocol.Message{Type: protocol.TypeHello, Version: protocol.Version, Algorithms: []string{"test.sum@1"}, Slots: 1,
		Token: token, PublicKey: key.PublicKey(), Signature: key.Sign(nonce)}
}

// connect connects a new identity from addr ("" for an address of a
// network of its own).
func (e *env) connect(addr, token string) *vol {
	e.t.Helper()
	return e.connectKey(protocol.NewKey(), addr, token)
}

func (e *env) connectKey(key protocol.Key, addr, token string) *vol {
	e.t.Helper()
	if addr == "" {
		e.net++
		addr = fmt.Sprintf("10.%d.%d.1", e.net/250, e.net%250)
	}
	p := &pipe{pay: map[int64][]byte{}}
	nonce := protocol.NewNonce()
	s, w, err := e.g.Connect(context.Background(), hello(key, nonce, token), Peer{Addr: addr, Nonce: nonce}, p)
	if err != nil {
		e.t.Fatal(err)
	}
	if w.VolunteerID != key.ID() {
		e.t.Fatalf("welcome names %q, want the key's id %q", w.VolunteerID, key.ID())
	}
	return &vol{e: e, s: s, p: p, key: key, answered: map[int64]bool{}}
}

// setStanding gives a connected volunteer a standing.
func (v *vol) setStanding(n int64) {
	v.e.g.mu.Lock()
	v.s.vol.rec.Reputation = n
	v.e.g.mu.Unlock()
}

func (v *vol) standing() int64 {
	v.e.g.mu.Lock()
	defer v.e.g.mu.Unlock()
	return v.s.vol.rec.Reputation
}

// take asks for one lease; it returns nil if none was given.
func (v *vol) take() *protocol.Message {
	v.e.t.Helper()
	v.p.mu.Lock()
	n := len(v.p.msgs)
	v.p.mu.Unlock()
	if err := v.s.Handle(&protocol.Message{Type: protocol.TypeRequest, Count: 1}, nil); err != nil {
		v.e.t.Fatal(err)
	}
	v.p.mu.Lock()
	defer v.p.mu.Unlock()
	for _, m := range v.p.msgs[n:] {
		if m.Type == protocol.TypeLease {
			return m
		}
	}
	return nil
}

// leases counts the leases the volunteer was sent.
func (v *vol) leases() []*protocol.Message {
	v.p.mu.Lock()
	defer v.p.mu.Unlock()
	var out []*protocol.Message
	for _, m := range v.p.msgs {
		if m.Type == protocol.TypeLease {
			out = append(out, m)
		}
	}
	return out
}

func (v *vol) payload(l *protocol.Message) *pipeline.Task {
	v.p.mu.Lock()
	defer v.p.mu.Unlock()
	t, err := pipeline.DecodeTask(v.p.pay[l.LeaseID])
	if err != nil {
		v.e.t.Fatal(err)
	}
	return t
}

// answer computes the lease (xor-ing the output when lying) and returns it.
func (v *vol) answer(l *protocol.Message, lie bool) {
	v.e.t.Helper()
	out, err := sumAlg{}.Run(v.payload(l), nil)
	if err != nil {
		v.e.t.Fatal(err)
	}
	if lie {
		out[0] ^= 0xff
	}
	v.s.Handle(&protocol.Message{Type: protocol.TypeAck, LeaseID: l.LeaseID}, nil)
	if err := v.s.Handle(&protocol.Message{Type: protocol.TypeResult, LeaseID: l.LeaseID, Digest: canon.Digest(out), Size: len(out)}, out); err != nil {
		v.e.t.Fatal(err)
	}
}

// work asks for a lease and answers every lease not answered yet, also
// those sent when work appeared for a waiting request.
func (v *vol) work() {
	v.e.t.Helper()
	v.take()
	for _, l := range v.leases() {
		if !v.answered[l.LeaseID] {
			v.answered[l.LeaseID] = true
			v.answer(l, false)
		}
	}
}

// fail reports an error for the lease.
func (v *vol) fail(l *protocol.Message, reason string) {
	v.e.t.Helper()
	if err := v.s.Handle(&protocol.Message{Type: protocol.TypeError, LeaseID: l.LeaseID, Reason: reason}, nil); err != nil {
		v.e.t.Fatal(err)
	}
}

// verified is how many chunks of an analysis are verified in memory.
func (e *env) verified(id int64) int {
	v, _, _ := e.g.Progress(id)
	return v
}

func TestPriorityFairShareInterleaving(t *testing.T) {
	e := newEnv(t, quiet(Config{Quorum: 1}))
	a, b, c := e.owner("a@x"), e.owner("b@x"), e.owner("c@x")
	e.analysis(a, 1, 50, "routine", false) // A1: 5 chunks, oldest
	e.analysis(a, 2, 50, "routine", false) // A2
	e.analysis(b, 3, 30, "routine", false) // B: 3 chunks
	e.analysis(c, 4, 30, "stat", false)    // C: stat, newest
	v := e.connect("", "")
	var got []int
	for {
		l := v.take()
		if l == nil {
			break
		}
		v.s.Handle(&protocol.Message{Type: protocol.TypeAck, LeaseID: l.LeaseID}, nil)
		got = append(got, int(v.payload(l).Channels[0].Samples[0]))
	}
	want := "4 4 4 1 3 1 3 1 3 1 2 1 2 2 2 2"
	if s := strings.Trim(fmt.Sprint(got), "[]"); s != want {
		t.Errorf("lease order by dataset: got %s, want %s (stat first; owners alternate; a recording's chunks interleaved with others)", s, want)
	}
}

func TestDistinctNetworks(t *testing.T) {
	for _, tc := range []struct {
		name      string
		allow     bool
		ip1, ip2  string
		wantLease bool
	}{
		{"SameAddressRefused", false, "203.0.113.1", "203.0.113.1", false},
		{"SameSlash24Refused", false, "203.0.113.1", "203.0.113.77", false},
		{"SameSlash64Refused", false, "2001:db8:1:2::1", "2001:db8:1:2:9::9", false},
		{"TwoSpellingsRefused", false, "2001:db8::1", "2001:0db8::0001", false},
		{"LoopbackNotExempt", false, "127.0.0.1", "127.0.0.1", false},
		{"OtherSlash24", false, "203.0.113.1", "203.0.114.1", true},
		{"LoopbackOtherSlash24", false, "127.0.1.1", "127.0.2.1", true},
		{"SameNetworkAllowed", true, "203.0.113.1", "203.0.113.1", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, quiet(Config{Quorum: 2, AllowSameNetwork: tc.allow}))
			e.analysis(e.owner("a@x"), 1, 10, "routine", false) // one chunk
			v1, v2 := e.connect(tc.ip1, ""), e.connect(tc.ip2, "")
			if v1.take() == nil {
				t.Fatal("first volunteer got no lease")
			}
			if got := v2.take() != nil; got != tc.wantLease {
				t.Errorf("second volunteer got a lease of the same chunk: %v, want %v", got, tc.wantLease)
			}
			if v1.take() != nil {
				t.Errorf("a volunteer got two leases of one chunk")
			}
		})
	}
}

// TestFreshIdentitiesCannotSettleAlone: agreement among identities none of
// which is established settles nothing; an established vote does, and so
// does the server's auditor when nobody established is there.
func TestFreshIdentitiesCannotSettleAlone(t *testing.T) {
	t.Run("EstablishedVote", func(t *testing.T) {
		e := newEnv(t, quiet(Config{Quorum: 2}))
		id := e.analysis(e.owner("a@x"), 1, 10, "routine", false) // one chunk
		f1, f2 := e.connect("", ""), e.connect("", "")
		f1.answer(f1.take(), true)
		f2.answer(f2.take(), true) // two fresh colluders agree on a lie
		if got := e.verified(id); got != 0 {
			t.Fatalf("fresh identities settled a chunk among themselves")
		}
		fresh := e.connect("", "")
		if fresh.take() != nil {
			t.Error("a fresh volunteer was offered a chunk that waits for an established vote")
		}
		est := e.connect("", "")
		est.setStanding(3)
		l := est.take()
		if l == nil {
			t.Fatal("the established volunteer got no lease of the waiting chunk")
		}
		est.answer(l, false) // the truth, alone, is not a quorum yet
		if got := e.verified(id); got != 0 {
			t.Fatal("one vote settled a chunk at quorum 2")
		}
		h := e.connect("", "")
		h.answer(h.take(), false)
		e.wait(id, store.StatusDone)
		if got, want := e.result(id), sums(1, 10); got != want {
			t.Errorf("result %s, want %s", got, want)
		}
		for _, c := range []*vol{f1, f2} {
			nonce := protocol.NewNonce()
			_, _, err := e.g.Connect(context.Background(), hello(c.key, nonce, ""), Peer{Addr: "198.51.100.1", Nonce: nonce}, &pipe{})
			var refused *RefusedError
			if !errors.As(err, &refused) {
				t.Errorf("a colluder that was outvoted reconnected: %v", err)
			}
		}
		if got := h.standing(); got != 1 {
			t.Errorf("the fresh volunteer confirmed by an established one has standing %d, want 1", got)
		}
	})
	t.Run("Auditor", func(t *testing.T) {
		e := newEnv(t, Config{Quorum: 2, SpotCheck: -1, AuditRate: -1, RingerRate: -1, Auditors: 1})
		id := e.analysis(e.owner("a@x"), 1, 10, "routine", false)
		f1, f2 := e.connect("", ""), e.connect("", "")
		f1.answer(f1.take(), true)
		f2.answer(f2.take(), true)
		e.wait(id, store.StatusDone) // the auditor ran it and the truth won
		if got, want := e.result(id), sums(1, 10); got != want {
			t.Errorf("result %s, want %s: the liars' agreement was accepted", got, want)
		}
	})
}

// TestStallWithFewVolunteers is the README's setup: a fast and a slow
// volunteer at quorum 2 on many short chunks. It must finish, and an idle
// volunteer must be woken when work it can take appears.
func TestStallWithFewVolunteers(t *testing.T) {
	for _, n := range []int{2, 3, 4} {
		t.Run(fmt.Sprint(n, "Volunteers"), func(t *testing.T) {
			e := newEnv(t, quiet(Config{Quorum: 2}))
			id := e.analysis(e.owner("a@x"), 1, 3000, "routine", false) // 300 chunks
			vs := make([]*vol, n)
			for i := range vs {
				vs[i] = e.connect("", "")
				vs[i].setStanding(3)
			}
			for round := 0; round < 2000 && e.verified(id) < 300; round++ {
				for i, v := range vs {
					// Volunteer 0 is 20 times faster than the others.
					for range 1 + 19*(1-min(i, 1)) {
						if l := v.take(); l != nil {
							v.answer(l, false)
						}
					}
				}
			}
			e.wait(id, store.StatusDone)
			if got, want := e.result(id), sums(300, 10); got != want {
				t.Errorf("result %s, want %s", got, want)
			}
		})
	}
	t.Run("IdleWoken", func(t *testing.T) {
		e := newEnv(t, quiet(Config{Quorum: 2}))
		e.analysis(e.owner("a@x"), 1, 10, "routine", false) // one chunk
		a, b := e.connect("", ""), e.connect("", "")
		if err := b.s.Handle(&protocol.Message{Type: protocol.TypeRequest, Count: 1}, nil); err != nil {
			t.Fatal(err)
		}
		if len(b.leases()) != 1 {
			t.Fatalf("b got %d leases, want the one chunk", len(b.leases()))
		}
		b.fail(b.leases()[0], "x") // b's error wants a replica; b waits idle
		if err := b.s.Handle(&protocol.Message{Type: protocol.TypeRequest, Count: 1}, nil); err != nil {
			t.Fatal(err)
		}
		e.analysis(e.owner("b@x"), 2, 10, "routine", false)
		if len(b.leases()) != 2 {
			t.Errorf("an idle volunteer was not woken when a new analysis came: %d leases", len(b.leases()))
		}
		if a.take() == nil {
			t.Error("a got nothing")
		}
	})
}

// TestDisagreementGoesToTrustedWorker: a dispute is settled by the
// auditor even when every connected volunteer has computed the chunk (so
// no volunteer could ever break the tie: the hostile e2e stall).
func TestDisagreementGoesToTrustedWorker(t *testing.T) {
	e := newEnv(t, Config{Quorum: 2, MaxReplicas: 3, SpotCheck: -1, AuditRate: -1, RingerRate: -1, Auditors: 1})
	id := e.analysis(e.owner("a@x"), 1, 10, "routine", false)
	for i := range 2 {
		v := e.connect("", "")
		v.setStanding(3)
		l := v.take()
		if l == nil {
			t.Fatalf("volunteer %d got no lease", i)
		}
		out := []byte{byte(i)}
		v.s.Handle(&protocol.Message{Type: protocol.TypeResult, LeaseID: l.LeaseID, Digest: canon.Digest(out), Size: 1}, out)
	}
	e.wait(id, store.StatusDone)
	if got, want := e.result(id), sums(1, 10); got != want {
		t.Errorf("result %s, want %s (the auditor's)", got, want)
	}
}

// TestErrorsAreVerdicts: volunteers agreeing that a chunk fails do not
// fail it; the server's own run decides, and the reason is the server's.
func TestErrorsAreVerdicts(t *testing.T) {
	t.Run("ServerComputesIt", func(t *testing.T) {
		e := newEnv(t, Config{Quorum: 2, SpotCheck: -1, AuditRate: -1, RingerRate: -1, Auditors: 1})
		id := e.analysis(e.owner("a@x"), 1, 10, "routine", false)
		for range 2 {
			v := e.connect("", "")
			v.fail(v.take(), "Recording unusable. Call 0800-1234")
		}
		a := e.wait(id, store.StatusDone)
		if got, want := e.result(id), sums(1, 10); got != want {
			t.Errorf("result %s, want %s", got, want)
		}
		if strings.Contains(a.Error, "0800") {
			t.Errorf("the volunteers' text reached the analysis: %q", a.Error)
		}
	})
	t.Run("ServerAgrees", func(t *testing.T) {
		e := newEnv(t, Config{Quorum: 2, SpotCheck: -1, AuditRate: -1, RingerRate: -1, Auditors: 1})
		id := e.analysis(e.owner("a@x"), -1, 10, "routine", false) // sumAlg fails on negative samples
		for range 2 {
			v := e.connect("", "")
			v.fail(v.take(), "Recording unusable. Call 0800-1234")
		}
		a := e.wait(id, store.StatusFailed)
		if strings.Contains(a.Error, "0800") || !strings.Contains(a.Error, "server's own run") {
			t.Errorf("failure reason %q: want the server's words, not the volunteers'", a.Error)
		}
	})
	t.Run("OneTrustedErrorIsNotEnough", func(t *testing.T) {
		e := newEnv(t, quiet(Config{Quorum: 2}))
		id := e.analysis(e.owner("a@x"), 1, 10, "routine", false)
		v := e.connect("", "")
		v.setStanding(100)
		v.fail(v.take(), "no")
		e.g.syncFlush() // a failure would be written with this batch
		if a, _ := e.st.Analysis(context.Background(), id); a.Status != store.StatusRunning {
			t.Errorf("one trusted volunteer's error made the analysis %s", a.Status)
		}
	})
}

func TestLocalWorkersAndTrustedOnly(t *testing.T) {
	e := newEnv(t, quiet(Config{Quorum: 2}))
	own := e.owner("a@x")
	id := e.analysis(own, 1, 10, "routine", true) // trusted only
	anon := e.connect("", "")
	if anon.take() != nil {
		t.Fatal("an anonymous volunteer got a lease of a trusted-only dataset")
	}
	m, err := e.st.CreateUser(context.Background(), store.User{Email: "pc@x", Role: store.RoleVolunteer, PasswordHash: "x"})
	if err != nil {
		t.Fatal(err)
	}
	tok, hash, _ := auth.NewToken()
	e.st.CreateToken(context.Background(), m.ID, hash, "")
	nonce := protocol.NewNonce()
	if _, _, err := e.g.Connect(context.Background(), hello(protocol.NewKey(), nonce, "pgt_wrong"), Peer{Addr: "10.9.9.9", Nonce: nonce}, &pipe{}); err == nil {
		t.Error("a wrong enrollment token was accepted")
	}
	enrolled := e.connect("", tok)
	if enrolled.take() == nil {
		t.Fatal("an enrolled volunteer got no lease of a trusted-only dataset")
	}
	// Local workers alone finish a second analysis, with no second opinion.
	id2 := e.analysis(own, 2, 100, "urgent", false)
	if err := e.g.StartLocalWorkers(2); err != nil {
		t.Fatal(err)
	}
	e.wait(id2, store.StatusDone)
	e.wait(id, store.StatusDone) // the enrolled volunteer's lease expires or a local worker takes it
}

func TestResumeKeepsVerifiedChunks(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, filepath.Join(dir, "db"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := quiet(Config{Quorum: 1, FlushInterval: time.Millisecond})
	g := New(st, testReg, cfg)
	e := &env{t: t, st: st, g: g}
	id := e.analysis(e.owner("a@x"), 1, 50, "routine", false)
	key := protocol.NewKey()
	v := e.connectKey(key, "", "")
	v.setStanding(30)
	for range 2 {
		v.answer(v.take(), false)
	}
	g.Close()
	a, _ := st.Analysis(ctx, id)
	if a.ChunksVerified != 2 {
		t.Fatalf("after close: %d chunks verified in the store, want 2", a.ChunksVerified)
	}
	g = New(st, testReg, cfg)
	defer func() { g.Close(); st.Close() }()
	if err := g.Resume(ctx); err != nil {
		t.Fatal(err)
	}
	g.awaitAllQueued()
	e.g = g
	v = e.connectKey(key, "", "")
	if got := v.standing(); got != 30 {
		t.Errorf("standing after a restart: got %d, want 30", got)
	}
	n := 0
	for l := v.take(); l != nil; l = v.take() {
		v.answer(l, false)
		n++
	}
	if n != 3 {
		t.Errorf("after resume: %d chunks leased, want the 3 unverified", n)
	}
	e.wait(id, store.StatusDone)
}

func TestEndGameReplication(t *testing.T) {
	e := newEnv(t, quiet(Config{Quorum: 2}))
	id := e.analysis(e.owner("a@x"), 1, 10, "routine", false) // one chunk
	v1, v2, v3 := e.connect("", ""), e.connect("", ""), e.connect("", "")
	for _, v := range []*vol{v1, v2, v3} {
		v.setStanding(3)
	}
	l1, l2 := v1.take(), v2.take()
	l3 := v3.take()
	if l1 == nil || l2 == nil || l3 == nil || l3.Digest != l1.Digest {
		t.Fatalf("an idle volunteer should get an extra replica of the last outstanding chunk: %v %v %v", l1, l2, l3)
	}
	if v4 := e.connect("", ""); v4.take() != nil {
		t.Errorf("end game gave more than one extra replica")
	}
	v1.answer(l1, false)
	v3.answer(l3, false) // the slow v2 does not set the finish time
	e.wait(id, store.StatusDone)
	if last := v2.p.last(protocol.TypeCancel); last == nil || last.LeaseID != l2.LeaseID {
		t.Errorf("the slow volunteer's lease was not cancelled: %+v", last)
	}
}

func TestSlowVolunteerDropped(t *testing.T) {
	e := newEnv(t, quiet(Config{Quorum: 2}))
	e.analysis(e.owner("a@x"), 1, 10, "routine", false) // one chunk
	slow, fast := e.connect("", ""), e.connect("", "")
	l := slow.take()
	if l == nil {
		t.Fatal("no lease")
	}
	slow.p.mu.Lock()
	slow.p.full = true
	slow.p.mu.Unlock()
	lf := fast.take()
	fast.answer(lf, false)
	e.g.mu.Lock()
	slow.s.sendLocked(&protocol.Message{Type: protocol.TypeVerdict, LeaseID: 1}, nil)
	closed, held := slow.s.closed, len(slow.s.leases)
	e.g.mu.Unlock()
	pclosed := false
	for range 100 { // the transport is closed from another goroutine
		slow.p.mu.Lock()
		pclosed = slow.p.closed
		slow.p.mu.Unlock()
		if pclosed {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if !closed || held != 0 || !pclosed {
		t.Errorf("slow volunteer: closed %v, leases held %d, transport closed %v; want dropped with its lease released", closed, held, pclosed)
	}
	if st := e.g.Stats(); st.Volunteers != 1 {
		t.Errorf("volunteers connected: got %d, want 1", st.Volunteers)
	}
}

// TestConnectionsOfOneIdentityStayOne: two connections with one key are one
// volunteer: never two leases of one chunk, whatever their addresses.
func TestConnectionsOfOneIdentityStayOne(t *testing.T) {
	e := newEnv(t, quiet(Config{Quorum: 2}))
	e.analysis(e.owner("a@x"), 1, 10, "routine", false) // one chunk
	key := protocol.NewKey()
	v1, v2 := e.connectKey(key, "", ""), e.connectKey(key, "", "")
	if v1.s.vol != v2.s.vol {
		t.Fatal("two connections of one key are two volunteers")
	}
	if v1.take() == nil {
		t.Fatal("first connection got no lease")
	}
	if v2.take() != nil {
		t.Errorf("second connection of the same volunteer got a replica of the same chunk")
	}
}

func TestHelloMustSignThisChallenge(t *testing.T) {
	e := newEnv(t, quiet(Config{}))
	key := protocol.NewKey()
	seen := protocol.NewNonce()
	replayed := hello(key, seen, "")
	if _, _, err := e.g.Connect(context.Background(), replayed, Peer{Addr: "10.1.1.1", Nonce: protocol.NewNonce()}, &pipe{}); err == nil {
		t.Error("a hello signed for another connection's challenge was accepted")
	}
	forged := hello(protocol.NewKey(), seen, "")
	forged.PublicKey = key.PublicKey() // claims key's identity with another key's signature
	if _, _, err := e.g.Connect(context.Background(), forged, Peer{Addr: "10.1.1.1", Nonce: seen}, &pipe{}); err == nil {
		t.Error("a hello signed by another key was accepted")
	}
}

func TestConnectionCaps(t *testing.T) {
	e := newEnv(t, quiet(Config{PerNetworkConnections: 2, PerIdentityConnections: 2, MaxConnections: 5}))
	connect := func(key protocol.Key, addr string) error {
		nonce := protocol.NewNonce()
		_, _, err := e.g.Connect(context.Background(), hello(key, nonce, ""), Peer{Addr: addr, Nonce: nonce}, &pipe{})
		return err
	}
	var refused *RefusedError
	for i, tc := range []struct {
		key     protocol.Key
		addr    string
		refused bool
	}{
		{protocol.NewKey(), "10.0.0.1", false},
		{protocol.NewKey(), "10.0.0.2", false},
		{protocol.NewKey(), "10.0.0.3", true}, // third of one /24
		{protocol.NewKey(), "10.0.1.1", false},
		{protocol.NewKey(), "10.0.2.1", false},
		{protocol.NewKey(), "10.0.3.1", false},
		{protocol.NewKey(), "10.0.4.1", true}, // sixth in all
	} {
		err := connect(tc.key, tc.addr)
		if got := errors.As(err, &refused); got != tc.refused {
			t.Errorf("connection %d from %s: refused %v (%v), want %v", i, tc.addr, got, err, tc.refused)
		}
	}
}

// TestUnackedLeasesCapped: an identity that does not ack holds few
// leases: 2 at first, one more per ack, never more than MaxUnacked, so
// hoarders cannot take a queue.
func TestUnackedLeasesCapped(t *testing.T) {
	e := newEnv(t, quiet(Config{Quorum: 1, MaxUnacked: 4}))
	e.analysis(e.owner("a@x"), 1, 200, "routine", false) // 20 chunks
	v := e.connect("", "")
	v.s.Handle(&protocol.Message{Type: protocol.TypeRequest, Count: 100}, nil)
	ackAll := func() {
		for _, l := range v.leases() {
			v.s.Handle(&protocol.Message{Type: protocol.TypeAck, LeaseID: l.LeaseID}, nil)
		}
	}
	for i, want := range []int{2, 6, 10, 14} { // window 2, then 4 (2 acks), then capped at 4
		if got := len(v.leases()); got != want {
			t.Fatalf("round %d: %d leases in all, want %d", i, got, want)
		}
		ackAll()
	}
}

// TestLeaseDeadlines: progress never extends a lease; an expired lease's
// result is ignored; the chunk is never leased again to that identity.
func TestLeaseDeadlines(t *testing.T) {
	clock := newManualClock()
	e := newEnv(t, quiet(Config{Quorum: 2, MinLease: 30 * time.Second, Heartbeat: time.Second, Now: clock.Now}))
	e.analysis(e.owner("a@x"), 1, 10, "routine", false) // one chunk
	h := e.connect("", "")
	l := h.take()
	h.s.Handle(&protocol.Message{Type: protocol.TypeAck, LeaseID: l.LeaseID}, nil)
	for range 40 { // 40 s of progress, every second
		clock.Advance(time.Second)
		h.s.Handle(&protocol.Message{Type: protocol.TypeProgress, LeaseID: l.LeaseID, Done: 1, Total: 2}, nil)
		e.reap()
	}
	if c := h.p.last(protocol.TypeCancel); c == nil || c.LeaseID != l.LeaseID {
		t.Fatalf("a lease kept alive by progress was not expired at its deadline: %+v", c)
	}
	out, _ := sumAlg{}.Run(h.payload(l), nil)
	h.s.Handle(&protocol.Message{Type: protocol.TypeResult, LeaseID: l.LeaseID, Digest: canon.Digest(out), Size: len(out)}, out)
	if v := h.p.last(protocol.TypeVerdict); v == nil || v.Verdict != protocol.VerdictIgnored {
		t.Errorf("late result: verdict %+v, want ignored", v)
	}
	if h.take() != nil {
		t.Error("the chunk was leased again to the identity that held it")
	}
	h.s.Close() // all its connections gone: its record is dropped from memory
	if again := e.connectKey(h.key, "", ""); again.take() != nil {
		t.Error("the chunk was leased again to the identity that held it, after it reconnected")
	}
	if o := e.connect("", ""); o.take() != nil {
		t.Error("a chunk whose lease stalled went to a fresh identity (the next hoarder in line)")
	}
	o := e.connect("", "")
	o.setStanding(3)
	if o.take() == nil {
		t.Error("the expired chunk was not offered to an established volunteer")
	}
}

// TestAckTimeoutShrinksWindow: an identity that lets leases time out
// without an ack holds one lease at a time after that.
func TestAckTimeoutShrinksWindow(t *testing.T) {
	clock := newManualClock()
	e := newEnv(t, quiet(Config{Quorum: 1, AckTimeout: 5 * time.Second, Now: clock.Now}))
	e.analysis(e.owner("a@x"), 1, 200, "routine", false) // 20 chunks
	v := e.connect("", "")
	v.s.Handle(&protocol.Message{Type: protocol.TypeRequest, Count: 100}, nil)
	if got := len(v.leases()); got != 2 {
		t.Fatalf("a new identity got %d leases without an ack, want 2", got)
	}
	clock.Advance(6 * time.Second)
	e.reap()
	if got := len(v.leases()); got != 3 {
		t.Errorf("after its acks timed out it holds %d leases in all, want 3 (one more)", got)
	}
}

// TestResultOfAnotherConnectionsLease: a lease id is good only on the
// connection that holds it.
func TestResultOfAnotherConnectionsLease(t *testing.T) {
	e := newEnv(t, quiet(Config{Quorum: 2}))
	id := e.analysis(e.owner("a@x"), 1, 10, "routine", false)
	a, b := e.connect("", ""), e.connect("", "")
	l := a.take()
	out := []byte{1}
	b.s.Handle(&protocol.Message{Type: protocol.TypeResult, LeaseID: l.LeaseID, Digest: canon.Digest(out), Size: 1}, out)
	if v := b.p.last(protocol.TypeVerdict); v == nil || v.Verdict != protocol.VerdictIgnored {
		t.Errorf("verdict %+v, want ignored", v)
	}
	e.g.mu.Lock()
	n := len(e.g.analyses[id].chunks[0].results)
	e.g.mu.Unlock()
	if n != 0 {
		t.Errorf("a result for another connection's lease was counted")
	}
}

// TestCaughtReopensFinishedAnalyses: a trusted volunteer settles an
// analysis alone; once it is caught lying elsewhere, the finished analysis
// is reopened, verified again by others and marked revised.
func TestCaughtReopensFinishedAnalyses(t *testing.T) {
	e := newEnv(t, quiet(Config{Quorum: 2, TrustAfter: 20}))
	own := e.owner("a@x")
	first := e.analysis(own, 1, 30, "routine", false) // 3 chunks
	liar := e.connect("", "")
	liar.setStanding(50)
	for l := liar.take(); l != nil; l = liar.take() {
		liar.answer(l, true) // accepted on its trust alone
	}
	e.wait(first, store.StatusDone)
	if got := e.result(first); got == sums(3, 10) {
		t.Fatal("setup: the lies were not accepted")
	}
	// Caught on a replicated chunk of another analysis. The liar still
	// wants a lease (its last request found nothing): it gets the chunk as
	// soon as the analysis starts.
	second := e.analysis(own, 2, 10, "routine", false)
	ls := liar.leases()
	lliar := ls[len(ls)-1]
	if liar.payload(lliar).Channels[0].Samples[0] != 2 {
		t.Fatal("setup: the liar did not get the new analysis's chunk")
	}
	e.g.mu.Lock()
	e.g.analyses[second].chunks[0].single = nil // as if a spot check were drawn
	e.g.mu.Unlock()
	h1, h2 := e.connect("", ""), e.connect("", "")
	h1.setStanding(5)
	h2.setStanding(5)
	liar.answer(lliar, true)
	h1.answer(h1.take(), false)
	h2.answer(h2.take(), false)
	e.wait(second, store.StatusDone)
	a := e.wait(first, store.StatusRunning)
	if a.Revision != 1 {
		t.Errorf("reopened analysis: revision %d, want 1", a.Revision)
	}
	for range 3 {
		for _, v := range []*vol{h1, h2} {
			if l := v.take(); l != nil {
				v.answer(l, false)
			}
		}
	}
	a = e.wait(first, store.StatusDone)
	if got, want := e.result(first), sums(3, 10); got != want {
		t.Errorf("revised result %s, want %s", got, want)
	}
	if !strings.Contains(a.Error, "revised") || a.Revision != 1 {
		t.Errorf("revised analysis: error %q revision %d, want marked revised", a.Error, a.Revision)
	}
	log, _ := e.st.AuditLog(context.Background(), 20)
	found := false
	for _, en := range log {
		found = found || (en.Action == "analysis.revise" && en.Object == fmt.Sprint("analysis/", first))
	}
	if !found {
		t.Errorf("no audit entry for the revision: %+v", log)
	}
}

// TestAuditCatchesEstablishedColluders: established identities that agree
// on a lie get it accepted; the auditor's recomputation catches them and
// the chunk is settled with the right output.
func TestAuditCatchesEstablishedColluders(t *testing.T) {
	e := newEnv(t, Config{Quorum: 2, SpotCheck: -1, AuditRate: 1, RingerRate: -1, Auditors: 1})
	id := e.analysis(e.owner("a@x"), 1, 20, "routine", false) // 2 chunks
	c1, c2 := e.connect("", ""), e.connect("", "")
	c1.setStanding(5)
	c2.setStanding(5)
	for range 2 {
		l1, l2 := c1.take(), c2.take()
		if l1 != nil {
			c1.answer(l1, true)
		}
		if l2 != nil {
			c2.answer(l2, true)
		}
	}
	// Honest volunteers finish what the reopening left.
	h1, h2 := e.connect("", ""), e.connect("", "")
	h1.setStanding(5)
	for range 400 {
		if a, _ := e.st.Analysis(context.Background(), id); a.Status == store.StatusDone && e.result(id) == sums(2, 10) {
			break
		}
		h1.work()
		h2.work()
		time.Sleep(5 * time.Millisecond)
	}
	if a, _ := e.st.Analysis(context.Background(), id); a.Status != store.StatusDone || e.result(id) != sums(2, 10) {
		t.Fatalf("analysis %s (%q) %s: the audited lies were not undone", a.Status, a.Error, e.result(id))
	}
	for _, c := range []*vol{c1, c2} {
		nonce := protocol.NewNonce()
		_, _, err := e.g.Connect(context.Background(), hello(c.key, nonce, ""), Peer{Addr: "198.51.100.1", Nonce: nonce}, &pipe{})
		var refused *RefusedError
		if !errors.As(err, &refused) {
			t.Errorf("an audited colluder reconnected: %v", err)
		}
	}
}

// TestKnownAnswerCatchesLiar: a ringer lease looks like any other; a wrong
// answer catches the volunteer, a right one adds to its standing.
func TestKnownAnswerCatchesLiar(t *testing.T) {
	e := newEnv(t, quiet(Config{Quorum: 1, RingerRate: 1}))
	id := e.analysis(e.owner("a@x"), 1, 10, "routine", false)
	if err := e.g.StartLocalWorkers(1); err != nil {
		t.Fatal(err)
	}
	e.wait(id, store.StatusDone) // the local worker's output is a known answer now
	e.g.mu.Lock()
	n := len(e.g.ringers.items)
	e.g.mu.Unlock()
	if n != 1 {
		t.Fatalf("ringer pool holds %d, want 1", n)
	}
	honest := e.connect("", "")
	l := honest.take()
	if l == nil {
		t.Fatal("no known-answer lease")
	}
	honest.answer(l, false)
	if got := honest.standing(); got != 1 {
		t.Errorf("standing after a right known answer: %d, want 1", got)
	}
	liar := e.connect("", "")
	liar.answer(liar.take(), true)
	liar.s.g.mu.Lock()
	banned := liar.s.vol.rec.BannedUntil.After(time.Now())
	liar.s.g.mu.Unlock()
	if !banned {
		t.Error("a wrong known answer did not ban the volunteer")
	}
}

// TestCreditGrantedNotClaimed: both agreeing replicas get the server's
// estimate, whatever CPU time they claim.
func TestCreditGrantedNotClaimed(t *testing.T) {
	e := newEnv(t, quiet(Config{Quorum: 2}))
	id := e.analysis(e.owner("a@x"), 1, 10, "routine", false)
	a, b := e.connect("", ""), e.connect("", "")
	a.setStanding(3)
	la, lb := a.take(), b.take()
	for _, x := range []struct {
		v *vol
		l *protocol.Message
	}{{a, la}, {b, lb}} {
		out, _ := sumAlg{}.Run(x.v.payload(x.l), nil)
		x.v.s.Handle(&protocol.Message{Type: protocol.TypeResult, LeaseID: x.l.LeaseID, Digest: canon.Digest(out), Size: len(out), CPUMS: 1e9}, out)
	}
	e.wait(id, store.StatusDone)
	e.g.mu.Lock()
	ca, cb := a.s.vol.rec.CreditMicros, b.s.vol.rec.CreditMicros
	e.g.mu.Unlock()
	if ca != cb || ca <= 0 || ca > 1_000_000 {
		t.Errorf("credit %d and %d µs: want one small server estimate for both", ca, cb)
	}
}

// TestSpotCheckRate: a trusted volunteer's leases are replicated anyway
// with probability max(SpotCheck, 1/√standing), and it cannot tell which.
func TestSpotCheckRate(t *testing.T) {
	for _, tc := range []struct {
		standing int64
		want     float64
	}{{25, 0.2}, {400, 0.05}, {10_000, 0.05}} {
		t.Run(fmt.Sprint(tc.standing), func(t *testing.T) {
			r := mrand.New(mrand.NewPCG(1, uint64(tc.standing)))
			e := newEnv(t, quiet(Config{Quorum: 2, SpotCheck: 0.05, Rand: r.Float64}))
			const chunks = 400
			id := e.analysis(e.owner("a@x"), 1, chunks*10, "routine", false)
			v := e.connect("", "")
			v.setStanding(tc.standing)
			checked := 0
			for range chunks {
				l := v.take()
				if l == nil {
					t.Fatal("the trusted volunteer got no lease")
				}
				before := e.verified(id)
				v.answer(l, false)
				if e.verified(id) == before {
					checked++ // it waits for a second replica: a spot check
				}
			}
			got := float64(checked) / chunks
			sigma := math.Sqrt(tc.want * (1 - tc.want) / chunks)
			if math.Abs(got-tc.want) > 4*sigma {
				t.Errorf("standing %d: %.3f of leases spot-checked, want %.3f ± %.3f", tc.standing, got, tc.want, 4*sigma)
			}
		})
	}
}

// TestTrustedLeaseNotSettledByAnotherAlone: a chunk leased to a trusted
// volunteer alone may be settled by its result only; the lone result of an
// untrusted end-game replica of it settles nothing.
func TestTrustedLeaseNotSettledByAnotherAlone(t *testing.T) {
	e := newEnv(t, quiet(Config{Quorum: 2}))
	id := e.analysis(e.owner("a@x"), 1, 10, "routine", false) // one chunk
	tr := e.connect("", "")
	tr.setStanding(25)
	l := tr.take()
	u := e.connect("", "")
	lu := u.take()
	if l == nil || lu == nil || lu.Digest != l.Digest {
		t.Fatalf("want an end-game replica of the trusted volunteer's chunk: %+v %+v", l, lu)
	}
	u.answer(lu, true)
	if got := e.verified(id); got != 0 {
		t.Fatal("an untrusted replica's lone (forged) result settled a chunk reserved for a trusted volunteer")
	}
}

// TestStalledChunkStaysWithEstablished: once a lease of a chunk was
// dropped, a later result does not hand the chunk back to fresh
// identities: it waits for an established volunteer or the auditors (the
// churn e2e stall, where every connected volunteer had held it).
func TestStalledChunkStaysWithEstablished(t *testing.T) {
	e := newEnv(t, quiet(Config{Quorum: 2}))
	id := e.analysis(e.owner("a@x"), 1, 10, "routine", false) // one chunk
	a, b := e.connect("", ""), e.connect("", "")
	la, lb := a.take(), b.take()
	if la == nil || lb == nil {
		t.Fatal("want both volunteers on the chunk")
	}
	b.s.Close() // its lease is released: the chunk stalled
	a.answer(la, false)
	if fresh := e.connect("", ""); fresh.take() != nil {
		t.Error("after a result, a stalled chunk went to a fresh identity")
	}
	est := e.connect("", "")
	est.setStanding(3)
	l := est.take()
	if l == nil {
		t.Fatal("the stalled chunk was not offered to an established volunteer")
	}
	est.answer(l, false)
	e.wait(id, store.StatusDone)
}

// TestFreshCrowdScansLittle: when every open chunk waits for an
// established vote, a crowd of fresh identities asking for work must not
// each walk the whole queue (the scan that took 69 % of the CPU with a
// thousand fresh volunteers), and an established volunteer still finds
// the waiting chunks at once.
func TestFreshCrowdScansLittle(t *testing.T) {
	const chunks = 1000
	e := newEnv(t, quiet(Config{Quorum: 2}))
	id := e.analysis(e.owner("a@x"), 1, 10*chunks, "routine", false)
	f1, f2 := e.connect("", ""), e.connect("", "")
	for range chunks {
		f1.answer(f1.take(), false)
		f2.answer(f2.take(), false) // the second opinion: both fresh, so it waits
	}
	if got := e.verified(id); got != 0 {
		t.Fatalf("%d chunks verified by two fresh identities", got)
	}
	const crowd = 50
	e.g.mu.Lock()
	before := e.g.scanned
	e.g.mu.Unlock()
	for range crowd {
		if l := e.connect("", "").take(); l != nil {
			t.Fatal("a fresh identity was leased a chunk that waits for an established vote")
		}
	}
	e.g.mu.Lock()
	perPick := float64(e.g.scanned-before) / crowd
	e.g.mu.Unlock()
	if perPick > maxEndGameScan+16 {
		t.Errorf("a fresh identity's request looked at %.0f queue entries, want at most %d (the end game's sample)", perPick, maxEndGameScan+16)
	}
	est := e.connect("", "")
	est.setStanding(3)
	for range chunks {
		l := est.take()
		if l == nil {
			t.Fatal("the established volunteer found no waiting chunk")
		}
		est.answer(l, false)
	}
	e.wait(id, store.StatusDone)
	if got, want := e.result(id), sums(chunks, 10); got != want {
		t.Errorf("result %.60s…, want %.60s…", got, want)
	}
}
