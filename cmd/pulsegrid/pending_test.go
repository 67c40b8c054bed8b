package main

import (
	"context"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/pulsegrid/pulsegrid/algorithms/canon"
	"github.com/pulsegrid/pulsegrid/algorithms/catalog"
	"github.com/pulsegrid/pulsegrid/algorithms/pipeline"
	"github.com/pulsegrid/pulsegrid/protocol"
	"github.com/pulsegrid/pulsegrid/server/store"
	"github.com/pulsegrid/pulsegrid/server/store/postgres"
	"github.com/pulsegrid/pulsegrid/server/store/postgres/pgtest"
)

// TestPendingResultsSurviveSIGKILL: serve (on SQLite, or the leader of two
// replicas on PostgreSQL) gets one replica of five chunks (quorum 2) from
// an established volunteer and is SIGKILLed once those wait in the
// database; the serve after it (restarted, or the standby that takes
// over) settles each of them with one more replica from a fresh volunteer
// (its verdict says verified), and a wrong second replica on another does
// not verify (its verdict says rejected, once the server's auditor ran the
// chunk).
//
// One-line bug it catches: restoreLocked not called (server/grid/analyses.go
// add): the first lease after the restart is then a fresh chunk, and the
// waiting ones would need two more replicas (checked: fails at the first
// lease).
func TestPendingResultsSurviveSIGKILL(t *testing.T) {
	t.Run("SQLite", func(t *testing.T) {
		data, addr := t.TempDir(), freeAddr(t)
		var srv *exec.Cmd
		pendingSurviveKill(t, []string{"--data", data},
			func() store.Store {
				st, err := store.OpenSQLite(context.Background(), filepath.Join(data, dbFile))
				if err != nil {
					t.Fatal(err)
				}
				return st
			},
			func() string { srv, _ = serveProcess(t, addr, data); return "http://" + addr },
			func() string {
				srv.Process.Kill() // SIGKILL: no shutdown code runs
				srv.Wait()
				serveProcess(t, addr, data)
				return "http://" + addr
			})
	})
	// Two replicas on one PostgreSQL: the leader is SIGKILLed and the
	// standby takes over (the leader lock frees with its session).
	t.Run("PostgreSQL", func(t *testing.T) {
		db := pgtest.URL(t)
		var leader *exec.Cmd
		standby := freeAddr(t)
		pendingSurviveKill(t, []string{"--db", db},
			func() store.Store {
				st, err := postgres.Open(context.Background(), db)
				if err != nil {
					t.Fatal(err)
				}
				return st
			},
			func() string {
				addr := freeAddr(t)
				leader, _ = serveProcess(t, addr, t.TempDir(), "--db", db)
				waitReady(t, "http://"+addr)
				serveProcess(t, standby, t.TempDir(), "--db", db)
				return "http://" + addr
			},
			func() string {
				leader.Process.Kill()
				leader.Wait()
				waitReady(t, "http://"+standby)
				return "http://" + standby
			})
	})
}

// waitReady waits until a replica answers /readyz 200.
func waitReady(t *testing.T, base string) {
	t.Helper()
	for i := 0; ; i++ {
		if code, _ := readyz(base); code == 200 {
			return
		}
		if i == 1500 {
			t.Fatalf("%s never became ready", base)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// pendingSurviveKill runs the test on one engine: dbArgs name the
// database for the CLI, open opens it beside serve, start starts the
// leader and takeover kills it and returns where its successor serves.
func pendingSurviveKill(t *testing.T, dbArgs []string, open func() store.Store, start, takeover func() string) {
	base := start()
	tok := clinicianToken(t, dbArgs...)
	_, anID := startBeats119(t, base, tok)

	// The database, read beside serve as an operator would.
	st := open()
	defer st.Close()
	aKey := protocol.NewKey()
	if err := st.SaveVolunteers(context.Background(), []store.Volunteer{{ID: aKey.ID(), PublicKey: aKey.PublicKey(), Reputation: 3, CreatedAt: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	a := dialVolunteer(t, base, "127.0.31.1", aKey)
	waiting := map[string]bool{} // payload digests of the chunks a answered
	for range 5 {
		l := a.lease()
		waiting[l.m.Digest] = true
		a.answer(l, false)
	}
	for i := 0; ; i++ {
		ps, err := st.PendingResults(context.Background(), anID)
		if err != nil {
			t.Fatal(err)
		}
		if len(ps) == 5 {
			break
		}
		if i == 1000 {
			t.Fatalf("%d pending results in the database, want the 5 answered", len(ps))
		}
		time.Sleep(20 * time.Millisecond)
	}
	base = takeover()
	a.conn.CloseNow()

	// A liar gets a waiting chunk first (second opinions before fresh
	// chunks) and answers it wrongly.
	liar := dialVolunteer(t, base, "127.0.32.1", protocol.NewKey())
	ll := liar.lease()
	if !waiting[ll.m.Digest] {
		t.Fatal("after the restart, the first lease was not a chunk waiting for its second replica")
	}
	delete(waiting, ll.m.Digest)
	liar.answer(ll, true)
	// A fresh honest volunteer settles each of the other four alone.
	b := dialVolunteer(t, base, "127.0.33.1", protocol.NewKey())
	var mine []int64
	for i := 0; len(mine) < 4; i++ {
		if i == 30 {
			t.Fatalf("the honest volunteer got %d of the 4 waiting chunks in 30 leases", len(mine))
		}
		l := b.lease()
		if waiting[l.m.Digest] {
			delete(waiting, l.m.Digest)
			mine = append(mine, l.m.LeaseID)
		}
		b.answer(l, false)
	}
	for _, id := range mine {
		if v := b.verdict(id); v != protocol.VerdictVerified {
			t.Errorf("the one more replica of a chunk that waited across the SIGKILL: verdict %q, want verified", v)
		}
	}
	if v := liar.verdict(ll.m.LeaseID); v != protocol.VerdictRejected {
		t.Errorf("a wrong second replica of a chunk that waited across the SIGKILL: verdict %q, want rejected", v)
	}
}

// wsVolunteer is a volunteer the test drives message by message.
type wsVolunteer struct {
	t        *testing.T
	conn     *websocket.Conn
	in       chan wsFrame
	verdicts map[int64]string
}

type wsFrame struct {
	m       *protocol.Message
	payload []byte
}

// dialVolunteer connects as key from the local address from (its network).
func dialVolunteer(t *testing.T, base, from string, key protocol.Key) *wsVolunteer {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+protocol.Path,
		&websocket.DialOptions{HTTPClient: &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}})
	if err != nil {
		t.Fatal(err)
	}
	conn.SetReadLimit(protocol.MaxPayload + 1024)
	t.Cleanup(func() { conn.CloseNow() })
	v := &wsVolunteer{t: t, conn: conn, in: make(chan wsFrame, 64), verdicts: map[int64]string{}}
	go func() {
		defer close(v.in)
		for {
			typ, b, err := conn.Read(context.Background())
			if err != nil {
				return
			}
			if typ != websocket.MessageText {
				continue
			}
			m, err := protocol.Decode(b)
			if err != nil {
				return
			}
			fr := wsFrame{m: m}
			if m.Type == protocol.TypeLease {
				if _, fr.payload, err = conn.Read(context.Background()); err != nil {
					return
				}
			}
			v.in <- fr
		}
	}()
	challenge := v.next(func(m *protocol.Message) bool { return m.Type == protocol.TypeChallenge })
	v.send(&protocol.Message{Type: protocol.TypeHello, Version: protocol.Version, Algorithms: catalog.All().Names(), Slots: 1,
		PublicKey: key.PublicKey(), Signature: key.Sign(challenge.m.Nonce)}, nil)
	if w := v.next(func(m *protocol.Message) bool { return m.Type == protocol.TypeWelcome || m.Type == protocol.TypeFatal }); w.m.Type != protocol.TypeWelcome {
		t.Fatalf("hello refused: %+v", w.m)
	}
	return v
}

func (v *wsVolunteer) send(m *protocol.Message, payload []byte) {
	v.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := v.conn.Write(ctx, websocket.MessageText, m.Encode()); err != nil {
		v.t.Fatal(err)
	}
	if payload != nil {
		if err := v.conn.Write(ctx, websocket.MessageBinary, payload); err != nil {
			v.t.Fatal(err)
		}
	}
}

// next returns the next frame that want accepts, keeping the verdicts
// that come in between.
func (v *wsVolunteer) next(want func(*protocol.Message) bool) wsFrame {
	v.t.Helper()
	timeout := time.After(60 * time.Second)
	for {
		select {
		case fr, ok := <-v.in:
			if !ok {
				v.t.Fatal("the server closed the connection")
			}
			if fr.m.Type == protocol.TypeVerdict {
				v.verdicts[fr.m.LeaseID] = fr.m.Verdict
			}
			if want(fr.m) {
				return fr
			}
		case <-timeout:
			v.t.Fatal("no such message from the server within a minute")
		}
	}
}

// lease asks for one lease and returns it with its payload.
func (v *wsVolunteer) lease() wsFrame {
	v.t.Helper()
	v.send(&protocol.Message{Type: protocol.TypeRequest, Count: 1}, nil)
	return v.next(func(m *protocol.Message) bool { return m.Type == protocol.TypeLease })
}

// answer acknowledges the lease and returns its output, computed (or a
// wrong one when lie).
func (v *wsVolunteer) answer(l wsFrame, lie bool) {
	v.t.Helper()
	v.send(&protocol.Message{Type: protocol.TypeAck, LeaseID: l.m.LeaseID}, nil)
	task, err := pipeline.DecodeTask(l.payload)
	if err != nil {
		v.t.Fatal(err)
	}
	alg, err := catalog.All().Lookup(task.Algorithm)
	if err != nil {
		v.t.Fatal(err)
	}
	out, err := alg.Run(task, pipeline.NoYield{})
	if err != nil {
		v.t.Fatal(err)
	}
	if lie {
		out = append(out, 0)
	}
	v.send(&protocol.Message{Type: protocol.TypeResult, LeaseID: l.m.LeaseID, Digest: canon.Digest(out), Size: len(out)}, out)
}

// verdict waits for the verdict on a lease.
func (v *wsVolunteer) verdict(leaseID int64) string {
	v.t.Helper()
	if s, ok := v.verdicts[leaseID]; ok {
		return s
	}
	return v.next(func(m *protocol.Message) bool { return m.Type == protocol.TypeVerdict && m.LeaseID == leaseID }).m.Verdict
}
