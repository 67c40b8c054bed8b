package grid

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/pulsegrid/pulsegrid/protocol"
)

// TestDisconnectedVoterKeepsLaterCredit: a volunteer whose result waits
// while it is away, and who comes back and earns credit elsewhere, ends
// with the credit of both. One-line bug it catches: saveVolunteers
// dropping the record of a disconnected volunteer whose result still
// waits (the verdict then credits the record as it was when dropped and
// saves it over the credit of the second connection: Validated 1, not 2).
func TestDisconnectedVoterKeepsLaterCredit(t *testing.T) {
	e := newEnv(t, quiet(Config{Quorum: 2}))
	owner := e.owner("a@x")
	first := e.analysis(owner, 1, 10, "routine", false) // one chunk
	key := protocol.NewKey()
	a := e.connectKey(key, "", "")
	a.setStanding(3)
	a.answer(a.take(), false) // waits for a second opinion
	a.s.Close()
	e.g.syncFlush()
	e.g.saveVolunteers(false)

	// Back, it computes an urgent chunk, verified while it is connected.
	second := e.analysis(owner, 2, 10, "urgent", false)
	a = e.connectKey(key, "", "")
	a.setStanding(3)
	la := a.take()
	if la == nil || chunkAnalysis(e, la) != second {
		t.Fatalf("back, the volunteer was leased %+v, want the urgent chunk", la)
	}
	a.answer(la, false)
	b := e.connect("", "")
	b.setStanding(3)
	lb := b.take()
	if lb == nil || chunkAnalysis(e, lb) != second {
		t.Fatalf("the second volunteer was leased %+v, want the urgent chunk", lb)
	}
	b.answer(lb, false)
	e.wait(second, "done")
	a.s.Close()
	e.g.syncFlush()
	e.g.saveVolunteers(false)

	// Now the first chunk gets its second opinion.
	b.answer(b.take(), false)
	e.wait(first, "done")
	e.g.syncFlush()
	e.g.saveVolunteers(false)
	rec, err := e.st.Volunteer(context.Background(), key.ID())
	if err != nil {
		t.Fatal(err)
	}
	if rec.Validated != 2 {
		t.Errorf("the volunteer has %d validated results in the store, want 2 (one per connection)", rec.Validated)
	}
}

// TestStoredReopenCapsOnlineSuspects: when a caught volunteer's votes in
// a finished analysis are withdrawn, the volunteers that agreed with it
// there lose their trusted standing in memory too, not only in the store
// (where their next save would put it back). One-line bug it catches: the
// cap applied to the store alone.
func TestStoredReopenCapsOnlineSuspects(t *testing.T) {
	e := newEnv(t, quiet(Config{Quorum: 2, TrustAfter: 5, EstablishAfter: 1}))
	owner := e.owner("a@x")
	done := e.analysis(owner, 1, 10, "routine", false)
	liar, ally := e.connect("", ""), e.connect("", "")
	liar.setStanding(3)
	ally.setStanding(3)
	liar.answer(liar.take(), false)
	ally.answer(ally.take(), false)
	e.wait(done, "done")
	e.g.syncFlush()

	// The liar is caught on another analysis: two others outvote it.
	ally.setStanding(50) // trusted, in memory
	other := e.analysis(owner, 2, 10, "routine", false)
	liar.answer(liar.take(), true)
	h1, h2 := e.connect("", ""), e.connect("", "")
	h1.setStanding(3)
	h2.setStanding(3)
	h1.answer(h1.take(), false)
	if l := h2.take(); l != nil {
		h2.answer(l, false)
	}
	e.wait(other, "done")
	var standing int64
	for range 1000 { // reopenStored runs after the batch that caught it
		e.g.syncFlush()
		if standing = ally.standing(); standing < 5 {
			break
		}
	}
	if standing >= 5 {
		t.Fatalf("the liar's ally kept standing %d in memory, want below TrustAfter (5)", standing)
	}
	if a, _ := e.st.Analysis(context.Background(), done); a.Revision == 0 {
		t.Errorf("the finished analysis the liar voted in was not revised: %+v", a)
	}
}

// TestAwayRecordTakesTheStoresSuspension: a volunteer whose record waits
// in memory (a result of its still open) and whom the store suspends
// meanwhile is refused when it comes back, and its standing is the
// store's lower one. One-line bugs it catches: backLocked not taking the
// later ban (it connects), or not the lower standing.
func TestAwayRecordTakesTheStoresSuspension(t *testing.T) {
	e := newEnv(t, quiet(Config{Quorum: 2}))
	e.analysis(e.owner("a@x"), 1, 10, "routine", false) // one chunk
	key := protocol.NewKey()
	a := e.connectKey(key, "", "")
	a.setStanding(3)
	a.answer(a.take(), false) // waits: the record stays in memory
	a.s.Close()
	e.g.syncFlush()
	ctx := context.Background()
	if err := e.st.CapReputation(ctx, []string{key.ID()}, 1); err != nil {
		t.Fatal(err)
	}
	back := e.connectKey(key, "", "")
	if s := back.standing(); s != 1 {
		t.Errorf("back with standing %d, want the store's 1", s)
	}
	back.s.Close()
	e.g.syncFlush()
	if err := e.st.BanVolunteer(ctx, key.ID(), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	nonce := protocol.NewNonce()
	_, _, err := e.g.Connect(ctx, hello(key, nonce, ""), Peer{Addr: "10.250.0.1", Nonce: nonce}, &pipe{pay: map[int64][]byte{}})
	var refused *RefusedError
	if !errors.As(err, &refused) {
		t.Fatalf("a volunteer the store suspended came back: %v", err)
	}
}
