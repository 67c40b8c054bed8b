package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/pulsegrid/pulsegrid/server/auth"
	"github.com/pulsegrid/pulsegrid/server/store"
)

type ctxKey int

const userKey ctxKey = 1

// userFrom returns the authenticated user of a request.
func userFrom(r *http.Request) store.User { return userOf(r.Context()) }

// userOf is the authenticated user of ctx (zero if none).
func userOf(ctx context.Context) store.User {
	u, _ := ctx.Value(userKey).(store.User)
	return u
}

// WithUser returns ctx carrying u as the authenticated user; the portal's
// session middleware uses it so that API handlers serve the portal too.
func WithUser(ctx context.Context, u store.User) context.Context {
	return context.WithValue(ctx, userKey, u)
}

// requireToken authenticates "Authorization: Bearer TOKEN" (or a user put
// in the context by an earlier middleware). Enrolled volunteer machines
// have tokens too, but only for the volunteer websocket.
func requireToken(d Deps, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, ok := r.Context().Value(userKey).(store.User); ok && u.ID != 0 {
			next.ServeHTTP(w, r)
			return
		}
		h := r.Header.Get("Authorization")
		tok, ok := strings.CutPrefix(h, "Bearer ")
		if !ok || strings.TrimSpace(tok) == "" {
			writeError(w, r, d.Logger, Errorf(EUnauthorized, "missing API token: send the header \"Authorization: Bearer TOKEN\" (pulsegrid user token --email E prints one)"))
			return
		}
		// Tokens carry 256 random bits, so guessing is hopeless; the limit
		// keeps a guesser from costing the database a lookup a request.
		addr := clientIP(r)
		if wait := d.guard.tokenBad.wait(r.Context(), addr); wait > 0 {
			auditOutcome(d, r, "token.check", "api", "too many unrecognised tokens", store.OutcomeThrottled)
			tooMany(w, wait, "too many unrecognised API tokens from your address")
			return
		}
		u, err := d.Store.UserByToken(r.Context(), auth.HashToken(strings.TrimSpace(tok)))
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			writeError(w, r, d.Logger, err)
			return
		}
		if err != nil {
			d.guard.tokenBad.fail(r.Context(), addr)
			writeError(w, r, d.Logger, Errorf(EUnauthorized, "API token not recognised, revoked, or its account is disabled"))
			return
		}
		if u.Role == store.RoleVolunteer {
			writeError(w, r, d.Logger, Errorf(EForbidden, "%s is a volunteer machine account: its token only enrolls a volunteer", u.Email))
			return
		}
		next.ServeHTTP(w, r.WithContext(WithUser(r.Context(), u)))
	})
}

// contentSecurityPolicy allows only this origin's scripts and styles (no
// inline code), wasm compilation for the volunteer worker, and connections
// (fetch and websockets) to this origin only: CSP Level 3 lets 'self'
// match ws: and wss: of the page's own host, so a script injected
// somehow could not send data to another host. It is set on every
// response, so no page can forget it.
const contentSecurityPolicy = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"

// hstsPolicy tells browsers to use https only for a year; sent only on
// responses over TLS (serve --tls-cert), as browsers ignore it otherwise.
const hstsPolicy = "max-age=31536000"

func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		if r.TLS != nil {
			h.Set("Strict-Transport-Security", hstsPolicy)
		}
		if strings.HasPrefix(r.URL.Path, "/api/") {
			h.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}

func recoverPanics(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				writeError(w, r, log, fmt.Errorf("panic: %v", v))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

// WriteHeader records the status for the log.
func (s *statusWriter) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController (and the websocket hijack) reach the
// underlying writer.
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// logRequests logs API requests at debug level and failures at info.
func logRequests(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ws/volunteer" {
			next.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: 200}
		next.ServeHTTP(sw, r)
		lvl := slog.LevelDebug
		if sw.status >= 400 {
			lvl = slog.LevelInfo
		}
		log.Log(r.Context(), lvl, "http", "method", r.Method, "path", r.URL.Path, "status", sw.status, "ms", time.Since(start).Milliseconds())
	})
}
