package server

import (
	"net/http"
	"time"

	"github.com/pulsegrid/pulsegrid/server/store"
	"github.com/pulsegrid/pulsegrid/views"
)

// leaderboardSize is how many volunteers the public leaderboard lists.
const leaderboardSize = 100

// handleLeaderboard renders /leaderboard: the volunteers with the most
// credit (CPU seconds of verified results). It is public, so it shows
// nicknames and figures only: never volunteer ids, addresses or agents.
// The grid saves volunteers' counters every few seconds; the page is as
// fresh as the last save.
func handleLeaderboard(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		vs, err := d.Store.Leaderboard(r.Context(), leaderboardSize)
		if err != nil {
			writeError(w, r, d.Logger, err)
			return
		}
		page := views.LeaderboardPage{Rows: leaderRows(vs), Updated: time.Now()}
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

// leaderRows ranks volunteers (given most credit first); equal credit
// shares a rank.
func leaderRows(vs []store.Volunteer) []views.LeaderRow {
	rows := make([]views.LeaderRow, 0, len(vs))
	for i, v := range vs {
		rank := i + 1
		if i > 0 && v.CreditMicros == vs[i-1].CreditMicros {
			rank = rows[i-1].Rank
		}
		rows = append(rows, views.LeaderRow{Rank: rank, Nickname: v.Nickname, Chunks: v.Results, Verified: v.Validated,
			CPUSeconds: float64(v.CPUMicros) / 1e6, Credit: v.Credit()})
	}
	return rows
}
