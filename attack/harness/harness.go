// Package harness runs adversarial scenarios against a real `pulsegrid
// serve`: it uploads real MIT-BIH records through the JSON API, starts
// ecg.beats@1 analyses, runs honest native volunteers (`pulsegrid
// volunteer`) beside hostile ones (package attack/client), waits until
// every analysis has finished (or a bounded timeout), and compares each
// final result with `pulsegrid run`, chunk window by chunk window.
//
// Everything runs on 127.0.0.0/8, in a temporary directory, with every
// child process in its own process group and stopped at the end.
package harness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pulsegrid/pulsegrid/attack/client"
)

// AckTimeout is the server's default ack time (docs/protocol.md), which
// the hoarding target allows on top of twice the undisturbed time.
const AckTimeout = 5 * time.Second

// Env is what every scenario of one run shares.
type Env struct {
	// Bin is the pulsegrid binary.
	Bin string
	// Tmp is a directory the run may fill (data dirs, references).
	Tmp string
	// MITDB is the directory of the MIT-BIH records (../shared/data/mitdb).
	MITDB string
	// Protocol is the volunteer protocol the adversaries speak (1 or 2).
	Protocol int
	// ChunkSeconds cuts every analysis (60: one block per chunk, 31 chunks
	// per 30-minute record).
	ChunkSeconds float64
	// ServerArgs are added to every `serve`.
	ServerArgs []string
	// HonestClients runs a scenario's honest volunteers as honest
	// attack/client identities, each from its own prefix 127.(200+i).0.1,
	// instead of native `pulsegrid volunteer`s on 127.0.0.1 (for a server
	// that wants agreeing results from distinct prefixes even on loopback).
	HonestClients bool
	// Logf receives progress lines; nil is silent.
	Logf func(format string, args ...any)

	once      sync.Once
	refs      *references
	names     []string
	mu        sync.Mutex
	baselines map[string]float64 // undisturbed seconds by records/honest
}

func (e *Env) logf(format string, args ...any) {
	if e.Logf != nil {
		e.Logf(format, args...)
	}
}

func (e *Env) init() error {
	var err error
	e.once.Do(func() {
		if e.ChunkSeconds == 0 {
			e.ChunkSeconds = 60
		}
		if e.Protocol == 0 {
			e.Protocol = 1
		}
		e.refs = &references{bin: e.Bin, dir: e.MITDB, tmp: e.Tmp, seconds: e.ChunkSeconds, recs: map[string]*Record{}}
		e.baselines = map[string]float64{}
		var m []string
		m, err = filepath.Glob(filepath.Join(e.MITDB, "*.hea"))
		for _, f := range m {
			name := strings.TrimSuffix(filepath.Base(f), ".hea")
			if _, e2 := os.Stat(filepath.Join(e.MITDB, name+".dat")); e2 == nil {
				e.names = append(e.names, name)
			}
		}
		sort.Strings(e.names)
		if err == nil && len(e.names) == 0 {
			err = fmt.Errorf("no MIT-BIH records (NAME.hea + NAME.dat) in %s", e.MITDB)
		}
	})
	return err
}

// AddrPlan says where a group's identities appear to come from.
type AddrPlan int

const (
	// ManyPrefixes gives each identity its own /24: 127.G.i.1 (i < 250,
	// then the fourth byte counts the rounds).
	ManyPrefixes AddrPlan = iota
	// OneAddress puts every identity of the group on 127.G.0.1.
	OneAddress
	// OnePrefix puts them in one /24: 127.G.0.(i+1).
	OnePrefix
)

func (p AddrPlan) String() string {
	return [...]string{"many prefixes", "one address", "one prefix"}[p]
}

// addr is the source address of identity i of group g (g from 0). Honest
// native volunteers dial from 127.0.0.1, in no group's prefix.
func (p AddrPlan) addr(g, i int) string {
	switch p {
	case OneAddress:
		return fmt.Sprintf("127.%d.0.1", g+1)
	case OnePrefix:
		return fmt.Sprintf("127.%d.0.%d", g+1, i%250+1)
	}
	return fmt.Sprintf("127.%d.%d.%d", g+1, i%250+1, i/250+1)
}

// Group is Count hostile volunteers with one behaviour: Count identities,
// or one identity over Count connections.
type Group struct {
	Count     int
	Addrs     AddrPlan
	Behaviour client.Behaviour
	// SharedIdentity makes the Count volunteers one identity (the first
	// connects alone, the others resume its identity).
	SharedIdentity bool
	// BadSignature signs the wrong nonce (protocol 2).
	BadSignature bool
}

// Check is one target of a scenario. Strict checks are those the current
// server does not meet yet: they are asserted only with
// PULSEGRID_ATTACK_STRICT=1.
type Check struct {
	Name   string
	Strict bool
	Fn     func(o *Outcome) error
}

// Scenario is one attack against a fresh server.
type Scenario struct {
	Name  string
	About string
	// Warmup records are analysed to the end first (reputation builds up,
	// work reaches steady state); they count for wrong chunks but not for
	// time or verification cost.
	Warmup int
	// Records are analysed in the measured batch.
	Records int
	// Honest native volunteers, one worker each.
	Honest     int
	Groups     []Group
	ServerArgs []string
	// Timeout bounds each batch (warm-up and measured).
	Timeout time.Duration
	// ErrorText, if set, must appear nowhere in what the clinician reads
	// (analysis status and results).
	ErrorText string
	// Memory samples the server's resident set once every partial frame
	// is out.
	Memory bool
	// NeedsBaseline gives the outcome the undisturbed time of the same
	// batch (for the hoarding target).
	NeedsBaseline bool
	Checks        []Check
}

// Outcome is what one scenario measured.
type Outcome struct {
	Scenario string `json:"scenario"`
	Protocol int    `json:"protocol"`
	Analyses int    `json:"analyses"`
	Done     int    `json:"done"`
	Failed   int    `json:"failed"`
	// Unfinished analyses were still running at the timeout.
	Unfinished int `json:"unfinished"`
	Chunks     int `json:"chunks"`
	// Lies is the adversaries' own count of forged results; LiedChunks the
	// distinct chunks they were about.
	Lies       int `json:"lies"`
	LiedChunks int `json:"lied_chunks"`
	// Wrong chunks: windows of done analyses whose beats differ from the
	// reference; WrongLied of them were lied on.
	Wrong     int     `json:"wrong_chunks"`
	WrongLied int     `json:"wrong_lied_chunks"`
	Seconds   float64 `json:"seconds"`
	TimedOut  bool    `json:"timed_out"`
	// Undisturbed is the baseline's time for the same batch (0: not run).
	Undisturbed float64 `json:"undisturbed_seconds,omitempty"`
	// ResultsComputed (accepted + rejected + ignored results, from
	// /metrics) over ChunksAccepted (chunks verified) in the measured
	// batch is the verification cost.
	ResultsComputed float64 `json:"results_computed"`
	ChunksAccepted  float64 `json:"chunks_accepted"`
	Cost            float64 `json:"cost"`
	// Verified is the chunks verified at the end, over all analyses (the
	// progress of unfinished ones included).
	Verified int `json:"chunks_verified"`
	// AdversaryResults is what the hostile volunteers sent; the others
	// count their connections (welcomes), identities, leases received and
	// connections refused with 1013.
	AdversaryResults     int `json:"adversary_results"`
	AdversaryConnections int `json:"adversary_connections"`
	AdversaryIdentities  int `json:"adversary_identities"`
	AdversaryLeases      int `json:"adversary_leases"`
	AdversaryRefused     int `json:"adversary_refused"`
	// LeasedAgain counts leases of a chunk to an identity that had held it.
	LeasedAgain int `json:"leased_again"`
	// Memory, in MiB: the server's VmRSS before the attack and its VmHWM
	// after.
	RSSBeforeMB float64 `json:"rss_before_mb,omitempty"`
	PeakRSSMB   float64 `json:"peak_rss_mb,omitempty"`
	// MaxCredit is the largest credit the server reported to an
	// adversary, and WallSeconds that identity's connected time.
	MaxCredit   float64 `json:"max_credit_s,omitempty"`
	WallSeconds float64 `json:"wall_s,omitempty"`
	// Leaks lists where ErrorText showed up.
	Leaks          []string       `json:"leaks,omitempty"`
	AnalysisErrors []string       `json:"analysis_errors,omitempty"`
	Adversary      client.Summary `json:"-"`
	// Failures are the checks that did not hold (strict ones marked).
	Failures []string `json:"failures,omitempty"`
	// Asserted are the failures that make the run fail in this mode.
	Asserted []string `json:"asserted,omitempty"`
}

// WrongPer1000 is wrong chunks per 1,000 chunks.
func (o *Outcome) WrongPer1000() float64 {
	if o.Chunks == 0 {
		return 0
	}
	return 1000 * float64(o.Wrong) / float64(o.Chunks)
}

// analysisRun is one started analysis.
type analysisRun struct {
	rec    *Record
	id     int64
	status *Analysis
	raw    []byte
}

// Run runs one scenario on a fresh server; strict says whether strict
// checks count in Asserted.
func (e *Env) Run(ctx context.Context, sc Scenario, strict bool) (*Outcome, error) {
	if err := e.init(); err != nil {
		return nil, err
	}
	if need := sc.Warmup + sc.Records; need > len(e.names) {
		return nil, fmt.Errorf("scenario %s needs %d records, %s has %d", sc.Name, need, e.MITDB, len(e.names))
	}
	if sc.Timeout == 0 {
		sc.Timeout = 60 * time.Second
	}
	o := &Outcome{Scenario: sc.Name, Protocol: e.Protocol}
	if sc.NeedsBaseline {
		u, err := e.undisturbed(ctx, sc)
		if err != nil {
			return nil, err
		}
		o.Undisturbed = u
	}
	e.logf("scenario %s: %s", sc.Name, sc.About)
	args := append([]string{"--chunk-seconds", strconv.FormatFloat(e.ChunkSeconds, 'f', -1, 64)}, e.ServerArgs...)
	srv, err := StartServer(ctx, e.Bin, e.Tmp, append(args, sc.ServerArgs...)...)
	if err != nil {
		return nil, err
	}
	defer func() {
		srv.Stop()
		os.RemoveAll(srv.Data)
	}()

	// Records and datasets: the warm-up first, then the batch.
	var recs []*Record
	var datasets []int64
	for _, name := range e.names[:sc.Warmup+sc.Records] {
		rec, err := e.refs.record(ctx, name)
		if err != nil {
			return nil, err
		}
		id, err := srv.Upload(rec.Files)
		if err != nil {
			return nil, err
		}
		recs, datasets = append(recs, rec), append(datasets, id)
	}
	if _, now, err := srv.Memory(); err == nil {
		o.RSSBeforeMB = float64(now) / (1 << 20)
	}

	// The adversaries connect first, so that they are there when work appears.
	stats := &client.Stats{}
	advCtx, stopAdv := context.WithCancel(ctx)
	defer stopAdv()
	var wg sync.WaitGroup
	total, partial := 0, 0
	for g, grp := range sc.Groups {
		var shared *client.Identity
		if grp.SharedIdentity {
			shared = client.NewIdentity()
		}
		for i := range grp.Count {
			v := client.New(client.Config{Server: srv.Base, Protocol: e.Protocol, LocalAddr: grp.Addrs.addr(g, i),
				Behaviour: grp.Behaviour, Stats: stats, Seed: uint64(1000*g + i + 1), Identity: shared, BadSignature: grp.BadSignature})
			total++
			if grp.Behaviour.PartialFrame > 0 {
				partial++
			}
			wg.Add(1)
			go func() { defer wg.Done(); v.Run(advCtx) }()
			if shared != nil && i == 0 {
				// v1 issues the identity in the first welcome: the other
				// connections resume it.
				before := total - 1
				waitFor(ctx, 10*time.Second, func() bool { s := stats.Snapshot(); return s.Connections+s.Fatals+s.Refused > before })
			}
			if total%50 == 0 {
				time.Sleep(20 * time.Millisecond) // let the server accept a burst before the next
			}
		}
	}
	stopAll := func() {
		stopAdv()
		wg.Wait()
	}
	defer stopAll()
	// A server may refuse some (1013); they keep retrying in the background.
	waitFor(ctx, 20*time.Second, func() bool { s := stats.Snapshot(); return s.Connections+s.Refused+s.Fatals >= total })
	if sc.Memory {
		waitFor(ctx, 20*time.Second, func() bool { return stats.Snapshot().PartialFrames >= partial })
		time.Sleep(time.Second) // let the server read what was sent
	}
	var honest []*Honest
	defer func() {
		for _, h := range honest {
			h.Stop()
		}
	}()
	honestStats := &client.Stats{}
	for i := range sc.Honest {
		if e.HonestClients {
			v := client.New(client.Config{Server: srv.Base, Protocol: e.Protocol, LocalAddr: fmt.Sprintf("127.%d.0.1", 200+i), Stats: honestStats})
			wg.Add(1)
			go func() { defer wg.Done(); v.Run(advCtx) }()
			continue
		}
		h, err := StartHonest(e.Bin, srv.Base)
		if err != nil {
			return nil, err
		}
		honest = append(honest, h)
	}

	start := func(from, to int) ([]*analysisRun, error) {
		var runs []*analysisRun
		for i := from; i < to; i++ {
			id, err := srv.StartAnalysis(datasets[i], Algorithm)
			if err != nil {
				return nil, err
			}
			runs = append(runs, &analysisRun{rec: recs[i], id: id})
		}
		return runs, nil
	}
	warm, err := start(0, sc.Warmup)
	if err != nil {
		return nil, err
	}
	if _, err := waitAnalyses(ctx, srv, warm, sc.Timeout); err != nil {
		return nil, err
	}
	m0, err := srv.Metrics()
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	batch, err := start(sc.Warmup, sc.Warmup+sc.Records)
	if err != nil {
		return nil, err
	}
	timedOut, err := waitAnalyses(ctx, srv, batch, sc.Timeout)
	if err != nil {
		return nil, err
	}
	o.Seconds, o.TimedOut = time.Since(t0).Seconds(), timedOut
	m1, err := srv.Metrics()
	if err != nil {
		return nil, err
	}
	if peak, _, err := srv.Memory(); err == nil {
		o.PeakRSSMB = float64(peak) / (1 << 20)
	}
	stopAll()
	adv := stats.Snapshot()
	o.Adversary = adv
	o.AdversaryResults, o.AdversaryConnections, o.AdversaryIdentities = adv.Results, adv.Connections, adv.Identities
	o.AdversaryLeases, o.AdversaryRefused, o.LeasedAgain = adv.Leases, adv.Refused, adv.LeasedAgain
	o.Lies = adv.Lies
	credit, wall := adv.MaxCredit()
	o.MaxCredit, o.WallSeconds = credit, wall.Seconds()

	delta := func(name string) float64 { return m1["pulsegrid_"+name] - m0["pulsegrid_"+name] }
	o.ResultsComputed = delta("results_accepted_total") + delta("results_rejected_total") + delta("results_ignored_total")
	o.ChunksAccepted = delta("chunks_verified_total")
	if o.ChunksAccepted > 0 {
		o.Cost = o.ResultsComputed / o.ChunksAccepted
	}

	if err := e.score(srv, sc, append(warm, batch...), o); err != nil {
		return nil, err
	}
	for _, c := range sc.Checks {
		if err := c.Fn(o); err != nil {
			msg := c.Name + ": " + err.Error()
			if c.Strict {
				msg += " [strict]"
			}
			o.Failures = append(o.Failures, msg)
			if strict || !c.Strict {
				o.Asserted = append(o.Asserted, msg)
			}
		}
	}
	return o, nil
}

// score reads every analysis and its result, compares it with the
// reference, and looks for the injected error text.
func (e *Env) score(srv *Server, sc Scenario, runs []*analysisRun, o *Outcome) error {
	lied := map[string]bool{}
	for k := range o.Adversary.LiedOn {
		lied[k] = true
	}
	leak := func(where string, b []byte) {
		if sc.ErrorText != "" && strings.Contains(string(b), sc.ErrorText) {
			o.Leaks = append(o.Leaks, where)
		}
	}
	for _, r := range runs {
		a, raw, err := srv.Analysis(r.id)
		if err != nil {
			return err
		}
		o.Analyses++
		o.Chunks += len(r.rec.Chunks)
		o.Verified += a.Progress.Verified
		for _, c := range r.rec.Chunks {
			if lied[c.Key] {
				o.LiedChunks++
			}
		}
		leak(fmt.Sprintf("GET /api/v1/analyses/%d", r.id), raw)
		switch {
		case a.Status == "done":
			o.Done++
			b, err := srv.Result(r.id)
			if err != nil {
				return err
			}
			leak(fmt.Sprintf("GET /api/v1/analyses/%d/result", r.id), b)
			got, err := beatSamples(b)
			if err != nil {
				return fmt.Errorf("analysis %d (record %s): %w", r.id, r.rec.Name, err)
			}
			for _, i := range wrongChunks(r.rec, got) {
				o.Wrong++
				if lied[r.rec.Chunks[i].Key] {
					o.WrongLied++
				}
			}
		case a.Status == "failed":
			o.Failed++
			o.AnalysisErrors = append(o.AnalysisErrors, fmt.Sprintf("record %s: %s", r.rec.Name, a.Error))
		default:
			o.Unfinished++
		}
	}
	if sc.ErrorText != "" {
		list, err := srv.api("GET", "/analyses", "", nil, nil)
		if err != nil {
			return err
		}
		leak("GET /api/v1/analyses", list)
	}
	return nil
}

// undisturbed runs the scenario's batch with its honest volunteers only,
// once per shape, and returns its time.
func (e *Env) undisturbed(ctx context.Context, sc Scenario) (float64, error) {
	key := fmt.Sprintf("%d/%d/%d", sc.Warmup, sc.Records, sc.Honest)
	e.mu.Lock()
	u, ok := e.baselines[key]
	e.mu.Unlock()
	if ok {
		return u, nil
	}
	base := Scenario{Name: "undisturbed " + key, About: "the same batch with honest volunteers only", Warmup: sc.Warmup,
		Records: sc.Records, Honest: sc.Honest, ServerArgs: sc.ServerArgs, Timeout: sc.Timeout}
	o, err := e.Run(ctx, base, false)
	if err != nil {
		return 0, err
	}
	if o.Unfinished > 0 || o.Failed > 0 {
		return 0, fmt.Errorf("undisturbed run %s did not finish: %d failed, %d unfinished", key, o.Failed, o.Unfinished)
	}
	e.SetUndisturbed(sc, o.Seconds)
	return o.Seconds, nil
}

// SetUndisturbed records the undisturbed time of a scenario's shape
// (e.g. from a baseline scenario that ran already).
func (e *Env) SetUndisturbed(sc Scenario, seconds float64) {
	if err := e.init(); err != nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.baselines[fmt.Sprintf("%d/%d/%d", sc.Warmup, sc.Records, sc.Honest)] = seconds
}

// waitAnalyses polls until every run has finished or timeout passes; it
// reports whether it timed out.
func waitAnalyses(ctx context.Context, srv *Server, runs []*analysisRun, timeout time.Duration) (bool, error) {
	until := time.Now().Add(timeout)
	for {
		pending := 0
		for _, r := range runs {
			if r.status != nil && r.status.Finished() {
				continue
			}
			a, raw, err := srv.Analysis(r.id)
			if err != nil {
				return false, err
			}
			r.status, r.raw = a, raw
			if !a.Finished() {
				pending++
			}
		}
		if pending == 0 {
			return false, nil
		}
		if time.Now().After(until) {
			return true, nil
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(150 * time.Millisecond):
		}
	}
}

func waitFor(ctx context.Context, d time.Duration, cond func() bool) bool {
	until := time.Now().Add(d)
	for !cond() {
		if time.Now().After(until) || ctx.Err() != nil {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// ErrAsserted is returned by RunAll when an asserted check failed.
var ErrAsserted = errors.New("asserted targets not met")

// RunAll runs scenarios in order (a baseline first sets the undisturbed
// time of its shape) and returns their outcomes.
func (e *Env) RunAll(ctx context.Context, scs []Scenario, strict bool) ([]*Outcome, error) {
	var out []*Outcome
	failed := false
	for _, sc := range scs {
		o, err := e.Run(ctx, sc, strict)
		if err != nil {
			return out, fmt.Errorf("scenario %s: %w", sc.Name, err)
		}
		if sc.Name == BaselineName && o.Unfinished == 0 && o.Failed == 0 {
			e.SetUndisturbed(sc, o.Seconds)
		}
		out = append(out, o)
		failed = failed || len(o.Asserted) > 0
		e.logf("  %s", o.Line())
	}
	if failed {
		return out, ErrAsserted
	}
	return out, nil
}

// Line is a one-line account of the outcome.
func (o *Outcome) Line() string {
	s := fmt.Sprintf("%s: %d/%d done, %d failed, %d unfinished (%d of %d chunks verified); lies %d on %d chunks; wrong %d; %.1f s; cost %.2f; adversaries: %d connections, %d identities, %d leases, %d results, %d refused",
		o.Scenario, o.Done, o.Analyses, o.Failed, o.Unfinished, o.Verified, o.Chunks, o.Lies, o.LiedChunks, o.Wrong, o.Seconds, o.Cost,
		o.AdversaryConnections, o.AdversaryIdentities, o.AdversaryLeases, o.AdversaryResults, o.AdversaryRefused)
	if len(o.Failures) > 0 {
		s += "; NOT MET: " + strings.Join(o.Failures, "; ")
	}
	return s
}

// Names lists scenario names.
func Names(scs []Scenario) []string {
	var n []string
	for _, s := range scs {
		n = append(n, s.Name)
	}
	return n
}

// Select picks scenarios by name (comma-separated; "all" or "" for all).
func Select(scs []Scenario, names string) ([]Scenario, error) {
	if names == "" || names == "all" {
		return scs, nil
	}
	var out []Scenario
	for _, n := range strings.Split(names, ",") {
		i := slices.IndexFunc(scs, func(s Scenario) bool { return s.Name == strings.TrimSpace(n) })
		if i < 0 {
			return nil, fmt.Errorf("no scenario %q (have: %s)", n, strings.Join(Names(scs), ", "))
		}
		out = append(out, scs[i])
	}
	return out, nil
}
