package client

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/pulsegrid/pulsegrid/algorithms/catalog"
	"github.com/pulsegrid/pulsegrid/algorithms/ecg"
	"github.com/pulsegrid/pulsegrid/algorithms/formats"
	"github.com/pulsegrid/pulsegrid/algorithms/pipeline"
)

// realTask is chunk 1 of MIT-BIH record 100 cut as the grid cuts it.
func realTask(t *testing.T) *pipeline.Task {
	t.Helper()
	dir := filepath.Join("..", "..", "..", "shared", "data", "mitdb")
	var files []formats.File
	for _, n := range []string{"100.hea", "100.dat"} {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			t.Fatalf("the test needs MIT-BIH record 100: %v", err)
		}
		files = append(files, formats.File{Name: n, Data: b})
	}
	rec, err := formats.Read(files)
	if err != nil {
		t.Fatal(err)
	}
	alg, _ := catalog.All().Lookup(ecg.BeatsName)
	params, _ := alg.Params(nil)
	chunks, err := alg.Split(&rec.Signal, params, pipeline.SplitOptions{ChunkSeconds: 60})
	if err != nil {
		t.Fatal(err)
	}
	return &chunks[1].Task
}

func honestBeats(t *testing.T, task *pipeline.Task) []int64 {
	t.Helper()
	out, err := ecg.RunBeats(task, pipeline.NoYield{})
	if err != nil {
		t.Fatal(err)
	}
	beats, err := ecg.DecodeBeatsOutput(out)
	if err != nil {
		t.Fatal(err)
	}
	return beats
}

func TestForgeBeats(t *testing.T) {
	task := realTask(t)
	out, _ := ecg.RunBeats(task, pipeline.NoYield{})
	honest := honestBeats(t, task)
	if len(honest) < 40 {
		t.Fatalf("record 100 chunk 1 has %d beats; the test wants a minute of normal rhythm", len(honest))
	}
	decode := func(b []byte) []int64 {
		t.Helper()
		v, err := ecg.DecodeBeatsOutput(b)
		if err != nil {
			t.Fatalf("a forgery must decode as a beats output (so that it merges): %v", err)
		}
		return v
	}
	c1 := decode(forgeOutput(task, out, ForgeCollude, 1))
	c2 := decode(forgeOutput(task, out, ForgeCollude, 2))
	if !slices.Equal(c1, c2) {
		t.Error("colluders with different seeds forged differently: their digests would not agree")
	}
	if len(c1) != (len(honest)+1)/2 || c1[1] != honest[2] {
		t.Errorf("collusion kept %d of %d beats, want every second one removed", len(c1), len(honest))
	}
	s1 := decode(forgeOutput(task, out, ForgeSolo, 1))
	s2 := decode(forgeOutput(task, out, ForgeSolo, 2))
	if slices.Equal(s1, s2) || len(s1) != len(honest) || len(s2) != len(honest) {
		t.Errorf("solo forgeries of seeds 1 and 2: %d and %d beats of %d, and equal=%v; want one beat moved each, differently",
			len(s1), len(s2), len(honest), slices.Equal(s1, s2))
	}
	// Seeds that pick the same beat still move it by different amounts.
	n := uint64(len(honest) - 1)
	if a, b := decode(forgeOutput(task, out, ForgeSolo, 1)), decode(forgeOutput(task, out, ForgeSolo, 1+n)); slices.Equal(a, b) {
		t.Error("seeds 1 and 1+len-1 forged alike")
	}
	for _, f := range [][]int64{c1, s1, s2} {
		if !slices.IsSorted(f) || slices.Equal(f, honest) {
			t.Error("a forgery must stay in order and differ from the honest beats")
		}
	}
	// No beats: one is invented inside the owned samples.
	empty := forgeOutput(task, encodeBeats(nil), ForgeCollude, 1)
	if v := decode(empty); len(v) != 1 || v[0] < 8*360 || v[0] >= int64(len(task.Channels[0].Samples))-3*360 {
		t.Errorf("forgery of an empty output: %v, want one beat in the owned minute", v)
	}
	// Other outputs: a byte flipped.
	other := []byte("not a beats output at all")
	if f := forgeOutput(task, other, ForgeCollude, 1); bytes.Equal(f, other) || len(f) != len(other) {
		t.Errorf("flip forgery %q of %q", f, other)
	}
}

func TestChunkKey(t *testing.T) {
	task := realTask(t)
	k := ChunkKey(task)
	renamed := *task
	renamed.Channels = slices.Clone(task.Channels)
	renamed.Channels[0].Name = "ECG-JDOE"
	if ChunkKey(&renamed) != k {
		t.Error("the key must not depend on the channel's name (a server may leave it out)")
	}
	moved := *task
	moved.Channels = slices.Clone(task.Channels)
	moved.Channels[0].Samples = slices.Clone(task.Channels[0].Samples)
	moved.Channels[0].Samples[100]++
	if ChunkKey(&moved) == k {
		t.Error("a changed sample must change the key")
	}
}

// fakeServer speaks the server side of docs/protocol.md v2 for one
// scripted connection at a time; script gets each connection.
func fakeServer(t *testing.T, script func(ctx context.Context, c *websocket.Conn, remote string)) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != wsPath {
			http.NotFound(w, r)
			return
		}
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		c.SetReadLimit(MaxOutput + 1024)
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		script(r.Context(), c, host)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func readMsg(t *testing.T, ctx context.Context, c *websocket.Conn) *message {
	t.Helper()
	typ, b, err := c.Read(ctx)
	if err != nil {
		t.Errorf("server read: %v", err)
		return nil
	}
	if typ != websocket.MessageText {
		t.Errorf("server read a binary frame where a control message was due")
		return nil
	}
	var m message
	if err := json.Unmarshal(b, &m); err != nil {
		t.Errorf("server read %q: %v", b, err)
		return nil
	}
	return &m
}

func writeMsg(ctx context.Context, c *websocket.Conn, m *message, bin []byte) {
	b, _ := json.Marshal(m)
	c.Write(ctx, websocket.MessageText, b)
	if bin != nil {
		c.Write(ctx, websocket.MessageBinary, bin)
	}
}

// TestProtocolV2 runs a whole lease over the v2 handshake: the hello
// proves the key over the nonce and sends no id or secret, the client
// dials from the chosen address, acks, and returns a forged output with a
// matching digest.
func TestProtocolV2(t *testing.T) {
	task := realTask(t)
	payload := task.Encode()
	sum := sha256.Sum256(payload)
	type seen struct {
		remote string
		hello  *message
		result *message
		output []byte
		pub    ed25519.PublicKey
	}
	got := make(chan seen, 1)
	nonce := make([]byte, 32)
	rand.Read(nonce)
	url := fakeServer(t, func(ctx context.Context, c *websocket.Conn, remote string) {
		s := seen{remote: remote}
		writeMsg(ctx, c, &message{Type: "challenge", Version: 2, Nonce: base64.RawURLEncoding.EncodeToString(nonce)}, nil)
		s.hello = readMsg(t, ctx, c)
		if s.hello == nil {
			return
		}
		pub, _ := base64.RawURLEncoding.DecodeString(s.hello.PublicKey)
		s.pub = pub
		writeMsg(ctx, c, &message{Type: "welcome", Version: 2, VolunteerID: V2ID(pub), HeartbeatMS: 5000, AckMS: 5000}, nil)
		if m := readMsg(t, ctx, c); m == nil || m.Type != "request" || m.Count != 1 {
			t.Errorf("after welcome: %+v, want request count 1", m)
			return
		}
		writeMsg(ctx, c, &message{Type: "lease", LeaseID: 7, Algorithm: task.Algorithm, Deadline: time.Now().Add(time.Minute).UnixMilli(),
			Digest: hex.EncodeToString(sum[:]), Size: len(payload)}, payload)
		if m := readMsg(t, ctx, c); m == nil || m.Type != "ack" || m.LeaseID != 7 {
			t.Errorf("after lease: %+v, want ack 7", m)
			return
		}
		s.result = readMsg(t, ctx, c)
		_, s.output, _ = c.Read(ctx)
		writeMsg(ctx, c, &message{Type: "verdict", LeaseID: 7, Verdict: "verified", Credit: 1.5, TotalVerified: 1}, nil)
		got <- s
		time.Sleep(200 * time.Millisecond)
	})
	stats := &Stats{}
	v := New(Config{Server: url, Protocol: 2, LocalAddr: "127.0.0.5", Stats: stats,
		Behaviour: Behaviour{Lie: LieAlways, Forge: ForgeCollude, CPUMS: 123}})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	go v.Run(ctx)
	var s seen
	select {
	case s = <-got:
	case <-ctx.Done():
		t.Fatal("no result within 20 s")
	}
	if s.remote != "127.0.0.5" {
		t.Errorf("dialled from %s, want the chosen 127.0.0.5", s.remote)
	}
	h := s.hello
	if h.Type != "hello" || h.Version != 2 || h.VolunteerID != "" || h.Secret != "" || len(s.pub) != ed25519.PublicKeySize {
		t.Errorf("v2 hello %+v: want version 2, a 32-byte public_key, no volunteer_id or secret", h)
	}
	sig, err := base64.RawURLEncoding.DecodeString(h.Signature)
	if err != nil || !ed25519.Verify(s.pub, append([]byte("pulsegrid-hello-v2\n"), base64.RawURLEncoding.EncodeToString(nonce)...), sig) {
		t.Errorf("signature %q does not verify over the prefix and the nonce (%v)", h.Signature, err)
	}
	if !slices.Contains(h.Algorithms, ecg.BeatsName) {
		t.Errorf("hello algorithms %v lack %s", h.Algorithms, ecg.BeatsName)
	}
	r := s.result
	osum := sha256.Sum256(s.output)
	if r == nil || r.Type != "result" || r.LeaseID != 7 || r.Size != len(s.output) || r.Digest != hex.EncodeToString(osum[:]) || r.CPUMS != 123 {
		t.Fatalf("result %+v for an output of %d bytes: want lease 7, its size and digest, cpu_ms 123", r, len(s.output))
	}
	forged, err := ecg.DecodeBeatsOutput(s.output)
	honest := honestBeats(t, task)
	if err != nil || len(forged) != (len(honest)+1)/2 {
		t.Errorf("output: %d beats (%v), want the %d honest ones halved", len(forged), err, len(honest))
	}
	waitFor := func(cond func(Summary) bool) Summary {
		for range 100 {
			if sn := stats.Snapshot(); cond(sn) {
				return sn
			}
			time.Sleep(20 * time.Millisecond)
		}
		return stats.Snapshot()
	}
	sn := waitFor(func(s Summary) bool { return s.Verified == 1 })
	if sn.Lies != 1 || sn.LiedOn[ChunkKey(task)] != 1 || sn.Verified != 1 || sn.Credit[V2ID(s.pub)] != 1.5 {
		t.Errorf("stats %+v: want 1 lie on the task's key, 1 verified, credit 1.5 for %s", sn, V2ID(s.pub))
	}
}

// TestReconnects: a v1 client resumes its identity with the issued id and
// secret; 1013 counts as refused and keeps the identity; a rejected
// verdict with Renew starts a new identity (a hello with no id).
func TestReconnects(t *testing.T) {
	hellos := make(chan *message, 10)
	var conns atomic.Int32
	url := fakeServer(t, func(ctx context.Context, c *websocket.Conn, remote string) {
		n := conns.Add(1)
		h := readMsg(t, ctx, c)
		if h == nil {
			return
		}
		hellos <- h
		switch n {
		case 1: // a new identity
			writeMsg(ctx, c, &message{Type: "welcome", Version: 1, VolunteerID: "v-one", Secret: "s-one"}, nil)
			readMsg(t, ctx, c)
			c.Close(websocket.StatusGoingAway, "bye")
		case 2: // full: try again later
			c.Close(statusTryAgainLater, "at capacity")
		case 3: // caught
			writeMsg(ctx, c, &message{Type: "welcome", Version: 1, VolunteerID: "v-one"}, nil)
			readMsg(t, ctx, c)
			writeMsg(ctx, c, &message{Type: "verdict", LeaseID: 3, Verdict: "rejected"}, nil)
			c.Read(ctx)
		default:
			writeMsg(ctx, c, &message{Type: "welcome", Version: 1, VolunteerID: "v-two", Secret: "s-two"}, nil)
			c.Read(ctx)
		}
	})
	stats := &Stats{}
	v := New(Config{Server: url, Protocol: 1, Stats: stats, MinBackoff: 10 * time.Millisecond, Behaviour: Behaviour{Renew: true}})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	go v.Run(ctx)
	var hs []*message
	for len(hs) < 4 {
		select {
		case h := <-hellos:
			hs = append(hs, h)
		case <-ctx.Done():
			t.Fatalf("only %d hellos", len(hs))
		}
	}
	if hs[0].Version != 1 || hs[0].VolunteerID != "" || hs[0].Secret != "" {
		t.Errorf("first hello %+v: want version 1 and no identity", hs[0])
	}
	for i := 1; i <= 2; i++ {
		if hs[i].VolunteerID != "v-one" || hs[i].Secret != "s-one" {
			t.Errorf("hello %d %+v: want the issued identity v-one/s-one resumed", i+1, hs[i])
		}
	}
	if hs[3].VolunteerID != "" || hs[3].Secret != "" {
		t.Errorf("hello after a rejection %+v: want a new identity", hs[3])
	}
	cancel()
	sn := stats.Snapshot()
	if sn.Refused != 1 || sn.Rejected != 1 || sn.Renewed != 1 {
		t.Errorf("stats refused %d rejected %d renewed %d, want 1 each", sn.Refused, sn.Rejected, sn.Renewed)
	}
}

func TestLieSchedules(t *testing.T) {
	run := func(b Behaviour, verdicts []string) string {
		s := &session{v: &Volunteer{cfg: Config{Behaviour: b, Stats: &Stats{}}}, id: &Identity{}}
		out := ""
		for _, v := range verdicts {
			if v != "" {
				s.verdict(&message{Type: "verdict", Verdict: v})
				continue
			}
			if s.shouldLie() {
				out += "L"
			} else {
				out += "h"
			}
		}
		return out
	}
	// "" is an answer; a verdict name is that verdict arriving.
	answers := func(n int, verdict string) []string {
		var v []string
		for range n {
			v = append(v, "", verdict)
		}
		return v
	}
	trusted := Behaviour{Lie: LieAfterTrusted, After: 3}
	seq := append(answers(4, "verified"), answers(2, "rejected")...)
	seq = append(seq, answers(4, "verified")...)
	if got := run(trusted, seq); got != "hhhLLhhhhL" {
		t.Errorf("trusted-then-lying: %s, want hhhLLhhhhL (honest for 3 verified in a row, lying until caught, honest again)", got)
	}
	if got := run(Behaviour{Lie: LieRare, Every: 3}, answers(7, "verified")); got != "hhLhhLh" {
		t.Errorf("rare 1 in 3: %s, want hhLhhLh", got)
	}
	if got := run(Behaviour{Lie: LieAlways}, answers(3, "rejected")); got != "LLL" {
		t.Errorf("always: %s", got)
	}
	if got := run(Behaviour{}, answers(3, "verified")); got != "hhh" {
		t.Errorf("never: %s", got)
	}
}
