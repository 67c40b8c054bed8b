package grid

import (
	"context"
	"testing"
	"time"

	"github.com/pulsegrid/pulsegrid/algorithms/canon"
	"github.com/pulsegrid/pulsegrid/protocol"
	"github.com/pulsegrid/pulsegrid/server/store"
)

func TestCapCPU(t *testing.T) {
	tests := []struct {
		name     string
		reported float64 // ms
		wall     time.Duration
		want     int64 // µs
	}{
		{"BelowWall", 300, time.Second, 300_000},
		{"FractionOfAMillisecond", 0.734, time.Second, 734},
		{"EqualWall", 1000, time.Second, 1_000_000},
		{"AboveWallCapped", 3_600_000, 1500 * time.Millisecond, 1_500_000},
		{"NegativeIsZero", -5, time.Second, 0},
		{"NothingReported", 0, time.Second, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := capCPU(tc.reported, tc.wall); got != tc.want {
				t.Errorf("capCPU(%v, %v) = %d, want %d", tc.reported, tc.wall, got, tc.want)
			}
		})
	}
}

// hello connects a volunteer with a nickname (resuming id if given) and
// returns it with its welcome.
func (e *env) hello(nickname string, id Identity) (*vol, *protocol.Message) {
	e.t.Helper()
	p := &pipe{pay: map[int64][]byte{}}
	s, w, err := e.g.Connect(context.Background(), &protocol.Message{Type: protocol.TypeHello, Version: 1, Algorithms: []string{"test.sum@1"},
		Slots: 1, Nickname: nickname, VolunteerID: id.ID, Secret: id.Secret}, "127.0.0.1", p)
	if err != nil {
		e.t.Fatal(err)
	}
	return &vol{e: e, s: s, p: p}, w
}

// Identity names a test volunteer for a resume.
type Identity struct{ ID, Secret string }

// result answers a lease (lying if asked) and reports cpuMS of CPU time.
func (v *vol) result(l *protocol.Message, lie bool, cpuMS float64) {
	v.e.t.Helper()
	out, err := sumAlg{}.Run(v.payload(l), nil)
	if err != nil {
		v.e.t.Fatal(err)
	}
	if lie {
		out[0] ^= 0xff
	}
	v.s.Handle(&protocol.Message{Type: protocol.TypeAck, LeaseID: l.LeaseID}, nil)
	if err := v.s.Handle(&protocol.Message{Type: protocol.TypeResult, LeaseID: l.LeaseID, Digest: canon.Digest(out), Size: len(out), CPUMS: cpuMS}, out); err != nil {
		v.e.t.Fatal(err)
	}
}

func (e *env) online(id string) store.Volunteer {
	e.t.Helper()
	for _, v := range e.g.OnlineVolunteers() {
		if v.ID == id {
			if v.SecretHash != "" {
				e.t.Errorf("OnlineVolunteers leaks the secret hash of %s", id)
			}
			return v
		}
	}
	e.t.Fatalf("volunteer %s is not online", id)
	return store.Volunteer{}
}

func TestVolunteerCountersAndCredit(t *testing.T) {
	e := newEnv(t, Config{Quorum: 2, AckTimeout: 100 * time.Millisecond})
	id := e.analysis(e.owner("a@x"), 1, 40, "routine", false) // 4 chunks
	ada, wa := e.hello("  Ada\u202E  Lovelace ", Identity{})
	anon, wn := e.hello("", Identity{})
	liar, wl := e.hello("liar", Identity{})
	if wa.TotalVerified != 0 || wa.Credit != 0 {
		t.Errorf("a new volunteer's welcome carries totals %d/%v, want 0/0", wa.TotalVerified, wa.Credit)
	}

	// Chunk 1: Ada claims an hour of CPU for a lease held ~60 ms; anon
	// claims 20 ms. Both verified; Ada's claim is capped by the wall time.
	la, ln := ada.take(), anon.take()
	time.Sleep(60 * time.Millisecond)
	ada.result(la, false, 3_600_000)
	anon.result(ln, false, 20)

	// Chunk 2: the liar and Ada disagree; anon breaks the tie.
	// Each lease is held long enough (≥ 20 ms) for the small claims to stand.
	l1, l2 := liar.take(), ada.take()
	time.Sleep(20 * time.Millisecond)
	liar.result(l1, true, 10)
	ada.result(l2, false, 5)
	l3 := anon.take()
	time.Sleep(20 * time.Millisecond)
	anon.result(l3, false, 7)

	// Chunk 3: the liar reports an error. Chunk 4: it lets a lease expire (no ack).
	l4 := liar.take()
	if err := liar.s.Handle(&protocol.Message{Type: protocol.TypeError, LeaseID: l4.LeaseID, Reason: "boom"}, nil); err != nil {
		t.Fatal(err)
	}
	liar.take()
	deadline := time.Now().Add(3 * time.Second)
	for e.online(wl.VolunteerID).Failed < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if v, _, _ := e.g.Progress(id); v != 2 {
		t.Fatalf("verified chunks: got %d, want 2", v)
	}

	a, n, l := e.online(wa.VolunteerID), e.online(wn.VolunteerID), e.online(wl.VolunteerID)
	if a.Nickname != "Ada Lovelace" || n.Nickname != "" || l.Nickname != "liar" {
		t.Errorf("nicknames %q %q %q, want cleaned \"Ada Lovelace\", \"\", \"liar\"", a.Nickname, n.Nickname, l.Nickname)
	}
	type counts struct{ Requests, Issued, Results, Validated, Rejected, Failed int64 }
	for _, tc := range []struct {
		name string
		v    store.Volunteer
		want counts
	}{
		{"Ada", a, counts{2, 2, 2, 2, 0, 0}},
		{"Anon", n, counts{2, 2, 2, 2, 0, 0}},
		{"Liar", l, counts{3, 3, 1, 0, 1, 2}},
	} {
		got := counts{tc.v.Requests, tc.v.Issued, tc.v.Results, tc.v.Validated, tc.v.Rejected, tc.v.Failed}
		if got != tc.want {
			t.Errorf("%s: got %+v, want %+v", tc.name, got, tc.want)
		}
	}
	// Ada: the capped claim (≥ 60 ms, far below an hour) plus 5 ms, all verified.
	if a.CPUMicros < 65_000 || a.CPUMicros > 5_000_000 || a.CreditMicros != a.CPUMicros {
		t.Errorf("Ada: cpu %d µs, credit %d µs; want 65..5000 ms, all of it credit", a.CPUMicros, a.CreditMicros)
	}
	if a.CompletionMicros < 60_000 || a.AvgCompletion() < 30*time.Millisecond {
		t.Errorf("Ada: completion %d µs in total, average %v; want ≥ 60 ms, ≥ 30ms", a.CompletionMicros, a.AvgCompletion())
	}
	if n.CPUMicros != 27_000 || n.CreditMicros != 27_000 {
		t.Errorf("anon: cpu %d µs, credit %d µs; want 27 ms and 27 ms", n.CPUMicros, n.CreditMicros)
	}
	// The rejected result spent CPU but earns no credit.
	if l.CPUMicros != 10_000 || l.CreditMicros != 0 {
		t.Errorf("liar: cpu %d µs, credit %d µs; want 10 ms and 0", l.CPUMicros, l.CreditMicros)
	}

	// Verified verdicts carry the running totals.
	deadline = time.Now().Add(2 * time.Second)
	var last *protocol.Message
	for last == nil && time.Now().Before(deadline) {
		anon.p.mu.Lock()
		for _, m := range anon.p.msgs {
			if m.Type == protocol.TypeVerdict && m.Verdict == protocol.VerdictVerified {
				last = m
			}
		}
		anon.p.mu.Unlock()
		time.Sleep(5 * time.Millisecond)
	}
	anon.p.mu.Lock()
	for _, m := range anon.p.msgs {
		if m.Type == protocol.TypeVerdict && m.Verdict == protocol.VerdictVerified {
			last = m
		}
	}
	anon.p.mu.Unlock()
	if last == nil || last.TotalVerified != 2 || last.Credit != 0.027 {
		t.Errorf("anon's last verified verdict: %+v, want total_verified 2, credit 0.027", last)
	}

	// Counters survive: the grid saves them; a new grid on the same store
	// welcomes Ada back with her totals, and a reconnect renames her.
	ada.s.Close()
	e.g.Close()
	rec, err := e.st.Volunteer(context.Background(), wa.VolunteerID)
	if err != nil {
		t.Fatal(err)
	}
	if rec.CreditMicros != a.CreditMicros || rec.Issued != 2 || rec.Nickname != "Ada Lovelace" {
		t.Errorf("stored: credit %d µs, issued %d, nickname %q; want %d, 2, Ada Lovelace", rec.CreditMicros, rec.Issued, rec.Nickname, a.CreditMicros)
	}
	e.g = New(e.st, testReg, Config{Quorum: 2, FlushInterval: time.Millisecond})
	t.Cleanup(e.g.Close)
	_, w := e.hello("Ada L.", Identity{wa.VolunteerID, wa.Secret})
	if w.VolunteerID != wa.VolunteerID || w.TotalVerified != 2 || w.Credit != float64(a.CreditMicros)/1e6 {
		t.Errorf("welcome after restart: %+v; want %s with 2 verified and credit %v", w, wa.VolunteerID, float64(a.CreditMicros)/1e6)
	}
	if got := e.online(wa.VolunteerID).Nickname; got != "Ada L." {
		t.Errorf("nickname after reconnecting: %q, want Ada L.", got)
	}
}
