package server

import (
	"testing"
	"time"

	"github.com/pulsegrid/pulsegrid/server/store"
)

func TestLeaderRowsRankTies(t *testing.T) {
	rows := leaderRows([]store.Volunteer{
		{ID: "v-1", Nickname: "Ada", CreditMicros: 5_000_000, CPUMicros: 6_000_000, Results: 4, Validated: 3},
		{ID: "v-2", CreditMicros: 2_500_000},
		{ID: "v-3", Nickname: "Tie", CreditMicros: 2_500_000},
		{ID: "v-4", Nickname: "Last", CreditMicros: 1},
	})
	var ranks []int
	for _, r := range rows {
		ranks = append(ranks, r.Rank)
	}
	if len(ranks) != 4 || ranks[0] != 1 || ranks[1] != 2 || ranks[2] != 2 || ranks[3] != 4 {
		t.Errorf("ranks %v, want [1 2 2 4]", ranks)
	}
	if r := rows[0]; r.Nickname != "Ada" || r.Credit != 5 || r.CPUSeconds != 6 || r.Chunks != 4 || r.Verified != 3 {
		t.Errorf("first row %+v, want Ada with credit 5, 6 CPU s, 4 chunks, 3 verified", r)
	}
	if rows[1].Nickname != "" {
		t.Errorf("an anonymous volunteer got the nickname %q", rows[1].Nickname)
	}
}

func TestNodeRowsMergeOnlineOverStored(t *testing.T) {
	seen := time.Now().Add(-time.Hour)
	stored := []store.Volunteer{
		{ID: "v-online-1234", Nickname: "old", Results: 1, LastSeen: seen},
		{ID: "v-gone-5678", Agent: "pulsegrid-native linux/amd64", Requests: 9, Results: 4, CompletionMicros: 2_000_000, Failed: 1, Rejected: 2, Validated: 2, LastSeen: seen},
	}
	online := []store.Volunteer{
		{ID: "v-online-1234", Nickname: "new", Agent: "pulsegrid-browser js/wasm (Mozilla/5.0)", Results: 3},
		{ID: "v-local", Agent: "local worker 1"},
	}
	rows := nodeRows(stored, online)
	if len(rows) != 3 {
		t.Fatalf("got %d rows, want 3 (the online volunteer once)", len(rows))
	}
	if r := rows[0]; r.Nickname != "new" || !r.Online || r.Kind != "browser" || r.Completed != 3 || r.ID != "v-online" {
		t.Errorf("online row %+v, want the grid's fresh figures, nickname new, browser, id cut to 8", r)
	}
	if r := rows[1]; r.Kind != "local" || !r.Online {
		t.Errorf("local worker row %+v", r)
	}
	r := rows[2]
	if r.Online || r.Kind != "native" || r.Requests != 9 || r.Completed != 4 || r.Accepted != 2 || r.Failed != 3 || r.AvgCompletionMS != 500 {
		t.Errorf("stored row %+v, want offline native, 9 requests, 4 completed, 2 accepted, 3 failed (1 error or expiry + 2 rejected), 500ms average", r)
	}
}
