package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/alexedwards/scs/v2"

	"github.com/pulsegrid/pulsegrid/server/store"
	"github.com/pulsegrid/pulsegrid/views"
)

// PortalConfig tunes the clinician portal.
type PortalConfig struct {
	// SecureCookies forces the Secure attribute on the session cookie.
	// Without it the cookie is Secure when the request came over TLS or
	// through a proxy that says X-Forwarded-Proto: https.
	SecureCookies bool
	// SessionLifetime is how long a session lives at most (default 12 h);
	// IdleTimeout ends it earlier without activity (default 2 h).
	SessionLifetime, IdleTimeout time.Duration
	// DataDir is where uploads are spooled before they are parsed (a
	// "tmp" directory inside it); empty uses the system's temp directory.
	DataDir string
	// MaxLoginFailures is how many failed logins an (account, address)
	// pair may have before each further attempt waits (default 5; an
	// address over all accounts may have 4 times as many): loginThrottle.
	MaxLoginFailures int
}

// Session keys.
const (
	sessUser     = "uid"
	sessPassword = "pwv" // fingerprint of the password hash at login: a reset or change ends other sessions
	sessFlash    = "flash"
)

// portal is the server-rendered web application for clinicians and
// administrators. It shares the API's store, grid and access rules.
type portal struct {
	d Deps
	// plain and secure are the same sessions with the cookie's Secure
	// attribute off and on; each request uses the one its scheme needs.
	plain, secure *scs.SessionManager
	throttle      *loginThrottle
}

type smKey struct{}

func newPortal(d Deps) *portal {
	cfg := d.Portal
	if cfg.SessionLifetime <= 0 {
		cfg.SessionLifetime = 12 * time.Hour
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 2 * time.Hour
	}
	if cfg.MaxLoginFailures <= 0 {
		cfg.MaxLoginFailures = 5
	}
	d.Portal = cfg
	// Sessions live in the store's database (store.SessionStore), never
	// in this process's memory: they survive a restart and are shared by
	// replicas.
	st := d.Store.Sessions()
	mk := func(secure bool) *scs.SessionManager {
		sm := scs.New()
		sm.Store = st
		sm.Lifetime = cfg.SessionLifetime
		sm.IdleTimeout = cfg.IdleTimeout
		sm.Cookie.Name = "pulsegrid_session"
		sm.Cookie.HttpOnly = true
		sm.Cookie.SameSite = http.SameSiteLaxMode
		sm.Cookie.Secure = secure
		sm.Cookie.Path = "/"
		sm.ErrorFunc = func(w http.ResponseWriter, r *http.Request, err error) {
			writeError(w, r, d.Logger, fmt.Errorf("session: %w", err))
		}
		return sm
	}
	return &portal{d: d, plain: mk(false), secure: mk(true), throttle: newLoginThrottle(d.guard.shared, cfg.MaxLoginFailures)}
}

// isHTTPS reports whether the browser reached us over https.
func isHTTPS(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// sessions loads the session of the request (with the manager its scheme
// calls for) and saves it after the handler.
func (p *portal) sessions(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sm := p.plain
		if p.d.Portal.SecureCookies || isHTTPS(r) {
			sm = p.secure
		}
		r = r.WithContext(context.WithValue(r.Context(), smKey{}, sm))
		sm.LoadAndSave(next).ServeHTTP(w, r)
	})
}

func (p *portal) sm(r *http.Request) *scs.SessionManager {
	if sm, ok := r.Context().Value(smKey{}).(*scs.SessionManager); ok {
		return sm
	}
	return p.plain
}

func passwordVersion(hash string) string {
	s := sha256.Sum256([]byte(hash))
	return hex.EncodeToString(s[:8])
}

// sessionUser returns the signed-in user of the request, if any: the
// account must still exist, be enabled and have the password and session
// epoch it had at login (sessionValid).
func (p *portal) sessionUser(r *http.Request) (store.User, bool) {
	sm := p.sm(r)
	id := sm.GetInt64(r.Context(), sessUser)
	if id == 0 {
		return store.User{}, false
	}
	u, err := p.d.Store.User(r.Context(), id)
	if err != nil || u.Disabled || u.Role == store.RoleVolunteer || !sessionValid(u, sm.GetString(r.Context(), sessPassword), sm.GetInt64(r.Context(), sessEpoch)) {
		return store.User{}, false
	}
	return u, true
}

// apiSession lets the API accept the portal's session cookie as well as a
// bearer token (progress.js and the download links use it). A bearer token
// wins; an account that must change its password gets no API access.
func (p *portal) apiSession(next http.Handler) http.Handler {
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "" {
			if u, ok := p.sessionUser(r); ok && !u.MustChange {
				r = r.WithContext(WithUser(r.Context(), u))
			}
		}
		next.ServeHTTP(w, r)
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := r.Cookie("pulsegrid_session"); err != nil || r.Header.Get("Authorization") != "" {
			next.ServeHTTP(w, r)
			return
		}
		p.sessions(inner).ServeHTTP(w, r)
	})
}

// page wraps a public page (login) in sessions; pages are never cached.
func (p *portal) page(h http.HandlerFunc) http.Handler {
	return p.sessions(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		h(w, r)
	}))
}

// auth wraps a page for signed-in users (admins only when admin is set).
// Anonymous visitors are sent to the login page; an account that must
// change its password is sent to that form first.
func (p *portal) auth(admin bool, h http.HandlerFunc) http.Handler {
	return p.page(func(w http.ResponseWriter, r *http.Request) {
		u, ok := p.sessionUser(r)
		if !ok {
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			p.fail(w, r, Errorf(EUnauthorized, "your session has ended: sign in again"))
			return
		}
		r = r.WithContext(WithUser(r.Context(), u))
		if u.MustChange && r.URL.Path != "/account/password" && r.URL.Path != "/logout" {
			http.Redirect(w, r, "/account/password", http.StatusSeeOther)
			return
		}
		if admin && u.Role != store.RoleAdmin {
			p.fail(w, r, Errorf(ENotFound, "page not found"))
			return
		}
		h(w, r)
	})
}

// nav is the page chrome's model for the request's user.
func (p *portal) nav(r *http.Request, active string) views.Nav {
	u := userFrom(r)
	n := views.Nav{Active: active}
	if u.ID != 0 {
		n.Role, n.Email, n.MustChange = u.Role, u.Email, u.MustChange
	}
	if f := p.sm(r).PopString(r.Context(), sessFlash); f != "" {
		kind, msg, _ := strings.Cut(f, "|")
		n.Flashes = append(n.Flashes, views.Flash{Kind: kind, Message: msg})
	}
	return n
}

// flash keeps a message for the next page.
func (p *portal) flash(r *http.Request, kind, msg string) {
	p.sm(r).Put(r.Context(), sessFlash, kind+"|"+msg)
}

// render writes a whole page. The nav pops the flash, which must happen
// before the header is written: scs saves the session at that moment.
func (p *portal) render(w http.ResponseWriter, r *http.Request, status int, title, active string, c templ.Component) {
	nav := p.nav(r, active)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := views.Layout(title, nav, c).Render(r.Context(), w); err != nil {
		p.d.Logger.Error("render", "path", r.URL.Path, "err", err)
	}
}

// fail renders err as an error page with the status of its code; internal
// errors are logged and not shown.
func (p *portal) fail(w http.ResponseWriter, r *http.Request, err error) {
	code := ErrorCode(err)
	msg := err.Error()
	if code == EInternal {
		p.d.Logger.Error("internal error", "method", r.Method, "path", r.URL.Path, "err", err)
		msg = ""
	}
	if code == ENotFound {
		msg = "" // the standard wording: nothing about whether it exists for someone else
	}
	status := statusOf[code]
	p.render(w, r, status, views.ErrorTitle(status), "", views.ErrorView(views.ErrorPage{Status: status, Message: msg}))
}

// redirect answers a form post with 303 See Other.
func redirect(w http.ResponseWriter, r *http.Request, to string) {
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// dataset loads a dataset the user may see; others' are not found.
func (p *portal) dataset(r *http.Request, id int64) (store.Dataset, error) {
	return useCases(p.d).Dataset(r.Context(), id)
}

// analysis loads the analysis of the path's id that the user may see.
func (p *portal) analysis(r *http.Request) (store.Analysis, error) {
	id, err := p.analysisID(r)
	if err != nil {
		return store.Analysis{}, err
	}
	return useCases(p.d).Analysis(r.Context(), id)
}

// analysisID is the path's analysis id; a page asked for with a malformed
// one is not found, like any other page that does not exist.
func (p *portal) analysisID(r *http.Request) (int64, error) {
	id, err := pathID(r)
	if err != nil {
		return 0, Errorf(ENotFound, "analysis not found")
	}
	return id, nil
}

// clientIP is the client's address as edge named it (clientAddr: behind a
// trusted proxy, the address the proxy forwarded): what the login throttle,
// the API limits and the audit log count by. A request that did not pass
// through edge (none in the server) falls back to the connection's peer.
func clientIP(r *http.Request) string {
	if a, ok := r.Context().Value(clientAddrKey{}).(string); ok {
		return a
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// clientAddrKey holds the request's client address in its context (edge).
type clientAddrKey struct{}
