package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pulsegrid/pulsegrid/algorithms/catalog"
	"github.com/pulsegrid/pulsegrid/algorithms/formats"
	"github.com/pulsegrid/pulsegrid/protocol"
	"github.com/pulsegrid/pulsegrid/server"
	"github.com/pulsegrid/pulsegrid/server/auth"
	"github.com/pulsegrid/pulsegrid/server/grid"
	"github.com/pulsegrid/pulsegrid/server/store"
	"github.com/pulsegrid/pulsegrid/volunteer"
)

const mitdb = "../../shared/data/mitdb/"

// chunkSeconds makes ecg.beats cut a 30-minute record into 30 chunks, so
// that scheduling is exercised rather than a single lease.
const chunkSeconds = 60

// testServer is a real server: SQLite in a temp dir, a listener on
// 127.0.0.1, the grid, real websockets.
type testServer struct {
	t     *testing.T
	dir   string
	addr  string
	base  string
	st    *store.SQLite
	g     *grid.Grid
	srv   *http.Server
	token string
	reg   *prometheus.Registry
}

func gridConfig() grid.Config {
	return grid.Config{ChunkSeconds: chunkSeconds, AckTimeout: 2 * time.Second, MinLease: 3 * time.Second, Heartbeat: time.Second}
}

func startServer(t *testing.T, dir, addr string, cfg grid.Config) *testServer {
	t.Helper()
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, filepath.Join(dir, "pulsegrid.db"))
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	cfg.Metrics = reg
	if cfg.SpillDir == "" {
		// As serve does, and with most payloads spilled, so that the
		// integration tests lease them from disk.
		cfg.SpillDir, cfg.SpillBytes = filepath.Join(dir, "tmp"), 1024
	}
	if testing.Verbose() {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	g := grid.New(st, catalog.All(), cfg)
	if err := g.Resume(ctx); err != nil {
		t.Fatal(err)
	}
	var ln net.Listener
	for i := 0; ; i++ { // the old port may linger briefly after a restart
		ln, err = net.Listen("tcp", addr)
		if err == nil || i == 50 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	h := server.NewServer(server.Deps{Store: st, Grid: g, Registry: catalog.All(), Gatherer: reg, Logger: cfg.Logger})
	ts := &testServer{t: t, dir: dir, addr: ln.Addr().String(), base: "http://" + ln.Addr().String(), st: st, g: g, srv: &http.Server{Handler: h}, reg: reg}
	go ts.srv.Serve(ln)
	waitHealthy(t, ts.base)
	return ts
}

func waitHealthy(t *testing.T, base string) {
	t.Helper()
	for range 100 {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s/healthz never answered", base)
}

// serveUntilCleanup serves h on ln until the test ends, then shuts it
// down the way serve does on SIGTERM and runs after (closing the grid,
// then the store); it returns the server's base URL.
func serveUntilCleanup(t *testing.T, ln net.Listener, h http.Handler, after ...func()) string {
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		for _, f := range after {
			f()
		}
	})
	return "http://" + ln.Addr().String()
}

// stop shuts the server down the way serve does on SIGTERM.
func (ts *testServer) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ts.srv.Shutdown(ctx)
	ts.g.Close()
	ts.st.Close()
}

// user adds an account and returns an API token for it.
func (ts *testServer) user(email, role string) string {
	ts.t.Helper()
	ctx := context.Background()
	u, err := ts.st.UserByEmail(ctx, email)
	if errors.Is(err, store.ErrNotFound) {
		u, err = ts.st.CreateUser(ctx, store.User{Email: email, Role: role, PasswordHash: "x"})
	}
	if err != nil {
		ts.t.Fatal(err)
	}
	tok, hash, _ := auth.NewToken()
	if err := ts.st.CreateToken(ctx, u.ID, hash, "test"); err != nil {
		ts.t.Fatal(err)
	}
	return tok
}

func (ts *testServer) do(method, path, token string, body io.Reader, ctype string) (int, []byte) {
	ts.t.Helper()
	req, _ := http.NewRequest(method, ts.base+path, body)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		ts.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (ts *testServer) upload(token string, record string, extra map[string]string) int64 {
	ts.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, ext := range []string{".hea", ".dat"} {
		fw, _ := mw.CreateFormFile("files", record+ext)
		b, err := os.ReadFile(mitdb + record + ext)
		if err != nil {
			ts.t.Fatal(err)
		}
		fw.Write(b)
	}
	for k, v := range extra {
		mw.WriteField(k, v)
	}
	mw.Close()
	code, body := ts.do("POST", "/api/v1/datasets", token, &buf, mw.FormDataContentType())
	if code != http.StatusCreated {
		ts.t.Fatalf("upload %s: got %d %s", record, code, body)
	}
	var ds struct{ ID int64 }
	json.Unmarshal(body, &ds)
	return ds.ID
}

func (ts *testServer) analyse(token string, ds int64, alg, prio string) int64 {
	ts.t.Helper()
	code, body := ts.do("POST", "/api/v1/analyses", token, strings.NewReader(fmt.Sprintf(`{"dataset_id":%d,"algorithm":%q,"params":{},"priority":%q}`, ds, alg, prio)), "application/json")
	if code != http.StatusCreated {
		ts.t.Fatalf("start analysis: got %d %s", code, body)
	}
	var a struct{ ID int64 }
	json.Unmarshal(body, &a)
	return a.ID
}

type analysisStatus struct {
	Status   string
	Error    string
	Progress struct {
		ChunksTotal    int `json:"chunks_total"`
		ChunksVerified int `json:"chunks_verified"`
	}
}

func (ts *testServer) status(token string, id int64) analysisStatus {
	ts.t.Helper()
	code, body := ts.do("GET", fmt.Sprintf("/api/v1/analyses/%d", id), token, nil, "")
	if code != 200 {
		ts.t.Fatalf("get analysis %d: %d %s", id, code, body)
	}
	var s analysisStatus
	json.Unmarshal(body, &s)
	return s
}

func (ts *testServer) waitDone(token string, id int64, within time.Duration) analysisStatus {
	ts.t.Helper()
	deadline := time.Now().Add(within)
	for {
		s := ts.status(token, id)
		if s.Status == store.StatusDone || s.Status == store.StatusFailed || s.Status == store.StatusCancelled {
			return s
		}
		if time.Now().After(deadline) {
			ts.t.Fatalf("analysis %d still %s (%d/%d) after %s", id, s.Status, s.Progress.ChunksVerified, s.Progress.ChunksTotal, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var networks atomic.Int32

// nextNetwork is a source address of a loopback /24 no other volunteer of
// the test binary uses: volunteers of distinct networks, as the grid
// requires for a quorum.
func nextNetwork() string {
	n := networks.Add(1)
	return fmt.Sprintf("127.%d.%d.1", 1+n/250, n%250)
}

// startVolunteers runs n native volunteers, each from a network of its
// own, until the test ends.
func startVolunteers(t *testing.T, base string, n int, cfg volunteer.Config) []*volunteer.Volunteer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	var vs []*volunteer.Volunteer
	for range n {
		c := cfg
		c.Server, c.Registry = base, catalog.All()
		if c.LocalAddr == "" {
			c.LocalAddr = nextNetwork()
		}
		c.MinBackoff, c.MaxBackoff = 50*time.Millisecond, 300*time.Millisecond
		v := volunteer.New(c)
		vs = append(vs, v)
		wg.Add(1)
		go func() { defer wg.Done(); v.Run(ctx) }()
	}
	return vs
}

// reference runs the pipeline locally, the way `pulsegrid run` does, and
// returns the result's JSON.
func reference(t *testing.T, record, alg string) []byte {
	t.Helper()
	var files []formats.File
	for _, ext := range []string{".hea", ".dat"} {
		b, err := os.ReadFile(mitdb + record + ext)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, formats.File{Name: record + ext, Data: b})
	}
	return referenceFiles(t, files, alg)
}

func (ts *testServer) result(token string, id int64, format string) []byte {
	ts.t.Helper()
	code, body := ts.do("GET", fmt.Sprintf("/api/v1/analyses/%d/result?format=%s", id, format), token, nil, "")
	if code != 200 {
		ts.t.Fatalf("result of %d as %s: %d %s", id, format, code, body)
	}
	return body
}

func TestGridResultEqualsRunLocal(t *testing.T) {
	ts := startServer(t, t.TempDir(), "127.0.0.1:0", gridConfig())
	defer ts.stop()
	tok := ts.user("clin@example.org", store.RoleClinician)
	startVolunteers(t, ts.base, 3, volunteer.Config{Slots: 2})
	ds := ts.upload(tok, "119", nil)
	id := ts.analyse(tok, ds, "ecg.beats@1", "routine")
	s := ts.waitDone(tok, id, 60*time.Second)
	if s.Status != store.StatusDone || s.Progress.ChunksTotal < 30 || s.Progress.ChunksVerified != s.Progress.ChunksTotal {
		t.Fatalf("got %+v, want done with 30 or more chunks, all verified", s)
	}
	got := ts.result(tok, id, "json")
	want := reference(t, "119", "ecg.beats@1")
	if !bytes.Equal(got, want) {
		t.Errorf("grid result (%d bytes) differs from the whole-record local run (%d bytes)", len(got), len(want))
	}
	csv := ts.result(tok, id, "csv")
	if lines := bytes.Count(csv, []byte("\n")); lines < 1000 {
		t.Errorf("csv export has %d lines, want one per beat (about 2000)", lines)
	}
	if atr := ts.result(tok, id, "wfdb"); len(atr) < 2000 {
		t.Errorf("wfdb export has %d bytes, want about 2 per beat", len(atr))
	}
	// Metrics saw it.
	code, body := ts.do("GET", "/metrics", "", nil, "")
	for _, want := range []string{"pulsegrid_chunks_verified_total 31", "pulsegrid_volunteers_connected 3", `pulsegrid_queue_depth{priority="routine"} 0`, "pulsegrid_leases_issued_total"} {
		if code != 200 || !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

func TestLiarIsNeverAccepted(t *testing.T) {
	ts := startServer(t, t.TempDir(), "127.0.0.1:0", gridConfig())
	defer ts.stop()
	tok := ts.user("clin@example.org", store.RoleClinician)
	liar := startVolunteers(t, ts.base, 1, volunteer.Config{Slots: 2, Cheat: func(out []byte) []byte {
		o := bytes.Clone(out)
		if len(o) > 0 {
			o[len(o)-1] ^= 1
		}
		return o
	}})[0]
	honest := startVolunteers(t, ts.base, 2, volunteer.Config{Slots: 1})
	ds := ts.upload(tok, "119", nil)
	id := ts.analyse(tok, ds, "ecg.beats@1", "stat")
	s := ts.waitDone(tok, id, 60*time.Second)
	if s.Status != store.StatusDone {
		t.Fatalf("got %+v, want done", s)
	}
	if got, want := ts.result(tok, id, "json"), reference(t, "119", "ecg.beats@1"); !bytes.Equal(got, want) {
		t.Fatalf("result with a liar on the grid differs from the local run")
	}
	time.Sleep(100 * time.Millisecond) // verdicts follow the commit
	ls := liar.Stats()
	if ls.Verified != 0 {
		t.Errorf("liar got %d results verified, want 0", ls.Verified)
	}
	if ls.Done > 0 && ls.Rejected == 0 {
		t.Errorf("liar computed %d chunks and none was rejected", ls.Done)
	}
	id0 := liar.Identity().ID
	ts.g.Close() // saves volunteers
	v, err := ts.st.Volunteer(context.Background(), id0)
	if err != nil {
		t.Fatal(err)
	}
	if v.Reputation != 0 || v.Validated != 0 || (ls.Rejected > 0 && v.Rejected == 0) {
		t.Errorf("liar's standing: reputation %d, validated %d, rejected %d; want 0, 0, >0", v.Reputation, v.Validated, v.Rejected)
	}
	var verified int64
	for _, h := range honest {
		verified += h.Stats().Verified
	}
	if verified < 30 {
		t.Errorf("honest volunteers had %d results verified, want at least 30", verified)
	}
}

// rawVolunteer speaks the protocol by hand, to misbehave.
type rawVolunteer struct {
	t    *testing.T
	conn *websocket.Conn
}

func dialRaw(t *testing.T, base string, hello *protocol.Message) (*rawVolunteer, *protocol.Message) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+protocol.Path, nil)
	if err != nil {
		t.Fatal(err)
	}
	conn.SetReadLimit(protocol.MaxPayload + 1024)
	r := &rawVolunteer{t: t, conn: conn}
	t.Cleanup(func() { conn.CloseNow() })
	challenge := r.read()
	if challenge.Type != protocol.TypeChallenge || challenge.Nonce == "" {
		t.Fatalf("the server opened with %+v, want a challenge", challenge)
	}
	if hello == nil {
		hello = &protocol.Message{Type: protocol.TypeHello, Version: protocol.Version, Algorithms: catalog.All().Names(), Slots: 1}
	}
	if hello.PublicKey == "" && hello.Signature == "" {
		key := protocol.NewKey()
		hello.PublicKey, hello.Signature = key.PublicKey(), key.Sign(challenge.Nonce)
	}
	r.send(hello, nil)
	return r, r.read()
}

func (r *rawVolunteer) send(m *protocol.Message, payload []byte) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.conn.Write(ctx, websocket.MessageText, m.Encode()); err != nil {
		r.t.Fatal(err)
	}
	if payload != nil {
		if err := r.conn.Write(ctx, websocket.MessageBinary, payload); err != nil {
			r.t.Fatal(err)
		}
	}
}

func (r *rawVolunteer) read() *protocol.Message {
	r.t.Helper()
	m, err := r.tryRead(5 * time.Second)
	if err != nil {
		r.t.Fatal(err)
	}
	return m
}

func (r *rawVolunteer) tryRead(d time.Duration) (*protocol.Message, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	typ, b, err := r.conn.Read(ctx)
	if err != nil {
		return nil, err
	}
	if typ != websocket.MessageText {
		return nil, fmt.Errorf("got a binary frame of %d bytes, want control", len(b))
	}
	return protocol.Decode(b)
}

// lease asks for one lease and returns it with its payload.
func (r *rawVolunteer) lease() (*protocol.Message, []byte) {
	r.t.Helper()
	r.send(&protocol.Message{Type: protocol.TypeRequest, Count: 1}, nil)
	m := r.read()
	if m.Type != protocol.TypeLease {
		r.t.Fatalf("got %q, want lease", m.Type)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, p, err := r.conn.Read(ctx)
	if err != nil {
		r.t.Fatal(err)
	}
	return m, p
}

func TestVanishingVolunteers(t *testing.T) {
	cfg := gridConfig()
	cfg.AckTimeout = 300 * time.Millisecond
	ts := startServer(t, t.TempDir(), "127.0.0.1:0", cfg)
	defer ts.stop()
	tok := ts.user("clin@example.org", store.RoleClinician)
	ds := ts.upload(tok, "119", nil)
	id := ts.analyse(tok, ds, "ecg.beats@1", "routine")

	// One takes a lease, acks, and drops the connection mid-chunk.
	closer, _ := dialRaw(t, ts.base, nil)
	l1, _ := closer.lease()
	closer.send(&protocol.Message{Type: protocol.TypeAck, LeaseID: l1.LeaseID}, nil)
	closer.conn.CloseNow()
	// One takes a lease and goes silent without acking: the lease expires.
	silent, _ := dialRaw(t, ts.base, nil)
	l2, _ := silent.lease()
	m := silent.read()
	if m.Type != protocol.TypeCancel || m.LeaseID != l2.LeaseID {
		t.Errorf("silent volunteer: got %+v, want a cancel of lease %d after the ack timeout", m, l2.LeaseID)
	}
	// One acks and then never reports: its deadline passes.
	stalled, _ := dialRaw(t, ts.base, nil)
	l3, _ := stalled.lease()
	stalled.send(&protocol.Message{Type: protocol.TypeAck, LeaseID: l3.LeaseID}, nil)

	startVolunteers(t, ts.base, 2, volunteer.Config{Slots: 2})
	s := ts.waitDone(tok, id, 60*time.Second)
	if s.Status != store.StatusDone {
		t.Fatalf("got %+v, want done", s)
	}
	if got, want := ts.result(tok, id, "json"), reference(t, "119", "ecg.beats@1"); !bytes.Equal(got, want) {
		t.Fatalf("result differs from the local run")
	}
	_, body := ts.do("GET", "/metrics", "", nil, "")
	if !strings.Contains(string(body), "pulsegrid_leases_expired_total") || strings.Contains(string(body), "pulsegrid_leases_expired_total 0\n") {
		t.Errorf("no expired leases counted")
	}
}

func TestProtocolAbuse(t *testing.T) {
	ts := startServer(t, t.TempDir(), "127.0.0.1:0", gridConfig())
	defer ts.stop()
	tok := ts.user("clin@example.org", store.RoleClinician)
	ds := ts.upload(tok, "119", nil)
	id := ts.analyse(tok, ds, "ecg.beats@1", "routine")

	expectClosed := func(name string, r *rawVolunteer, wantFatal bool) {
		t.Helper()
		m, err := r.tryRead(3 * time.Second)
		if wantFatal {
			if err != nil || m.Type != protocol.TypeFatal || m.Reason == "" {
				t.Errorf("%s: got %+v, %v; want a fatal message with a reason", name, m, err)
				return
			}
			_, err = r.tryRead(3 * time.Second)
		}
		if err == nil {
			t.Errorf("%s: connection still open", name)
		}
	}
	t.Run("BadVersion", func(t *testing.T) {
		_, m := dialRaw(t, ts.base, &protocol.Message{Type: protocol.TypeHello, Version: 99})
		if m.Type != protocol.TypeFatal || !strings.Contains(m.Reason, "version") {
			t.Errorf("got %+v, want fatal naming the version", m)
		}
	})
	t.Run("BadEnrollmentToken", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		v := volunteer.New(volunteer.Config{Server: ts.base, Registry: catalog.All(), Token: "pgt_not-a-token"})
		if err := v.Run(ctx); err == nil || ctx.Err() != nil || !strings.Contains(err.Error(), "enrollment token") {
			t.Errorf("Run with a bad token: got %v, want a permanent error naming the token", err)
		}
	})
	t.Run("Garbage", func(t *testing.T) {
		r, _ := dialRaw(t, ts.base, nil)
		r.conn.Write(context.Background(), websocket.MessageText, []byte("{not json"))
		expectClosed("garbage", r, true)
	})
	t.Run("UnknownType", func(t *testing.T) {
		r, _ := dialRaw(t, ts.base, nil)
		r.send(&protocol.Message{Type: "lease", LeaseID: 1}, nil)
		expectClosed("lease from a volunteer", r, true)
	})
	t.Run("StrayBinary", func(t *testing.T) {
		r, _ := dialRaw(t, ts.base, nil)
		r.conn.Write(context.Background(), websocket.MessageBinary, []byte{1, 2, 3})
		expectClosed("stray binary", r, true)
	})
	t.Run("Oversized", func(t *testing.T) {
		r, _ := dialRaw(t, ts.base, nil)
		r.conn.Write(context.Background(), websocket.MessageBinary, make([]byte, protocol.MaxOutput+4096))
		expectClosed("oversized", r, false)
	})
	t.Run("ResultForLeaseNotHeld", func(t *testing.T) {
		r, _ := dialRaw(t, ts.base, nil)
		out := []byte("forged")
		r.send(&protocol.Message{Type: protocol.TypeResult, LeaseID: 12345, Digest: strings.Repeat("0", 64), Size: len(out)}, out)
		m := r.read()
		if m.Type != protocol.TypeVerdict || m.Verdict != protocol.VerdictIgnored {
			t.Errorf("got %+v, want verdict ignored", m)
		}
	})
	t.Run("ResultDigestMismatch", func(t *testing.T) {
		r, _ := dialRaw(t, ts.base, nil)
		l, _ := r.lease()
		out := []byte("output")
		r.send(&protocol.Message{Type: protocol.TypeResult, LeaseID: l.LeaseID, Digest: strings.Repeat("a", 64), Size: len(out)}, out)
		expectClosed("digest mismatch", r, true)
	})
	// After all that, honest volunteers finish the analysis correctly.
	startVolunteers(t, ts.base, 2, volunteer.Config{Slots: 2})
	if s := ts.waitDone(tok, id, 60*time.Second); s.Status != store.StatusDone {
		t.Fatalf("got %+v, want done", s)
	}
	if got, want := ts.result(tok, id, "json"), reference(t, "119", "ecg.beats@1"); !bytes.Equal(got, want) {
		t.Fatalf("result differs from the local run")
	}
}

func TestRestartMidAnalysis(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, dir, "127.0.0.1:0", gridConfig())
	tok := ts.user("clin@example.org", store.RoleClinician)
	ds := ts.upload(tok, "119", nil)
	id := ts.analyse(tok, ds, "ecg.beats@1", "urgent")
	// Slow volunteers (10% CPU) so that the restart lands mid-analysis.
	startVolunteers(t, ts.base, 2, volunteer.Config{Slots: 1, CPU: 10})
	deadline := time.Now().Add(30 * time.Second)
	for {
		s := ts.status(tok, id)
		if s.Progress.ChunksVerified >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no progress before the restart: %+v", s)
		}
		time.Sleep(20 * time.Millisecond)
	}
	addr := ts.addr
	ts.stop()
	before, err := func() (int, error) {
		st, err := store.OpenSQLite(context.Background(), filepath.Join(dir, "pulsegrid.db"))
		if err != nil {
			return 0, err
		}
		defer st.Close()
		a, err := st.Analysis(context.Background(), id)
		return a.ChunksVerified, err
	}()
	if err != nil {
		t.Fatal(err)
	}
	if before == 0 || before == 30 {
		t.Fatalf("after shutdown the store holds %d verified chunks; want some, not all", before)
	}
	ts2 := startServer(t, dir, addr, gridConfig())
	defer ts2.stop()
	startVolunteers(t, ts2.base, 2, volunteer.Config{Slots: 2})
	s := ts2.waitDone(tok, id, 60*time.Second)
	if s.Status != store.StatusDone {
		t.Fatalf("got %+v, want done", s)
	}
	if got, want := ts2.result(tok, id, "json"), reference(t, "119", "ecg.beats@1"); !bytes.Equal(got, want) {
		t.Fatalf("result after a restart differs from the local run")
	}
}

func TestDeleteDatasetRemovesEverything(t *testing.T) {
	ts := startServer(t, t.TempDir(), "127.0.0.1:0", gridConfig())
	defer ts.stop()
	tok := ts.user("clin@example.org", store.RoleClinician)
	ds := ts.upload(tok, "119", nil)
	done := ts.analyse(tok, ds, "ecg.beats@1", "routine")
	startVolunteers(t, ts.base, 2, volunteer.Config{Slots: 2})
	ts.waitDone(tok, done, 60*time.Second)
	running := ts.analyse(tok, ds, "ecg.beats@1", "routine") // may still be running
	if code, body := ts.do("DELETE", fmt.Sprintf("/api/v1/datasets/%d", ds), tok, nil, ""); code != http.StatusNoContent {
		t.Fatalf("delete: %d %s", code, body)
	}
	time.Sleep(100 * time.Millisecond) // a batched write in flight must not resurrect rows
	for _, table := range []string{"datasets", "dataset_signals", "dataset_identities", "analyses", "chunk_outputs", "pending_results", "analysis_results"} {
		var n int
		if err := ts.st.DB().QueryRow("SELECT COUNT(*) FROM " + table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("%s has %d rows after the dataset was deleted", table, n)
		}
	}
	if code, _ := ts.do("GET", fmt.Sprintf("/api/v1/analyses/%d", running), tok, nil, ""); code != http.StatusNotFound {
		t.Errorf("analysis of a deleted dataset: got %d, want 404", code)
	}
}

func TestAPIErrors(t *testing.T) {
	ts := startServer(t, t.TempDir(), "127.0.0.1:0", gridConfig())
	defer ts.stop()
	tok := ts.user("clin@example.org", store.RoleClinician)
	other := ts.user("other@example.org", store.RoleClinician)
	machine := ts.user("lab-pc@example.org", store.RoleVolunteer)
	ds := ts.upload(tok, "100", map[string]string{"name": "ward 3"})
	tests := []struct {
		name, method, path, token, body string
		code                            int
		errCode                         string
	}{
		{"NoToken", "GET", "/api/v1/datasets", "", "", 401, "unauthorized"},
		{"BadToken", "GET", "/api/v1/datasets", "pgt_nope", "", 401, "unauthorized"},
		{"VolunteerToken", "GET", "/api/v1/datasets", machine, "", 403, "forbidden"},
		{"NotOwner", "GET", fmt.Sprintf("/api/v1/datasets/%d", ds), other, "", 404, "not_found"},
		{"BadID", "GET", "/api/v1/analyses/abc", tok, "", 400, "invalid"},
		{"NoSuchEndpoint", "GET", "/api/v1/nope", tok, "", 404, "not_found"},
		{"BadJSON", "POST", "/api/v1/analyses", tok, "{", 400, "invalid"},
		{"UnknownField", "POST", "/api/v1/analyses", tok, fmt.Sprintf(`{"dataset_id":%d,"algorithm":"ecg.beats@1","colour":1}`, ds), 400, "invalid"},
		{"UnknownAlgorithm", "POST", "/api/v1/analyses", tok, fmt.Sprintf(`{"dataset_id":%d,"algorithm":"ecg.nope@1"}`, ds), 400, "invalid"},
		{"BadPriority", "POST", "/api/v1/analyses", tok, fmt.Sprintf(`{"dataset_id":%d,"algorithm":"ecg.beats@1","priority":"asap"}`, ds), 400, "invalid"},
		{"OthersDataset", "POST", "/api/v1/analyses", other, fmt.Sprintf(`{"dataset_id":%d,"algorithm":"ecg.beats@1"}`, ds), 404, "not_found"},
		{"NotMultipart", "POST", "/api/v1/datasets", tok, "x", 400, "invalid"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader
			ctype := ""
			if tc.body != "" {
				body, ctype = strings.NewReader(tc.body), "application/json"
			}
			code, b := ts.do(tc.method, tc.path, tc.token, body, ctype)
			var e struct{ Code, Error string }
			json.Unmarshal(b, &e)
			if code != tc.code || e.Code != tc.errCode || len(e.Error) < 10 {
				t.Errorf("got %d %s, want %d with code %q and a message", code, b, tc.code, tc.errCode)
			}
		})
	}
	// Admins see everyone's data, in the API as in the portal.
	admin := ts.user("boss@example.org", store.RoleAdmin)
	if code, b := ts.do("GET", fmt.Sprintf("/api/v1/datasets/%d", ds), admin, nil, ""); code != 200 {
		t.Errorf("admin reading a clinician's dataset: got %d %s, want 200", code, b)
	}
	if _, b := ts.do("GET", "/api/v1/datasets", admin, nil, ""); !strings.Contains(string(b), "ward 3") {
		t.Errorf("admin's dataset listing lacks the clinician's dataset: %s", b)
	}
	if _, b := ts.do("GET", "/api/v1/datasets", other, nil, ""); strings.Contains(string(b), "ward 3") {
		t.Errorf("another clinician's listing shows the dataset: %s", b)
	}
	// The result of a running analysis is a conflict that says how far it got.
	id := ts.analyse(tok, ds, "ecg.beats@1", "routine")
	code, b := ts.do("GET", fmt.Sprintf("/api/v1/analyses/%d/result", id), tok, nil, "")
	if code != 409 || !strings.Contains(string(b), "chunks verified") {
		t.Errorf("result of a running analysis: got %d %s, want 409 naming the progress", code, b)
	}
	// Cancel stops it; cancelling again is a conflict.
	if code, b := ts.do("POST", fmt.Sprintf("/api/v1/analyses/%d/cancel", id), tok, nil, ""); code != 200 || !strings.Contains(string(b), `"cancelled"`) {
		t.Errorf("cancel: got %d %s", code, b)
	}
	if code, _ := ts.do("POST", fmt.Sprintf("/api/v1/analyses/%d/cancel", id), tok, nil, ""); code != 409 {
		t.Errorf("second cancel: got %d, want 409", code)
	}
	// Identity: on the dataset's page for its owner, never in the listing.
	_, b = ts.do("GET", fmt.Sprintf("/api/v1/datasets/%d", ds), tok, nil, "")
	if !strings.Contains(string(b), `"identity"`) || !strings.Contains(string(b), "100.hea") {
		t.Errorf("owner's dataset page lacks the identity: %s", b)
	}
	_, b = ts.do("GET", "/api/v1/datasets", tok, nil, "")
	if strings.Contains(string(b), "identity") || strings.Contains(string(b), "100.hea") || !strings.Contains(string(b), "ward 3") {
		t.Errorf("dataset listing: %s", b)
	}
	// Every view, export and deletion is in the audit log.
	log, err := ts.st.AuditLog(context.Background(), 100)
	if err != nil {
		t.Fatal(err)
	}
	actions := map[string]bool{}
	for _, e := range log {
		actions[e.Action] = true
	}
	for _, a := range []string{"dataset.upload", "dataset.view", "analysis.start", "analysis.cancel"} {
		if !actions[a] {
			t.Errorf("audit log lacks %s", a)
		}
	}
}

// TestEnrollmentTokenGuessesThrottled: an address that sends bad
// enrollment tokens in a hello is refused, like one guessing API tokens,
// once its allowance is spent; the refusal comes before any lookup, so
// even a valid token waits (the guesser cannot tell a hit).
func TestEnrollmentTokenGuessesThrottled(t *testing.T) {
	ts := startServer(t, t.TempDir(), "127.0.0.1:0", gridConfig())
	good := ts.user("vol@x", store.RoleVolunteer)
	hello := func(tok string) *protocol.Message {
		return &protocol.Message{Type: protocol.TypeHello, Version: protocol.Version, Algorithms: catalog.All().Names(), Slots: 1, Token: tok}
	}
	for i := range 10 { // Limits.TokenFailures's default
		if _, m := dialRaw(t, ts.base, hello(fmt.Sprintf("pgt_guess-%d", i))); m.Type != protocol.TypeFatal || !strings.Contains(m.Reason, "enrollment token") {
			t.Fatalf("guess %d: got %+v, want a fatal naming the token", i, m)
		}
	}
	r := dialRawClosed(t, ts.base, hello(good))
	if got := websocket.CloseStatus(r); got != websocket.StatusTryAgainLater {
		t.Fatalf("after 10 bad tokens a hello got close status %v (%v), want 1013 try again later", got, r)
	}
	if !strings.Contains(r.Error(), "too many invalid enrollment tokens") {
		t.Errorf("refusal %q does not say why", r)
	}
}

// dialRawClosed sends a hello and returns the error the connection ends with.
func dialRawClosed(t *testing.T, base string, hello *protocol.Message) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+protocol.Path, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := &rawVolunteer{t: t, conn: conn}
	t.Cleanup(func() { conn.CloseNow() })
	challenge := r.read()
	key := protocol.NewKey()
	hello.PublicKey, hello.Signature = key.PublicKey(), key.Sign(challenge.Nonce)
	r.send(hello, nil)
	_, err = r.tryRead(5 * time.Second)
	if err == nil {
		t.Fatal("the connection stayed open after the hello")
	}
	return err
}
