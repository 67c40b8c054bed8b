package server_test

import (
	"context"
	"net"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pulsegrid/pulsegrid/algorithms/catalog"
	"github.com/pulsegrid/pulsegrid/server"
	"github.com/pulsegrid/pulsegrid/server/auth"
	"github.com/pulsegrid/pulsegrid/server/grid"
	"github.com/pulsegrid/pulsegrid/server/store"
	"github.com/pulsegrid/pulsegrid/server/store/postgres"
	"github.com/pulsegrid/pulsegrid/server/store/postgres/pgtest"
)

// startReplica is a whole server on a store of its own that open makes
// on a database other replicas may share, as servers behind a load
// balancer do.
func startReplica(t *testing.T, open func() store.Store) (string, store.Store) {
	t.Helper()
	st := open()
	reg := prometheus.NewRegistry()
	g := grid.New(st, catalog.All(), grid.Config{Metrics: reg})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := server.NewServer(server.Deps{Store: st, Grid: g, Registry: catalog.All(), Gatherer: reg, Portal: server.PortalConfig{DataDir: t.TempDir()}})
	base := serveUntilCleanup(t, ln, h, func() { g.Close() }, func() { st.Close() })
	waitHealthy(t, base)
	return base, st
}

// TestReplicasShareThrottles runs two servers on one database, SQLite and
// PostgreSQL, and spreads a guesser's attempts over both: the login
// throttle (per account and address) and the unrecognised-token throttle
// count them together, so the guesser gets what one server allows. With
// the counters in each process's memory (the old loginThrottle map and
// token buckets) each replica sees half and lets the next guess through:
// 401 instead of 429.
func TestReplicasShareThrottles(t *testing.T) {
	t.Run("SQLite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "pulsegrid.db")
		testReplicasShareThrottles(t, func() store.Store {
			s, err := store.OpenSQLite(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			return s
		})
	})
	t.Run("PostgreSQL", func(t *testing.T) {
		url := pgtest.URL(t)
		testReplicasShareThrottles(t, func() store.Store {
			s, err := postgres.Open(context.Background(), url)
			if err != nil {
				t.Fatal(err)
			}
			return s
		})
	})
}

func testReplicasShareThrottles(t *testing.T, open func() store.Store) {
	ctx := context.Background()
	a, st := startReplica(t, open)
	b, _ := startReplica(t, open)
	const pw = "granite-orchard-lantern"
	hash, err := auth.HashPassword(pw)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateUser(ctx, store.User{Email: "victim@example.org", Role: store.RoleClinician, PasswordHash: hash}); err != nil {
		t.Fatal(err)
	}

	// Login: 5 failures allowed per (account, address), alternating
	// replicas; the 6th, on either, waits.
	for i := range 5 {
		base := []string{a, b}[i%2]
		if p := newBrowserFrom(t, base, "127.0.0.3").login("victim@example.org", "wrong-guess"); p.status != http.StatusUnauthorized {
			t.Fatalf("guess %d on replica %d: %d, want 401", i+1, i%2, p.status)
		}
	}
	for i, base := range []string{a, b} {
		if p := newBrowserFrom(t, base, "127.0.0.3").login("victim@example.org", "wrong-guess"); p.status != http.StatusTooManyRequests || p.header.Get("Retry-After") == "" {
			t.Errorf("6th guess from one address, on replica %d: %d (Retry-After %q), want 429: the replicas do not share the login throttle", i, p.status, p.header.Get("Retry-After"))
		}
	}
	// The owner from their own address is not delayed on either.
	if p := newBrowserFrom(t, b, "127.0.0.2").login("victim@example.org", pw); p.status != http.StatusSeeOther {
		t.Errorf("the owner on the other replica: %d, want 303", p.status)
	}

	// Tokens: 10 unrecognised tokens per address (Limits.TokenFailures),
	// 5 on each replica; the 11th is not looked up on either.
	bad := func(base string) int {
		req, _ := http.NewRequest("GET", base+"/api/v1/datasets", nil)
		req.Header.Set("Authorization", "Bearer not-a-token")
		resp, err := newBrowserFrom(t, base, "127.0.0.4").c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for i := range 10 {
		if s := bad([]string{a, b}[i%2]); s != http.StatusUnauthorized {
			t.Fatalf("unrecognised token %d: %d, want 401", i+1, s)
		}
	}
	for i, base := range []string{a, b} {
		if s := bad(base); s != http.StatusTooManyRequests {
			t.Errorf("11th unrecognised token from one address, on replica %d: %d, want 429: the replicas do not share the token throttle", i, s)
		}
	}
}
