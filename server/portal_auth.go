package server

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/pulsegrid/pulsegrid/server/auth"
	"github.com/pulsegrid/pulsegrid/server/store"
	"github.com/pulsegrid/pulsegrid/views"
)

// minPasswordLength is shown on the password form; auth.CheckPasswordStrength
// has the final word.
const minPasswordLength = 12

// handleRoot sends visitors to their datasets or to the login page.
func (p *portal) handleRoot() http.Handler {
	return p.page(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := p.sessionUser(r); ok {
			redirect(w, r, "/datasets")
			return
		}
		redirect(w, r, "/login")
	})
}

// safeNext keeps a post-login destination on this site.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") || strings.ContainsAny(next, "\r\n") {
		return "/datasets"
	}
	return next
}

func (p *portal) handleLoginForm() http.Handler {
	return p.page(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := p.sessionUser(r); ok {
			redirect(w, r, safeNext(r.URL.Query().Get("next")))
			return
		}
		p.render(w, r, http.StatusOK, "Sign in", "", views.Login(views.LoginPage{Next: r.URL.Query().Get("next")}))
	})
}

func (p *portal) handleLogin() http.Handler {
	return p.page(func(w http.ResponseWriter, r *http.Request) {
		email := strings.TrimSpace(r.PostFormValue("email"))
		password := r.PostFormValue("password")
		next := r.PostFormValue("next")
		keys := []string{"account:" + strings.ToLower(email), "addr:" + clientIP(r)}
		again := func(status int, msg string) {
			p.render(w, r, status, "Sign in", "", views.Login(views.LoginPage{Email: email, Error: msg, Next: next}))
		}
		if wait := p.throttle.Wait(keys...); wait > 0 {
			w.Header().Set("Retry-After", fmt.Sprint(int(wait.Seconds())+1))
			again(http.StatusTooManyRequests, fmt.Sprintf("Too many failed attempts. Try again in %s.", wait.Round(time.Second)+time.Second))
			return
		}
		u, err := p.d.Store.UserByEmail(r.Context(), email)
		if err == nil && u.Role != store.RoleVolunteer {
			err = auth.CheckPassword(u.PasswordHash, password)
		} else if err == nil || errors.Is(err, store.ErrNotFound) {
			// Spend the same time as a real check so timing does not tell
			// which emails have accounts.
			auth.CheckPassword(dummyHash(), password)
			err = auth.ErrMismatch
		}
		if err == nil && u.Disabled {
			p.throttle.Fail(keys...)
			p.d.Store.Audit(r.Context(), store.AuditEntry{UserID: u.ID, Action: "login.refused", Object: fmt.Sprintf("user/%d", u.ID), Detail: "account disabled from " + clientIP(r)})
			again(http.StatusForbidden, "This account is disabled. Ask an administrator.")
			return
		}
		if err != nil {
			if !errors.Is(err, auth.ErrMismatch) {
				p.fail(w, r, err)
				return
			}
			p.throttle.Fail(keys...)
			if u.ID != 0 {
				p.d.Store.Audit(r.Context(), store.AuditEntry{UserID: u.ID, Action: "login.failed", Object: fmt.Sprintf("user/%d", u.ID), Detail: "from " + clientIP(r)})
			}
			again(http.StatusUnauthorized, "Wrong email or password.")
			return
		}
		p.throttle.Succeed(keys[0])
		sm := p.sm(r)
		if err := sm.RenewToken(r.Context()); err != nil {
			p.fail(w, r, err)
			return
		}
		sm.Put(r.Context(), sessUser, u.ID)
		sm.Put(r.Context(), sessPassword, passwordVersion(u.PasswordHash))
		p.d.Store.RecordLogin(r.Context(), u.ID)
		p.d.Store.Audit(r.Context(), store.AuditEntry{UserID: u.ID, Action: "login", Object: fmt.Sprintf("user/%d", u.ID), Detail: "from " + clientIP(r)})
		if u.MustChange {
			redirect(w, r, "/account/password")
			return
		}
		redirect(w, r, safeNext(next))
	})
}

// dummyHash is checked against when the email is unknown; made on first
// use, as argon2id costs 64 MiB and every CLI command links this package.
var dummyHash = sync.OnceValue(func() string {
	h, _ := auth.HashPassword("pulsegrid-no-such-account")
	return h
})

func (p *portal) handleLogout() http.Handler {
	return p.page(func(w http.ResponseWriter, r *http.Request) {
		if u, ok := p.sessionUser(r); ok {
			p.d.Store.Audit(r.Context(), store.AuditEntry{UserID: u.ID, Action: "logout", Object: fmt.Sprintf("user/%d", u.ID)})
		}
		if err := p.sm(r).Destroy(r.Context()); err != nil {
			p.fail(w, r, err)
			return
		}
		redirect(w, r, "/login")
	})
}

func (p *portal) handlePasswordForm() http.Handler {
	return p.auth(false, func(w http.ResponseWriter, r *http.Request) {
		p.render(w, r, http.StatusOK, "Change your password", "", views.ChangePassword(views.ChangePasswordPage{Forced: userFrom(r).MustChange, MinLength: minPasswordLength}))
	})
}

func (p *portal) handlePassword() http.Handler {
	return p.auth(false, func(w http.ResponseWriter, r *http.Request) {
		u := userFrom(r)
		again := func(msg string) {
			p.render(w, r, http.StatusUnprocessableEntity, "Change your password", "", views.ChangePassword(views.ChangePasswordPage{Forced: u.MustChange, MinLength: minPasswordLength, Error: msg}))
		}
		current, pw, confirm := r.PostFormValue("current"), r.PostFormValue("password"), r.PostFormValue("confirm")
		// A forced change follows a sign-in with the one-time password
		// moments ago, so the form does not ask for it again.
		if !u.MustChange {
			if err := auth.CheckPassword(u.PasswordHash, current); err != nil {
				again("Your current password is not right.")
				return
			}
		}
		if pw != confirm {
			again("The new password and its confirmation differ.")
			return
		}
		if auth.CheckPassword(u.PasswordHash, pw) == nil {
			again("Choose a password different from the current one.")
			return
		}
		if len(pw) < minPasswordLength {
			again(fmt.Sprintf("Choose at least %d characters.", minPasswordLength))
			return
		}
		if err := auth.CheckPasswordStrength(pw); err != nil {
			again(err.Error())
			return
		}
		hash, err := auth.HashPassword(pw)
		if err != nil {
			p.fail(w, r, err)
			return
		}
		u.PasswordHash, u.MustChange = hash, false
		if err := p.d.Store.UpdateUser(r.Context(), u); err != nil {
			p.fail(w, r, err)
			return
		}
		sm := p.sm(r)
		if err := sm.RenewToken(r.Context()); err != nil {
			p.fail(w, r, err)
			return
		}
		sm.Put(r.Context(), sessPassword, passwordVersion(hash))
		audit(p.d, r, "user.password", fmt.Sprintf("user/%d", u.ID), "changed by the user")
		p.flash(r, "success", "Your password was changed.")
		redirect(w, r, "/datasets")
	})
}

func (p *portal) tokensPage(r *http.Request, newToken, newName string, problems []views.Problem) (views.TokensPage, error) {
	ts, err := p.d.Store.Tokens(r.Context(), userFrom(r).ID)
	page := views.TokensPage{NewToken: newToken, NewTokenName: newName, Problems: problems}
	for _, t := range ts {
		page.Tokens = append(page.Tokens, views.TokenRow{ID: t.ID, Name: t.Name, Prefix: t.Prefix, Created: t.CreatedAt, LastUsed: t.LastUsed})
	}
	return page, err
}

func (p *portal) handleTokens() http.Handler {
	return p.auth(false, func(w http.ResponseWriter, r *http.Request) {
		page, err := p.tokensPage(r, "", "", nil)
		if err != nil {
			p.fail(w, r, err)
			return
		}
		p.render(w, r, http.StatusOK, "API tokens", "tokens", views.Tokens(page))
	})
}

func (p *portal) handleTokenCreate() http.Handler {
	return p.auth(false, func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimSpace(r.PostFormValue("name"))
		if name == "" || len(name) > 64 {
			page, err := p.tokensPage(r, "", "", []views.Problem{{Message: "Give the token a name of 1 to 64 characters, e.g. the script that will use it."}})
			if err != nil {
				p.fail(w, r, err)
				return
			}
			p.render(w, r, http.StatusUnprocessableEntity, "API tokens", "tokens", views.Tokens(page))
			return
		}
		tok, hash, err := auth.NewToken()
		if err != nil {
			p.fail(w, r, err)
			return
		}
		prefix := tok[:min(len(tok), len(auth.TokenPrefix)+4)]
		if err := p.d.Store.CreateTokenWithPrefix(r.Context(), userFrom(r).ID, hash, name, prefix); err != nil {
			p.fail(w, r, err)
			return
		}
		audit(p.d, r, "token.create", fmt.Sprintf("user/%d", userFrom(r).ID), name)
		// The secret is shown on this answer only: no redirect, no flash.
		page, err := p.tokensPage(r, tok, name, nil)
		if err != nil {
			p.fail(w, r, err)
			return
		}
		p.render(w, r, http.StatusOK, "API tokens", "tokens", views.Tokens(page))
	})
}

func (p *portal) handleTokenRevoke() http.Handler {
	return p.auth(false, func(w http.ResponseWriter, r *http.Request) {
		id, err := pathID(r)
		if err != nil {
			p.fail(w, r, Errorf(ENotFound, "token not found"))
			return
		}
		if err := p.d.Store.RevokeToken(r.Context(), userFrom(r).ID, id); err != nil {
			p.fail(w, r, err)
			return
		}
		audit(p.d, r, "token.revoke", fmt.Sprintf("user/%d", userFrom(r).ID), fmt.Sprintf("token %d", id))
		p.flash(r, "success", "The token was revoked.")
		redirect(w, r, "/account/tokens")
	})
}
