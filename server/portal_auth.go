package server

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/pulsegrid/pulsegrid/server/auth"
	"github.com/pulsegrid/pulsegrid/server/store"
	"github.com/pulsegrid/pulsegrid/views"
)

// minPasswordLength is shown on the password form; auth.CheckNewPassword
// has the final word.
const minPasswordLength = auth.MinPasswordLength

// sessEpoch is the session key of the account's session epoch at login
// (store.User.SessionEpoch): UpdateCredentials increments the account's,
// which ends this session.
const sessEpoch = "sep"

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

// safeNext keeps a post-login destination on this site: a path of this
// origin, else "/". Browsers ignore tabs and newlines in URLs and read a
// backslash as a slash, so "/\t/host" or "/\\host" would leave the site.
func safeNext(next string) string {
	if next == "" || len(next) > 2048 || next[0] != '/' {
		return "/"
	}
	for _, c := range next {
		if c < 0x20 || c == 0x7f || c == '\\' {
			return "/"
		}
	}
	if strings.HasPrefix(next, "//") {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || !strings.HasPrefix(u.Path, "/") || strings.HasPrefix(u.Path, "//") {
		return "/"
	}
	// The path as the browser will see it once percent-escapes are
	// undone must not start a network path either ("/%2F/host").
	if dec, err := url.PathUnescape(u.EscapedPath()); err != nil || strings.HasPrefix(dec, "//") || strings.ContainsAny(dec, "\\\t\r\n") {
		return "/"
	}
	return next
}

func (p *portal) handleLoginForm() http.Handler {
	return p.page(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := p.sessionUser(r); ok {
			redirect(w, r, safeNext(r.URL.Query().Get("next")))
			return
		}
		p.render(w, r, http.StatusOK, "Sign in", "", views.Login(views.LoginPage{Next: safeNext(r.URL.Query().Get("next"))}))
	})
}

// retryAfter sets Retry-After to wait rounded up to whole seconds.
func retryAfter(w http.ResponseWriter, wait time.Duration) time.Duration {
	s := max(int((wait+time.Second-1)/time.Second), 1)
	w.Header().Set("Retry-After", strconv.Itoa(s))
	return time.Duration(s) * time.Second
}

// auditLogin records a login attempt. The email tried is the actor (a
// login is someone claiming to be the account); object is the account if
// there is one.
func (p *portal) auditLogin(r *http.Request, email string, u store.User, action, outcome, detail string) {
	obj := "user/?"
	if u.ID != 0 {
		obj = fmt.Sprintf("user/%d", u.ID)
	}
	e := store.AuditEntry{Actor: truncate(email, 254), Action: action, Object: obj, Detail: detail, Address: clientIP(r), Outcome: outcome}
	if outcome == store.OutcomeOK {
		e.UserID, e.Actor = u.ID, ""
	}
	if err := p.d.Store.Audit(r.Context(), e); err != nil {
		p.d.Logger.Error("audit log", "err", err, "action", action)
	}
}

func (p *portal) handleLogin() http.Handler {
	return p.page(func(w http.ResponseWriter, r *http.Request) {
		email := strings.TrimSpace(r.PostFormValue("email"))
		password := r.PostFormValue("password")
		next := safeNext(r.PostFormValue("next"))
		addr := clientIP(r)
		again := func(status int, msg string) {
			p.render(w, r, status, "Sign in", "", views.Login(views.LoginPage{Email: email, Error: msg, Next: next}))
		}
		busy := func() {
			retryAfter(w, auth.RetryAfter)
			again(http.StatusTooManyRequests, "The server is checking many sign-ins at once. Try again in a moment.")
		}
		if wait := p.throttle.Wait(r.Context(), email, addr); wait > 0 {
			wait = retryAfter(w, wait)
			p.auditLogin(r, email, store.User{}, "login.throttled", store.OutcomeThrottled, fmt.Sprintf("asked to wait %s", wait))
			again(http.StatusTooManyRequests, fmt.Sprintf("Too many failed attempts. Try again in %s.", wait))
			return
		}
		u, err := p.d.Store.UserByEmail(r.Context(), email)
		switch {
		case len(password) > auth.MaxPasswordLength:
			err = auth.ErrMismatch
		case err == nil && u.Role != store.RoleVolunteer:
			err = auth.CheckPassword(u.PasswordHash, password)
		case err == nil || errors.Is(err, store.ErrNotFound):
			// The same time as a real check, so that timing does not
			// tell which emails have accounts.
			u, err = store.User{}, auth.CheckUnknown(password)
		}
		switch {
		case errors.Is(err, auth.ErrBusy):
			busy()
			return
		case errors.Is(err, auth.ErrMismatch):
			p.throttle.Fail(r.Context(), email, addr)
			detail := "wrong password"
			if u.ID == 0 {
				detail = "no such account"
			}
			p.auditLogin(r, email, u, "login.failed", store.OutcomeFailed, detail)
			again(http.StatusUnauthorized, "Wrong email or password.")
			return
		case err != nil:
			p.fail(w, r, err)
			return
		}
		// The password is right: only now may the answer say more about
		// the account.
		if u.Disabled {
			p.throttle.Fail(r.Context(), email, addr)
			p.auditLogin(r, email, u, "login.refused", store.OutcomeRefused, "account disabled")
			again(http.StatusForbidden, "This account is disabled. Ask an administrator.")
			return
		}
		if otpExpired(u) {
			p.auditLogin(r, email, u, "login.refused", store.OutcomeRefused, "one-time password expired")
			again(http.StatusForbidden, fmt.Sprintf("This one-time password expired on %s. Ask an administrator for a new one.", u.PasswordExpires.Format("2006-01-02 15:04 MST")))
			return
		}
		p.throttle.Succeed(r.Context(), email, addr)
		sm := p.sm(r)
		// A new session token at every login: a token planted before it
		// (session fixation) does not become signed in.
		if err := sm.RenewToken(r.Context()); err != nil {
			p.fail(w, r, err)
			return
		}
		sm.Put(r.Context(), sessUser, u.ID)
		sm.Put(r.Context(), sessPassword, passwordVersion(u.PasswordHash))
		sm.Put(r.Context(), sessEpoch, u.SessionEpoch)
		p.d.Store.RecordLogin(r.Context(), u.ID)
		p.auditLogin(r, email, u, "login", store.OutcomeOK, "")
		if u.MustChange {
			redirect(w, r, "/account/password")
			return
		}
		redirect(w, r, next)
	})
}

// otpExpired reports whether u signs in with a one-time password that
// has expired.
func otpExpired(u store.User) bool {
	return u.MustChange && !u.PasswordExpires.IsZero() && time.Now().After(u.PasswordExpires)
}

// sessionValid reports whether a session opened for u is still valid:
// same password, same session epoch, one-time password not expired.
func sessionValid(u store.User, passwordFingerprint string, epoch int64) bool {
	return passwordFingerprint == passwordVersion(u.PasswordHash) && epoch == u.SessionEpoch && !otpExpired(u)
}

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

// handlePassword changes the user's password. Checking the current one is
// throttled like a login (per account and address); the change ends every
// other session and every API token of the account.
func (p *portal) handlePassword() http.Handler {
	return p.auth(false, func(w http.ResponseWriter, r *http.Request) {
		u := userFrom(r)
		page := views.ChangePasswordPage{Forced: u.MustChange, MinLength: minPasswordLength}
		again := func(status int, msg string) {
			page.Error = msg
			p.render(w, r, status, "Change your password", "", views.ChangePassword(page))
		}
		busy := func() {
			retryAfter(w, auth.RetryAfter)
			again(http.StatusTooManyRequests, "The server is checking many passwords at once. Try again in a moment.")
		}
		current, pw, confirm := r.PostFormValue("current"), r.PostFormValue("password"), r.PostFormValue("confirm")
		key, addr := fmt.Sprintf("password-change/%d", u.ID), clientIP(r)
		// A forced change follows a sign-in with the one-time password
		// moments ago, so the form does not ask for it again.
		if !u.MustChange {
			if wait := p.throttle.Wait(r.Context(), key, addr); wait > 0 {
				wait = retryAfter(w, wait)
				auditOutcome(p.d, r, "user.password", fmt.Sprintf("user/%d", u.ID), "current password check throttled", store.OutcomeThrottled)
				again(http.StatusTooManyRequests, fmt.Sprintf("Too many wrong current passwords. Try again in %s.", wait))
				return
			}
			err := auth.ErrMismatch
			if len(current) <= auth.MaxPasswordLength {
				err = auth.CheckPassword(u.PasswordHash, current)
			}
			switch {
			case errors.Is(err, auth.ErrBusy):
				busy()
				return
			case err != nil:
				p.throttle.Fail(r.Context(), key, addr)
				auditOutcome(p.d, r, "user.password", fmt.Sprintf("user/%d", u.ID), "wrong current password", store.OutcomeFailed)
				again(http.StatusUnprocessableEntity, "Your current password is not right.")
				return
			}
			p.throttle.Succeed(r.Context(), key, addr)
		}
		if pw != confirm {
			again(http.StatusUnprocessableEntity, "The new password and its confirmation differ.")
			return
		}
		if err := auth.CheckNewPassword(pw, u.Email); err != nil {
			again(http.StatusUnprocessableEntity, sentence(err.Error()))
			return
		}
		switch err := auth.CheckPassword(u.PasswordHash, pw); {
		case err == nil:
			again(http.StatusUnprocessableEntity, "Choose a password different from the current one.")
			return
		case errors.Is(err, auth.ErrBusy):
			busy()
			return
		}
		hash, err := auth.HashPassword(pw)
		if errors.Is(err, auth.ErrBusy) {
			busy()
			return
		}
		if err != nil {
			p.fail(w, r, err)
			return
		}
		u.PasswordHash, u.MustChange, u.PasswordExpires = hash, false, time.Time{}
		if u, err = p.d.Store.UpdateCredentials(r.Context(), u); err != nil {
			p.fail(w, r, err)
			return
		}
		// Every session and token ended; this session goes on, with a new
		// token.
		sm := p.sm(r)
		if err := sm.RenewToken(r.Context()); err != nil {
			p.fail(w, r, err)
			return
		}
		sm.Put(r.Context(), sessPassword, passwordVersion(hash))
		sm.Put(r.Context(), sessEpoch, u.SessionEpoch)
		audit(p.d, r, "user.password", fmt.Sprintf("user/%d", u.ID), "changed by the user; other sessions and API tokens ended")
		p.flash(r, "success", "Your password was changed. Your other sessions were signed out and your API tokens revoked.")
		redirect(w, r, "/datasets")
	})
}

// sentence capitalises msg's first letter and ends it with a full stop.
func sentence(msg string) string {
	if msg == "" {
		return msg
	}
	msg = strings.ToUpper(msg[:1]) + msg[1:]
	if !strings.HasSuffix(msg, ".") {
		msg += "."
	}
	return msg
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
