package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/pulsegrid/pulsegrid/algorithms/catalog"
	"github.com/pulsegrid/pulsegrid/server/store"
	"github.com/pulsegrid/pulsegrid/volunteer"
)

// leaderboard is /leaderboard read by data-testid: credit by nickname, and
// the page's raw HTML.
func (ts *testServer) leaderboard() (map[string]string, string) {
	ts.t.Helper()
	resp, err := http.Get(ts.base + "/leaderboard")
	if err != nil {
		ts.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		ts.t.Fatalf("GET /leaderboard: %d %s", resp.StatusCode, body)
	}
	doc, err := goquery.NewDocumentFromReader(bytes.NewReader(body))
	if err != nil {
		ts.t.Fatal(err)
	}
	if doc.Find(`[data-testid="leaderboard-credit-note"]`).Length() != 1 {
		ts.t.Errorf("/leaderboard does not say what credit is")
	}
	rows := map[string]string{}
	doc.Find(`[data-testid="leaderboard-row"]`).Each(func(_ int, s *goquery.Selection) {
		rows[strings.TrimSpace(s.Find(`[data-testid="leaderboard-nickname"]`).Text())] = strings.TrimSpace(s.Find(`[data-testid="leaderboard-credit"]`).Text())
	})
	return rows, string(body)
}

// runVolunteer runs one native volunteer until the returned stop is called.
func runVolunteer(base string, cfg volunteer.Config) (*volunteer.Volunteer, func()) {
	cfg.Server, cfg.Registry = base, catalog.All()
	if cfg.LocalAddr == "" {
		cfg.LocalAddr = nextNetwork()
	}
	cfg.MinBackoff, cfg.MaxBackoff = 50*time.Millisecond, 300*time.Millisecond
	v := volunteer.New(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); v.Run(ctx) }()
	return v, func() { cancel(); wg.Wait() }
}

// pollLeaderboard waits until ok accepts the leaderboard's rows.
func (ts *testServer) pollLeaderboard(what string, ok func(map[string]string) bool) (map[string]string, string) {
	ts.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		rows, html := ts.leaderboard()
		if ok(rows) {
			return rows, html
		}
		if time.Now().After(deadline) {
			ts.t.Fatalf("/leaderboard never showed %s; rows %v", what, rows)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestLeaderboardCreditSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, dir, "127.0.0.1:0", gridConfig())
	if rows, html := ts.leaderboard(); len(rows) != 0 || !strings.Contains(html, `data-testid="leaderboard-empty"`) {
		t.Fatalf("a new server's leaderboard: rows %v, want the empty notice", rows)
	}
	tok := ts.user("clin@example.org", store.RoleClinician)
	ada, stopAda := runVolunteer(ts.base, volunteer.Config{Slots: 2, Nickname: "Ada"})
	grace, stopGrace := runVolunteer(ts.base, volunteer.Config{Slots: 2, Nickname: "  Grace\u202E "})
	id := ts.analyse(tok, ts.upload(tok, "119", nil), "ecg.beats@1", "routine")
	if s := ts.waitDone(tok, id, 60*time.Second); s.Status != store.StatusDone {
		t.Fatalf("analysis: %+v, want done", s)
	}
	adaID := ada.Identity()
	if ada.Stats().Credit <= 0 || grace.Stats().Credit <= 0 {
		t.Errorf("verdicts carried no credit: Ada %v, Grace %v", ada.Stats().Credit, grace.Stats().Credit)
	}
	// A volunteer that leaves is saved at once; the others every few seconds.
	stopAda()
	stopGrace()
	credit := func(s string) float64 { f, _ := strconv.ParseFloat(s, 64); return f }
	rows, html := ts.pollLeaderboard("Ada and Grace with credit", func(r map[string]string) bool {
		return len(r) == 2 && credit(r["Ada"]) > 0 && credit(r["Grace"]) > 0
	})
	t.Logf("leaderboard after one ecg.beats@1 analysis of record 119 (credit, CPU s): %v", rows)
	for _, secret := range []string{adaID.ID, adaID.Secret, grace.Identity().ID, "127.0.0.1", "pulsegrid-volunteer"} {
		if strings.Contains(html, secret) {
			t.Errorf("the public leaderboard shows %q (an id, secret, address or agent)", secret)
		}
	}

	// Restart on the same data directory: the same credit, by nickname.
	addr := ts.addr
	ts.stop()
	ts2 := startServer(t, dir, addr, gridConfig())
	defer ts2.stop()
	after, _ := ts2.leaderboard()
	if len(after) != 2 || after["Ada"] != rows["Ada"] || after["Grace"] != rows["Grace"] {
		t.Errorf("after a restart: %v, want %v", after, rows)
	}
	// Ada comes back under another nickname: the welcome brings her credit,
	// and the leaderboard renames her.
	back, stopBack := runVolunteer(ts2.base, volunteer.Config{Identity: adaID, Nickname: "Ada L."})
	deadline := time.Now().Add(10 * time.Second)
	for !back.Stats().Connected && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if got := strconv.FormatFloat(back.Stats().Credit, 'f', 3, 64); got != rows["Ada"] {
		t.Errorf("welcome after the restart: credit %s, want %s", got, rows["Ada"])
	}
	stopBack()
	ts2.pollLeaderboard("Ada renamed", func(r map[string]string) bool { return r["Ada L."] == rows["Ada"] && r["Ada"] == "" })
}

// TestTeamLeaderboard: volunteers join a team by naming it in their hello;
// /leaderboard and GET /api/v1/leaderboard sum each team's credit over its
// members, and a volunteer that reconnects under another team moves its
// credit there. The team names reach /donate's team choices.
func TestTeamLeaderboard(t *testing.T) {
	ts := startServer(t, t.TempDir(), "127.0.0.1:0", gridConfig())
	defer ts.stop()
	tok := ts.user("clin@example.org", store.RoleClinician)
	_, stopAda := runVolunteer(ts.base, volunteer.Config{Slots: 2, Nickname: "Ada", Team: "Blue"})
	grace, stopGrace := runVolunteer(ts.base, volunteer.Config{Slots: 2, Nickname: "Grace", Team: " Blue\u202E "})
	id := ts.analyse(tok, ts.upload(tok, "119", nil), "ecg.beats@1", "routine")
	if s := ts.waitDone(tok, id, 60*time.Second); s.Status != store.StatusDone {
		t.Fatalf("analysis: %+v, want done", s)
	}
	graceID := grace.Identity()
	stopAda()
	stopGrace()

	var board struct {
		Volunteers []struct {
			Nickname, Team string
			Credit         float64
		}
		Teams []struct {
			Rank    int
			Name    string
			Members int64
			Credit  float64
		}
	}
	poll := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			resp, err := http.Get(ts.base + "/api/v1/leaderboard")
			if err != nil {
				t.Fatal(err)
			}
			board.Volunteers, board.Teams = nil, nil
			err = json.NewDecoder(resp.Body).Decode(&board)
			resp.Body.Close()
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("GET /api/v1/leaderboard: %d %v", resp.StatusCode, err)
			}
			if ok() {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("GET /api/v1/leaderboard never showed %s: %+v", what, board)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	credit := map[string]float64{}
	poll("one team Blue of Ada and Grace", func() bool {
		for _, v := range board.Volunteers {
			credit[v.Nickname] = v.Credit
		}
		return len(board.Teams) == 1 && board.Teams[0].Members == 2 && credit["Ada"] > 0 && credit["Grace"] > 0
	})
	if tm := board.Teams[0]; tm.Name != "Blue" || tm.Rank != 1 || math.Abs(tm.Credit-(credit["Ada"]+credit["Grace"])) > 1e-9 {
		t.Errorf("team %+v, want Blue ranked 1 with Ada's and Grace's credit summed (%v + %v)", tm, credit["Ada"], credit["Grace"])
	}
	for _, v := range board.Volunteers {
		if v.Team != "Blue" {
			t.Errorf("%s: team %q, want Blue (cleaned as a nickname is)", v.Nickname, v.Team)
		}
	}
	// The page shows the same table.
	_, html := ts.leaderboard()
	doc, _ := goquery.NewDocumentFromReader(strings.NewReader(html))
	if got := strings.TrimSpace(doc.Find(`[data-testid="leaderboard-team-name"]`).First().Text()); got != "Blue" {
		t.Errorf("/leaderboard first team %q, want Blue", got)
	}
	if got := strings.TrimSpace(doc.Find(`[data-testid="leaderboard-team-members"]`).First().Text()); got != "2" {
		t.Errorf("/leaderboard Blue members %q, want 2", got)
	}
	resp, err := http.Get(ts.base + "/donate")
	if err != nil {
		t.Fatal(err)
	}
	dd, _ := goquery.NewDocumentFromReader(resp.Body)
	resp.Body.Close()
	if got := dd.Find(`#donate-teams option`).AttrOr("value", ""); got != "Blue" {
		t.Errorf("/donate team choices start with %q, want Blue", got)
	}

	// Grace comes back in team Red: her credit moves with her.
	back, stopBack := runVolunteer(ts.base, volunteer.Config{Identity: graceID, Nickname: "Grace", Team: "Red"})
	deadline := time.Now().Add(10 * time.Second)
	for !back.Stats().Connected && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	stopBack()
	poll("Grace in Red", func() bool { return len(board.Teams) == 2 })
	got := map[string]float64{}
	for _, tm := range board.Teams {
		got[tm.Name] = tm.Credit
		if tm.Members != 1 {
			t.Errorf("team %s: %d members, want 1", tm.Name, tm.Members)
		}
	}
	if math.Abs(got["Blue"]-credit["Ada"]) > 1e-9 || math.Abs(got["Red"]-credit["Grace"]) > 1e-9 {
		t.Errorf("after Grace moved: %v, want Blue %v (Ada's), Red %v (Grace's)", got, credit["Ada"], credit["Grace"])
	}
}
