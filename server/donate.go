package server

import (
	"net/http"

	"github.com/pulsegrid/pulsegrid/views"
)

// donateMaxThreads is the largest thread count the page offers; the page
// preselects half of navigator.hardwareConcurrency.
const donateMaxThreads = 16

// handleDonate renders /donate, the volunteer page. It needs no account:
// the page runs the wasm worker (static/js/donate.js) only after Start.
func handleDonate(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		dp := views.DonatePage{MaxThreads: donateMaxThreads}
		switch {
		case d.Grid != nil:
			b := d.Grid.Backlog()
			dp.Quorum, dp.Queued, dp.Running, dp.Awaiting = b.Quorum, b.Queued, b.Running, b.AwaitingReplica
		case d.Store != nil:
			// A standby: the chunks' states are the leader's, the count of
			// those not yet verified is the database's.
			dp.Quorum, dp.Stored = d.quorum(), true
			if as, err := d.Store.UnfinishedAnalyses(r.Context()); err == nil {
				for _, a := range as {
					dp.Unverified += max(0, a.ChunksTotal-a.ChunksVerified)
				}
			} else {
				d.Logger.Warn("/donate: backlog", "err", err)
			}
		}
		if d.Store == nil {
			// a page test without a database
		} else if st, err := useCases(d).Leaderboard(r.Context()); err == nil {
			for _, t := range st.Teams {
				dp.Teams = append(dp.Teams, t.Name)
			}
		} else {
			d.Logger.Warn("/donate: teams", "err", err) // the page works without the list
		}
		page := views.Layout("Donate a tab", publicNav(r, "donate"), views.Donate(dp))
		if err := page.Render(r.Context(), w); err != nil {
			d.Logger.Warn("render /donate", "err", err)
		}
	})
}

// public wraps a page anyone may open (/donate, /leaderboard) so that a
// signed-in visitor is shown as signed in: the portal's session is loaded
// when the request carries its cookie, and its user put in the context.
// Anonymous visitors get no session.
func (p *portal) public(h http.Handler) http.Handler {
	withUser := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, ok := p.sessionUser(r); ok {
			r = r.WithContext(WithUser(r.Context(), u))
		}
		h.ServeHTTP(w, r)
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := r.Cookie("pulsegrid_session"); err != nil {
			h.ServeHTTP(w, r)
			return
		}
		p.sessions(withUser).ServeHTTP(w, r)
	})
}

// publicNav is the page chrome of a public page: the signed-in user's
// navigation when public found one, the visitor's otherwise.
func publicNav(r *http.Request, active string) views.Nav {
	n := views.Nav{Active: active}
	if u := userFrom(r); u.ID != 0 {
		n.Role, n.Email, n.MustChange = u.Role, u.Email, u.MustChange
	}
	return n
}

// backlogJSON is GET /api/v1/backlog: what the chunks of every running
// analysis are doing now, summed. It is public, like /donate, which polls it
// (static/js/donate.js) to tell a volunteer "no work" from "your results
// wait for a second opinion" while the page stays open. It names no
// analysis, dataset or volunteer.
type backlogJSON struct {
	Quorum          int `json:"quorum"`
	Total           int `json:"chunks_total"`
	Verified        int `json:"chunks_verified"`
	Queued          int `json:"chunks_queued"`
	Running         int `json:"chunks_running"`
	AwaitingReplica int `json:"chunks_awaiting_replica"`
}

// handleBacklog answers GET /api/v1/backlog (backlogJSON), never cached.
func handleBacklog(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b backlogJSON
		if d.Grid != nil {
			g := d.Grid.Backlog()
			b = backlogJSON{Quorum: g.Quorum, Total: g.Total, Verified: g.Verified, Queued: g.Queued, Running: g.Running, AwaitingReplica: g.AwaitingReplica}
		}
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusOK, b)
	})
}
