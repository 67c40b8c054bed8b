package server_test

import (
	"bytes"
	"context"
	"io"
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
