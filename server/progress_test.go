package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/pulsegrid/pulsegrid/server/auth"
	"github.com/pulsegrid/pulsegrid/server/store"
	"github.com/pulsegrid/pulsegrid/volunteer"
)

// progressAnswer is the "progress" object of GET /api/v1/analyses/{id},
// decoded loosely so that a missing or renamed field shows.
type progressAnswer map[string]any

func (ts *testServer) progress(token string, id int64) (string, progressAnswer) {
	ts.t.Helper()
	code, body := ts.do("GET", fmt.Sprintf("/api/v1/analyses/%d", id), token, nil, "")
	if code != 200 {
		ts.t.Fatalf("get analysis %d: %d %s", id, code, body)
	}
	var a struct {
		Status   string
		Progress progressAnswer
	}
	if err := json.Unmarshal(body, &a); err != nil {
		ts.t.Fatal(err)
	}
	return a.Status, a.Progress
}

func (p progressAnswer) num(k string) int {
	v, _ := p[k].(float64)
	return int(v)
}

// check compares the fields of want with p; a nil want value means JSON null.
func (p progressAnswer) check(t *testing.T, when string, want map[string]any) {
	t.Helper()
	for k, w := range want {
		got, ok := p[k]
		if !ok {
			t.Errorf("%s: progress.%s is missing (got %v)", when, k, p)
			continue
		}
		if n, isInt := w.(int); isInt {
			w = float64(n)
		}
		if got != w {
			t.Errorf("%s: progress.%s: got %v, want %v", when, k, got, w)
		}
	}
}

// TestProgressExplainsStalls follows one analysis through the states the
// progress page explains: no volunteer (waiting for volunteers), one
// volunteer at quorum 2 (every chunk computed once, waiting for a second
// opinion), a second volunteer (done, with nobody working and no time left).
func TestProgressExplainsStalls(t *testing.T) {
	ts := startServer(t, t.TempDir(), "127.0.0.1:0", gridConfig())
	defer ts.stop()
	// One account for the API token and the portal's browser.
	hash, _ := auth.HashPassword("Quiet-Harbour-Lantern-7")
	if _, err := ts.st.CreateUser(context.Background(), store.User{Email: "clin@example.org", Role: store.RoleClinician, PasswordHash: hash}); err != nil {
		t.Fatal(err)
	}
	tok := ts.user("clin@example.org", store.RoleClinician)
	b := newBrowser(t, ts.base)
	b.login("clin@example.org", "Quiet-Harbour-Lantern-7")
	// The volunteer page tells "no work" from "waiting for a second opinion".
	donate := b.get("/donate")
	if got := donate.text("donate-backlog-now"); !strings.Contains(got, "no analysis is waiting") {
		t.Errorf("/donate with no analysis: got %q, want it to say no analysis is waiting", got)
	}
	if got := donate.text("donate-second-opinion"); !strings.Contains(got, "quorum 2") || !strings.Contains(got, "different network") {
		t.Errorf("/donate: got %q, want quorum 2 and a different network explained", got)
	}
	id := ts.analyse(tok, ts.upload(tok, "119", nil), "ecg.beats@1", "routine")
	pageURL := fmt.Sprintf("/analyses/%d", id)
	hint := func(p page, testid string) (shown bool, text string) {
		sel := p.doc.Find(`[data-testid="` + testid + `"]`)
		if sel.Length() != 1 {
			t.Fatalf("%s: %d elements %s, want 1", pageURL, sel.Length(), testid)
		}
		_, hidden := sel.Attr("hidden")
		return !hidden, strings.Join(strings.Fields(sel.Text()), " ")
	}

	status, p := ts.progress(tok, id)
	total := p.num("chunks_total")
	if status != store.StatusRunning || total < 2 {
		t.Fatalf("new analysis: got %s with %d chunks, want running with several", status, total)
	}
	p.check(t, "no volunteer", map[string]any{"chunks_verified": 0, "chunks_queued": total, "chunks_running": 0, "chunks_awaiting_replica": 0,
		"volunteers_working": 0, "volunteers_connected": 0, "quorum": 2, "eta_seconds": nil, "waiting_for": "volunteers"})
	pg := b.get(pageURL)
	if shown, text := hint(pg, "analysis-wait-volunteers"); !shown || !strings.Contains(text, "--local-workers") || pg.doc.Find(`[data-testid="analysis-wait-volunteers"] a[href="/donate"]`).Length() != 1 {
		t.Errorf("progress page with no volunteer: wait-for-volunteers shown %v, text %q; want it shown, linking /donate and naming --local-workers", shown, text)
	}
	if shown, _ := hint(pg, "analysis-wait-second-opinion"); shown {
		t.Error("progress page with no volunteer shows the second-opinion notice")
	}
	// Cancelling asks first (static/js/confirm.js reads data-confirm; no inline script).
	if msg := pg.doc.Find(`form#analysis-cancel-form`).AttrOr("data-confirm", ""); !strings.Contains(msg, "Cancel this analysis?") {
		t.Errorf("cancel form: data-confirm %q, want a question", msg)
	}
	if pg.doc.Find(`script[src="/static/js/confirm.js"]`).Length() != 1 {
		t.Error("progress page does not load confirm.js")
	}
	if got := pg.text("analysis-queued"); got != fmt.Sprint(total) {
		t.Errorf("progress page: waiting for a volunteer: got %q, want %d", got, total)
	}
	if got := b.get("/donate").text("donate-backlog-queued"); got != fmt.Sprintf("%d chunks waiting for a volunteer", total) {
		t.Errorf("/donate with a queued analysis: got %q, want %d chunks waiting for a volunteer", got, total)
	}

	startVolunteers(t, ts.base, 1, volunteer.Config{Slots: 2})
	deadline := time.Now().Add(60 * time.Second)
	for p.num("chunks_awaiting_replica") < total {
		if time.Now().After(deadline) {
			t.Fatalf("one volunteer: after 60 s, got %v, want all %d chunks waiting for a second opinion", p, total)
		}
		time.Sleep(50 * time.Millisecond)
		_, p = ts.progress(tok, id)
	}
	p.check(t, "one volunteer", map[string]any{"chunks_verified": 0, "chunks_queued": 0, "chunks_running": 0,
		"volunteers_working": 0, "volunteers_connected": 1, "eta_seconds": nil, "waiting_for": "second_opinion"})
	pg = b.get(pageURL)
	if shown, text := hint(pg, "analysis-wait-second-opinion"); !shown || !strings.Contains(text, "Quorum 2") || !strings.Contains(text, "different network") {
		t.Errorf("progress page with one volunteer: second-opinion notice shown %v, text %q; want it shown, naming quorum 2 and a different network", shown, text)
	}
	if shown, _ := hint(pg, "analysis-wait-volunteers"); shown {
		t.Error("progress page with one volunteer still says no volunteer is connected")
	}
	if got := b.get("/donate").text("donate-backlog-awaiting"); got != fmt.Sprintf("%d chunks computed once and waiting for a second opinion", total) {
		t.Errorf("/donate with one volunteer: got %q", got)
	}

	startVolunteers(t, ts.base, 1, volunteer.Config{Slots: 2})
	if s := ts.waitDone(tok, id, 60*time.Second); s.Status != store.StatusDone {
		t.Fatalf("two volunteers: got %s (%s), want done", s.Status, s.Error)
	}
	_, p = ts.progress(tok, id)
	p.check(t, "done", map[string]any{"chunks_verified": total, "chunks_total": total, "chunks_queued": 0, "chunks_running": 0, "chunks_awaiting_replica": 0,
		"volunteers_working": 0, "volunteers_connected": 0, "eta_seconds": nil, "waiting_for": ""})
	pg = b.get(pageURL)
	if got, eta := pg.text("analysis-volunteers"), pg.text("analysis-eta"); got != "0" || eta != "–" {
		t.Errorf("progress page of a finished analysis: volunteers working %q, time left %q; want 0 and –", got, eta)
	}
	for _, id := range []string{"analysis-wait-volunteers", "analysis-wait-second-opinion"} {
		if shown, _ := hint(pg, id); shown {
			t.Errorf("progress page of a finished analysis shows %s", id)
		}
	}
}

// TestBatchPageBeforeDone: a batch page follows its analyses before they
// finish, and every link to an unfinished analysis goes to its progress
// page; the portal's result URL sends there too, the API keeps its 409.
func TestBatchPageBeforeDone(t *testing.T) {
	ts := startServer(t, t.TempDir(), "127.0.0.1:0", gridConfig())
	defer ts.stop()
	hash, _ := auth.HashPassword("Quiet-Harbour-Lantern-7")
	if _, err := ts.st.CreateUser(context.Background(), store.User{Email: "clin@example.org", Role: store.RoleClinician, PasswordHash: hash}); err != nil {
		t.Fatal(err)
	}
	tok := ts.user("clin@example.org", store.RoleClinician)
	b := newBrowser(t, ts.base)
	b.login("clin@example.org", "Quiet-Harbour-Lantern-7")
	ds := ts.upload(tok, "119", nil)
	start := b.post("/analyses", url.Values{"algorithm": {"ecg.beats@1", "ecg.hrv@1"}, "dataset": {fmt.Sprint(ds)}, "priority": {"routine"}})
	batch := idFrom(t, start.location(), "/batches/")
	path := fmt.Sprintf("/batches/%d", batch)

	pg := b.get(path)
	rows := pg.doc.Find(`[data-testid="batch-analysis"]`)
	if pg.status != 200 || rows.Length() != 2 || pg.doc.Find(`[data-testid="batch-progress"]`).AttrOr("data-terminal", "") != "false" {
		t.Fatalf("batch page: %d with %d analyses, want 200 with 2 followed live", pg.status, rows.Length())
	}
	var ids []int64
	rows.Each(func(_ int, row *goquery.Selection) {
		id, _ := strconv.ParseInt(row.AttrOr("data-analysis-id", ""), 10, 64)
		ids = append(ids, id)
		if st := strings.TrimSpace(row.Find(`[data-testid="batch-analysis-status"]`).Text()); st != store.StatusRunning {
			t.Errorf("analysis %d: status %q, want running", id, st)
		}
		if href := row.Find(`[data-testid="batch-analysis-link"]`).AttrOr("href", ""); href != fmt.Sprintf("/analyses/%d", id) {
			t.Errorf("analysis %d before done links %q, want its progress page", id, href)
		}
		if row.AttrOr("data-status-url", "") != fmt.Sprintf("/api/v1/analyses/%d", id) {
			t.Errorf("analysis %d polls %q", id, row.AttrOr("data-status-url", ""))
		}
		// No volunteer yet: each row says so, and the hint says what helps.
		if st := strings.TrimSpace(row.Find(`[data-testid="batch-analysis-state"]`).Text()); st != "waiting for volunteers" {
			t.Errorf("analysis %d before any volunteer: state %q, want waiting for volunteers", id, st)
		}
	})
	if hint := pg.doc.Find(`[data-testid="analysis-wait-volunteers"]`); hint.Length() != 1 || hint.AttrOr("hidden", "none") != "none" || hint.Find(`a[href="/donate"]`).Length() == 0 {
		t.Errorf("batch page without volunteers: %d wait hints (hidden %q), want one shown", hint.Length(), hint.AttrOr("hidden", "none"))
	}
	pg.doc.Find(`[data-testid="cohort-recording"] a`).Each(func(_ int, a *goquery.Selection) {
		if strings.HasSuffix(a.AttrOr("href", ""), "/result") {
			t.Errorf("cohort column links %q before its analysis is done", a.AttrOr("href", ""))
		}
	})
	res := b.get(fmt.Sprintf("/analyses/%d/result", ids[0]))
	if res.status != 303 || res.location() != fmt.Sprintf("/analyses/%d", ids[0]) {
		t.Errorf("portal result before done: got %d to %q, want 303 to the progress page", res.status, res.location())
	}
	if code, body := ts.do("GET", fmt.Sprintf("/api/v1/analyses/%d/result", ids[0]), tok, nil, ""); code != 409 || !strings.Contains(string(body), `"error"`) {
		t.Errorf("API result before done: got %d %s, want a 409 JSON error", code, body)
	}

	startVolunteers(t, ts.base, 2, volunteer.Config{Slots: 2})
	for _, id := range ids {
		ts.waitDone(tok, id, 90*time.Second)
	}
	pg = b.get(path)
	if pg.doc.Find(`[data-testid="batch-progress"]`).AttrOr("data-terminal", "") != "true" {
		t.Error("batch page after every analysis finished still polls")
	}
	pg.doc.Find(`[data-testid="batch-analysis"]`).Each(func(_ int, row *goquery.Selection) {
		id := row.AttrOr("data-analysis-id", "")
		if href := row.Find(`[data-testid="batch-analysis-link"]`).AttrOr("href", ""); href != "/analyses/"+id+"/result" {
			t.Errorf("analysis %s done links %q, want its result", id, href)
		}
	})
	if res := b.get(fmt.Sprintf("/analyses/%d/result", ids[0])); res.status != 200 {
		t.Errorf("portal result when done: got %d, want 200", res.status)
	}
	// Downloads are named after the recording (its neutral dataset name:
	// the file stem may identify a patient); the beats CSV leaves the
	// first beat's rr and hr empty (there is no interval before it).
	atr := b.get(fmt.Sprintf("/analyses/%d/download?format=wfdb", ids[0]))
	named := regexp.MustCompile(`^attachment; filename="Recording_\d{4}-\d\d-\d\d__\d+`)
	if cd := atr.header.Get("Content-Disposition"); atr.status != 200 || !named.MatchString(cd) || !strings.HasSuffix(cd, `.atr"`) {
		t.Errorf("WFDB download: got %d %q, want named after the recording", atr.status, cd)
	}
	csv := b.get(fmt.Sprintf("/analyses/%d/download?format=csv", ids[0]))
	lines := strings.SplitN(string(csv.body), "\n", 4)
	if cd := csv.header.Get("Content-Disposition"); !named.MatchString(cd) || !strings.HasSuffix(cd, fmt.Sprintf(`-analysis-%d.csv"`, ids[0])) {
		t.Errorf("CSV download named %q", cd)
	}
	if len(lines) < 3 || lines[0] != "sample,time_s,rr_s,hr_bpm" || !strings.HasSuffix(lines[1], ",,") || strings.HasSuffix(lines[2], ",,") {
		t.Errorf("beats CSV starts %q, want the first beat with empty rr and hr, the second with both", lines[:min(len(lines), 3)])
	}
}
