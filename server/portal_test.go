package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pulsegrid/pulsegrid/algorithms/catalog"
	"github.com/pulsegrid/pulsegrid/server"
	"github.com/pulsegrid/pulsegrid/server/auth"
	"github.com/pulsegrid/pulsegrid/server/grid"
	"github.com/pulsegrid/pulsegrid/server/store"
)

// portalServer is the real server with two trusted local workers, so that
// analyses finish without remote volunteers.
type portalServer struct {
	base string
	st   *store.SQLite
	// log is what the server logged (startAccounts: at debug level).
	log *syncLog
}

// syncLog is a buffer the server's logger writes to from its goroutines.
type syncLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func startPortal(t *testing.T) *portalServer {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.OpenSQLite(ctx, filepath.Join(dir, "pulsegrid.db"))
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	g := grid.New(st, catalog.All(), grid.Config{Metrics: reg})
	if err := g.StartLocalWorkers(2); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := server.NewServer(server.Deps{Store: st, Grid: g, Registry: catalog.All(), Gatherer: reg, Portal: server.PortalConfig{DataDir: dir}})
	base := serveUntilCleanup(t, ln, h, func() { g.Close() }, func() { st.Close() })
	ps := &portalServer{base: base, st: st}
	waitHealthy(t, ps.base)
	return ps
}

// addUser creates an account directly in the store.
func (ps *portalServer) addUser(t *testing.T, email, role, password string, mustChange bool) store.User {
	t.Helper()
	hash, err := auth.HashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	u, err := ps.st.CreateUser(context.Background(), store.User{Email: email, Role: role, PasswordHash: hash, MustChange: mustChange})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// browser is a cookie jar and a client that does not follow redirects, so
// that each answer can be checked.
type browser struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newBrowser(t *testing.T, base string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: base, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type page struct {
	status int
	header http.Header
	body   []byte
	doc    *goquery.Document
}

func (p page) location() string { return p.header.Get("Location") }

func (p page) text(testid string) string {
	return strings.TrimSpace(p.doc.Find(`[data-testid="` + testid + `"]`).First().Text())
}

func (p page) count(testid string) int { return p.doc.Find(`[data-testid="` + testid + `"]`).Length() }

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	doc, _ := goquery.NewDocumentFromReader(bytes.NewReader(body))
	return page{status: resp.StatusCode, header: resp.Header, body: body, doc: doc}
}

func (b *browser) get(path string) page {
	b.t.Helper()
	req, _ := http.NewRequest("GET", b.base+path, nil)
	req.Header.Set("Accept", "text/html")
	return b.do(req)
}

// follow gets path and follows redirects (at most 5).
func (b *browser) follow(path string) page {
	b.t.Helper()
	for range 5 {
		p := b.get(path)
		if p.status != http.StatusSeeOther && p.status != http.StatusFound {
			return p
		}
		path = p.location()
	}
	b.t.Fatalf("too many redirects from %s", path)
	return page{}
}

func (b *browser) post(path string, form url.Values) page {
	b.t.Helper()
	req, _ := http.NewRequest("POST", b.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "text/html")
	return b.do(req)
}

func (b *browser) login(email, password string) page {
	b.t.Helper()
	return b.post("/login", url.Values{"email": {email}, "password": {password}})
}

// loginFresh signs in with a one-time password and chooses a new one.
func (b *browser) loginFresh(email, otp, newPassword string) {
	b.t.Helper()
	p := b.login(email, otp)
	if p.status != http.StatusSeeOther || p.location() != "/account/password" {
		b.t.Fatalf("login of %s with its one-time password: got %d to %q, want 303 to /account/password", email, p.status, p.location())
	}
	if p := b.get("/datasets"); p.location() != "/account/password" {
		b.t.Fatalf("before changing the password /datasets answered %d to %q, want a redirect to /account/password", p.status, p.location())
	}
	if p := b.get("/account/password"); p.count("password-forced") != 1 {
		b.t.Fatalf("forced password page lacks password-forced: %d", p.status)
	}
	if p := b.post("/account/password", url.Values{"password": {otp}, "confirm": {otp}}); p.status != http.StatusUnprocessableEntity {
		b.t.Fatalf("keeping the one-time password: got %d, want 422", p.status)
	}
	p = b.post("/account/password", url.Values{"password": {newPassword}, "confirm": {newPassword}})
	if p.status != http.StatusSeeOther {
		b.t.Fatalf("password change: got %d (%s)", p.status, p.text("password-error"))
	}
}

func (b *browser) apiGet(path string) (int, []byte) {
	b.t.Helper()
	p := b.get(path)
	return p.status, p.body
}

// uploadRecord posts a WFDB record's files as the upload form does.
func (b *browser) uploadRecord(record string, exts []string, accept string) page {
	b.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, ext := range exts {
		fw, _ := mw.CreateFormFile("files", record+ext)
		data, err := os.ReadFile(mitdb + record + ext)
		if err != nil {
			b.t.Fatal(err)
		}
		fw.Write(data)
	}
	mw.WriteField("template", "ecg")
	mw.Close()
	req, _ := http.NewRequest("POST", b.base+"/datasets/upload", &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Accept", accept)
	return b.do(req)
}

func idFrom(t *testing.T, loc, prefix string) int64 {
	t.Helper()
	id, err := strconv.ParseInt(strings.TrimPrefix(loc, prefix), 10, 64)
	if err != nil || !strings.HasPrefix(loc, prefix) {
		t.Fatalf("redirect to %q, want %sN", loc, prefix)
	}
	return id
}

func TestPortal(t *testing.T) {
	ps := startPortal(t)
	const adminPW, aPW, bPW = "admin-first-password", "clinician-a-password", "clinician-b-password"
	ps.addUser(t, "admin@example.org", store.RoleAdmin, "one-time-admin", true)

	admin := newBrowser(t, ps.base)
	t.Run("RootRedirectsToLogin", func(t *testing.T) {
		if p := admin.get("/"); p.location() != "/login" {
			t.Fatalf("GET / anonymous: got %d to %q, want /login", p.status, p.location())
		}
		p := admin.get("/login")
		if p.count("login-email") != 1 || p.count("login-password") != 1 || p.count("login-submit") != 1 {
			t.Fatal("login form lacks its fields")
		}
		if csp := p.header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self' 'wasm-unsafe-eval'") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Fatalf("CSP = %q", csp)
		}
	})
	t.Run("WrongPassword", func(t *testing.T) {
		p := admin.login("admin@example.org", "not-the-password")
		if p.status != http.StatusUnauthorized || !strings.Contains(p.text("login-error"), "Wrong email or password") {
			t.Fatalf("got %d %q, want 401 and the wrong-password message", p.status, p.text("login-error"))
		}
	})
	t.Run("ForcedPasswordChange", func(t *testing.T) {
		admin.loginFresh("admin@example.org", "one-time-admin", adminPW)
		if p := admin.get("/datasets"); !strings.Contains(p.text("flash"), "password was changed") {
			t.Fatalf("flash after the change = %q", p.text("flash"))
		}
		if p := admin.get("/datasets"); p.count("flash") != 0 {
			t.Fatalf("the flash is shown again: %q", p.text("flash"))
		}
		if p := admin.get("/"); p.location() != "/datasets" {
			t.Fatalf("GET / signed in: got %q, want /datasets", p.location())
		}
	})

	// The admin creates both clinicians; each receives a one-time password.
	otps := map[string]string{}
	t.Run("AdminCreatesAccounts", func(t *testing.T) {
		for _, email := range []string{"a@example.org", "b@example.org"} {
			p := admin.post("/admin/users", url.Values{"email": {email}, "role": {"clinician"}})
			otp := p.text("user-onetime-password")
			if p.status != 200 || otp == "" {
				t.Fatalf("create %s: got %d, one-time password %q", email, p.status, otp)
			}
			otps[email] = otp
		}
		if p := admin.get("/admin/users"); p.count("user-row") != 3 {
			t.Fatalf("users page lists %d rows, want 3", p.count("user-row"))
		}
	})
	a, b := newBrowser(t, ps.base), newBrowser(t, ps.base)
	a.loginFresh("a@example.org", otps["a@example.org"], aPW)
	b.loginFresh("b@example.org", otps["b@example.org"], bPW)

	t.Run("ClinicianIsNotAdmin", func(t *testing.T) {
		if p := a.get("/admin/users"); p.status != http.StatusNotFound {
			t.Fatalf("clinician GET /admin/users: got %d, want 404", p.status)
		}
	})

	var dsID int64
	t.Run("UploadRejectedListsProblems", func(t *testing.T) {
		p := a.uploadRecord("100", []string{".dat"}, "application/json")
		var body struct {
			Error    string
			Problems []struct{ File, Message string }
		}
		json.Unmarshal(p.body, &body)
		if p.status != http.StatusUnprocessableEntity || len(body.Problems) == 0 {
			t.Fatalf("upload of a lone .dat: got %d %s, want 422 with problems", p.status, p.body)
		}
		if p := a.get("/datasets"); p.count("dataset-row") != 0 {
			t.Fatalf("a rejected upload left %d datasets", p.count("dataset-row"))
		}
	})
	t.Run("Upload", func(t *testing.T) {
		p := a.uploadRecord("100", []string{".hea", ".dat", ".atr"}, "application/json")
		var body struct {
			ID  int64
			URL string
		}
		if err := json.Unmarshal(p.body, &body); err != nil || p.status != http.StatusCreated || body.ID == 0 || body.URL != fmt.Sprintf("/datasets/%d", body.ID) {
			t.Fatalf("upload: got %d %s", p.status, p.body)
		}
		dsID = body.ID
		list := a.get("/datasets?q=Recording&sort=name") // datasets are named neutrally (server/naming.go)
		if list.count("dataset-row") != 1 {
			t.Fatalf("datasets list has %d rows, want 1", list.count("dataset-row"))
		}
		if list := a.get("/datasets?q=nomatch"); list.count("dataset-row") != 0 {
			t.Fatalf("search for nomatch lists %d rows", list.count("dataset-row"))
		}
		d := a.get(fmt.Sprintf("/datasets/%d", dsID))
		if d.status != 200 || d.count("channel-row") != 2 || d.count("channel-preview") != 2 {
			t.Fatalf("dataset page: %d, %d channel rows", d.status, d.count("channel-row"))
		}
		if !strings.Contains(d.text("dataset-annotations"), "2273") {
			t.Fatalf("dataset-annotations = %q, want the 2273 reference beats of record 100", d.text("dataset-annotations"))
		}
	})

	var beatsID, hrvID int64
	t.Run("StartBatch", func(t *testing.T) {
		if p := a.get(fmt.Sprintf("/analyses/new?dataset=%d", dsID)); p.count("analysis-start") != 1 {
			t.Fatal("new analysis form lacks analysis-start")
		}
		p := a.post("/analyses", url.Values{"algorithm": {"ecg.beats@1", "ecg.hrv@1"}, "dataset": {strconv.FormatInt(dsID, 10)}, "priority": {"urgent"}, "params": {""}})
		batch := idFrom(t, p.location(), "/batches/")
		as, err := ps.st.BatchAnalyses(context.Background(), batch)
		if err != nil || len(as) != 2 {
			t.Fatalf("batch %d has %d analyses (%v), want 2", batch, len(as), err)
		}
		for _, an := range as {
			switch an.Algorithm {
			case "ecg.beats@1":
				beatsID = an.ID
			case "ecg.hrv@1":
				hrvID = an.ID
			}
		}
		pr := a.get(fmt.Sprintf("/analyses/%d", beatsID))
		if pr.count("analysis-status") != 1 || pr.count("analysis-progress") != 1 {
			t.Fatalf("progress page: %d, lacks analysis-status or analysis-progress", pr.status)
		}
		// progress.js polls the API with the session cookie.
		for _, id := range []int64{beatsID, hrvID} {
			deadline := time.Now().Add(40 * time.Second)
			for {
				code, body := a.apiGet(fmt.Sprintf("/api/v1/analyses/%d", id))
				var s struct{ Status, Error string }
				json.Unmarshal(body, &s)
				if code != 200 {
					t.Fatalf("API status with the session cookie: %d %s", code, body)
				}
				if s.Status == "done" {
					break
				}
				if s.Status == "failed" || time.Now().After(deadline) {
					t.Fatalf("analysis %d: %s %s", id, s.Status, s.Error)
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
		if p := a.get(fmt.Sprintf("/analyses/%d", beatsID)); p.text("analysis-status") != "done" {
			t.Fatalf("analysis-status = %q, want done", p.text("analysis-status"))
		}
		// A section per algorithm, each with the one recording.
		if p := a.get(fmt.Sprintf("/batches/%d", batch)); p.status != 200 || p.count("cohort-section") != 2 || p.count("cohort-recording") != 2 {
			t.Fatalf("cohort page: %d, %d sections, %d recordings; want 2 sections of 1", p.status, p.count("cohort-section"), p.count("cohort-recording"))
		}
	})

	t.Run("Results", func(t *testing.T) {
		p := a.get(fmt.Sprintf("/analyses/%d/result", beatsID))
		n, _ := strconv.Atoi(p.text("result-beats-count"))
		if p.status != 200 || n < 2200 || n > 2350 {
			t.Fatalf("result-beats-count = %q (status %d), want about 2273", p.text("result-beats-count"), p.status)
		}
		if p.count("result-sensitivity") != 1 || p.count("strip") != 1 || p.count("chart-poincare") != 1 {
			t.Fatal("beats result lacks the bxb score, the strip or the Poincaré plot")
		}
		if se := strings.TrimSuffix(p.text("result-sensitivity"), " %"); se == "" {
			t.Fatal("empty sensitivity")
		}
		s := a.get(fmt.Sprintf("/analyses/%d/strip?from=60&to=70", beatsID))
		if s.status != 200 || !bytes.Contains(s.body, []byte("<svg")) {
			t.Fatalf("strip fragment: %d %.200s", s.status, s.body)
		}
		h := a.get(fmt.Sprintf("/analyses/%d/result", hrvID))
		if h.count("result-hrv-table") != 1 || h.count("hrv-row") < 5 {
			t.Fatalf("HRV result: %d, %d hrv rows", h.status, h.count("hrv-row"))
		}
		href, _ := p.doc.Find(`[data-testid="download-csv"]`).Attr("href")
		csv := a.get(href)
		if csv.status != 200 || !strings.HasPrefix(csv.header.Get("Content-Type"), "text/csv") || !bytes.HasPrefix(csv.body, []byte("sample,time_s")) {
			t.Fatalf("CSV download %s: %d %q %.60s", href, csv.status, csv.header.Get("Content-Type"), csv.body)
		}
		if lines := bytes.Count(csv.body, []byte("\n")); lines != n+1 {
			t.Fatalf("CSV has %d lines, want %d beats + header", lines, n)
		}
	})

	t.Run("CrossOriginPostRejected", func(t *testing.T) {
		req, _ := http.NewRequest("POST", ps.base+fmt.Sprintf("/analyses/%d/delete", beatsID), nil)
		req.Header.Set("Origin", "http://evil.example")
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		if p := a.do(req); p.status != http.StatusForbidden {
			t.Fatalf("cross-origin POST: got %d, want 403", p.status)
		}
		if _, err := ps.st.Analysis(context.Background(), beatsID); err != nil {
			t.Fatalf("the analysis is gone after a refused cross-origin POST: %v", err)
		}
	})

	t.Run("OtherClinicianGets404", func(t *testing.T) {
		for _, path := range []string{
			fmt.Sprintf("/datasets/%d", dsID), fmt.Sprintf("/analyses/%d", beatsID), fmt.Sprintf("/analyses/%d/result", beatsID),
			fmt.Sprintf("/analyses/%d/strip", beatsID), fmt.Sprintf("/analyses/%d/download?format=csv", beatsID),
			fmt.Sprintf("/api/v1/datasets/%d", dsID), fmt.Sprintf("/api/v1/analyses/%d", beatsID), fmt.Sprintf("/api/v1/analyses/%d/result?format=csv", beatsID),
		} {
			if p := b.get(path); p.status != http.StatusNotFound {
				t.Errorf("B GET %s: got %d, want 404", path, p.status)
			}
		}
		if p := b.post(fmt.Sprintf("/datasets/%d/delete", dsID), url.Values{"confirm": {"yes"}}); p.status != http.StatusNotFound {
			t.Errorf("B deletes A's dataset: got %d, want 404", p.status)
		}
		if p := b.get("/datasets"); p.count("dataset-row") != 0 {
			t.Errorf("B's dataset list shows %d rows", p.count("dataset-row"))
		}
		// And with an API token B created in the portal.
		p := b.post("/account/tokens", url.Values{"name": {"script"}})
		tok := p.text("token-secret")
		if !strings.HasPrefix(tok, auth.TokenPrefix) {
			t.Fatalf("token page shows %q", tok)
		}
		req, _ := http.NewRequest("GET", ps.base+fmt.Sprintf("/api/v1/datasets/%d", dsID), nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		if resp := newBrowser(t, ps.base).do(req); resp.status != http.StatusNotFound {
			t.Errorf("B's token on A's dataset: got %d, want 404", resp.status)
		}
		tp := b.get("/account/tokens")
		if tp.count("token-row") != 1 || tp.count("token-secret") != 0 {
			t.Errorf("tokens page: %d rows, secret shown again: %v", tp.count("token-row"), tp.count("token-secret") != 0)
		}
		// Revoked, the token stops working at once.
		tokID, _ := tp.doc.Find(`[data-testid="token-row"]`).Attr("data-id")
		if a.post("/account/tokens/"+tokID+"/revoke", nil).status != http.StatusNotFound {
			t.Error("A could revoke B's token")
		}
		if p := b.post("/account/tokens/"+tokID+"/revoke", nil); p.status != http.StatusSeeOther {
			t.Fatalf("revoke: got %d", p.status)
		}
		req, _ = http.NewRequest("GET", ps.base+"/api/v1/me", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		if resp := newBrowser(t, ps.base).do(req); resp.status != http.StatusUnauthorized {
			t.Errorf("revoked token: got %d, want 401", resp.status)
		}
	})

	t.Run("AdminSeesEverything", func(t *testing.T) {
		if p := admin.get(fmt.Sprintf("/datasets/%d", dsID)); p.status != 200 {
			t.Fatalf("admin GET A's dataset: %d", p.status)
		}
		if p := admin.get(fmt.Sprintf("/analyses/%d/result", beatsID)); p.status != 200 {
			t.Fatalf("admin GET A's result: %d", p.status)
		}
		if p := admin.get("/admin/grid"); p.status != 200 || p.text("grid-volunteers") != "2" {
			t.Fatalf("grid page: %d, volunteers %q, want the 2 local workers", p.status, p.text("grid-volunteers"))
		}
	})

	t.Run("DeleteDataset", func(t *testing.T) {
		if p := a.post(fmt.Sprintf("/datasets/%d/delete", dsID), nil); p.status != http.StatusUnprocessableEntity {
			t.Fatalf("delete without confirmation: got %d, want 422", p.status)
		}
		if p := a.post(fmt.Sprintf("/datasets/%d/delete", dsID), url.Values{"confirm": {"yes"}}); p.status != http.StatusSeeOther {
			t.Fatalf("delete: got %d", p.status)
		}
		if _, err := ps.st.Analysis(context.Background(), beatsID); err == nil {
			t.Fatal("the analysis outlived its dataset")
		}
		if p := a.get(fmt.Sprintf("/datasets/%d", dsID)); p.status != http.StatusNotFound {
			t.Fatalf("deleted dataset: got %d", p.status)
		}
	})

	t.Run("Audit", func(t *testing.T) {
		p := admin.get("/admin/audit")
		got := p.doc.Find(`[data-testid="audit-row"]`).Text()
		for _, want := range []string{"dataset.upload", "dataset.view", "analysis.start", "analysis.view", "analysis.export", "analysis.strip", "dataset.delete", "user.create", "login"} {
			if !strings.Contains(got, want) {
				t.Errorf("audit log lacks %s", want)
			}
		}
		if q := admin.get("/admin/audit?q=export"); q.count("audit-row") == 0 || strings.Contains(q.doc.Find(`[data-testid="audit-row"]`).Text(), "dataset.delete") {
			t.Errorf("audit search for export: %d rows", q.count("audit-row"))
		}
	})

	t.Run("LogoutKillsSession", func(t *testing.T) {
		u, _ := url.Parse(ps.base)
		old := a.c.Jar.Cookies(u)
		if p := a.post("/logout", nil); p.location() != "/login" {
			t.Fatalf("logout: %d to %q", p.status, p.location())
		}
		replay := newBrowser(t, ps.base)
		replay.c.Jar.SetCookies(u, old)
		if p := replay.get("/datasets"); p.status != http.StatusSeeOther || !strings.HasPrefix(p.location(), "/login") {
			t.Fatalf("the old session cookie still works: %d %q", p.status, p.location())
		}
		if code, _ := replay.apiGet("/api/v1/me"); code != http.StatusUnauthorized {
			t.Fatalf("old cookie on the API: got %d, want 401", code)
		}
	})

	t.Run("DisabledAccountIsSignedOut", func(t *testing.T) {
		bu, _ := ps.st.UserByEmail(context.Background(), "b@example.org")
		if p := admin.post(fmt.Sprintf("/admin/users/%d/disable", bu.ID), nil); p.status != http.StatusSeeOther {
			t.Fatalf("disable: %d", p.status)
		}
		if p := b.get("/datasets"); p.status != http.StatusSeeOther {
			t.Fatalf("disabled account still signed in: %d", p.status)
		}
		if p := b.login("b@example.org", bPW); p.status != http.StatusForbidden {
			t.Fatalf("disabled login: got %d, want 403", p.status)
		}
	})
}

func TestPortalLoginThrottle(t *testing.T) {
	ps := startPortal(t)
	ps.addUser(t, "c@example.org", store.RoleClinician, "the-right-password", false)
	br := newBrowser(t, ps.base)
	for i := range 5 {
		if p := br.login("c@example.org", fmt.Sprintf("wrong-%d", i)); p.status != http.StatusUnauthorized {
			t.Fatalf("attempt %d: got %d, want 401", i+1, p.status)
		}
	}
	p := br.login("c@example.org", "the-right-password")
	if p.status != http.StatusTooManyRequests || p.header.Get("Retry-After") == "" {
		t.Fatalf("6th attempt after 5 failures: got %d, want 429 with Retry-After", p.status)
	}
	if !strings.Contains(p.text("login-error"), "Too many failed attempts") {
		t.Fatalf("login-error = %q", p.text("login-error"))
	}
	// The account's lock does not lock others at the same address.
	ps.addUser(t, "d@example.org", store.RoleClinician, "the-other-password", false)
	if p := newBrowser(t, ps.base).login("d@example.org", "the-other-password"); p.status != http.StatusSeeOther {
		t.Fatalf("another account from the same address: got %d, want 303", p.status)
	}
	// The lock is a delay, not a ban: after it the right password works.
	time.Sleep(1100 * time.Millisecond)
	if p := br.login("c@example.org", "the-right-password"); p.status != http.StatusSeeOther {
		t.Fatalf("after the delay: got %d, want 303", p.status)
	}
	// Guessing across many accounts from one address locks the address
	// (20 failures: 5 above, 15 here).
	for i := range 15 {
		if p := br.login(fmt.Sprintf("nobody%d@example.org", i), "guess"); p.status != http.StatusUnauthorized {
			t.Fatalf("spray %d: got %d, want 401", i, p.status)
		}
	}
	if p := br.login("d@example.org", "the-other-password"); p.status != http.StatusTooManyRequests {
		t.Fatalf("after 20 failures from the address: got %d, want 429", p.status)
	}
}
