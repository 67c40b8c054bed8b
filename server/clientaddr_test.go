package server_test

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pulsegrid/pulsegrid/algorithms/catalog"
	"github.com/pulsegrid/pulsegrid/server"
	"github.com/pulsegrid/pulsegrid/server/grid"
	"github.com/pulsegrid/pulsegrid/server/store"
)

// startPortalBehind is startPortal with --trusted-proxy prefixes.
func startPortalBehind(t *testing.T, trusted ...string) *portalServer {
	t.Helper()
	dir := t.TempDir()
	st, err := store.OpenSQLite(context.Background(), filepath.Join(dir, "pulsegrid.db"))
	if err != nil {
		t.Fatal(err)
	}
	proxies, err := server.ParseTrustedProxies(trusted)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	g := grid.New(st, catalog.All(), grid.Config{Metrics: reg})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := server.NewServer(server.Deps{Store: st, Grid: g, Registry: catalog.All(), Gatherer: reg, Portal: server.PortalConfig{DataDir: dir}, TrustedProxies: proxies})
	base := serveUntilCleanup(t, ln, h, func() { g.Close() }, func() { st.Close() })
	ps := &portalServer{base: base, st: st}
	waitHealthy(t, ps.base)
	return ps
}

// via sends a form (or a GET when form is nil) as a proxy that forwards for xff would.
func (b *browser) via(xff, path string, form url.Values) page {
	b.t.Helper()
	method, body := http.MethodGet, ""
	if form != nil {
		method, body = http.MethodPost, form.Encode()
	}
	req, err := http.NewRequest(method, b.base+path, strings.NewReader(body))
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("Accept", "text/html")
	req.Header.Set("X-Forwarded-For", xff)
	return b.do(req)
}

// auditAddresses reads the Address column of /admin/audit for action.
func auditAddresses(b *browser, action string) []string {
	b.t.Helper()
	p := b.get("/admin/audit?action=" + url.QueryEscape(action))
	var out []string
	for _, row := range p.doc.Find(`[data-testid="audit-row"]`).EachIter() {
		out = append(out, strings.TrimSpace(row.Find(`[data-testid="audit-address"]`).Text()))
	}
	return out
}

// TestClientAddressBehindProxy: behind a trusted proxy the audit log's
// Address column and the login throttle name the client the proxy
// forwarded for (the rightmost untrusted hop: a client cannot choose its
// own by prepending to the header); without --trusted-proxy the header is
// ignored and the address is the connection's.
func TestClientAddressBehindProxy(t *testing.T) {
	const email, password = "admin@example.org", "admin-password-1"
	t.Run("TrustedProxy", func(t *testing.T) {
		ps := startPortalBehind(t, "127.0.0.1")
		ps.addUser(t, email, store.RoleAdmin, password, false)
		admin := newBrowser(t, ps.base)
		if p := admin.via("192.0.2.66, 198.51.100.7", "/login", url.Values{"email": {email}, "password": {password}}); p.status != http.StatusSeeOther {
			t.Fatalf("login through the proxy: %d", p.status)
		}
		if got := auditAddresses(admin, "login"); strings.Join(got, ",") != "198.51.100.7" {
			t.Errorf("login entry addresses %v, want [198.51.100.7] (the hop the proxy saw)", got)
		}
		admin.via("203.0.113.20", "/admin/audit", nil)
		// Newest first: the view through the proxy, then the first one,
		// which came without a header from the proxy itself.
		if got := auditAddresses(admin, "audit.view"); strings.Join(got, ",") != "203.0.113.20,127.0.0.1" {
			t.Errorf("audit.view addresses %v, want [203.0.113.20 127.0.0.1]", got)
		}

		// The login throttle counts by the forwarded address: five wrong
		// passwords from one client delay it, not another behind the same proxy.
		guesser := newBrowser(t, ps.base)
		for range 5 {
			guesser.via("198.51.100.99", "/login", url.Values{"email": {email}, "password": {"wrong-password-0"}})
		}
		if p := guesser.via("198.51.100.99", "/login", url.Values{"email": {email}, "password": {password}}); p.status != http.StatusTooManyRequests {
			t.Errorf("6th attempt from the guessing client: %d, want 429", p.status)
		}
		if p := newBrowser(t, ps.base).via("198.51.100.8", "/login", url.Values{"email": {email}, "password": {password}}); p.status != http.StatusSeeOther {
			t.Errorf("the owner from another client behind the proxy: %d, want 303 (signed in)", p.status)
		}
	})
	t.Run("NoTrustedProxy", func(t *testing.T) {
		ps := startPortalBehind(t)
		ps.addUser(t, email, store.RoleAdmin, password, false)
		admin := newBrowser(t, ps.base)
		if p := admin.via("198.51.100.7", "/login", url.Values{"email": {email}, "password": {password}}); p.status != http.StatusSeeOther {
			t.Fatalf("login: %d", p.status)
		}
		if got := auditAddresses(admin, "login"); strings.Join(got, ",") != "127.0.0.1" {
			t.Errorf("login entry addresses %v, want [127.0.0.1]: nobody's X-Forwarded-For is read without --trusted-proxy", got)
		}
	})
}
