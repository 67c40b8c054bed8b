package server_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pulsegrid/pulsegrid/algorithms/catalog"
	"github.com/pulsegrid/pulsegrid/algorithms/signal"
	"github.com/pulsegrid/pulsegrid/server"
	"github.com/pulsegrid/pulsegrid/server/auth"
	"github.com/pulsegrid/pulsegrid/server/grid"
	"github.com/pulsegrid/pulsegrid/server/store"
)

// startAccounts is the real server (no local workers) with limits.
func startAccounts(t *testing.T, limits server.Limits) *portalServer {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.OpenSQLite(ctx, filepath.Join(dir, "pulsegrid.db"))
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	g := grid.New(st, catalog.All(), grid.Config{Metrics: reg})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncLog{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h := server.NewServer(server.Deps{Store: st, Grid: g, Registry: catalog.All(), Gatherer: reg, Portal: server.PortalConfig{DataDir: dir}, Limits: limits, Logger: logger})
	base := serveUntilCleanup(t, ln, h, func() { g.Close() }, func() { st.Close() })
	ps := &portalServer{base: base, st: st, log: logs}
	waitHealthy(t, ps.base)
	return ps
}

// newBrowserFrom is a browser whose connections come from the loopback
// address from (127.0.0.0/8 is all loopback on Linux), so that tests can
// play several clients.
func newBrowserFrom(t *testing.T, base, from string) *browser {
	b := newBrowser(t, base)
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
	b.c.Transport = &http.Transport{DialContext: d.DialContext}
	return b
}

// token gives u a new API token.
func (ps *portalServer) token(t *testing.T, u store.User) string {
	t.Helper()
	tok, hash, err := auth.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	if err := ps.st.CreateToken(context.Background(), u.ID, hash, "test"); err != nil {
		t.Fatal(err)
	}
	return tok
}

// apiStatus is the status of GET path with a bearer token.
func apiStatus(t *testing.T, base, path, tok string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", base+path, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// signedIn reports whether the browser's session still opens /datasets.
func (b *browser) signedIn() bool {
	b.t.Helper()
	return b.get("/datasets").status == http.StatusOK
}

func (ps *portalServer) audit(t *testing.T, f store.AuditFilter) []store.AuditRecord {
	t.Helper()
	es, err := ps.st.AuditFind(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// TestAccountsReallyClose: disable, enable, reset and a password change
// end every session and every API token of the account.
func TestAccountsReallyClose(t *testing.T) {
	ps := startAccounts(t, server.Limits{})
	const adminPW, pw = "granite-orchard-lantern", "Correct-Horse-Battery-42"
	ps.addUser(t, "root@example.org", store.RoleAdmin, adminPW, false)
	admin := newBrowser(t, ps.base)
	if p := admin.login("root@example.org", adminPW); p.status != http.StatusSeeOther {
		t.Fatalf("admin login: %d", p.status)
	}
	for _, action := range []string{"disable", "enable", "reset"} {
		t.Run(action, func(t *testing.T) {
			email := action + "@example.org"
			u := ps.addUser(t, email, store.RoleClinician, pw, false)
			tok := ps.token(t, u)
			b := newBrowser(t, ps.base)
			if p := b.login(email, pw); p.status != http.StatusSeeOther {
				t.Fatalf("login: %d", p.status)
			}
			if !b.signedIn() || apiStatus(t, ps.base, "/api/v1/me", tok) != http.StatusOK {
				t.Fatal("the session or the token does not work before")
			}
			if action == "enable" {
				// Enable after a disable: what the disable ended stays ended.
				if p := admin.post(fmt.Sprintf("/admin/users/%d/disable", u.ID), nil); p.status != http.StatusSeeOther {
					t.Fatalf("disable: %d", p.status)
				}
			}
			p := admin.post(fmt.Sprintf("/admin/users/%d/%s", u.ID, action), nil)
			if p.status != http.StatusSeeOther && p.status != http.StatusOK {
				t.Fatalf("%s: %d", action, p.status)
			}
			if b.signedIn() {
				t.Errorf("the old session still works after %s", action)
			}
			if code := apiStatus(t, ps.base, "/api/v1/me", tok); code != http.StatusUnauthorized {
				t.Errorf("the old token answers %d after %s, want 401", code, action)
			}
			if action == "enable" {
				if p := newBrowser(t, ps.base).login(email, pw); p.status != http.StatusSeeOther {
					t.Errorf("a fresh login after enable: %d", p.status)
				}
			}
			if action == "reset" {
				otp := p.text("user-onetime-password")
				if len(otp) < 12 {
					t.Fatalf("reset showed no one-time password: %q", otp)
				}
				if strings.Contains(ps.log.String(), otp) {
					t.Error("the one-time password reached the server's log")
				}
				for _, e := range ps.audit(t, store.AuditFilter{}) {
					if strings.Contains(e.Detail+e.Object, otp) {
						t.Errorf("the one-time password is in the audit log: %+v", e)
					}
				}
				// It signs in once and then must be changed.
				if p := newBrowser(t, ps.base).login(email, otp); p.status != http.StatusSeeOther || p.location() != "/account/password" {
					t.Errorf("login with the one-time password: %d to %q, want 303 to /account/password", p.status, p.location())
				}
				if strings.Contains(ps.log.String(), otp) {
					t.Error("the one-time password reached the server's log at its login")
				}
				got, _ := ps.st.User(context.Background(), u.ID)
				if left := time.Until(got.PasswordExpires); !got.MustChange || left < 23*time.Hour || left > 24*time.Hour+time.Minute {
					t.Errorf("reset's one-time password: must change %v, expires in %s, want 24 h", got.MustChange, left)
				}
			}
		})
	}
	t.Run("PasswordChange", func(t *testing.T) {
		u := ps.addUser(t, "change@example.org", store.RoleClinician, pw, false)
		tok := ps.token(t, u)
		here, other := newBrowser(t, ps.base), newBrowser(t, ps.base)
		here.login("change@example.org", pw)
		other.login("change@example.org", pw)
		const newPW = "tram lantern quietly orbit"
		p := here.post("/account/password", url.Values{"current": {pw}, "password": {newPW}, "confirm": {newPW}})
		if p.status != http.StatusSeeOther {
			t.Fatalf("password change: %d %s", p.status, p.text("password-error"))
		}
		if !here.signedIn() {
			t.Error("the session that changed the password was signed out")
		}
		if other.signedIn() {
			t.Error("another session survived the password change")
		}
		if code := apiStatus(t, ps.base, "/api/v1/me", tok); code != http.StatusUnauthorized {
			t.Errorf("the token answers %d after a password change, want 401", code)
		}
	})
}

// TestLoginRenewsSession: the session token changes at login and the one
// before stops working (no session fixation).
func TestLoginRenewsSession(t *testing.T) {
	ps := startAccounts(t, server.Limits{})
	const pw = "granite-orchard-lantern"
	ps.addUser(t, "c@example.org", store.RoleClinician, pw, false)
	b := newBrowser(t, ps.base)
	b.login("c@example.org", pw)
	u, _ := url.Parse(ps.base)
	cookie := func() string {
		for _, c := range b.c.Jar.Cookies(u) {
			if c.Name == "pulsegrid_session" {
				return c.Value
			}
		}
		return ""
	}
	before := cookie()
	if before == "" {
		t.Fatal("no session cookie after login")
	}
	if p := b.login("c@example.org", pw); p.status != http.StatusSeeOther {
		t.Fatalf("second login: %d", p.status)
	}
	after := cookie()
	if after == before {
		t.Fatal("the session token did not change at login")
	}
	// The pre-login token, planted in another browser, is not signed in.
	planted := newBrowser(t, ps.base)
	planted.c.Jar, _ = cookiejar.New(nil)
	planted.c.Jar.SetCookies(u, []*http.Cookie{{Name: "pulsegrid_session", Value: before}})
	if planted.signedIn() {
		t.Fatal("the session token from before the login still signs in")
	}
}

// TestLoginNextStaysOnSite: the login form and the sign-in itself send
// the browser only to a path of this site, whatever next= says.
func TestLoginNextStaysOnSite(t *testing.T) {
	ps := startAccounts(t, server.Limits{})
	const pw = "granite-orchard-lantern"
	ps.addUser(t, "c@example.org", store.RoleClinician, pw, false)
	for _, tc := range []struct{ next, want string }{
		{"/%09/evil.example/x", "/"},
		{"//evil.example/", "/"},
		{"/\\evil.example", "/"},
		{"https://evil.example/", "/"},
		{"/datasets?q=a", "/datasets?q=a"},
	} {
		t.Run(tc.next, func(t *testing.T) {
			b := newBrowser(t, ps.base)
			if p := b.get("/login?next=" + url.QueryEscape(tc.next)); p.status != http.StatusOK || strings.Contains(string(p.body), "evil.example") {
				t.Errorf("the login form for next=%q: %d, carries the host: %v", tc.next, p.status, strings.Contains(string(p.body), "evil.example"))
			}
			p := b.post("/login", url.Values{"email": {"c@example.org"}, "password": {pw}, "next": {tc.next}})
			if p.status != http.StatusSeeOther || p.location() != tc.want {
				t.Errorf("sign-in with next=%q: %d to %q, want 303 to %q", tc.next, p.status, p.location(), tc.want)
			}
			// Signed in already, the form redirects at once.
			if p := b.get("/login?next=" + url.QueryEscape(tc.next)); p.location() != tc.want {
				t.Errorf("signed in, /login?next=%q goes to %q, want %q", tc.next, p.location(), tc.want)
			}
		})
	}
}

// TestLoginThrottleSparesTheVictim: guesses from rotating addresses do not
// lock the account's owner out; one address guessing gets 429.
func TestLoginThrottleSparesTheVictim(t *testing.T) {
	ps := startAccounts(t, server.Limits{})
	const pw = "granite-orchard-lantern"
	ps.addUser(t, "victim@example.org", store.RoleClinician, pw, false)
	for i := range 8 {
		b := newBrowserFrom(t, ps.base, fmt.Sprintf("127.0.0.%d", 10+i))
		if p := b.login("victim@example.org", "wrong-guess"); p.status != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d, want 401", i, p.status)
		}
	}
	victim := newBrowserFrom(t, ps.base, "127.0.0.2")
	if p := victim.login("victim@example.org", pw); p.status != http.StatusSeeOther {
		t.Fatalf("the owner after 8 guesses from 8 addresses: %d, want 303", p.status)
	}
	attacker := newBrowserFrom(t, ps.base, "127.0.0.3")
	for i := range 5 {
		if p := attacker.login("victim@example.org", "wrong-guess"); p.status != http.StatusUnauthorized {
			t.Fatalf("attacker's guess %d: %d", i, p.status)
		}
	}
	p := attacker.login("victim@example.org", "wrong-guess")
	if p.status != http.StatusTooManyRequests || p.header.Get("Retry-After") == "" {
		t.Fatalf("6th guess from one address: %d (Retry-After %q), want 429 with Retry-After", p.status, p.header.Get("Retry-After"))
	}
	// Even the right password waits at that address...
	if p := attacker.login("victim@example.org", pw); p.status != http.StatusTooManyRequests {
		t.Fatalf("right password from the guessing address: %d, want 429", p.status)
	}
	// ...but not at the owner's.
	if p := newBrowserFrom(t, ps.base, "127.0.0.2").login("victim@example.org", pw); p.status != http.StatusSeeOther {
		t.Fatalf("the owner while the attacker waits: %d, want 303", p.status)
	}
	es := ps.audit(t, store.AuditFilter{Action: "login.throttled"})
	if len(es) < 2 || es[0].Address != "127.0.0.3" || es[0].Outcome != store.OutcomeThrottled || es[0].Actor != "victim@example.org" {
		t.Fatalf("throttled attempts in the audit log: %+v", es)
	}
}

// TestPasswordHashingIsBounded: more logins at once than hashing slots
// get 429 with Retry-After at once rather than a queue.
func TestPasswordHashingIsBounded(t *testing.T) {
	ps := startAccounts(t, server.Limits{})
	auth.SetHashConcurrency(1, 0)
	defer auth.SetHashConcurrency(runtime.NumCPU(), 250*time.Millisecond)
	ps.addUser(t, "c@example.org", store.RoleClinician, "granite-orchard-lantern", false)
	var wg sync.WaitGroup
	var mu sync.Mutex
	counts := map[int]int{}
	retry := true
	start := make(chan struct{})
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := newBrowserFrom(t, ps.base, fmt.Sprintf("127.0.1.%d", i+1))
			<-start
			p := b.login("c@example.org", "wrong-password-guess")
			mu.Lock()
			defer mu.Unlock()
			counts[p.status]++
			if p.status == http.StatusTooManyRequests && p.header.Get("Retry-After") == "" {
				retry = false
			}
		}()
	}
	close(start)
	wg.Wait()
	if counts[http.StatusTooManyRequests] == 0 || counts[http.StatusUnauthorized] == 0 || counts[http.StatusUnauthorized]+counts[http.StatusTooManyRequests] != 8 || !retry {
		t.Fatalf("8 logins at once on 1 hashing slot: statuses %v (Retry-After on every 429: %v), want some 401 and some 429", counts, retry)
	}
}

func TestPasswordRules(t *testing.T) {
	ps := startAccounts(t, server.Limits{})
	const pw = "granite-orchard-lantern"
	ps.addUser(t, "jsmith@example.org", store.RoleClinician, pw, false)
	b := newBrowser(t, ps.base)
	b.login("jsmith@example.org", pw)
	for _, tc := range []struct{ pw, want string }{
		{"aaaaaaaaaaaa", "one character repeated"},
		{"password1234", "guessed first"},
		{"123456789012", "consecutive"},
		{"qwertyuiop12", "keyboard"},
		{"jsmith2026!!", "email"},
		{"short-one", "at least 12"},
	} {
		t.Run(tc.pw, func(t *testing.T) {
			p := b.post("/account/password", url.Values{"current": {pw}, "password": {tc.pw}, "confirm": {tc.pw}})
			if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.text("password-error"), tc.want) {
				t.Fatalf("got %d %q, want 422 saying %q", p.status, p.text("password-error"), tc.want)
			}
		})
	}
	// The current-password check is throttled like a login.
	var last page
	for range 6 {
		last = b.post("/account/password", url.Values{"current": {"not-the-current-one"}, "password": {"tram lantern quietly orbit"}, "confirm": {"tram lantern quietly orbit"}})
	}
	if last.status != http.StatusTooManyRequests || last.header.Get("Retry-After") == "" {
		t.Fatalf("6th wrong current password: %d, want 429 with Retry-After", last.status)
	}
	if es := ps.audit(t, store.AuditFilter{Action: "user.password"}); len(es) < 6 || es[0].Outcome != store.OutcomeThrottled || es[1].Outcome != store.OutcomeFailed {
		t.Fatalf("audit of the wrong current passwords: %+v", es)
	}
}

// TestLoginAnswers: what a login says to whom. A disabled account or an
// expired one-time password is told only to a caller with the right
// password; a wrong password reads the same for every account.
func TestLoginAnswers(t *testing.T) {
	ps := startAccounts(t, server.Limits{})
	const pw = "granite-orchard-lantern"
	ctx := context.Background()
	hash, _ := auth.HashPassword(pw)
	off, _ := ps.st.CreateUser(ctx, store.User{Email: "off@example.org", Role: store.RoleClinician, PasswordHash: hash, Disabled: true})
	ps.st.CreateUser(ctx, store.User{Email: "otp@example.org", Role: store.RoleClinician, PasswordHash: hash, MustChange: true, PasswordExpires: time.Now().Add(-time.Minute)})
	ps.st.CreateUser(ctx, store.User{Email: "fresh@example.org", Role: store.RoleClinician, PasswordHash: hash, MustChange: true, PasswordExpires: time.Now().Add(time.Hour)})
	for _, tc := range []struct {
		name, email, pw string
		status          int
		msg             string
	}{
		{"DisabledWrong", "off@example.org", "wrong-password", http.StatusUnauthorized, "Wrong email or password."},
		{"UnknownWrong", "nobody@example.org", "wrong-password", http.StatusUnauthorized, "Wrong email or password."},
		{"ExpiredWrong", "otp@example.org", "wrong-password", http.StatusUnauthorized, "Wrong email or password."},
		{"DisabledRight", "off@example.org", pw, http.StatusForbidden, "disabled"},
		{"ExpiredRight", "otp@example.org", pw, http.StatusForbidden, "expired"},
		{"FreshRight", "fresh@example.org", pw, http.StatusSeeOther, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newBrowser(t, ps.base).login(tc.email, tc.pw)
			if p.status != tc.status || !strings.Contains(p.text("login-error"), tc.msg) {
				t.Fatalf("got %d %q, want %d with %q", p.status, p.text("login-error"), tc.status, tc.msg)
			}
		})
	}
	es := ps.audit(t, store.AuditFilter{Actor: "nobody@example.org"})
	if len(es) != 1 || es[0].Action != "login.failed" || es[0].Outcome != store.OutcomeFailed || es[0].Address != "127.0.0.1" || es[0].Object != "user/?" {
		t.Fatalf("failed login of an unknown email in the audit log: %+v", es)
	}
	es = ps.audit(t, store.AuditFilter{Action: "login.refused"})
	if len(es) != 2 || es[1].Object != fmt.Sprintf("user/%d", off.ID) || es[1].Outcome != store.OutcomeRefused {
		t.Fatalf("refused logins in the audit log: %+v", es)
	}
}

// TestAuditRefusalsViewsAndExport: refused access to another user's id is
// audited; admins filter the log and export it as CSV, and both are
// audited too.
func TestAuditRefusalsViewsAndExport(t *testing.T) {
	ps := startAccounts(t, server.Limits{})
	const pw = "granite-orchard-lantern"
	owner := ps.addUser(t, "owner@example.org", store.RoleClinician, pw, false)
	prober := ps.addUser(t, "prober@example.org", store.RoleClinician, pw, false)
	ps.addUser(t, "root@example.org", store.RoleAdmin, pw, false)
	ds, err := ps.st.CreateDataset(context.Background(), store.Dataset{OwnerID: owner.ID, Name: "x"}, testRecording())
	if err != nil {
		t.Fatal(err)
	}
	tok := ps.token(t, prober)
	if code := apiStatus(t, ps.base, fmt.Sprintf("/api/v1/datasets/%d", ds.ID), tok); code != http.StatusNotFound {
		t.Fatalf("someone else's dataset: %d, want 404", code)
	}
	pb := newBrowser(t, ps.base)
	pb.login("prober@example.org", pw)
	if p := pb.get(fmt.Sprintf("/datasets/%d", ds.ID)); p.status != http.StatusNotFound {
		t.Fatalf("someone else's dataset page: %d, want 404", p.status)
	}
	es := ps.audit(t, store.AuditFilter{Action: "access.refused"})
	if len(es) != 2 || es[0].UserID != prober.ID || es[0].Outcome != store.OutcomeRefused || !strings.Contains(es[1].Object, fmt.Sprintf("/api/v1/datasets/%d", ds.ID)) || es[0].Address == "" {
		t.Fatalf("refusals in the audit log: %+v", es)
	}

	admin := newBrowser(t, ps.base)
	admin.login("root@example.org", pw)
	p := admin.get("/admin/audit?actor=prober&action=access.refused")
	if p.status != 200 || p.count("audit-row") != 2 || p.text("audit-outcome") != "refused" {
		t.Fatalf("filtered audit page: %d, %d rows, outcome %q", p.status, p.count("audit-row"), p.text("audit-outcome"))
	}
	today := time.Now().UTC().Format(time.DateOnly)
	if p := admin.get("/admin/audit?from=2000-01-01&to=2000-01-02"); p.count("audit-row") != 0 {
		t.Fatalf("a date range without entries lists %d", p.count("audit-row"))
	}
	if p := admin.get("/admin/audit?from=yesterday"); p.text("audit-problem") == "" {
		t.Fatal("an unreadable date is not reported")
	}
	export := p.doc.Find(`[data-testid="audit-export"]`).AttrOr("href", "")
	if !strings.Contains(export, "format=csv") {
		t.Fatalf("export link %q", export)
	}
	resp, err := admin.c.Get(ps.base + "/admin/audit?format=csv&action=login&from=" + today + "&to=" + today)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") || !strings.Contains(resp.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("export: %d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Content-Disposition"))
	}
	rows, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatalf("export is not CSV: %v\n%s", err, body)
	}
	if len(rows) != 3 || strings.Join(rows[0], ",") != "id,time_utc,actor,action,target,detail,address,outcome" {
		t.Fatalf("export of today's logins: %q, want the header and 2 logins", rows)
	}
	for _, r := range rows[1:] {
		if r[3] != "login" || r[6] != "127.0.0.1" || r[7] != "ok" {
			t.Errorf("export row %q", r)
		}
	}
	views := ps.audit(t, store.AuditFilter{Action: "audit."})
	var got []string
	for _, e := range views {
		got = append(got, e.Action)
	}
	if len(views) < 4 || views[0].Action != "audit.export" || views[1].Action != "audit.view" {
		t.Fatalf("audit views and exports are not audited: %v", got)
	}
}

// TestAPIRateLimits: API requests and token checks are limited per
// address, with 429 and Retry-After.
func TestAPIRateLimits(t *testing.T) {
	ps := startAccounts(t, server.Limits{APIRate: 0.01, APIBurst: 5, TokenFailures: 3, TokenRefill: time.Hour})
	u := ps.addUser(t, "c@example.org", store.RoleClinician, "granite-orchard-lantern", false)
	tok := ps.token(t, u)
	do := func(from, tok string) *http.Response {
		t.Helper()
		b := newBrowserFrom(t, ps.base, from)
		req, _ := http.NewRequest("GET", ps.base+"/api/v1/me", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := b.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	for i := range 3 {
		if r := do("127.0.2.1", "pgt_not-a-token"); r.StatusCode != http.StatusUnauthorized {
			t.Fatalf("bad token %d: %d, want 401", i, r.StatusCode)
		}
	}
	if r := do("127.0.2.1", "pgt_not-a-token"); r.StatusCode != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
		t.Fatalf("4th bad token: %d, want 429 with Retry-After", r.StatusCode)
	}
	if r := do("127.0.2.2", tok); r.StatusCode != http.StatusOK {
		t.Fatalf("a good token from another address: %d", r.StatusCode)
	}
	// 5 requests of burst at 127.0.2.2 (one spent above), then 429.
	for i := range 4 {
		if r := do("127.0.2.2", tok); r.StatusCode != http.StatusOK {
			t.Fatalf("request %d within the burst: %d", i+2, r.StatusCode)
		}
	}
	if r := do("127.0.2.2", tok); r.StatusCode != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
		t.Fatalf("request past the burst: %d, want 429 with Retry-After", r.StatusCode)
	}
	if es := ps.audit(t, store.AuditFilter{Action: "token.check"}); len(es) != 1 || es[0].Outcome != store.OutcomeThrottled || es[0].Address != "127.0.2.1" {
		t.Fatalf("throttled token checks in the audit log: %+v", es)
	}
}

// TestTrickledBodyIsCut: a body that pauses longer than BodyIdle, or
// arrives slower than BodyMinRate, ends its request; a body sent at
// full speed is read whole.
func TestTrickledBodyIsCut(t *testing.T) {
	ps := startAccounts(t, server.Limits{BodyIdle: 300 * time.Millisecond, BodyMinRate: 10000, BodyGrace: 500 * time.Millisecond})
	u := ps.addUser(t, "c@example.org", store.RoleClinician, "granite-orchard-lantern", false)
	tok := ps.token(t, u)
	addr := strings.TrimPrefix(ps.base, "http://")
	// trickle sends a request head promising n bytes, then a byte every
	// gap, and returns how long until the server answered or hung up.
	trickle := func(n int, gap time.Duration) (string, time.Duration) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "POST /api/v1/datasets HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: multipart/form-data; boundary=xx\r\nContent-Length: %d\r\n\r\n", addr, tok, n)
		start := time.Now()
		done := make(chan string, 1)
		go func() {
			b, _ := io.ReadAll(c)
			done <- string(b)
		}()
		for i := 0; i < n; i++ {
			select {
			case ans := <-done:
				return ans, time.Since(start)
			case <-time.After(gap):
			}
			if _, err := c.Write([]byte("-")); err != nil {
				break
			}
		}
		select {
		case ans := <-done:
			return ans, time.Since(start)
		case <-time.After(10 * time.Second):
			return "", time.Since(start)
		}
	}
	t.Run("Pause", func(t *testing.T) {
		ans, took := trickle(100, time.Second) // a byte a second, idle limit 300 ms
		if took > 5*time.Second {
			t.Fatalf("a body paused for 1 s was still read after %s", took)
		}
		if ans != "" && !strings.Contains(ans, "paused") {
			t.Errorf("answer: %q", ans)
		}
	})
	t.Run("Slow", func(t *testing.T) {
		ans, took := trickle(1000, 100*time.Millisecond) // 10 B/s, floor 10 kB/s after 0.5 s
		if took > 5*time.Second {
			t.Fatalf("a body at 10 B/s was still read after %s", took)
		}
		if ans != "" && !strings.Contains(ans, "bytes/s") {
			t.Errorf("answer: %q", ans)
		}
	})
	t.Run("FullSpeed", func(t *testing.T) {
		body := bytes.Repeat([]byte("x"), 8<<20)
		req, _ := http.NewRequest("POST", ps.base+"/api/v1/datasets", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "multipart/form-data; boundary=xx")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		// Not multipart, so refused, but for its content, not its pace.
		if resp.StatusCode >= 500 || strings.Contains(string(b), "bytes/s") || strings.Contains(string(b), "paused") {
			t.Fatalf("an 8 MiB body at full speed: %d %s", resp.StatusCode, b)
		}
	})
}

func TestSecurityHeaders(t *testing.T) {
	ps := startAccounts(t, server.Limits{})
	p := newBrowser(t, ps.base).get("/login")
	csp := p.header.Get("Content-Security-Policy")
	var connect string
	for _, d := range strings.Split(csp, ";") {
		if f := strings.Fields(d); len(f) > 0 && f[0] == "connect-src" {
			connect = strings.Join(f[1:], " ")
		}
	}
	if connect != "'self'" {
		t.Fatalf("connect-src %q, want 'self' only (CSP %q)", connect, csp)
	}
	if h := p.header.Get("Strict-Transport-Security"); h != "" {
		t.Fatalf("HSTS over plain http: %q", h)
	}
}

func testRecording() *signal.Recording {
	return &signal.Recording{Signal: signal.Signal{Channels: []signal.Channel{{Name: "MLII", Unit: "mV", Rate: 360, Samples: make([]float64, 720)}}}}
}

// TestUploadNamesNeutrally: an upload is named "Recording DAY #N", never
// after its file, and a file name that looks like an identity is flagged
// to the uploader.
func TestUploadNamesNeutrally(t *testing.T) {
	ts := startServer(t, t.TempDir(), "127.0.0.1:0", gridConfig())
	defer ts.stop()
	tok := ts.user("clin@example.org", store.RoleClinician)
	var csvData bytes.Buffer
	csvData.WriteString("time,HR [bpm]\n")
	for i := range 120 {
		fmt.Fprintf(&csvData, "%d,%d\n", i, 60+i%20)
	}
	body, ctype := multipartBody(t, map[string][]byte{"SMITH_JOHN_MRN12345.csv": csvData.Bytes()}, nil)
	code, b := ts.do("POST", "/api/v1/datasets", tok, body, ctype)
	if code != http.StatusCreated {
		t.Fatalf("upload: %d %s", code, b)
	}
	var got struct {
		Name     string
		Warnings []struct{ Rule, Message string } `json:"template_violations"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if want := "Recording " + time.Now().UTC().Format(time.DateOnly) + " #1"; got.Name != want {
		t.Errorf("name %q, want %q", got.Name, want)
	}
	if len(got.Warnings) != 1 || got.Warnings[0].Rule != "identifying-name" || !strings.Contains(got.Warnings[0].Message, "SMITH_JOHN_MRN12345") {
		t.Errorf("warnings %+v, want one identifying-name warning naming the file", got.Warnings)
	}
	// The identity (file names included) is the owner's to see on the
	// dataset; listings, which admins and cohorts see, never show it.
	if code, list := ts.do("GET", "/api/v1/datasets", tok, nil, ""); code != 200 || strings.Contains(string(list), "SMITH") {
		t.Errorf("the listing shows the file stem: %d %s", code, list)
	}
}

// TestDeleteStopsAnalysesAndLeavesNoResidue: deleting a dataset (API or
// portal) drops its analyses from the grid and leaves neither rows nor
// bytes of it in the database files.
func TestDeleteStopsAnalysesAndLeavesNoResidue(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, dir, "127.0.0.1:0", gridConfig())
	defer ts.stop()
	tok := ts.user("clin@example.org", store.RoleClinician)
	const identity = "ZEBRA_QUOKKA_7731"
	upload := func() int64 {
		var csvData bytes.Buffer
		csvData.WriteString("time,HR [bpm]\n")
		for i := range 600 {
			fmt.Fprintf(&csvData, "%d,%d\n", i, 60+i%37)
		}
		body, ctype := multipartBody(t, map[string][]byte{identity + ".csv": csvData.Bytes()}, nil)
		code, b := ts.do("POST", "/api/v1/datasets", tok, body, ctype)
		if code != http.StatusCreated {
			t.Fatalf("upload: %d %s", code, b)
		}
		var ds struct{ ID int64 }
		json.Unmarshal(b, &ds)
		return ds.ID
	}
	for _, via := range []string{"api", "portal"} {
		t.Run(via, func(t *testing.T) {
			ds := upload()
			an := ts.analyse(tok, ds, "vitals.summary@1", "routine") // no volunteers: it stays in the grid
			if _, _, ok := ts.g.Progress(an); !ok {
				t.Fatal("the analysis is not in the grid before the delete")
			}
			switch via {
			case "api":
				if code, b := ts.do("DELETE", fmt.Sprintf("/api/v1/datasets/%d", ds), tok, nil, ""); code != http.StatusNoContent {
					t.Fatalf("delete: %d %s", code, b)
				}
			case "portal":
				hash, _ := auth.HashPassword("granite-orchard-lantern")
				u, _ := ts.st.UserByEmail(context.Background(), "clin@example.org")
				u.PasswordHash = hash
				ts.st.UpdateUser(context.Background(), u)
				b := newBrowser(t, ts.base)
				b.login("clin@example.org", "granite-orchard-lantern")
				if p := b.post(fmt.Sprintf("/datasets/%d/delete", ds), url.Values{"confirm": {"yes"}}); p.status != http.StatusSeeOther {
					t.Fatalf("portal delete: %d", p.status)
				}
			}
			if _, _, ok := ts.g.Progress(an); ok {
				t.Error("the deleted dataset's analysis is still in the grid")
			}
			for _, table := range []string{"datasets", "dataset_segments", "dataset_identities", "dataset_meta", "analyses", "chunk_outputs", "analysis_results", "analysis_batches"} {
				var n int
				if err := ts.st.DB().QueryRow("SELECT COUNT(*) FROM " + table).Scan(&n); err != nil {
					t.Fatal(err)
				}
				if n != 0 {
					t.Errorf("%s has %d rows after the delete", table, n)
				}
			}
			for _, suffix := range []string{"", "-wal", "-shm"} {
				b, _ := os.ReadFile(filepath.Join(dir, "pulsegrid.db"+suffix))
				if i := bytes.Index(b, []byte(identity)); i >= 0 {
					t.Errorf("the identity is still in pulsegrid.db%s at byte %d", suffix, i)
				}
			}
		})
	}
}

// TestPortalUploadFlagsIdentifyingName: the portal tells the uploader
// that the file name looked like an identity and was not used.
func TestPortalUploadFlagsIdentifyingName(t *testing.T) {
	ps := startAccounts(t, server.Limits{})
	ps.addUser(t, "c@example.org", store.RoleClinician, "granite-orchard-lantern", false)
	b := newBrowser(t, ps.base)
	b.login("c@example.org", "granite-orchard-lantern")
	var csvData bytes.Buffer
	csvData.WriteString("time,HR [bpm]\n")
	for i := range 120 {
		fmt.Fprintf(&csvData, "%d,%d\n", i, 70)
	}
	body, ctype := multipartBody(t, map[string][]byte{"DOE_JANE.csv": csvData.Bytes()}, nil)
	req, _ := http.NewRequest("POST", ps.base+"/datasets/upload", body)
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("Accept", "application/json")
	if p := b.do(req); p.status != http.StatusCreated {
		t.Fatalf("upload: %d %s", p.status, p.body)
	}
	p := b.get("/datasets")
	if !strings.Contains(p.text("flash"), "DOE_JANE") || !strings.Contains(p.text("flash"), "person's name") {
		t.Fatalf("flash after the upload: %q", p.text("flash"))
	}
	if strings.Contains(p.doc.Find(`[data-testid="dataset-row"]`).Text(), "DOE_JANE") {
		t.Fatal("the list shows the file stem")
	}
}
