package server

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Replica is the outermost handler of one serve process. It answers
// GET /readyz, which a load balancer checks: 200 on the replica that
// serves traffic, 503 on a standby. Until Serve is called (a standby
// waiting for the grid leader lock: several replicas on one PostgreSQL)
// it answers /healthz and /metrics itself and 503 to everything else;
// afterwards every other request goes to the handler Serve was given.
//
// This is active/standby: one replica runs the grid and serves the portal,
// the API and the volunteers; the others are migrated and connected, and
// take over when the leader's lock frees (docs/operations.md).
type Replica struct {
	h     atomic.Pointer[http.Handler]
	role  atomic.Value // string
	check func(context.Context) error
	stats http.Handler
}

// NewReplica returns a standby: check says whether the database answers
// (for /healthz), gatherer serves /metrics until Serve.
func NewReplica(check func(context.Context) error, gatherer prometheus.Gatherer) *Replica {
	r := &Replica{check: check, stats: promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{})}
	r.role.Store("standby")
	return r
}

// Serve makes this replica the one that serves traffic, with h; role is
// what /readyz reports ("leader" on PostgreSQL, "single" on SQLite).
func (r *Replica) Serve(h http.Handler, role string) {
	r.role.Store(role)
	r.h.Store(&h)
}

// Ready says whether the replica serves traffic.
func (r *Replica) Ready() bool { return r.h.Load() != nil }

// ServeHTTP implements http.Handler.
func (r *Replica) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	h := r.h.Load()
	role := r.role.Load().(string)
	if req.URL.Path == "/readyz" {
		w.Header().Set("Cache-Control", "no-store")
		if h == nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "standby", "role": role})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"status": "ready", "role": role})
		return
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
			"error": "this replica is a standby: another replica runs the grid and serves requests; reach pulsegrid through the load balancer, which routes to the replica whose /readyz answers 200"})
	}
}
