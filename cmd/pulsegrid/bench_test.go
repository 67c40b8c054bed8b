package main

import (
	"context"
	"strings"
	"testing"
	"time"

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
