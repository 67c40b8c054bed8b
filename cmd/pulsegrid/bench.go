package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pulsegrid/pulsegrid/algorithms/canon"
	"github.com/pulsegrid/pulsegrid/algorithms/pipeline"
	"github.com/pulsegrid/pulsegrid/algorithms/signal"
	"github.com/pulsegrid/pulsegrid/protocol"
	"github.com/pulsegrid/pulsegrid/server"
	"github.com/pulsegrid/pulsegrid/server/grid"
	"github.com/pulsegrid/pulsegrid/server/store"
	"github.com/pulsegrid/pulsegrid/server/websock"
)

func init() {
	commands["bench"] = command{
		summary: "measure the coordinator with simulated volunteers over loopback websockets",
		run:     cmdBench,
	}
}

// benchAlg is a trivial algorithm for measuring the coordinator alone: a
// chunk is 16 samples, its output their SHA-256. It exists only in the
// bench's own server.
type benchAlg struct{}

type benchResult struct {
	Chunks int `json:"chunks"`
}

func (r *benchResult) Summary() string { return fmt.Sprintf("%d chunks", r.Chunks) }
func (r *benchResult) CSV() ([]byte, error) {
	return []byte(fmt.Sprintf("chunks\n%d\n", r.Chunks)), nil
}

func (benchAlg) Name() string { return "bench.echo@1" }
func (benchAlg) Describe() pipeline.Info {
	return pipeline.Info{Name: "bench.echo@1", Title: "coordinator benchmark"}
}
func (benchAlg) Params(_ json.RawMessage) ([]byte, error) { return []byte("{}"), nil }
func (benchAlg) DecodeResult(b []byte) (pipeline.Result, error) {
	var r benchResult
	return &r, json.Unmarshal(b, &r)
}
func (benchAlg) Split(sig *signal.Signal, params []byte, _ pipeline.SplitOptions) ([]pipeline.Chunk, error) {
	s := sig.Channels[0].Samples
	var out []pipeline.Chunk
	for lo := 0; lo+16 <= len(s); lo += 16 {
		out = append(out, pipeline.Chunk{Spec: pipeline.Spec{Index: len(out), Lo: int64(lo), Hi: int64(lo + 16)},
			Task: pipeline.Task{Algorithm: "bench.echo@1", Params: params, Channels: []signal.Channel{{Name: "x", Rate: 1, Samples: s[lo : lo+16]}}}})
	}
	return out, nil
}
func (benchAlg) Run(t *pipeline.Task, _ pipeline.Yielder) ([]byte, error) {
	h := sha256.Sum256(t.Encode())
	return h[:], nil
}
func (benchAlg) Merge(_ []byte, parts []pipeline.Part) (pipeline.Result, error) {
	return &benchResult{Chunks: len(parts)}, nil
}

func cmdBench(ctx context.Context, e env) error {
	fs := newFlagSet("bench", "bench coordinator [--volunteers N] [--duration D] [--quorum N] [--slots N] [--chunks N]\n       pulsegrid bench idle [--connections N]\n       pulsegrid bench holter [--minutes M | --record DIR] [--rounds N] [--volunteers N] [--algorithms A,B] [--baseline BINARY]", e.stderr)
	vols := fs.Int("volunteers", 1000, "simulated volunteers, one websocket each")
	dur := fs.Duration("duration", 10*time.Second, "measuring time (after a 2s warm-up); at most 2m")
	quorum := fs.Int("quorum", 2, "agreeing results per chunk")
	slots := fs.Int("slots", 2, "leases each volunteer asks for at once")
	per := fs.Int("chunks", 20000, "chunks per analysis (analyses are added to keep the queue full)")
	conns := fs.Int("connections", 5000, "idle: volunteer connections to open")
	clientURL := fs.String("url", "", "idle-client (internal): the server's websocket URL")
	clientFirst := fs.Int("first", 0, "idle-client (internal): the index of its first volunteer")
	fresh := fs.Int("fresh", 0, "coordinator: this many of the volunteers arrive as fresh identities (no standing), the others established")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the measured interval (server and simulated volunteers together) to this file")
	dbURL := fs.String("db", "", "coordinator: measure on this PostgreSQL server (postgres://…) instead of a temporary SQLite database; the bench works in a schema of its own, dropped at the end, and never touches the database's other data")
	replicas := fs.Int("replicas", 1, "coordinator with --db: replicas up on the database (1 leads and runs the grid; the others are standbys that wait for the leader lock, as serve's do)")
	minutes := fs.Int("minutes", 1440, "holter: minutes of the record (simulated, or made of the real records in --record)")
	record := fs.String("record", "", "holter: a directory holding one WFDB record to upload, or several (e.g. ../shared/data/mitdb) to concatenate to --minutes; \"\": simulate one")
	rounds := fs.Int("rounds", 4, "holter: alternations of the local run and the grid run")
	holterAlgs := fs.String("algorithms", "ecg.beats@1", "holter: algorithms started on each upload, comma-separated")
	baseline := fs.String("baseline", "", "holter: another pulsegrid binary (e.g. built from main) whose server and volunteers run beside this build's in every round, for before/after side by side")
	var serveArgs stringsFlag
	fs.Var(&serveArgs, "serve-arg", "holter: one more flag for the server (repeatable), e.g. --serve-arg=--chunk-seconds=60")
	pos, err := parseInterleaved(fs, e.args)
	if err != nil {
		return err
	}
	if len(pos) == 1 && pos[0] == "holter" {
		n := *vols
		if !flagSet(fs, "volunteers") {
			n = 2
		}
		if *rounds < 1 || n < 1 || n > 16 || *minutes < 1 {
			return fmt.Errorf("bench holter: keep --rounds ≥ 1, --volunteers in 1..16 (default here: 2) and --minutes ≥ 1")
		}
		return benchHolter(ctx, holterOptions{record: *record, minutes: *minutes, rounds: *rounds, volunteers: n, algorithms: strings.Split(*holterAlgs, ","),
			cpuProfile: *cpuProfile, baseline: *baseline, serveArgs: serveArgs}, e.stdout)
	}
	if len(pos) == 1 && pos[0] == "idle-client" {
		return benchIdleClient(ctx, *clientURL, *clientFirst, *conns, e.stdout)
	}
	if len(pos) == 1 && pos[0] == "idle" {
		if *conns < 1 || *conns > 60000 {
			return fmt.Errorf("bench idle: keep --connections in 1..60000 (the server holds fewer: --max-volunteers)")
		}
		res, err := benchIdle(ctx, *conns)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "idle: %d volunteer connections held by pulsegrid serve (%s, connected in %s)\n", res.conns, runtime.Version(), res.connectDuration.Round(time.Millisecond))
		fmt.Fprintf(e.stdout, "  server resident memory  %.1f MiB before, %.1f MiB after\n", float64(res.before)/(1<<20), float64(res.after)/(1<<20))
		fmt.Fprintf(e.stdout, "  per connection          %.1f KiB\n", res.perConn/1024)
		fmt.Fprintf(e.stdout, "  connections per GiB     %.0f\n", res.connsPerGiB)
		if res.failure != nil {
			fmt.Fprintf(e.stdout, "  PARTIAL                 %d of %d connections opened: %v\n", res.conns, *conns, res.failure)
			return fmt.Errorf("bench idle: %d of %d connections opened", res.conns, *conns)
		}
		return nil
	}
	if len(pos) != 1 || pos[0] != "coordinator" {
		fs.Usage()
		return fmt.Errorf("bench: name a benchmark: \"coordinator\", \"idle\" or \"holter\"")
	}
	if *dur > 2*time.Minute || *vols < 1 || *vols > 5000 {
		return fmt.Errorf("bench: keep --duration ≤ 2m and --volunteers in 1..5000")
	}
	if *fresh < 0 || *fresh >= *vols {
		return fmt.Errorf("bench: --fresh %d: keep it in 0..%d, at least one volunteer must be established to settle chunks", *fresh, *vols-1)
	}
	if *dbURL == "" && *replicas != 1 {
		return fmt.Errorf("bench: --replicas needs --db postgres://… (SQLite has one server)")
	}
	if *replicas < 1 || *replicas > 8 {
		return fmt.Errorf("bench: keep --replicas in 1..8")
	}
	res, err := benchCoordinator(ctx, benchSetup{vols: *vols, fresh: *fresh, dur: *dur, quorum: *quorum, slots: *slots, per: *per, cpuProfile: *cpuProfile, db: *dbURL, replicas: *replicas})
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "coordinator: %d volunteers (%d fresh) × %d slots, quorum %d, %s measured on %d CPU(s) (%s)\n", *vols, *fresh, *slots, *quorum, res.elapsed.Round(time.Millisecond), runtime.NumCPU(), runtime.Version())
	fmt.Fprintf(e.stdout, "  store                %s\n", res.store)
	fmt.Fprintf(e.stdout, "  verified chunks/s    %.0f\n", res.verifiedPerSec)
	fmt.Fprintf(e.stdout, "  results/s            %.0f (%.2f per verified chunk)\n", res.resultsPerSec, res.resultsPerSec/max(res.verifiedPerSec, 1))
	fmt.Fprintf(e.stdout, "  pending written      %.0f per 1000 verified chunks (results still waiting for a quorum after 1s, kept for a takeover)\n", res.pendingPerK)
	fmt.Fprintf(e.stdout, "  lease latency        p50 %s  p99 %s  (volunteer's request → lease received)\n", res.leaseP50, res.leaseP99)
	fmt.Fprintf(e.stdout, "  verdict latency      p50 %s  p99 %s  (result sent → verdict received, includes the batched commit)\n", res.verdictP50, res.verdictP99)
	fmt.Fprintf(e.stdout, "  CPU per 1000 chunks  %.0f ms this process (grid, HTTP and the simulated volunteers)", res.procCPUPerK)
	if res.dbCPUPerK >= 0 {
		fmt.Fprintf(e.stdout, ", %.0f ms PostgreSQL (every process of its server)", res.dbCPUPerK)
	}
	fmt.Fprintln(e.stdout)
	if res.serverCPUPerK > 0 {
		// On paper: what the server's own share of the CPU would sustain
		// with the volunteers on other machines (not a measurement).
		fmt.Fprintf(e.stdout, "  of which the server  %.0f ms (the rest: the simulated volunteers, told apart by CPU profile labels); alone on %d CPU(s) at that cost it would verify about %.0f chunks/s (a projection)\n",
			res.serverCPUPerK, runtime.NumCPU(), float64(runtime.NumCPU())*1000*1000/res.serverCPUPerK)
	}
	if len(res.drops) > 0 {
		fmt.Fprintf(e.stdout, "  DROPPED              %d of %d simulated volunteers; the figures are the others'. First reason: %s\n", len(res.drops), *vols, res.drops[0])
		return fmt.Errorf("bench: %d simulated volunteers were dropped", len(res.drops))
	}
	return nil
}

// benchSetup is what one coordinator measurement runs.
type benchSetup struct {
	vols, fresh        int
	dur                time.Duration
	quorum, slots, per int
	cpuProfile         string
	db                 string // PostgreSQL URL; "" for a temporary SQLite database
	replicas           int    // with db: replicas up (one leads)
}

type benchFigures struct {
	store                         string   // what the grid ran on
	procCPUPerK, dbCPUPerK        float64  // CPU ms per 1000 verified chunks; dbCPUPerK < 0 without PostgreSQL
	serverCPUPerK                 float64  // the part of procCPUPerK outside the simulated volunteers; < 0 when not known
	drops                         []string // one reason per simulated volunteer dropped
	elapsed                       time.Duration
	verifiedPerSec, resultsPerSec float64
	pendingPerK                   float64 // results written to wait for a quorum, per 1000 verified chunks
	leaseP50, leaseP99            time.Duration
	verdictP50, verdictP99        time.Duration
}

func benchCoordinator(ctx context.Context, b benchSetup) (*benchFigures, error) {
	nvol, fresh, dur, quorum, slots, per, cpuProfile := b.vols, b.fresh, b.dur, b.quorum, b.slots, b.per, b.cpuProfile
	dir, err := os.MkdirTemp("", "pulsegrid-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	bst, err := openBenchStore(ctx, dir, b.db, max(b.replicas, 1))
	if err != nil {
		return nil, err
	}
	defer bst.close()
	st := bst.st
	reg := prometheus.NewRegistry()
	algs := pipeline.NewRegistry(benchAlg{})
	// Steady state: every simulated volunteer but the last `fresh` is
	// established (its standing is stored before it connects), none is
	// trusted, so every chunk is
	// replicated to quorum and settled by volunteers alone; the server's
	// own audits and known answers are off, so the coordinator is what is
	// measured.
	g := grid.New(st, algs, grid.Config{Quorum: quorum, Metrics: reg, SpotCheck: 1, TrustAfter: 1 << 30,
		Auditors: -1, AuditRate: -1, RingerRate: -1})
	defer g.Close()
	owner, err := st.CreateUser(ctx, store.User{Email: "bench@localhost", Role: store.RoleClinician, PasswordHash: "x"})
	if err != nil {
		return nil, err
	}
	samples := make([]float64, 16*per)
	for i := range samples {
		samples[i] = float64(i % 977)
	}
	ds, err := st.CreateDataset(ctx, store.Dataset{OwnerID: owner.ID, Name: "bench"}, &signal.Recording{Signal: signal.Signal{Channels: []signal.Channel{{Name: "x", Rate: 1, Samples: samples}}}})
	if err != nil {
		return nil, err
	}
	var started atomic.Int64
	var drops []string // why simulated volunteers were dropped
	addWork := func() error {
		_, err := g.Start(ctx, store.Analysis{DatasetID: ds.ID, OwnerID: owner.ID, Algorithm: "bench.echo@1", Params: []byte("{}"), Priority: store.PriorityRoutine})
		started.Add(int64(per))
		return err
	}
	for range 2 {
		if err := addWork(); err != nil {
			return nil, err
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: server.NewServer(server.Deps{Store: st, Grid: g, Registry: algs, Gatherer: reg})}
	go srv.Serve(ln)
	defer srv.Close()
	url := "ws://" + ln.Addr().String() + protocol.Path

	keys := make([]protocol.Key, nvol)
	recs := make([]store.Volunteer, nvol)
	for i := range keys {
		keys[i] = protocol.NewKey()
		recs[i] = store.Volunteer{ID: keys[i].ID(), PublicKey: keys[i].PublicKey(), Reputation: int64(g.Config().EstablishAfter), CreatedAt: time.Now()}
	}
	if err := st.SaveVolunteers(ctx, recs[:nvol-fresh]); err != nil {
		return nil, err
	}
	bctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var measuring atomic.Bool
	var results atomic.Int64
	lat := make([]*benchLatencies, nvol)
	var wg sync.WaitGroup
	errc := make(chan error, nvol)
	for i := range nvol {
		lat[i] = &benchLatencies{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Labelled, so that the profile tells their CPU from the server's.
			pprof.Do(bctx, volunteerLabels, func(ctx context.Context) {
				if err := simVolunteer(ctx, url, i, keys[i], slots, lat[i], &measuring, &results); err != nil && bctx.Err() == nil {
					errc <- err
				}
			})
		}()
	}
	counter := func(name string) float64 {
		mfs, _ := reg.Gather()
		for _, mf := range mfs {
			if mf.GetName() == name {
				return mf.GetMetric()[0].GetCounter().GetValue()
			}
		}
		return 0
	}
	verified := func() float64 { return counter("pulsegrid_chunks_verified_total") }
	// Keep the queue full and warm up.
	feed := func(until time.Time) error {
		for time.Now().Before(until) {
			if float64(started.Load())-verified() < float64(per) {
				if err := addWork(); err != nil {
					return err
				}
			}
			select {
			case err := <-errc:
				// A dropped volunteer is a finding, not the end of the run:
				// count it and measure on with the others.
				drops = append(drops, err.Error())
				if len(drops) == nvol {
					return fmt.Errorf("every simulated volunteer was dropped; the first: %s", drops[0])
				}
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
		}
		return nil
	}
	if err := feed(time.Now().Add(2 * time.Second)); err != nil {
		return nil, err
	}
	// The measured interval is always profiled (100 samples/s: a small
	// cost), to split this process's CPU between server and volunteers.
	var prof bytes.Buffer
	var profOut io.Writer = &prof
	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		profOut = io.MultiWriter(f, &prof)
	}
	profiling := pprof.StartCPUProfile(profOut) == nil
	v0, r0, t0 := verified(), results.Load(), time.Now()
	p0 := counter("pulsegrid_results_pending_written_total")
	c0, d0 := processCPU(), bst.dbCPU()
	measuring.Store(true)
	if err := feed(t0.Add(dur)); err != nil {
		return nil, err
	}
	measuring.Store(false)
	v1, r1, elapsed := verified(), results.Load(), time.Since(t0)
	p1 := counter("pulsegrid_results_pending_written_total")
	c1, d1 := processCPU(), bst.dbCPU()
	volShare := -1.0
	if profiling {
		pprof.StopCPUProfile()
		volShare = labelledShare(&prof, volunteerLabel, "volunteers")
	}
	cancel()
	wg.Wait()
	var leases, verdicts []time.Duration
	for _, l := range lat {
		leases = append(leases, l.lease...)
		verdicts = append(verdicts, l.verdict...)
	}
	for len(errc) > 0 {
		drops = append(drops, (<-errc).Error())
	}
	f := &benchFigures{store: bst.name, elapsed: elapsed, verifiedPerSec: (v1 - v0) / elapsed.Seconds(), resultsPerSec: float64(r1-r0) / elapsed.Seconds(), drops: drops, dbCPUPerK: -1,
		pendingPerK: (p1 - p0) / max(v1-v0, 1) * 1000}
	if k := (v1 - v0) / 1000; k > 0 {
		f.procCPUPerK = float64(c1-c0) / float64(time.Millisecond) / k
		f.serverCPUPerK = -1
		if volShare >= 0 {
			f.serverCPUPerK = f.procCPUPerK * (1 - volShare)
		}
		if d0 >= 0 && d1 >= 0 {
			f.dbCPUPerK = float64(d1-d0) / float64(time.Millisecond) / k
		}
	}
	f.leaseP50, f.leaseP99 = percentile(leases, 0.50), percentile(leases, 0.99)
	f.verdictP50, f.verdictP99 = percentile(verdicts, 0.50), percentile(verdicts, 0.99)
	return f, nil
}

type benchLatencies struct {
	lease, verdict []time.Duration
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return d[min(int(p*float64(len(d))), len(d)-1)].Round(10 * time.Microsecond)
}

// simVolunteer speaks the protocol with no computing to speak of: it
// answers each lease at once, so the coordinator is what is measured.
func simVolunteer(ctx context.Context, url string, i int, key protocol.Key, slots int, lat *benchLatencies, measuring *atomic.Bool, results *atomic.Int64) error {
	conn, err := benchConnect(ctx, url, i, key, []string{"bench.echo@1"}, slots)
	if err != nil {
		return err
	}
	defer conn.CloseNow()
	stop := context.AfterFunc(ctx, func() { conn.CloseNow() })
	defer stop()
	write := func(m *protocol.Message, payload []byte) error {
		frames := []websock.Frame{{Type: websock.MessageText, Payload: m.Encode()}}
		if payload != nil {
			frames = append(frames, websock.Frame{Type: websock.MessageBinary, Payload: payload})
		}
		return conn.WriteFrames(time.Now().Add(10*time.Second), frames...)
	}
	asked := make([]time.Time, 0, slots)
	for range slots {
		asked = append(asked, time.Now())
	}
	if err := write(&protocol.Message{Type: protocol.TypeRequest, Count: slots}, nil); err != nil {
		return err
	}
	sent := map[int64]time.Time{}
	for {
		_, b, err := conn.ReadMessage(protocol.MaxControl)
		if err != nil {
			return err
		}
		m, err := protocol.Decode(b)
		if err != nil {
			return err
		}
		switch m.Type {
		case protocol.TypeLease:
			_, payload, err := conn.ReadMessage(protocol.MaxPayload)
			if err != nil {
				return err
			}
			if len(asked) > 0 {
				if measuring.Load() {
					lat.lease = append(lat.lease, time.Since(asked[0]))
				}
				asked = asked[1:]
			}
			t, err := pipeline.DecodeTask(payload)
			if err != nil {
				return err
			}
			out, _ := benchAlg{}.Run(t, nil)
			// An immediate result needs no ack, and asks for the next lease.
			sent[m.LeaseID] = time.Now()
			asked = append(asked, time.Now())
			if err := write(&protocol.Message{Type: protocol.TypeResult, LeaseID: m.LeaseID, Digest: canon.Digest(out), Size: len(out), Count: 1}, out); err != nil {
				return err
			}
			if measuring.Load() {
				results.Add(1)
			}
		case protocol.TypeVerdict:
			if t, ok := sent[m.LeaseID]; ok {
				if measuring.Load() {
					lat.verdict = append(lat.verdict, time.Since(t))
				}
				delete(sent, m.LeaseID)
			}
		case protocol.TypeCancel:
			delete(sent, m.LeaseID) // answered already: its slot was asked for again then
		}
	}
}
