package server

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/pulsegrid/pulsegrid/server/grid"
	"github.com/pulsegrid/pulsegrid/server/store"
	"github.com/pulsegrid/pulsegrid/views"
)

// gridJSON is GET /api/v1/grid, and what /admin/grid shows: the page is
// rendered from it and static/js/grid.js redraws the page from it every
// few seconds (TestGridContract keeps the script's field lists equal to
// these json tags).
type gridJSON struct {
	grid.Recent
	// ChunksFailed counts the chunks that failed since the server started.
	ChunksFailed int         `json:"chunks_failed_total"`
	Queue        []queueJSON `json:"queue"`
	// Nodes are sent to administrators only.
	Nodes   []nodeJSON `json:"nodes,omitempty"`
	Updated time.Time  `json:"updated"`
}

// queueJSON is the analyses not yet finished at one priority: how many,
// their chunks verified and still to verify (waiting or being computed).
type queueJSON struct {
	Priority string `json:"priority"`
	Analyses int    `json:"analyses"`
	Pending  int    `json:"chunks_pending"`
	Verified int    `json:"chunks_verified"`
}

// nodeJSON is one volunteer identity's figures (docs/portal.md, "Grid page").
type nodeJSON struct {
	ID              string    `json:"id"` // the first 8 characters of the volunteer id
	Nickname        string    `json:"nickname"`
	Kind            string    `json:"kind"` // browser, native, local or volunteer
	Online          bool      `json:"online"`
	Requests        int64     `json:"requests"`
	Leased          int64     `json:"leased"`
	Completed       int64     `json:"completed"`
	Accepted        int64     `json:"accepted"`
	Failed          int64     `json:"failed"`
	AvgCompletionMS int64     `json:"avg_completion_ms"`
	Reputation      int64     `json:"reputation"`
	LastSeen        time.Time `json:"last_seen"`
}

// nodesShown bounds the stored volunteers the grid page lists.
const nodesShown = 200

// gridStatus is the grid now: figures, the last hour, the queue by
// priority and, for administrators, every volunteer; and the analyses it
// read for the queue.
func gridStatus(ctx context.Context, d Deps, admin bool) (gridJSON, []store.Analysis, error) {
	g := gridJSON{Recent: d.Grid.Recent(), ChunksFailed: int(gridCounter(d, "pulsegrid_chunks_failed_total")), Updated: time.Now().UTC()}
	as, err := d.Store.Analyses(ctx, 0)
	if err != nil {
		return g, nil, err
	}
	g.Queue = queueRows(d, as)
	if !admin {
		return g, as, nil
	}
	// The store's rows (saved every few seconds), overridden by the grid's
	// in-memory standing of the connected ones.
	vs, err := d.Store.Volunteers(ctx, nodesShown)
	if err != nil {
		return g, as, err
	}
	g.Nodes = nodeRows(vs, d.Grid.OnlineVolunteers())
	return g, as, nil
}

// handleGridStats is GET /api/v1/grid (grid.js polls it).
func handleGridStats(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g, _, err := gridStatus(r.Context(), d, userFrom(r).Role == store.RoleAdmin)
		if err != nil {
			writeError(w, r, d.Logger, err)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusOK, g)
	})
}

// gridCounter reads one of the grid's Prometheus counters, summed over its labels.
func gridCounter(d Deps, name string) float64 {
	mfs, err := d.Gatherer.Gather()
	if err != nil {
		return 0
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				sum += metricValue(m)
			}
		}
	}
	return sum
}

func metricValue(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	}
	return 0
}

// failuresShown bounds the recent failures the grid page lists.
const failuresShown = 50

func (p *portal) handleGrid() http.Handler {
	return p.auth(true, func(w http.ResponseWriter, r *http.Request) {
		g, as, err := gridStatus(r.Context(), p.d, true)
		if err != nil {
			p.fail(w, r, err)
			return
		}
		page := views.GridPage{
			VolunteersOnline:  g.Volunteers + g.LocalWorkers,
			SlotsOnline:       g.ActiveLeases,
			VerifiedPerMinute: g.VerifiedPerMinute,
			FailedChunks:      g.ChunksFailed,
			Updated:           g.Updated,
		}
		for _, q := range g.Queue {
			page.Queue = append(page.Queue, views.QueueRow{Priority: q.Priority, Analyses: q.Analyses, Pending: q.Pending, Verified: q.Verified})
		}
		for _, n := range g.Nodes {
			page.Nodes = append(page.Nodes, views.NodeRow{ID: n.ID, Nickname: n.Nickname, Kind: n.Kind, Online: n.Online,
				Requests: n.Requests, Leased: n.Leased, Accepted: n.Accepted, Completed: n.Completed, Failed: n.Failed,
				AvgCompletion: time.Duration(n.AvgCompletionMS) * time.Millisecond, Reputation: float64(n.Reputation), LastSeen: n.LastSeen})
		}
		for _, a := range as {
			if a.Status == store.StatusFailed {
				page.Failures = append(page.Failures, views.FailureRow{AnalysisID: a.ID, Chunk: -1, Reason: a.Error, When: a.FinishedAt})
			}
		}
		// The most recent first, whatever order the store lists them in.
		slices.SortStableFunc(page.Failures, func(x, y views.FailureRow) int { return y.When.Compare(x.When) })
		page.Failures = page.Failures[:min(len(page.Failures), failuresShown)]
		p.render(w, r, http.StatusOK, "Grid", "grid", views.Grid(page))
	})
}

// queueRows sums the analyses not yet finished by priority: how many, and
// their chunks verified and still to verify (the grid's live progress).
func queueRows(d Deps, as []store.Analysis) []queueJSON {
	rows := make([]queueJSON, len(store.Priorities))
	for i, prio := range store.Priorities {
		rows[i].Priority = prio
	}
	for _, a := range as {
		i := slices.Index(store.Priorities, a.Priority)
		if a.Finished() || i < 0 {
			continue
		}
		verified, total := progress(d, a)
		rows[i].Analyses++
		rows[i].Verified += verified
		rows[i].Pending += max(total-verified, 0)
	}
	return rows
}

// nodeRows merges stored volunteers (most recently seen first) with the
// ones connected to the grid: those first, then the rest, offline (the grid
// holds every connected volunteer, so the others are not connected).
func nodeRows(stored, online []store.Volunteer) []nodeJSON {
	live := map[string]bool{}
	var rows []nodeJSON
	for _, v := range online {
		live[v.ID] = true
		rows = append(rows, nodeRow(v, true))
	}
	for _, v := range stored {
		if !live[v.ID] {
			rows = append(rows, nodeRow(v, false))
		}
	}
	return rows
}

func nodeRow(v store.Volunteer, online bool) nodeJSON {
	kind := "volunteer"
	switch {
	case strings.HasPrefix(v.Agent, "local worker"):
		kind = "local"
	case strings.HasPrefix(v.Agent, "pulsegrid-browser"), strings.Contains(v.Agent, "Mozilla"):
		kind = "browser"
	case strings.HasPrefix(v.Agent, "pulsegrid-native"):
		kind = "native"
	}
	return nodeJSON{ID: v.ID[:min(len(v.ID), 8)], Nickname: v.Nickname, Kind: kind, Online: online,
		Requests: v.Requests, Leased: v.Issued, Accepted: v.Validated, Completed: v.Results, Failed: v.Failed + v.Rejected,
		AvgCompletionMS: v.AvgCompletion().Milliseconds(), Reputation: int64(v.Reputation), LastSeen: v.LastSeen.UTC()}
}
