package server

import (
	"context"
	"net/http"
	"time"

	"github.com/pulsegrid/pulsegrid/server/store"
	"github.com/pulsegrid/pulsegrid/views"
)

// leaderboardSize is how many volunteers, and how many teams, the public
// leaderboard lists.
const leaderboardSize = 100

// Standings is the public leaderboard: the volunteers and the teams with
// the most credit (CPU seconds of verified results; a team's is the sum of
// its members'), most first.
type Standings struct {
	Volunteers []store.Volunteer
	Teams      []store.TeamStanding
}

// Leaderboard is the public standing of volunteers and teams. It needs no
// account: /leaderboard, GET /api/v1/leaderboard and /donate (the teams a
// volunteer may join) show it. The grid saves volunteers' counters every
// few seconds; the standing is as fresh as the last save.
func (a app) Leaderboard(ctx context.Context) (Standings, error) {
	vs, err := a.d.Store.Leaderboard(ctx, leaderboardSize)
	if err != nil {
		return Standings{}, err
	}
	ts, err := a.d.Store.TeamLeaderboard(ctx, leaderboardSize)
	return Standings{Volunteers: vs, Teams: ts}, err
}

// handleLeaderboard renders /leaderboard. It is public, so it shows
// nicknames, team names and figures only: never volunteer ids, addresses
// or agents.
func handleLeaderboard(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st, err := useCases(d).Leaderboard(r.Context())
		if err != nil {
			writeError(w, r, d.Logger, err)
			return
		}
		page := views.LeaderboardPage{Rows: leaderRows(st.Volunteers), Teams: teamRows(st.Teams), Updated: time.Now()}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		nav := publicNav(r, "leaderboard")
		if nav.Role != "" {
			w.Header().Set("Cache-Control", "private, no-store") // it names the signed-in user
		} else {
			w.Header().Set("Cache-Control", "public, max-age=5")
		}
		if err := views.Layout("Leaderboard", nav, views.Leaderboard(page)).Render(r.Context(), w); err != nil {
			d.Logger.Warn("render /leaderboard", "err", err)
		}
	})
}

// leaderboardJSON is GET /api/v1/leaderboard, the page's tables as data.
type leaderboardJSON struct {
	Volunteers []views.LeaderRow `json:"volunteers"`
	Teams      []views.TeamRow   `json:"teams"`
	Updated    time.Time         `json:"updated"`
}

// handleLeaderboardAPI answers GET /api/v1/leaderboard (public, like the page).
func handleLeaderboardAPI(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st, err := useCases(d).Leaderboard(r.Context())
		if err != nil {
			writeError(w, r, d.Logger, err)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=5")
		writeJSON(w, http.StatusOK, leaderboardJSON{Volunteers: leaderRows(st.Volunteers), Teams: teamRows(st.Teams), Updated: time.Now().UTC()})
	})
}

// rank numbers rows given most credit first: equal credit shares a rank.
func rank(i int, credit, prevCredit int64, prevRank int) int {
	if i > 0 && credit == prevCredit {
		return prevRank
	}
	return i + 1
}

// leaderRows ranks volunteers (given most credit first).
func leaderRows(vs []store.Volunteer) []views.LeaderRow {
	rows := make([]views.LeaderRow, 0, len(vs))
	for i, v := range vs {
		r := 1
		if i > 0 {
			r = rank(i, v.CreditMicros, vs[i-1].CreditMicros, rows[i-1].Rank)
		}
		rows = append(rows, views.LeaderRow{Rank: r, Nickname: v.Nickname, Team: v.Team, Chunks: v.Results, Verified: v.Validated,
			CPUSeconds: float64(v.CPUMicros) / 1e6, Credit: v.Credit()})
	}
	return rows
}

// teamRows ranks teams (given most credit first).
func teamRows(ts []store.TeamStanding) []views.TeamRow {
	rows := make([]views.TeamRow, 0, len(ts))
	for i, t := range ts {
		r := 1
		if i > 0 {
			r = rank(i, t.CreditMicros, ts[i-1].CreditMicros, rows[i-1].Rank)
		}
		rows = append(rows, views.TeamRow{Rank: r, Name: t.Name, Members: t.Members, Chunks: t.Results, Verified: t.Validated,
			CPUSeconds: float64(t.CPUMicros) / 1e6, Credit: t.Credit()})
	}
	return rows
}
