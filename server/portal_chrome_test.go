package server_test

import (
	"net/http"
	"testing"

	"github.com/pulsegrid/pulsegrid/server/store"
)

// TestPageChrome: the favicon exists; public pages show a signed-in user
// as signed in; the forced password change shows no navigation.
func TestPageChrome(t *testing.T) {
	ps := startPortal(t)
	ps.addUser(t, "dr@example.org", store.RoleClinician, "Quiet-Harbour-Lantern-7", false)
	ps.addUser(t, "new@example.org", store.RoleClinician, "Amber-Falcon-Meadow-3", true)

	t.Run("Favicon", func(t *testing.T) {
		resp, err := http.Get(ps.base + "/favicon.ico")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/svg+xml" {
			t.Errorf("/favicon.ico: got %d %s, want 200 image/svg+xml", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		p := newBrowser(t, ps.base).get("/login")
		href := p.doc.Find(`link[rel="icon"]`).AttrOr("href", "")
		if href == "" || newBrowser(t, ps.base).get(href).status != 200 {
			t.Errorf("login page links icon %q, want a served file", href)
		}
	})
	t.Run("PublicPagesKnowTheUser", func(t *testing.T) {
		anon := newBrowser(t, ps.base)
		b := newBrowser(t, ps.base)
		b.login("dr@example.org", "Quiet-Harbour-Lantern-7")
		for _, path := range []string{"/donate", "/leaderboard"} {
			if p := anon.get(path); p.count("nav-login") != 1 || p.count("nav-email") != 0 {
				t.Errorf("%s anonymous: want Sign in and no email", path)
			}
			p := b.get(path)
			if p.status != 200 || p.text("nav-email") != "dr@example.org" || p.count("nav-login") != 0 || p.count("nav-datasets") != 1 {
				t.Errorf("%s signed in: got %d, email %q, %d Sign in links; want the user's email and navigation", path, p.status, p.text("nav-email"), p.count("nav-login"))
			}
			if path == "/leaderboard" && p.header.Get("Cache-Control") != "private, no-store" {
				t.Errorf("/leaderboard signed in: Cache-Control %q, want private, no-store", p.header.Get("Cache-Control"))
			}
		}
	})
	t.Run("ForcedPasswordChangeHasNoNavigation", func(t *testing.T) {
		b := newBrowser(t, ps.base)
		b.login("new@example.org", "Amber-Falcon-Meadow-3")
		p := b.follow("/datasets")
		if p.count("password-forced") != 1 {
			t.Fatalf("a must-change account opening /datasets did not land on the forced change")
		}
		if n := p.doc.Find(`[data-testid="nav"] a`).Length(); n != 0 {
			t.Errorf("forced password change shows %d navigation links, want none", n)
		}
		if p.count("logout") != 1 {
			t.Error("forced password change has no Sign out")
		}
	})
}
