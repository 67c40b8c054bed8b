package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pulsegrid/pulsegrid/algorithms/catalog"
	"github.com/pulsegrid/pulsegrid/server"
	"github.com/pulsegrid/pulsegrid/server/store"
)

// startStandby serves ps's database without a grid, as a replica that does
// not lead does (several replicas on one PostgreSQL; SQLite shares one
// database file between two servers of one process just as well).
func startStandby(t *testing.T, ps *portalServer) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := server.NewServer(server.Deps{Store: ps.st, Registry: catalog.All(), Gatherer: prometheus.NewRegistry(), Portal: server.PortalConfig{DataDir: t.TempDir()}})
	return serveUntilCleanup(t, ln, h)
}

// TestStandbyServesReads: a server without a grid answers every GET of the
// portal and the API as the grid's own server does (the same status, page
// by page, for an admin and a clinician), except the grid's own pages,
// which answer 503 and say where to go. Writes that touch only the
// database work on it (login, upload, a correction-free start recorded for
// the leader), and the progress of a running analysis comes from the
// database, without what only the grid knows (the ETA is null, the chunk
// states "–").
//
// One-line bugs it catches: the `d.Grid != nil` check dropped in results.go
// progress or analysisProgress, or in handleHealthz (a nil pointer: 500);
// leaderOnly not applied to /admin/grid, /api/v1/grid, /api/v1/backlog or
// /ws/volunteer (500, zeros the volunteer page would believe, or a
// websocket upgrade without a grid); Source left "grid" on a
// standby (the progress page shows 0 running instead of "–").
func TestStandbyServesReads(t *testing.T) {
	ps := startPortal(t)
	sb := startStandby(t, ps)
	ps.addUser(t, "admin@example.org", store.RoleAdmin, "admin-password-1", false)
	ps.addUser(t, "c@example.org", store.RoleClinician, "clinician-password-1", false)

	// Sign in and upload through the standby; start on the leader, whose
	// local workers finish the batch.
	c := newBrowser(t, sb)
	if p := c.login("c@example.org", "clinician-password-1"); p.status != http.StatusSeeOther {
		t.Fatalf("login on the standby: %d %s", p.status, p.body)
	}
	p := c.uploadRecord("100", []string{".hea", ".dat", ".atr"}, "application/json")
	var up struct{ ID int64 }
	if err := json.Unmarshal(p.body, &up); err != nil || p.status != http.StatusCreated {
		t.Fatalf("upload on the standby: %d %s", p.status, p.body)
	}
	leader := newBrowser(t, ps.base)
	if p := leader.login("c@example.org", "clinician-password-1"); p.status != http.StatusSeeOther {
		t.Fatalf("login on the leader: %d", p.status)
	}
	p = leader.post("/analyses", url.Values{"algorithm": {"ecg.beats@1", "ecg.hrv@1"}, "dataset": {strconv.FormatInt(up.ID, 10)}, "priority": {"routine"}, "params": {""}})
	batch := idFrom(t, p.location(), "/batches/")
	as, err := ps.st.BatchAnalyses(context.Background(), batch)
	if err != nil || len(as) != 2 {
		t.Fatalf("batch %d: %d analyses, %v", batch, len(as), err)
	}
	for _, a := range as {
		for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			got, err := ps.st.Analysis(context.Background(), a.ID)
			if err != nil || got.Status == store.StatusDone {
				break
			}
			if time.Now().After(deadline) || got.Finished() {
				t.Fatalf("analysis %d: %s %s", a.ID, got.Status, got.Error)
			}
		}
	}
	done := as[0].ID

	// A start through the standby is checked and split as the grid does,
	// and recorded running with every chunk counted, for the leader.
	p = c.post("/analyses", url.Values{"algorithm": {"ecg.beats@1"}, "dataset": {strconv.FormatInt(up.ID, 10)}, "priority": {"urgent"}, "params": {""}})
	running := idFrom(t, p.location(), "/analyses/")
	ra, err := ps.st.Analysis(context.Background(), running)
	if err != nil || ra.Status != store.StatusRunning || ra.ChunksTotal != as[0].ChunksTotal || ra.Priority != "urgent" {
		t.Fatalf("started through the standby: %+v, %v; want running with %d chunks, urgent", ra, err, as[0].ChunksTotal)
	}
	// A batch started through the standby: its page words the stored
	// figures, the only ones a standby has.
	p = c.post("/analyses", url.Values{"algorithm": {"ecg.beats@1", "ecg.hrv@1"}, "dataset": {strconv.FormatInt(up.ID, 10)}, "priority": {"routine"}, "params": {""}})
	sbatch := idFrom(t, p.location(), "/batches/")
	if pg := c.get(fmt.Sprintf("/batches/%d", sbatch)); pg.status != 200 || pg.text("batch-analysis-state") != fmt.Sprintf("0 of %d verified so far", ra.ChunksTotal) {
		t.Errorf("batch page on the standby: %d, state %q; want the stored count", pg.status, pg.text("batch-analysis-state"))
	}
	// /donate on the standby counts the chunks the database has not seen
	// verified, and explains the leader's quorum, not a made-up one.
	unverified := 0
	if as, err := ps.st.UnfinishedAnalyses(context.Background()); err == nil {
		for _, a := range as {
			unverified += a.ChunksTotal - a.ChunksVerified
		}
	}
	dsb, dl := c.get("/donate"), leader.get("/donate")
	if want := fmt.Sprintf("%d chunks not yet verified", unverified); dsb.status != 200 || unverified == 0 || dsb.text("donate-backlog-unverified") != want {
		t.Errorf("/donate on the standby: %d, backlog %q; want %q", dsb.status, dsb.text("donate-backlog-unverified"), want)
	}
	if a, b := dsb.text("donate-second-opinion"), dl.text("donate-second-opinion"); a != b || a == "" {
		t.Errorf("/donate explains the quorum as %q on the standby and %q on the leader", a, b)
	}
	if p := c.post("/analyses", url.Values{"algorithm": {"vitals.alarms@1"}, "dataset": {strconv.FormatInt(up.ID, 10)}, "params": {""}}); p.status != http.StatusUnprocessableEntity && p.status != http.StatusSeeOther {
		t.Errorf("an algorithm that cannot run on the record, through the standby: %d", p.status)
	}

	code, body := c.apiGet(fmt.Sprintf("/api/v1/analyses/%d", running))
	var st struct {
		Status   string
		Progress map[string]any
	}
	if err := json.Unmarshal(body, &st); err != nil || code != 200 {
		t.Fatalf("progress on the standby: %d %s", code, body)
	}
	if st.Status != "running" || st.Progress["source"] != "database" || st.Progress["eta_seconds"] != nil || st.Progress["chunks_total"] != float64(ra.ChunksTotal) {
		t.Errorf("progress of a running analysis on the standby: %s", body)
	}
	if pg := c.get(fmt.Sprintf("/analyses/%d", running)); pg.status != 200 || pg.text("analysis-running") != "–" || pg.text("analysis-volunteers") != "–" || pg.text("analysis-eta") != "unknown" {
		t.Errorf("progress page on the standby: %d, running %q, volunteers %q, eta %q; want –, –, unknown", pg.status, pg.text("analysis-running"), pg.text("analysis-volunteers"), pg.text("analysis-eta"))
	}
	code, body = leader.apiGet(fmt.Sprintf("/api/v1/analyses/%d", done))
	if err := json.Unmarshal(body, &st); code != 200 || err != nil || st.Progress["source"] != "database" {
		t.Errorf("a done analysis on the leader: %d %s, want its stored figures", code, body)
	}

	admin, adminLeader := newBrowser(t, sb), newBrowser(t, ps.base)
	for _, b := range []*browser{admin, adminLeader} {
		if p := b.login("admin@example.org", "admin-password-1"); p.status != http.StatusSeeOther {
			t.Fatalf("admin login: %d", p.status)
		}
	}
	paths := []string{
		"/", "/datasets", "/datasets/upload", fmt.Sprintf("/datasets/%d", up.ID), "/analyses", "/analyses/new",
		fmt.Sprintf("/analyses/%d", done), fmt.Sprintf("/analyses/%d/result", done), fmt.Sprintf("/analyses/%d/report", done),
		fmt.Sprintf("/analyses/%d/strip?from=60&to=70", done), fmt.Sprintf("/analyses/%d/download?format=csv", done),
		fmt.Sprintf("/analyses/%d/result", running), fmt.Sprintf("/batches/%d", batch), fmt.Sprintf("/batches/%d/download?format=csv", batch),
		"/account/password", "/account/tokens", "/donate", "/leaderboard", "/healthz", "/metrics",
		"/api/v1/me", "/api/v1/algorithms", "/api/v1/datasets", fmt.Sprintf("/api/v1/datasets/%d", up.ID), "/api/v1/analyses",
		fmt.Sprintf("/api/v1/analyses/%d", done), fmt.Sprintf("/api/v1/analyses/%d", running), fmt.Sprintf("/api/v1/analyses/%d/result", done),
		fmt.Sprintf("/api/v1/analyses/%d/result", running), fmt.Sprintf("/api/v1/analyses/%d/report", done),
		fmt.Sprintf("/api/v1/analyses/%d/corrections", done), "/api/v1/leaderboard", "/api/v1/nothing",
	}
	adminPaths := []string{"/admin/users", "/admin/templates", "/admin/templates/new", "/admin/audit"}
	check := func(who string, b, lb *browser, paths []string) {
		for _, path := range paths {
			got, want := b.get(path), lb.get(path)
			if got.status != want.status || got.status >= 500 {
				t.Errorf("%s GET %s: %d on the standby, %d on the leader (%.200s)", who, path, got.status, want.status, got.body)
			}
		}
	}
	check("clinician", c, leader, paths)
	check("admin", admin, adminLeader, append(paths, adminPaths...))

	for _, path := range []string{"/admin/grid", "/api/v1/grid", "/api/v1/backlog", "/ws/volunteer"} {
		if p := admin.get(path); p.status != http.StatusServiceUnavailable || !strings.Contains(string(p.body), "does not run the grid") || p.header.Get("Retry-After") == "" {
			t.Errorf("GET %s on the standby: %d %.200s, want 503 naming the leader, with Retry-After", path, p.status, p.body)
		}
		if p := adminLeader.get(path); p.status >= 500 {
			t.Errorf("GET %s on the leader: %d", path, p.status)
		}
	}
}
