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
		if d.Grid != nil {
			b := d.Grid.Backlog()
			dp.Quorum, dp.Queued, dp.Running, dp.Awaiting = b.Quorum, b.Queued, b.Running, b.AwaitingReplica
		}
		page := views.Layout("Donate a tab", views.Nav{Active: "donate"}, views.Donate(dp))
		if err := page.Render(r.Context(), w); err != nil {
			d.Logger.Warn("render /donate", "err", err)
		}
	})
}
