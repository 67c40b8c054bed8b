package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pulsegrid/pulsegrid/algorithms/formats"
	"github.com/pulsegrid/pulsegrid/algorithms/signal"

	"github.com/jackc/pgx/v5"

	"github.com/pulsegrid/pulsegrid/server/store/postgres/pgtest"
)

// TestBenchCoordinator runs the coordinator benchmark briefly at the
// README's setup (2 volunteers, quorum 2) and at quorum 1: it must speak
// the current protocol, verify chunks, and drop no volunteer.
func TestBenchCoordinator(t *testing.T) {
	for _, quorum := range []int{2, 1} {
		f, err := benchCoordinator(context.Background(), benchSetup{vols: 2, dur: 500 * time.Millisecond, quorum: quorum, slots: 2, per: 2000, replicas: 1})
		if err != nil {
			t.Fatalf("quorum %d: %v", quorum, err)
		}
		if f.verifiedPerSec <= 0 || len(f.drops) > 0 {
			t.Errorf("quorum %d: %.0f verified chunks/s, %d volunteers dropped %v", quorum, f.verifiedPerSec, len(f.drops), f.drops)
		}
		if !strings.HasPrefix(f.store, "SQLite") {
			t.Errorf("without --db the bench ran on %q, want SQLite", f.store)
		}
	}
}

// TestBenchCoordinatorOnPostgres runs `bench coordinator --db` with two
// replicas up: the grid on PostgreSQL verifies chunks at quorum 2, the
// PostgreSQL server's CPU is read beside it, a standby really waited on
// the leader lock, and the bench leaves no schema of its own behind.
func TestBenchCoordinatorOnPostgres(t *testing.T) {
	db := pgtest.URL(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	// While it runs, count the sessions waiting as standbys: those whose
	// last query tried the leader lock (pg_stat_activity; the leader's lock
	// connection pings since).
	stop := make(chan struct{})
	standbys := make(chan int, 1)
	go func() {
		most := 0
		for {
			var n int
			conn.QueryRow(ctx, `SELECT COUNT(*) FROM pg_stat_activity WHERE query LIKE '%pg_try_advisory_lock%' AND pid <> pg_backend_pid()`).Scan(&n)
			most = max(most, n)
			select {
			case <-stop:
				standbys <- most
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	f, err := benchCoordinator(ctx, benchSetup{vols: 2, dur: 800 * time.Millisecond, quorum: 2, slots: 2, per: 2000, db: db, replicas: 2})
	close(stop)
	if err != nil {
		t.Fatal(err)
	}
	if f.verifiedPerSec <= 0 || len(f.drops) > 0 {
		t.Errorf("%.0f verified chunks/s on PostgreSQL, %d volunteers dropped %v", f.verifiedPerSec, len(f.drops), f.drops)
	}
	if !strings.HasPrefix(f.store, "PostgreSQL") || !strings.Contains(f.store, "2 replica") {
		t.Errorf("--db with 2 replicas ran on %q", f.store)
	}
	if f.dbCPUPerK < 0 {
		t.Errorf("the PostgreSQL server's CPU was not read (its postmaster runs on this machine)")
	}
	if n := <-standbys; n < 1 {
		t.Errorf("no session waited on the leader lock while the bench ran: the second replica was not up")
	}
	var left int
	if err := conn.QueryRow(ctx, `SELECT COUNT(*) FROM pg_namespace WHERE nspname LIKE 'pulsegrid_bench_%'`).Scan(&left); err != nil || left != 0 {
		t.Errorf("%d bench schemas left behind (%v)", left, err)
	}
}

// TestBenchHolter runs `bench holter` small on two real MIT-BIH records
// concatenated: a real server and two native volunteer processes (this
// test binary as pulsegrid), the grid's CSV checked byte for byte against
// pulsegrid run's, and the breakdown and the ratio printed.
func TestBenchHolter(t *testing.T) {
	src := filepath.Join("..", "..", "..", "shared", "data", "mitdb")
	if _, err := os.Stat(src); err != nil {
		t.Fatalf("the real records: %v", err)
	}
	self := func(ctx context.Context, args ...string) *exec.Cmd {
		cmd := exec.CommandContext(ctx, os.Args[0])
		cmd.Env = append(os.Environ(), "PULSEGRID_TEST_ARGS="+strings.Join(args, "\n"))
		return cmd
	}
	var out bytes.Buffer
	// The baseline is this build too: the bench runs both grids each round.
	err := benchHolter(context.Background(), holterOptions{record: src, minutes: 31, rounds: 2, volunteers: 2, algorithms: []string{"ecg.beats@1"},
		command: self, baseline: "this test binary", baselineCommand: self}, &out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []string{"2 real mitdb records end to end", "2 native volunteers", "upload", "start", "compute", "byte-identical", "load ",
		"ratio grid total / local run (this build)", "ratio grid total / local run (baseline this test binary)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the report says nothing of %q:\n%s", want, out.String())
		}
	}
	for _, row := range []string{"\n  1 this ", "\n  1 base ", "\n  2 this ", "\n  2 base "} {
		if strings.Count(out.String(), row) != 1 {
			t.Errorf("no row %q:\n%s", row[1:], out.String())
		}
	}
	// CPU times are read from /proc: the server's and the volunteers' are
	// not zero (a 31-minute record takes tenths of a second).
	if strings.Contains(out.String(), "volunteers 0.00s") {
		t.Errorf("a volunteers' CPU time of zero:\n%s", out.String())
	}
}

// TestConcatRecords: the concatenated record reads back as its parts end
// to end (the reader verifies the summed checksums), at least as long as
// asked and at most one record longer.
func TestConcatRecords(t *testing.T) {
	src := filepath.Join("..", "..", "..", "shared", "data", "mitdb")
	dir := t.TempDir()
	files, parts, err := concatRecords(src, dir, 31)
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) != 2 || parts[0] != "101" || parts[1] != "105" {
		t.Errorf("parts %v, want [101 105] (100 has V5, not V1, as its second lead)", parts)
	}
	var in []formats.File
	for _, f := range append(files, filepath.Join(src, "101.hea"), filepath.Join(src, "101.dat"), filepath.Join(src, "105.hea"), filepath.Join(src, "105.dat")) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		in = append(in, formats.File{Name: filepath.Base(f), Data: b})
	}
	read := func(fs ...formats.File) *signal.Recording {
		rec, err := formats.Read(fs)
		if err != nil {
			t.Fatal(err)
		}
		return rec
	}
	whole, a, b := read(in[0], in[1]), read(in[2], in[3]), read(in[4], in[5])
	for ch := range 2 {
		got := whole.Signal.Channels[ch].Samples
		want := append(slices.Clone(a.Signal.Channels[ch].Samples), b.Signal.Channels[ch].Samples...)
		if !slices.Equal(got, want) {
			t.Errorf("channel %d: %d samples, not the parts' %d end to end", ch, len(got), len(want))
		}
	}
}

// TestMedianOf: the middle one of an odd count, the mean of the middle two
// of an even count (bench holter's rounds are often 4).
func TestMedianOf(t *testing.T) {
	if got := medianOf([]float64{1, 2, 3}); got != 2 {
		t.Errorf("median of 1 2 3: %v", got)
	}
	if got := medianOf([]float64{0.59, 0.69, 0.78, 1.08}); got != (0.69+0.78)/2 {
		t.Errorf("median of four: %v, want %v", got, (0.69+0.78)/2)
	}
}
