package server_test

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/pulsegrid/pulsegrid/protocol"
	"github.com/pulsegrid/pulsegrid/server/store"
	"github.com/pulsegrid/pulsegrid/volunteer"
)

// nodeStats is one row of the grid page's node table, read by data-testid.
type nodeStats struct {
	id, kind                                             string
	online                                               bool
	requests, leased, completed, accepted, failed, avgMS int64
	avgText                                              string
}

// gridNodes reads the node table of /admin/grid.
func gridNodes(t *testing.T, p page) map[string]nodeStats {
	t.Helper()
	nodes := map[string]nodeStats{}
	p.doc.Find(`[data-testid="grid-node-row"]`).Each(func(_ int, row *goquery.Selection) {
		cell := func(id string) string {
			return strings.TrimSpace(row.Find(`[data-testid="` + id + `"]`).Text())
		}
		num := func(id string) int64 {
			n, err := strconv.ParseInt(cell(id), 10, 64)
			if err != nil {
				t.Errorf("%s = %q: %v", id, cell(id), err)
			}
			return n
		}
		avg := row.Find(`[data-testid="node-avg-completion"]`)
		ms, err := strconv.ParseInt(avg.AttrOr("data-ms", ""), 10, 64)
		if err != nil {
			t.Errorf("node-avg-completion data-ms = %q: %v", avg.AttrOr("data-ms", ""), err)
		}
		_, online := row.Attr("data-online")
		n := nodeStats{id: cell("node-id"), kind: strings.Fields(cell("node-kind") + " ?")[0], online: online,
			requests: num("node-requests"), leased: num("node-leased"), completed: num("node-completed"),
			accepted: num("node-accepted"), failed: num("node-failed"), avgMS: ms, avgText: strings.TrimSpace(avg.Text())}
		if _, dup := nodes[n.id]; dup {
			t.Errorf("node %s is listed twice", n.id)
		}
		nodes[n.id] = n
	})
	return nodes
}

// TestAdminGridNodeStatistics runs one analysis on three native volunteers
// at quorum 2 and checks that the per-node table of /admin/grid adds up to
// what happened, online and after a volunteer left; clinicians do not see
// the page.
func TestAdminGridNodeStatistics(t *testing.T) {
	cfg := gridConfig()
	cfg.TrustAfter = 1 << 20 // nobody earns quorum 1: every chunk is computed by two volunteers
	ts := startServer(t, t.TempDir(), "127.0.0.1:0", cfg)
	defer ts.stop()
	quorum := ts.g.Config().Quorum
	ps := &portalServer{base: ts.base, st: ts.st}
	ps.addUser(t, "admin@example.org", store.RoleAdmin, "admin-password-1", false)
	ps.addUser(t, "clin@example.org", store.RoleClinician, "clinician-password-1", false)
	admin, clin := newBrowser(t, ts.base), newBrowser(t, ts.base)
	if p := admin.login("admin@example.org", "admin-password-1"); p.status != http.StatusSeeOther {
		t.Fatalf("admin login: %d", p.status)
	}
	if p := clin.login("clin@example.org", "clinician-password-1"); p.status != http.StatusSeeOther {
		t.Fatalf("clinician login: %d", p.status)
	}

	// Each verified verdict a volunteer receives is signalled here (its
	// Stats count it before the event), so the test waits for the verdicts
	// themselves rather than polling for them.
	verified := make(chan struct{}, 1<<12)
	onEvent := func(e volunteer.Event) {
		if e.Kind == volunteer.EventVerdict && e.Verdict == protocol.VerdictVerified {
			select {
			case verified <- struct{}{}:
			default:
			}
		}
	}
	vcfg := volunteer.Config{Slots: 2, Agent: "pulsegrid-native test", OnEvent: onEvent}
	vols := startVolunteers(t, ts.base, 2, vcfg)
	leaver, stopLeaver := runVolunteer(ts.base, vcfg)
	defer stopLeaver()
	vols = append(vols, leaver)

	tok := ts.user("api@example.org", store.RoleClinician)
	id := ts.analyse(tok, ts.upload(tok, "119", nil), "ecg.beats@1", "urgent")
	s := ts.waitDone(tok, id, 90*time.Second)
	chunks := int64(s.Progress.ChunksTotal)
	if s.Status != store.StatusDone || chunks < 30 {
		t.Fatalf("analysis: %+v, want done with 30 or more chunks", s)
	}
	// Verdicts reach the volunteers after the verified chunk is written:
	// wait for all of them (quorum per chunk).
	for n := int64(0); n < chunks*int64(quorum); n++ {
		select {
		case <-verified:
		case <-time.After(60 * time.Second):
			t.Fatalf("%d of %d verified verdicts reached the volunteers in the minute after the last one", n, chunks*int64(quorum))
		}
	}

	p := admin.get("/admin/grid")
	if p.status != 200 {
		t.Fatalf("admin GET /admin/grid: %d", p.status)
	}
	if got := p.text("grid-volunteers"); got != "3" {
		t.Errorf("grid-volunteers = %q, want 3", got)
	}
	if got := p.text("grid-failed"); got != "0" {
		t.Errorf("grid-failed = %q, want 0", got)
	}
	// The rate is known from the first look: the grid counts every minute.
	if got, err := strconv.ParseFloat(p.text("grid-rate"), 64); err != nil || got < 0 || got > float64(s.Progress.ChunksTotal) {
		t.Errorf("grid-rate on the first look = %q, want chunks per minute, 0 to %d", p.text("grid-rate"), s.Progress.ChunksTotal)
	}
	urgent := p.doc.Find(`[data-testid="grid-queue-row"][data-priority="urgent"]`)
	if a, pend := urgent.Find(`[data-testid="queue-analyses"]`).Text(), urgent.Find(`[data-testid="queue-pending"]`).Text(); a != "0" || pend != "0" {
		t.Errorf("urgent queue after the analysis finished: %s analyses, %s chunks to verify; want 0, 0", a, pend)
	}

	nodes := gridNodes(t, p)
	if len(nodes) != len(vols) {
		t.Fatalf("node table has %d rows, want one per volunteer (%d): %v", len(nodes), len(vols), nodes)
	}
	var accepted, completed, leased int64
	for _, v := range vols {
		short := v.Identity().ID[:8]
		n, ok := nodes[short]
		if !ok {
			t.Errorf("volunteer %s has no row", short)
			continue
		}
		t.Logf("node %s: %+v", short, n)
		if !n.online || n.kind != "native" {
			t.Errorf("node %s: online %v, kind %q; want online, native", short, n.online, n.kind)
		}
		if n.accepted != v.Stats().Verified {
			t.Errorf("node %s: %d accepted on the page, the volunteer counted %d verified verdicts", short, n.accepted, v.Stats().Verified)
		}
		// Requests → leases → results (or failures) → accepted results; the
		// volunteers are honest, so no failure is a rejected result.
		if !(n.requests >= n.leased && n.leased >= n.completed+n.failed && n.completed >= n.accepted) {
			t.Errorf("node %s: requests %d ≥ leased %d ≥ completed %d + failed %d, completed ≥ accepted %d does not hold",
				short, n.requests, n.leased, n.completed, n.failed, n.accepted)
		}
		// Native chunks may take under a millisecond, which the grid's
		// whole-millisecond sums count as 0: the page must say so, not "0".
		if n.completed > 0 && (n.avgMS < 0 || n.avgMS > 60_000 || n.avgText == "–" || strings.HasPrefix(n.avgText, "0")) {
			t.Errorf("node %s: average completion %q (%d ms) for %d results", short, n.avgText, n.avgMS, n.completed)
		}
		accepted += n.accepted
		completed += n.completed
		leased += n.leased
	}
	// Every chunk has quorum accepted results; known-answer chunks add a few.
	if accepted < chunks*int64(quorum) || accepted > chunks*int64(quorum)+chunks/2 {
		t.Errorf("accepted results add up to %d, want %d chunks × quorum %d and a few known answers", accepted, chunks, quorum)
	}
	if completed < accepted {
		t.Errorf("completed results add up to %d, fewer than the %d accepted", completed, accepted)
	}
	// And to the grid's own counters (every volunteer is still connected).
	_, metrics := ts.do("GET", "/metrics", "", nil, "")
	// The grid's counters also count the auditor's leases and votes.
	audits := metricValue(string(metrics), "pulsegrid_audits_passed_total") + metricValue(string(metrics), "pulsegrid_audits_failed_total")
	// Known answers a volunteer got right count as accepted on its row,
	// and in their own counter on /metrics.
	knownAnswers := metricValue(string(metrics), "pulsegrid_known_answers_passed_total")
	for name, want := range map[string]int64{"pulsegrid_leases_issued_total": leased, "pulsegrid_results_accepted_total": accepted - knownAnswers} {
		got := metricValue(string(metrics), name)
		if got < want || got > want+audits+chunks {
			t.Errorf("/metrics %s %d: the node table adds up to %d", name, got, want)
		}
		if line := name + " "; !strings.Contains(string(metrics), line) {
			t.Errorf("/metrics lacks %q: the node table does not add up to the grid's counter", strings.TrimSpace(line))
		}
	}

	t.Run("JSON", func(t *testing.T) { checkGridJSON(t, admin, clin, p, chunks) })

	t.Run("LeaverStaysWithItsFigures", func(t *testing.T) {
		short := leaver.Identity().ID[:8]
		before := nodes[short]
		stopLeaver()
		deadline := time.Now().Add(10 * time.Second)
		for {
			after, ok := gridNodes(t, admin.get("/admin/grid"))[short]
			if ok && !after.online {
				after.online = true
				if after != before {
					t.Errorf("after leaving: %+v, want the figures it had online %+v", after, before)
				}
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("the volunteer that left is still online or gone from the table: %+v (present %v)", after, ok)
			}
			time.Sleep(100 * time.Millisecond)
		}
	})

	t.Run("NotForClinicians", func(t *testing.T) {
		if p := clin.get("/admin/grid"); p.status != http.StatusNotFound || p.count("grid-node-row") != 0 {
			t.Errorf("clinician GET /admin/grid: %d with %d node rows, want 404 and none", p.status, p.count("grid-node-row"))
		}
		if p := newBrowser(t, ts.base).get("/admin/grid"); p.status != http.StatusSeeOther || !strings.HasPrefix(p.location(), "/login") {
			t.Errorf("anonymous GET /admin/grid: %d to %q, want the login page", p.status, p.location())
		}
	})
}

// metricValue reads a counter's value from a /metrics page (0 if absent).
func metricValue(page, name string) int64 {
	for _, line := range strings.Split(page, "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return int64(f)
		}
	}
	return 0
}

// gridAnswer is GET /api/v1/grid as a client reads it.
type gridAnswer struct {
	Volunteers   int     `json:"volunteers"`
	LocalWorkers int     `json:"local_workers"`
	Rate         float64 `json:"chunks_verified_per_minute"`
	Failed       int     `json:"chunks_failed_total"`
	History      []struct {
		Start      time.Time `json:"start"`
		Verified   int       `json:"chunks_verified"`
		Volunteers int       `json:"volunteers"`
		Unverified int       `json:"chunks_unverified"`
	} `json:"history"`
	Queue []struct {
		Priority string `json:"priority"`
		Pending  int    `json:"chunks_pending"`
	} `json:"queue"`
	Nodes []struct {
		ID        string `json:"id"`
		Online    bool   `json:"online"`
		Completed int64  `json:"completed"`
		Accepted  int64  `json:"accepted"`
	} `json:"nodes"`
}

// checkGridJSON: GET /api/v1/grid, which grid.js redraws /admin/grid
// from, says what the page said after the analysis of chunks chunks; its
// history holds every verified chunk and the three volunteers; a clinician
// gets the figures without the nodes.
func checkGridJSON(t *testing.T, admin, clin *browser, p page, chunks int64) {
	status, body := admin.apiGet("/api/v1/grid")
	var g gridAnswer
	if err := json.Unmarshal(body, &g); status != http.StatusOK || err != nil {
		t.Fatalf("admin GET /api/v1/grid: %d %v: %s", status, err, body)
	}
	if got := strconv.Itoa(g.Volunteers + g.LocalWorkers); got != p.text("grid-volunteers") || got != "3" {
		t.Errorf("volunteers + local_workers = %s, the page says %s, want 3", got, p.text("grid-volunteers"))
	}
	if g.Failed != 0 || g.Rate < 0 || g.Rate > float64(chunks) {
		t.Errorf("chunks_failed_total %d, chunks_verified_per_minute %v; want 0 and 0 to %d", g.Failed, g.Rate, chunks)
	}
	var verified, peak, waiting int
	for i, m := range g.History {
		verified += m.Verified
		peak = max(peak, m.Volunteers)
		waiting = max(waiting, m.Unverified)
		if i > 0 && !m.Start.After(g.History[i-1].Start) {
			t.Errorf("history minute %d starts %v, not after %v: want oldest first", i, m.Start, g.History[i-1].Start)
		}
	}
	if int64(verified) != chunks || peak != 3 || len(g.History) == 0 || len(g.History) > 60 {
		t.Errorf("history: %d minutes, %d chunks verified, at most %d volunteers; want 1 to 60 minutes, %d chunks, 3 volunteers", len(g.History), verified, peak, chunks)
	}
	// The analysis was added with every chunk to verify.
	if int64(waiting) != chunks {
		t.Errorf("history: at most %d chunks waiting to be verified, want the analysis's %d", waiting, chunks)
	}
	if len(g.Queue) != 3 {
		t.Errorf("queue: %d priorities, want 3", len(g.Queue))
	}
	rows := gridNodes(t, p)
	if len(g.Nodes) != len(rows) {
		t.Errorf("nodes: %d in the JSON, %d on the page", len(g.Nodes), len(rows))
	}
	for _, n := range g.Nodes {
		if r, ok := rows[n.ID]; !ok || r.online != n.Online || r.completed != n.Completed || r.accepted != n.Accepted {
			t.Errorf("node %s: JSON %+v, page %+v", n.ID, n, r)
		}
	}
	status, body = clin.apiGet("/api/v1/grid")
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); status != http.StatusOK || err != nil || raw["nodes"] != nil || raw["volunteers"] == nil {
		t.Errorf("clinician GET /api/v1/grid: %d, fields %v; want 200 with the figures and no nodes", status, slices.Collect(maps.Keys(raw)))
	}
}
