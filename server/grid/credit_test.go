package grid

import (
	"context"
	"fmt"
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

// hello connects a volunteer with a nickname (resuming key) and returns
// it with its welcome.
func (e *env) hello(nickname string, key protocol.Key) (*vol, *protocol.Message) {
	e.t.Helper()
	p := &pipe{pay: map[int64][]byte{}}
	e.net++
	nonce := protocol.NewNonce()
	h := hello(key, nonce, "")
	h.Nickname = nickname
	s, w, err := e.g.Connect(context.Background(), h, Peer{Addr: fmt.Sprintf("10.77.%d.1", e.net), Nonce: nonce}, p)
	if err != nil {
		e.t.Fatal(err)
	}
	return &vol{e: e, s: s, p: p, key: key}, w
}

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
			return v
		}
	}
	e.t.Fatalf("volunteer %s is not online", id)
	return store.Volunteer{}
}

func TestVolunteerCountersAndCredit(t *testing.T) {
	clock := newManualClock() // lease times are what the test says
	e := newEnv(t, quiet(Config{Quorum: 2, AckTimeout: 100 * time.Millisecond, Now: clock.Now}))
	side := e.analysis(e.owner("b@x"), 1, 20, "routine", false) // 2 chunks, for the liar's error and expiry
	adaKey := protocol.NewKey()
	ada, wa := e.hello("  Ada\u202E  Lovelace ", adaKey)
	ada.setStanding(3)
	anon, wn := e.hello("", protocol.NewKey())
	liar, wl := e.hello("liar", protocol.NewKey())
	if wa.TotalVerified != 0 || wa.Credit != 0 {
		t.Errorf("a new volunteer's welcome carries totals %d/%v, want 0/0", wa.TotalVerified, wa.Credit)
	}

	// The liar reports an error on one chunk and lets another lease expire.
	l4 := liar.take()
	if err := liar.s.Handle(&protocol.Message{Type: protocol.TypeError, LeaseID: l4.LeaseID, Reason: "boom"}, nil); err != nil {
		t.Fatal(err)
	}
	liar.take()
	clock.Advance(200 * time.Millisecond) // past AckTimeout
	e.reap()

	if err := e.g.Cancel(context.Background(), side); err != nil {
		t.Fatal(err)
	}
	id := e.analysis(e.owner("a@x"), 1, 20, "routine", false) // 2 chunks

	// Chunk A: Ada claims an hour of CPU for a lease held ~60 ms; anon
	// claims 20 ms. Both verified; both get the server's estimate as credit.
	la, ln := ada.take(), anon.take()
	if la == nil || ln == nil || la.Digest != ln.Digest {
		t.Fatalf("want Ada and anon on one chunk: %+v %+v", la, ln)
	}
	clock.Advance(60 * time.Millisecond)
	ada.result(la, false, 3_600_000)
	anon.result(ln, false, 20)

	// Chunk B: the liar and Ada disagree; anon breaks the tie.
	l1 := liar.take()
	l2 := ada.take()
	if l1 == nil || l2 == nil || l1.Digest != l2.Digest {
		t.Fatalf("want the liar and Ada on one chunk: %+v %+v", l1, l2)
	}
	clock.Advance(20 * time.Millisecond)
	liar.result(l1, true, 10)
	ada.result(l2, false, 5)
	l3 := anon.take()
	clock.Advance(20 * time.Millisecond)
	anon.result(l3, false, 7)
	if v, _, _ := e.g.Progress(id); v != 2 {
		t.Fatalf("verified chunks: got %d, want 2", v)
	}

	a, n := e.online(wa.VolunteerID), e.online(wn.VolunteerID)
	e.g.syncFlush()
	l, err := e.st.Volunteer(context.Background(), wl.VolunteerID) // caught: disconnected and saved
	if err != nil {
		t.Fatal(err)
	}
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
	if !l.BannedUntil.After(time.Now()) {
		t.Errorf("the liar is not banned: %v", l.BannedUntil)
	}
	// CPU time claimed is a statistic, capped by the lease's wall time.
	if a.CPUMicros < 65_000 || a.CPUMicros > 5_000_000 {
		t.Errorf("Ada: cpu %d µs; want 65..5000 ms (the hour claimed, capped)", a.CPUMicros)
	}
	if n.CPUMicros != 27_000 {
		t.Errorf("anon: cpu %d µs; want 27 ms", n.CPUMicros)
	}
	// Credit is the server's: the same for both, whatever they claimed.
	if a.CreditMicros != n.CreditMicros || a.CreditMicros <= 0 || a.CreditMicros >= 27_000 {
		t.Errorf("credit: Ada %d µs, anon %d µs; want one server estimate for both", a.CreditMicros, n.CreditMicros)
	}
	if l.CreditMicros != 0 {
		t.Errorf("liar: credit %d µs, want 0", l.CreditMicros)
	}
	if a.CompletionMicros < 60_000 || a.AvgCompletion() < 30*time.Millisecond {
		t.Errorf("Ada: completion %d µs in total, average %v; want ≥ 60 ms, ≥ 30ms", a.CompletionMicros, a.AvgCompletion())
	}

	// Verified verdicts carry the running totals.
	want := float64(n.CreditMicros) / 1e6
	last := anon.p.last(protocol.TypeVerdict) // verdicts go out after the batch: syncFlush above
	if last == nil || last.TotalVerified != 2 || last.Credit != want {
		t.Errorf("anon's last verdict: %+v, want total_verified 2, credit %v", last, want)
	}

	// Counters survive: the grid saves them; a new grid on the same store
	// welcomes Ada back with her totals, and a reconnect renames her.
	ada.s.Close()
	e.g.Close()
	rec, err := e.st.Volunteer(context.Background(), wa.VolunteerID)
	if err != nil {
		t.Fatal(err)
	}
	if rec.CreditMicros != a.CreditMicros || rec.Issued != 2 || rec.Nickname != "Ada Lovelace" || rec.PublicKey != adaKey.PublicKey() {
		t.Errorf("stored: credit %d µs, issued %d, nickname %q, key %q; want %d, 2, Ada Lovelace, her key", rec.CreditMicros, rec.Issued, rec.Nickname, rec.PublicKey, a.CreditMicros)
	}
	e.g = New(e.st, testReg, quiet(Config{Quorum: 2, FlushInterval: time.Millisecond}))
	t.Cleanup(e.g.Close)
	_, w := e.hello("Ada L.", adaKey)
	if w.VolunteerID != wa.VolunteerID || w.TotalVerified != 2 || w.Credit != float64(a.CreditMicros)/1e6 {
		t.Errorf("welcome after restart: %+v; want %s with 2 verified and credit %v", w, wa.VolunteerID, float64(a.CreditMicros)/1e6)
	}
	if got := e.online(wa.VolunteerID).Nickname; got != "Ada L." {
		t.Errorf("nickname after reconnecting: %q, want Ada L.", got)
	}
}
