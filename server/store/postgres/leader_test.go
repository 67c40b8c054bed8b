package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/pulsegrid/pulsegrid/server/store/postgres"
	"github.com/pulsegrid/pulsegrid/server/store/postgres/pgtest"
)

// TestLeaderLock: one Store of a database leads at a time; a standby's
// Lead returns once the leader releases the lock or its session is killed
// (what SIGKILL of a leader does), and the killed leader sees Lost; a
// database in another schema elects apart.
func TestLeaderLock(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	a, b := open(t, url), open(t, url)
	defer a.Close()
	defer b.Close()

	la, err := a.TryLead(ctx)
	if err != nil || la == nil {
		t.Fatalf("first TryLead: %v, %v; want the lock", la, err)
	}
	if lb, err := b.TryLead(ctx); err != nil || lb != nil {
		t.Fatalf("second TryLead while the first leads: %v, %v; want nil, nil", lb, err)
	}
	other := open(t, pgtest.URL(t))
	defer other.Close()
	lo, err := other.TryLead(ctx)
	if err != nil || lo == nil {
		t.Fatalf("TryLead in another schema: %v, %v; want its own lock", lo, err)
	}
	lo.Release()

	got := make(chan error, 1)
	var lb *postgres.Leadership
	go func() {
		l, err := b.Lead(ctx, 20*time.Millisecond)
		lb = l
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("Lead returned (%v) while another leads", err)
	case <-time.After(300 * time.Millisecond):
	}
	la.Release()
	if err := <-got; err != nil {
		t.Fatalf("Lead after the leader released: %v", err)
	}

	// The new leader's session is killed, as a SIGKILL of its process
	// ends it: it sees Lost, and a waiting standby takes over.
	got2 := make(chan error, 1)
	go func() {
		l, err := a.Lead(ctx, 20*time.Millisecond)
		if l != nil {
			defer l.Release()
		}
		got2 <- err
	}()
	if _, err := a.Pool().Exec(ctx, `SELECT pg_terminate_backend($1)`, lb.Backend()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-lb.Lost():
	case <-time.After(30 * time.Second):
		t.Fatal("a leader whose session was killed never saw Lost")
	}
	lb.Release()
	if err := <-got2; err != nil {
		t.Fatalf("Lead after the leader's session was killed: %v", err)
	}
}
