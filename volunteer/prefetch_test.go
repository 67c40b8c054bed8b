//go:build !js

package volunteer

import (
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/pulsegrid/pulsegrid/algorithms/canon"
	"github.com/pulsegrid/pulsegrid/algorithms/catalog"
	"github.com/pulsegrid/pulsegrid/algorithms/ecg"
	"github.com/pulsegrid/pulsegrid/algorithms/pipeline"
	"github.com/pulsegrid/pulsegrid/algorithms/signal"
	"github.com/pulsegrid/pulsegrid/protocol"
)

// testPayloads returns encoded ecg.beats@1 tasks of a synthetic 360 Hz
// signal with a beat a second, in 60 s chunks (the shortest the grid makes).
func testPayloads(t *testing.T, n int) [][]byte {
	t.Helper()
	samples := make([]float64, 360*60*n)
	for i := range samples {
		if p := i % 360; p < 20 {
			samples[i] = math.Sin(math.Pi * float64(p) / 20)
		}
	}
	alg := ecg.NewBeats()
	params, err := alg.Params(nil)
	if err != nil {
		t.Fatal(err)
	}
	sig := signal.Signal{Channels: []signal.Channel{{Name: "MLII", Unit: "mV", Rate: 360, Gain: 200, Samples: samples}}}
	chunks, err := alg.Split(&sig, params, pipeline.SplitOptions{ChunkSeconds: 60})
	if err != nil {
		t.Fatal(err)
	}
	if len(chunks) < n {
		t.Fatalf("split gave %d chunks, want at least %d", len(chunks), n)
	}
	var out [][]byte
	for _, c := range chunks[:n] {
		out = append(out, c.Task.Encode())
	}
	return out
}

// scriptServer accepts one volunteer connection, welcomes it and hands the
// connection and every control message it reads (results with their
// output frame consumed) to the test.
func scriptServer(t *testing.T, script func(ctx context.Context, c *websocket.Conn, in <-chan *protocol.Message)) *httptest.Server {
	var once sync.Once
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		first := false
		once.Do(func() { first = true })
		if !first {
			http.Error(w, "one connection only", http.StatusServiceUnavailable)
			return
		}
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		ctx := r.Context()
		_, id, err := acceptHello(ctx, c)
		if err != nil {
			return
		}
		welcome := &protocol.Message{Type: protocol.TypeWelcome, Version: protocol.Version, VolunteerID: id, HeartbeatMS: 5000}
		if c.Write(ctx, websocket.MessageText, welcome.Encode()) != nil {
			return
		}
		in := make(chan *protocol.Message, 64)
		go func() {
			defer close(in)
			for {
				_, b, err := c.Read(ctx)
				if err != nil {
					return
				}
				m, err := protocol.Decode(b)
				if err != nil {
					t.Errorf("volunteer sent an invalid message: %v", err)
					return
				}
				if m.Type == protocol.TypeResult {
					if _, out, err := c.Read(ctx); err != nil || len(out) != m.Size || canon.Digest(out) != m.Digest {
						t.Errorf("result %d: output frame does not match its size and digest (%v)", m.LeaseID, err)
						return
					}
				}
				in <- m
			}
		}()
		script(ctx, c, in)
	}))
}

func sendLease(ctx context.Context, c *websocket.Conn, id int64, payload []byte) error {
	m := &protocol.Message{Type: protocol.TypeLease, LeaseID: id, Algorithm: "ecg.beats@1", Deadline: time.Now().Add(time.Minute).UnixMilli(),
		Digest: canon.Digest(payload), Size: len(payload)}
	if err := c.Write(ctx, websocket.MessageText, m.Encode()); err != nil {
		return err
	}
	return c.Write(ctx, websocket.MessageBinary, payload)
}

// TestPrefetchAndPiggyback: with one slot and Prefetch 1 the volunteer
// asks for one lease until it has timed a chunk, then keeps one more lease
// than slots, asks for them on its results (no request messages after the
// first), acknowledges a waiting lease on arrival, and still computes one
// chunk at a time. Without Prefetch the result asks for exactly its slot.
func TestPrefetchAndPiggyback(t *testing.T) {
	payloads := testPayloads(t, 3)
	for _, tc := range []struct {
		name     string
		prefetch int
		counts   []int // the count of each result, in order
	}{
		{"prefetch 1", 1, []int{2, 1, 1}},
		{"no prefetch", 0, []int{1, 1, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []*protocol.Message
			done := make(chan struct{})
			srv := scriptServer(t, func(ctx context.Context, c *websocket.Conn, in <-chan *protocol.Message) {
				defer close(done)
				next := 0 // payloads leased so far
				credit := 0
				results := 0
				for m := range in {
					got = append(got, m)
					switch m.Type {
					case protocol.TypeRequest:
						credit += m.Count
					case protocol.TypeResult:
						credit += m.Count
						results++
					}
					for credit > 0 && next < len(payloads) {
						next++
						credit--
						if sendLease(ctx, c, int64(next), payloads[next-1]) != nil {
							return
						}
					}
					if results == len(payloads) {
						return
					}
				}
			})
			defer srv.Close()

			var mu sync.Mutex
			computing, maxComputing := 0, 0
			v := New(Config{Server: srv.URL, Registry: catalog.All(), Slots: 1, Prefetch: tc.prefetch, MinBackoff: time.Hour,
				OnEvent: func(e Event) {
					mu.Lock()
					defer mu.Unlock()
					switch e.Kind {
					case EventChunkStarted:
						computing++
						maxComputing = max(maxComputing, computing)
					case EventChunkDone, EventChunkFailed:
						computing--
					}
				}})
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			go v.Run(ctx)
			select {
			case <-done:
			case <-ctx.Done():
				t.Fatal("the volunteer did not return every result")
			}
			cancel()

			var requests, counts []int
			acked := map[int64]int{} // lease → position of its ack
			resultAt := map[int64]int{}
			for i, m := range got {
				switch m.Type {
				case protocol.TypeRequest:
					requests = append(requests, m.Count)
				case protocol.TypeAck:
					acked[m.LeaseID] = i
				case protocol.TypeResult:
					counts = append(counts, m.Count)
					resultAt[m.LeaseID] = i
				}
			}
			if len(requests) != 1 || requests[0] != 1 {
				t.Errorf("request messages %v, want one asking for 1 (later ones ride on results)", requests)
			}
			if !equalInts(counts, tc.counts) {
				t.Errorf("results asked for %v more leases, want %v", counts, tc.counts)
			}
			for id := int64(1); id <= int64(len(payloads)); id++ {
				a, ok := acked[id]
				if r, done := resultAt[id]; !ok || !done || a > r {
					t.Errorf("lease %d: ack at message %d (%v), result at %d (%v); want an ack before the result", id, a, ok, r, done)
				}
			}
			if maxComputing != 1 {
				t.Errorf("at most %d chunks computed at once with one slot, want 1", maxComputing)
			}
			if st := v.Stats(); st.Done != int64(len(payloads)) || st.Running != 0 {
				t.Errorf("stats: %d done, %d running; want %d, 0", st.Done, st.Running, len(payloads))
			}
		})
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestWaitingLeaseHeartbeats: a lease waiting for a slot sends progress at
// half the heartbeat, so the server does not expire it, and starts as soon
// as the slot is released.
func TestWaitingLeaseHeartbeats(t *testing.T) {
	v := New(Config{Slots: 1})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := newSession(v, ctx, cancel)
	s.heartbeat = 40 * time.Millisecond
	busy := &job{lease: &protocol.Message{LeaseID: 1}}
	waiting := &job{lease: &protocol.Message{LeaseID: 2}}
	s.jobs[1], s.jobs[2] = busy, waiting
	if err := s.acquire(ctx, busy); err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() { got <- s.acquire(ctx, waiting) }()
	beats := 0
	for beats < 3 {
		select {
		case f := <-s.out:
			if f.msg.Type != protocol.TypeProgress || f.msg.LeaseID != 2 {
				t.Fatalf("while waiting: sent %s for lease %d, want progress for lease 2", f.msg.Type, f.msg.LeaseID)
			}
			beats++
		case err := <-got:
			t.Fatalf("acquired a slot while the only one was taken (err %v)", err)
		case <-time.After(2 * time.Second):
			t.Fatal("no progress for the waiting lease")
		}
	}
	s.finish(busy)
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("the waiting lease did not get the freed slot")
	}
	if st := v.Stats(); st.Running != 1 {
		t.Errorf("Running %d, want 1", st.Running)
	}
}
