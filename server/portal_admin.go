package server

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/pulsegrid/pulsegrid/algorithms/template"
	"github.com/pulsegrid/pulsegrid/server/auth"
	"github.com/pulsegrid/pulsegrid/server/store"
	"github.com/pulsegrid/pulsegrid/views"
)

func (p *portal) usersPage(r *http.Request, otp, otpFor string, problems []views.Problem) (views.UsersPage, error) {
	us, err := p.d.Store.Users(r.Context())
	page := views.UsersPage{OneTimePassword: otp, OneTimeFor: otpFor, Problems: problems}
	for _, u := range us {
		if u.Role == store.RoleVolunteer {
			continue
		}
		page.Users = append(page.Users, views.UserRow{ID: u.ID, Email: u.Email, Role: u.Role, Disabled: u.Disabled, MustChange: u.MustChange, Created: u.CreatedAt, LastLogin: u.LastLogin})
	}
	return page, err
}

func (p *portal) renderUsers(w http.ResponseWriter, r *http.Request, status int, otp, otpFor string, problems []views.Problem) {
	page, err := p.usersPage(r, otp, otpFor, problems)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	p.render(w, r, status, "Users", "users", views.Users(page))
}

func (p *portal) handleUsers() http.Handler {
	return p.auth(true, func(w http.ResponseWriter, r *http.Request) {
		p.renderUsers(w, r, http.StatusOK, "", "", nil)
	})
}

// handleUserCreate creates an account with a one-time password, shown on
// this answer only; the user must change it at first login.
func (p *portal) handleUserCreate() http.Handler {
	return p.auth(true, func(w http.ResponseWriter, r *http.Request) {
		email := strings.TrimSpace(r.PostFormValue("email"))
		role := r.PostFormValue("role")
		if role == "" {
			role = store.RoleClinician
		}
		if !strings.Contains(email, "@") || len(email) > 254 {
			p.renderUsers(w, r, http.StatusUnprocessableEntity, "", "", []views.Problem{{Message: fmt.Sprintf("%q is not an email address.", email)}})
			return
		}
		if role != store.RoleAdmin && role != store.RoleClinician {
			p.renderUsers(w, r, http.StatusUnprocessableEntity, "", "", []views.Problem{{Message: fmt.Sprintf("Role %q: choose clinician or admin.", role)}})
			return
		}
		pw, hash, expires, err := auth.NewOneTimePassword()
		if errors.Is(err, auth.ErrBusy) {
			p.busy(w, r)
			return
		}
		if err != nil {
			p.fail(w, r, err)
			return
		}
		u, err := p.d.Store.CreateUser(r.Context(), store.User{Email: email, Role: role, PasswordHash: hash, MustChange: true, PasswordExpires: expires})
		if ErrorCode(err) == EConflict {
			p.renderUsers(w, r, http.StatusConflict, "", "", []views.Problem{{Message: fmt.Sprintf("%s already has an account.", email)}})
			return
		}
		if err != nil {
			p.fail(w, r, err)
			return
		}
		audit(p.d, r, "user.create", fmt.Sprintf("user/%d", u.ID), role)
		p.renderUsers(w, r, http.StatusOK, pw, u.Email, nil)
	})
}

// busy answers a form whose password hashing found every slot taken.
func (p *portal) busy(w http.ResponseWriter, r *http.Request) {
	retryAfter(w, auth.RetryAfter)
	p.render(w, r, http.StatusTooManyRequests, "Busy", "", views.ErrorView(views.ErrorPage{Status: http.StatusTooManyRequests, Message: "The server is checking many passwords at once. Try again in a moment."}))
}

// handleUserAction resets, disables or enables an account. Each ends every
// session and API token of the account (store.UpdateCredentials, as the
// CLI does), so that an enable after a disable does not bring an old
// session or token back; a reset gives a one-time password that expires
// after auth.OneTimeLifetime.
func (p *portal) handleUserAction(action string) http.Handler {
	return p.auth(true, func(w http.ResponseWriter, r *http.Request) {
		id, err := pathID(r)
		if err != nil {
			p.fail(w, r, Errorf(ENotFound, "user not found"))
			return
		}
		u, err := p.d.Store.User(r.Context(), id)
		if err != nil {
			p.fail(w, r, err)
			return
		}
		if u.ID == userFrom(r).ID && action != "reset" {
			p.renderUsers(w, r, http.StatusUnprocessableEntity, "", "", []views.Problem{{Message: "You cannot disable your own account."}})
			return
		}
		var otp string
		switch action {
		case "reset":
			pw, hash, expires, err := auth.NewOneTimePassword()
			if errors.Is(err, auth.ErrBusy) {
				p.busy(w, r)
				return
			}
			if err != nil {
				p.fail(w, r, err)
				return
			}
			otp, u.PasswordHash, u.MustChange, u.PasswordExpires = pw, hash, true, expires
		case "disable":
			u.Disabled = true
		case "enable":
			u.Disabled = false
		}
		if _, err := p.d.Store.UpdateCredentials(r.Context(), u); err != nil {
			p.fail(w, r, err)
			return
		}
		audit(p.d, r, "user."+action, fmt.Sprintf("user/%d", u.ID), u.Email+": sessions and API tokens ended")
		if otp != "" {
			p.renderUsers(w, r, http.StatusOK, otp, u.Email, nil)
			return
		}
		p.flash(r, "success", fmt.Sprintf("%s: %sd.", u.Email, action))
		redirect(w, r, "/admin/users")
	})
}

func (p *portal) handleTemplates() http.Handler {
	return p.auth(true, func(w http.ResponseWriter, r *http.Request) {
		ts, err := p.d.Store.IngestTemplates(r.Context())
		if err != nil {
			p.fail(w, r, err)
			return
		}
		var page views.TemplatesPage
		for _, b := range template.Builtins() {
			bt := views.BuiltinTemplate{Name: b.Name, Title: b.Title, Description: b.Description, Duplicates: b.Duplicates, Extra: b.Extra}
			for _, c := range b.Channels {
				bt.Channels = append(bt.Channels, views.ChannelCheck{Role: c.Role, Aliases: c.Aliases, Unit: c.Unit, Min: c.Min, Max: c.Max,
					OutOfRange: c.OutOfRange, MinRate: c.MinRate, Required: c.Required})
			}
			page.Builtins = append(page.Builtins, bt)
		}
		for _, t := range ts {
			row := views.TemplateRow{ID: t.ID, Name: t.Name, Updated: t.UpdatedAt}
			if pt, err := template.Parse([]byte(t.JSON)); err == nil {
				row.Description = pt.Description
			}
			page.Templates = append(page.Templates, row)
		}
		p.render(w, r, http.StatusOK, "Ingest templates", "templates", views.Templates(page))
	})
}

func (p *portal) handleTemplateNew() http.Handler {
	return p.auth(true, func(w http.ResponseWriter, r *http.Request) {
		// Start from the built-in ECG template: an example of every field.
		ex, _ := template.Builtin("ecg")
		ex.Name = "my-ecg"
		b, _ := json.MarshalIndent(ex, "", "  ")
		p.render(w, r, http.StatusOK, "New ingest template", "templates", views.TemplateEdit(views.TemplateEditPage{Name: ex.Name, JSON: string(b)}))
	})
}

func (p *portal) handleTemplateEdit() http.Handler {
	return p.auth(true, func(w http.ResponseWriter, r *http.Request) {
		id, err := pathID(r)
		if err != nil {
			p.fail(w, r, Errorf(ENotFound, "template not found"))
			return
		}
		t, err := p.d.Store.IngestTemplate(r.Context(), id)
		if err != nil {
			p.fail(w, r, err)
			return
		}
		p.render(w, r, http.StatusOK, "Template "+t.Name, "templates", views.TemplateEdit(views.TemplateEditPage{ID: t.ID, Name: t.Name, JSON: t.JSON}))
	})
}

// handleTemplateSave creates (POST /admin/templates) or updates (POST
// /admin/templates/{id}) a template after template.Parse accepted it. The
// name field wins over the JSON's name.
func (p *portal) handleTemplateSave() http.Handler {
	return p.auth(true, func(w http.ResponseWriter, r *http.Request) {
		var id int64
		if r.PathValue("id") != "" {
			var err error
			if id, err = pathID(r); err != nil {
				p.fail(w, r, Errorf(ENotFound, "template not found"))
				return
			}
		}
		name, body := strings.TrimSpace(r.PostFormValue("name")), r.PostFormValue("json")
		again := func(status int, problems []views.Problem) {
			p.render(w, r, status, "Ingest template", "templates", views.TemplateEdit(views.TemplateEditPage{ID: id, Name: name, JSON: body, Problems: problems}))
		}
		var raw map[string]any
		if err := json.Unmarshal([]byte(body), &raw); err != nil {
			again(http.StatusUnprocessableEntity, []views.Problem{{Message: "The template is not a JSON object: " + err.Error()}})
			return
		}
		raw["name"] = name
		fixed, _ := json.Marshal(raw)
		t, err := template.Parse(fixed)
		if err != nil {
			var problems []views.Problem
			for _, line := range strings.Split(err.Error(), "\n") {
				problems = append(problems, views.Problem{Message: line})
			}
			again(http.StatusUnprocessableEntity, problems)
			return
		}
		if _, err := template.Builtin(t.Name); err == nil {
			again(http.StatusConflict, []views.Problem{{Message: fmt.Sprintf("%s is the name of a built-in template; choose another.", t.Name)}})
			return
		}
		pretty, _ := json.MarshalIndent(t, "", "  ")
		saved, err := p.d.Store.SaveIngestTemplate(r.Context(), store.IngestTemplate{ID: id, Name: t.Name, JSON: string(pretty)})
		if ErrorCode(err) == EConflict {
			again(http.StatusConflict, []views.Problem{{Message: fmt.Sprintf("Another template is named %s.", t.Name)}})
			return
		}
		if err != nil {
			p.fail(w, r, err)
			return
		}
		audit(p.d, r, "template.save", fmt.Sprintf("template/%d", saved.ID), saved.Name)
		p.flash(r, "success", "Template "+saved.Name+" saved.")
		redirect(w, r, "/admin/templates")
	})
}

// auditPageSize is the entries per audit page.
const auditPageSize = 50

// auditExportMax bounds one CSV export of the audit log.
const auditExportMax = 100000

// auditActions are offered in the action filter.
var auditActions = []string{"login", "login.", "logout", "user.", "token.", "dataset.", "analysis.", "batch.", "access.refused", "audit.", "backup", "template.save"}

// auditFilter reads the audit page's filters; from and to are dates
// (YYYY-MM-DD, UTC), both included.
func auditFilter(r *http.Request) (store.AuditFilter, views.AuditPage, error) {
	q := r.URL.Query()
	page := views.AuditPage{Query: strings.TrimSpace(q.Get("q")), Actor: strings.TrimSpace(q.Get("actor")), Action: strings.TrimSpace(q.Get("action")),
		From: strings.TrimSpace(q.Get("from")), To: strings.TrimSpace(q.Get("to")), Actions: auditActions}
	f := store.AuditFilter{Query: page.Query, Actor: page.Actor, Action: page.Action}
	var err error
	if page.From != "" {
		if f.From, err = time.Parse(time.DateOnly, page.From); err != nil {
			return f, page, fmt.Errorf("from %q is not a date YYYY-MM-DD", page.From)
		}
	}
	if page.To != "" {
		var to time.Time
		if to, err = time.Parse(time.DateOnly, page.To); err != nil {
			return f, page, fmt.Errorf("to %q is not a date YYYY-MM-DD", page.To)
		}
		f.To = to.AddDate(0, 0, 1)
	}
	return f, page, nil
}

// link is the audit page's URL with its filters, at path.
func auditLink(path string, page views.AuditPage, extra url.Values) string {
	v := url.Values{}
	for k, x := range map[string]string{"q": page.Query, "actor": page.Actor, "action": page.Action, "from": page.From, "to": page.To} {
		if x != "" {
			v.Set(k, x)
		}
	}
	for k, x := range extra {
		v[k] = x
	}
	if len(v) == 0 {
		return path
	}
	return path + "?" + v.Encode()
}

func auditActor(e store.AuditRecord) string {
	switch {
	case e.Email != "":
		return e.Email
	case e.Actor != "":
		return e.Actor
	case e.UserID != 0:
		return fmt.Sprintf("user %d", e.UserID)
	}
	return "anonymous"
}

// handleAudit shows the audit log, filtered; ?format=csv exports every
// entry the filters select (at most auditExportMax). Looking at the log
// and exporting it are audited too.
func (p *portal) handleAudit() http.Handler {
	return p.auth(true, func(w http.ResponseWriter, r *http.Request) {
		f, page, ferr := auditFilter(r)
		page.ExportURL = auditLink("/admin/audit", page, url.Values{"format": {"csv"}})
		detail := strings.TrimPrefix(auditLink("", page, nil), "?")
		if r.URL.Query().Get("format") == "csv" {
			if ferr != nil {
				p.fail(w, r, Errorf(EInvalid, "%v", ferr))
				return
			}
			f.Limit = auditExportMax
			es, err := p.d.Store.AuditFind(r.Context(), f)
			if err != nil {
				p.fail(w, r, err)
				return
			}
			audit(p.d, r, "audit.export", "audit", fmt.Sprintf("%d entries; %s", len(es), detail))
			var buf bytes.Buffer
			cw := csv.NewWriter(&buf)
			cw.Write([]string{"id", "time_utc", "actor", "action", "target", "detail", "address", "outcome"})
			for _, e := range es {
				cw.Write([]string{strconv.FormatInt(e.ID, 10), e.At.UTC().Format(time.RFC3339Nano), csvSafe(auditActor(e)), csvSafe(e.Action), csvSafe(e.Object), csvSafe(e.Detail), csvSafe(e.Address), e.Outcome})
			}
			cw.Flush()
			w.Header().Set("Cache-Control", "no-store")
			writeAttachment(w, "audit-"+time.Now().UTC().Format("20060102-150405")+".csv", "text/csv; charset=utf-8", buf.Bytes())
			return
		}
		if ferr != nil {
			page.Problem = sentence(ferr.Error())
			f = store.AuditFilter{Query: f.Query, Actor: f.Actor, Action: f.Action}
		}
		pg, _ := strconv.Atoi(r.URL.Query().Get("page"))
		pg = max(pg, 0)
		f.Limit, f.Offset = auditPageSize+1, pg*auditPageSize
		es, err := p.d.Store.AuditFind(r.Context(), f)
		if err != nil {
			p.fail(w, r, err)
			return
		}
		audit(p.d, r, "audit.view", "audit", detail)
		if len(es) > auditPageSize {
			es = es[:auditPageSize]
			page.NextPage = auditLink("/admin/audit", page, url.Values{"page": {strconv.Itoa(pg + 1)}})
		}
		if pg > 0 {
			page.PrevPage = auditLink("/admin/audit", page, url.Values{"page": {strconv.Itoa(pg - 1)}})
		}
		for _, e := range es {
			page.Entries = append(page.Entries, views.AuditRow{When: e.At, Actor: auditActor(e), Action: e.Action, Object: strings.Replace(e.Object, "/", " ", 1), Detail: e.Detail, Addr: e.Address, Outcome: e.Outcome})
		}
		p.render(w, r, http.StatusOK, "Audit log", "audit", views.Audit(page))
	})
}

// csvSafe keeps a spreadsheet from reading a cell as a formula: the log
// holds text that strangers chose (emails tried at login).
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
