package server

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Replica is the outermost handler of one serve process, and says what
// it serves to the load balancer:
//
//   - GET /readyz: 200 on the replica that runs the grid (the leader, or
//     the one SQLite server), 503 on the others. Volunteers' websockets
//     and the grid's pages go there.
//   - GET /readyz/portal: 200 on every replica that serves the portal and
//     the API and reaches the database: the leader, and the standbys once
//     they serve (Standby).
//
// Several replicas on one PostgreSQL: the leader (the grid leader lock)
// runs the grid; the standbys serve the portal and the API without it,
// recording what concerns the grid for the leader to act on
// (grid/sync.go), and take over when the lock frees (docs/operations.md).
// Until a handler is given it answers /healthz and /metrics itself and
// 503 to everything else.
type Replica struct {
	h       atomic.Pointer[http.Handler] // the grid's replica's (Serve)
	standby atomic.Pointer[http.Handler] // a standby's (Standby)
	role    atomic.Value                 // string
	check   func(context.Context) error
	stats   http.Handler
}

// NewReplica returns a standby: check says whether the database answers
// (for /healthz), gatherer serves /metrics until Serve.
func NewReplica(check func(context.Context) error, gatherer prometheus.Gatherer) *Replica {
	r := &Replica{check: check, stats: promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{})}
	r.role.Store("standby")
	return r
}

// Serve makes this replica the one that runs the grid, serving h; role is
// what /readyz reports ("leader" on PostgreSQL, "single" on SQLite).
func (r *Replica) Serve(h http.Handler, role string) {
	r.role.Store(role)
	r.h.Store(&h)
}

// Standby makes a replica that does not run the grid serve h (a server
// without a grid: the portal and the API) until Serve.
func (r *Replica) Standby(h http.Handler) { r.standby.Store(&h) }

// Ready says whether the replica runs the grid.
func (r *Replica) Ready() bool { return r.h.Load() != nil }

// ServeHTTP implements http.Handler.
func (r *Replica) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	h := r.h.Load()
	role := r.role.Load().(string)
	switch req.URL.Path {
	case "/readyz":
		w.Header().Set("Cache-Control", "no-store")
		if h == nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "standby", "role": role})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"status": "ready", "role": role})
		return
	case "/readyz/portal":
		w.Header().Set("Cache-Control", "no-store")
		if h == nil && r.standby.Load() == nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "starting", "role": role})
			return
		}
		if err := r.check(req.Context()); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "error", "role": role, "error": fmt.Sprintf("database: %v", err)})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"status": "ready", "role": role})
		return
	}
	if h == nil {
		h = r.standby.Load()
	}
	if h != nil {
		(*h).ServeHTTP(w, req)
		return
	}
	switch req.URL.Path {
	case "/healthz":
		if err := r.check(req.Context()); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "error", "role": role, "error": fmt.Sprintf("database: %v", err)})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "role": role})
	case "/metrics":
		r.stats.ServeHTTP(w, req)
	default:
		w.Header().Set("Retry-After", "1")
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"code": "unavailable",
			"error": "this replica is starting: reach pulsegrid through the load balancer, which routes to the replicas whose /readyz/portal answers 200"})
	}
}
