package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

func TestVolunteerStatsRoundTripAndLeaderboard(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "db")
	s := mustOpen(t, path)
	now := time.Now().Truncate(time.Millisecond)
	vs := []Volunteer{
		{ID: "v-a", PublicKey: "k", Nickname: "Ada", Validated: 3, Requests: 9, Issued: 8, Results: 7, Failed: 1, CPUMicros: 4_000_000, CreditMicros: 2_500_000, CompletionMicros: 700_000, CreatedAt: now, LastSeen: now},
		{ID: "v-b", PublicKey: "k", Validated: 5, CPUMicros: 9_000_000, CreditMicros: 9_000_000, CreatedAt: now, LastSeen: now},
		{ID: "v-c", PublicKey: "k", Nickname: "NoCredit", Results: 2, CPUMicros: 100, CreatedAt: now, LastSeen: now},
	}
	if err := s.SaveVolunteers(ctx, vs); err != nil {
		t.Fatal(err)
	}
	// A second save updates every counter (the flusher saves the same row again and again).
	vs[0].CreditMicros, vs[0].Nickname = 3_000_000, "Ada L."
	if err := s.SaveVolunteers(ctx, vs[:1]); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = mustOpen(t, path) // survives a restart

	got, err := s.Volunteer(ctx, "v-a")
	if err != nil {
		t.Fatal(err)
	}
	want := vs[0]
	got.CreatedAt, got.LastSeen = want.CreatedAt, want.LastSeen // UTC vs local
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if d := got.AvgCompletion(); d != 100*time.Millisecond {
		t.Errorf("AvgCompletion = %v, want 100ms", d)
	}
	if c := got.Credit(); c != 3 {
		t.Errorf("Credit = %v, want 3", c)
	}

	board, err := s.Leaderboard(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, v := range board {
		ids = append(ids, v.ID)
		if v.PublicKey != "" {
			t.Errorf("%s: leaderboard row carries the public key", v.ID)
		}
	}
	if len(ids) != 2 || ids[0] != "v-b" || ids[1] != "v-a" {
		t.Errorf("leaderboard %v, want [v-b v-a] (most credit first, none without credit)", ids)
	}
	if board, _ := s.Leaderboard(ctx, 1); len(board) != 1 {
		t.Errorf("limit 1: got %d rows", len(board))
	}
}
