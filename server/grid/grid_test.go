package grid

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
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
func (sumAlg) Split(sig *signal.Signal, params []byte, _ pipeline.SplitOptions) ([]pipeline.Chunk, error) {
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
	t  *testing.T
	st *store.SQLite
	g  *Grid
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
	time.Sleep(time.Millisecond) // distinct creation times
	return a.ID
}

func (e *env) wait(id int64, status string) store.Analysis {
	e.t.Helper()
	for range 500 {
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

type vol struct {
	e *env
	s *Session
	p *pipe
}

func (e *env) connect(ip, token string) *vol {
	e.t.Helper()
	p := &pipe{pay: map[int64][]byte{}}
	s, w, err := e.g.Connect(context.Background(), &protocol.Message{Type: protocol.TypeHello, Version: 1, Algorithms: []string{"test.sum@1"}, Slots: 1, Token: token}, ip, p)
	if err != nil {
		e.t.Fatal(err)
	}
	if w.VolunteerID == "" || w.Secret == "" {
		e.t.Fatalf("welcome lacks an identity: %+v", w)
	}
	return &vol{e: e, s: s, p: p}
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

func TestPriorityFairShareInterleaving(t *testing.T) {
	e := newEnv(t, Config{Quorum: 1})
	a, b, c := e.owner("a@x"), e.owner("b@x"), e.owner("c@x")
	e.analysis(a, 1, 50, "routine", false) // A1: 5 chunks, oldest
	e.analysis(a, 2, 50, "routine", false) // A2
	e.analysis(b, 3, 30, "routine", false) // B: 3 chunks
	e.analysis(c, 4, 30, "stat", false)    // C: stat, newest
	v := e.connect("127.0.0.1", "")
	var got []int
	for {
		l := v.take()
		if l == nil {
			break
		}
		got = append(got, int(v.payload(l).Channels[0].Samples[0]))
	}
	want := "4 4 4 1 3 1 3 1 3 1 2 1 2 2 2 2"
	if s := strings.Trim(fmt.Sprint(got), "[]"); s != want {
		t.Errorf("lease order by dataset: got %s, want %s (stat first; owners alternate; a recording's chunks interleaved with others)", s, want)
	}
}

func TestDistinctIPs(t *testing.T) {
	for _, tc := range []struct {
		name      string
		allow     bool
		ip1, ip2  string
		wantLease bool
	}{
		{"SameIPRefused", false, "10.0.0.1", "10.0.0.1", false},
		{"OtherIP", false, "10.0.0.1", "10.0.0.2", true},
		{"LoopbackExempt", false, "127.0.0.1", "127.0.0.1", true},
		{"SameIPAllowed", true, "10.0.0.1", "10.0.0.1", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, Config{Quorum: 2, AllowSameIP: tc.allow})
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

func TestQuorumAndReputation(t *testing.T) {
	e := newEnv(t, Config{Quorum: 2, TrustAfter: 3, SpotCheck: 1e-300})
	own := e.owner("a@x")
	id := e.analysis(own, 1, 200, "routine", false) // 20 chunks
	h1, h2, h3 := e.connect("127.0.0.1", ""), e.connect("127.0.0.1", ""), e.connect("127.0.0.1", "")
	// Three chunks verified by h1 and h2 together: both reach reputation 3.
	for range 3 {
		l1, l2 := h1.take(), h2.take()
		if l1 == nil || l2 == nil || l1.Digest != l2.Digest {
			t.Fatalf("want both on the same chunk: %+v %+v", l1, l2)
		}
		h1.answer(l1, false)
		h2.answer(l2, false)
	}
	if got := e.g.Stats().TrustedVolunts; got != 2 {
		t.Fatalf("trusted volunteers: got %d, want 2", got)
	}
	// Trusted h1 settles a chunk alone (Y).
	y := h1.take()
	h1.answer(y, false)
	if v, _, _ := e.g.Progress(id); v != 4 {
		t.Fatalf("verified after a trusted single result: got %d, want 4", v)
	}
	// h3 (untrusted) takes chunk X first; h1 joins X and lies: no agreement yet.
	x3 := h3.take()
	x1 := h1.take()
	if x1.Digest != x3.Digest {
		t.Fatalf("h1 should have joined h3's chunk")
	}
	h1.answer(x1, true)
	h3.answer(x3, false)
	if v, _, _ := e.g.Progress(id); v != 4 {
		t.Fatalf("a disagreement was settled: verified %d", v)
	}
	// h2 breaks the tie: X verified, h1 rejected, and Y — accepted on h1's
	// word alone — is withdrawn for re-checking.
	x2 := h2.take()
	if x2.Digest != x3.Digest {
		t.Fatalf("h2 should have been given the disputed chunk")
	}
	h2.answer(x2, false)
	if v, _, _ := e.g.Progress(id); v != 4 {
		t.Errorf("after the tie-break and withdrawal: verified %d, want 4 (X in, Y out)", v)
	}
	if got := e.g.Stats().TrustedVolunts; got != 1 {
		t.Errorf("trusted volunteers after h1 lied: got %d, want 1", got)
	}
	// Y goes to another volunteer; agreeing with h1's kept result verifies it.
	y3 := h3.take()
	if y3.Digest != y.Digest {
		t.Fatalf("the withdrawn chunk should come first: got another")
	}
	h3.answer(y3, false)
	if v, _, _ := e.g.Progress(id); v != 5 {
		t.Errorf("after re-checking Y: verified %d, want 5", v)
	}
	// Finish the rest with h2 (trusted, alone) and h3 (paired with h2 when needed).
	for range 100 {
		if a, _ := e.st.Analysis(context.Background(), id); a.Status == store.StatusDone {
			break
		}
		for _, v := range []*vol{h2, h3} {
			if l := v.take(); l != nil {
				v.answer(l, false)
			}
		}
		time.Sleep(time.Millisecond)
	}
	a := e.wait(id, store.StatusDone)
	body, _ := e.st.AnalysisResult(context.Background(), a.ID)
	if want := `{"sums":[` + strings.TrimSuffix(strings.Repeat("10,", 20), ",") + `]}`; string(body) != want {
		t.Errorf("result: got %s, want %s", body, want)
	}
}

func TestDisagreementFailsAtCap(t *testing.T) {
	e := newEnv(t, Config{Quorum: 2, MaxReplicas: 3})
	id := e.analysis(e.owner("a@x"), 1, 10, "routine", false)
	for i := range 3 {
		v := e.connect("127.0.0.1", "")
		l := v.take()
		if l == nil {
			t.Fatalf("volunteer %d got no lease", i)
		}
		out := []byte{byte(i)}
		v.s.Handle(&protocol.Message{Type: protocol.TypeResult, LeaseID: l.LeaseID, Digest: canon.Digest(out), Size: 1}, out)
	}
	a := e.wait(id, store.StatusFailed)
	if !strings.Contains(a.Error, "3 different outputs") {
		t.Errorf("failure reason %q does not say the outputs disagreed", a.Error)
	}
}

func TestAgreedErrorFails(t *testing.T) {
	e := newEnv(t, Config{Quorum: 2})
	id := e.analysis(e.owner("a@x"), -1, 10, "routine", false)
	for range 2 {
		v := e.connect("127.0.0.1", "")
		l := v.take()
		_, err := sumAlg{}.Run(v.payload(l), nil)
		v.s.Handle(&protocol.Message{Type: protocol.TypeError, LeaseID: l.LeaseID, Reason: err.Error()}, nil)
	}
	a := e.wait(id, store.StatusFailed)
	if !strings.Contains(a.Error, "negative sample") {
		t.Errorf("failure reason %q does not carry the volunteers' error", a.Error)
	}
}

func TestLocalWorkersAndTrustedOnly(t *testing.T) {
	e := newEnv(t, Config{Quorum: 2})
	own := e.owner("a@x")
	id := e.analysis(own, 1, 10, "routine", true) // trusted only
	anon := e.connect("10.0.0.1", "")
	if anon.take() != nil {
		t.Fatal("an anonymous volunteer got a lease of a trusted-only dataset")
	}
	m, err := e.st.CreateUser(context.Background(), store.User{Email: "pc@x", Role: store.RoleVolunteer, PasswordHash: "x"})
	if err != nil {
		t.Fatal(err)
	}
	tok, hash, _ := auth.NewToken()
	e.st.CreateToken(context.Background(), m.ID, hash, "")
	if _, _, err := e.g.Connect(context.Background(), &protocol.Message{Type: protocol.TypeHello, Version: 1, Token: "pgt_wrong"}, "10.0.0.3", &pipe{}); err == nil {
		t.Error("a wrong enrollment token was accepted")
	}
	enrolled := e.connect("10.0.0.2", tok)
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
	g := New(st, testReg, Config{Quorum: 1, FlushInterval: time.Millisecond})
	e := &env{t: t, st: st, g: g}
	id := e.analysis(e.owner("a@x"), 1, 50, "routine", false)
	v := e.connect("127.0.0.1", "")
	for range 2 {
		v.answer(v.take(), false)
	}
	g.Close()
	a, _ := st.Analysis(ctx, id)
	if a.ChunksVerified != 2 {
		t.Fatalf("after close: %d chunks verified in the store, want 2", a.ChunksVerified)
	}
	g = New(st, testReg, Config{Quorum: 1, FlushInterval: time.Millisecond})
	defer func() { g.Close(); st.Close() }()
	if err := g.Resume(ctx); err != nil {
		t.Fatal(err)
	}
	e.g = g
	v = e.connect("127.0.0.1", "")
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
	e := newEnv(t, Config{Quorum: 2})
	id := e.analysis(e.owner("a@x"), 1, 10, "routine", false) // one chunk
	v1, v2, v3 := e.connect("127.0.0.1", ""), e.connect("127.0.0.1", ""), e.connect("127.0.0.1", "")
	l1, l2 := v1.take(), v2.take()
	l3 := v3.take()
	if l1 == nil || l2 == nil || l3 == nil || l3.Digest != l1.Digest {
		t.Fatalf("an idle volunteer should get an extra replica of the last outstanding chunk: %v %v %v", l1, l2, l3)
	}
	if v4 := e.connect("127.0.0.1", ""); v4.take() != nil {
		t.Errorf("end game gave more than one extra replica")
	}
	v1.answer(l1, false)
	v3.answer(l3, false) // the slow v2 does not set the finish time
	e.wait(id, store.StatusDone)
	v2.p.mu.Lock()
	defer v2.p.mu.Unlock()
	last := v2.p.msgs[len(v2.p.msgs)-1]
	if last.Type != protocol.TypeCancel || last.LeaseID != l2.LeaseID {
		t.Errorf("the slow volunteer's lease was not cancelled: last message %+v", last)
	}
}

func TestSlowVolunteerDropped(t *testing.T) {
	e := newEnv(t, Config{Quorum: 2})
	e.analysis(e.owner("a@x"), 1, 10, "routine", false) // one chunk
	slow, fast := e.connect("127.0.0.1", ""), e.connect("127.0.0.1", "")
	l := slow.take()
	if l == nil {
		t.Fatal("no lease")
	}
	slow.p.mu.Lock()
	slow.p.full = true
	slow.p.mu.Unlock()
	// fast's lease of the same chunk settles nothing yet; the verdict and
	// cancel traffic to slow fails, and slow is dropped with its lease.
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

// TestSlotsOfOneUnsavedVolunteerStayOne connects a second slot with the
// identity a first slot was just given (before the flusher saved it): it
// must be the same volunteer, so it never gets a replica of the same chunk.
func TestSlotsOfOneUnsavedVolunteerStayOne(t *testing.T) {
	e := newEnv(t, Config{Quorum: 2})
	e.analysis(e.owner("a@x"), 1, 10, "routine", false) // one chunk
	p := &pipe{pay: map[int64][]byte{}}
	hello := &protocol.Message{Type: protocol.TypeHello, Version: 1, Algorithms: []string{"test.sum@1"}, Slots: 1}
	s1, w, err := e.g.Connect(context.Background(), hello, "127.0.0.1", p)
	if err != nil {
		t.Fatal(err)
	}
	v1 := &vol{e: e, s: s1, p: p}
	again := *hello
	again.VolunteerID, again.Secret = w.VolunteerID, w.Secret
	p2 := &pipe{pay: map[int64][]byte{}}
	s2, w2, err := e.g.Connect(context.Background(), &again, "127.0.0.1", p2)
	if err != nil {
		t.Fatal(err)
	}
	if w2.VolunteerID != w.VolunteerID || w2.Secret != "" {
		t.Fatalf("second slot got identity %q (new secret %v), want the first slot's %q", w2.VolunteerID, w2.Secret != "", w.VolunteerID)
	}
	v2 := &vol{e: e, s: s2, p: p2}
	if v1.take() == nil {
		t.Fatal("first slot got no lease")
	}
	if v2.take() != nil {
		t.Errorf("second slot of the same volunteer got a replica of the same chunk")
	}
}
