// Package server assembles pulsegrid's HTTP side: the JSON API under
// /api/v1, the volunteer websocket, /metrics and /healthz. NewServer wires
// the dependencies; routes.go lists every route; handlers are small makers
// that take what they need.
package server

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pulsegrid/pulsegrid/algorithms/pipeline"
	"github.com/pulsegrid/pulsegrid/server/grid"
	"github.com/pulsegrid/pulsegrid/server/store"
)

// Deps are what the server needs.
type Deps struct {
	Store store.Store
	// Grid is the coordinator, on the replica that runs it; nil on the
	// others (several replicas on one PostgreSQL), which serve the portal
	// and the API and leave the grid's own pages (/ws/volunteer,
	// /admin/grid, /api/v1/grid) to the leader.
	Grid *grid.Grid
	// Standby stands in for Grid in the use cases on a replica that does
	// not run it (grid/sync.go): it records, and the leader acts. NewServer
	// makes one when both are nil.
	Standby  *grid.Standby
	Registry *pipeline.Registry
	Logger   *slog.Logger
	// Gatherer serves /metrics (the registry the grid registered on);
	// nil serves the default registry.
	Gatherer prometheus.Gatherer
	// MaxUpload bounds an upload request in bytes (default 1 GiB).
	MaxUpload int64
	// UploadDisk is the disk every upload in progress may hold together,
	// spooled bodies and expanded archive members (diskpool.go); default
	// 2 × MaxUpload. It is one budget for the process, not per upload.
	UploadDisk int64
	// Portal tunes the clinician portal (server/portal.go).
	Portal PortalConfig
	// TrustedProxies are the reverse proxies whose X-Forwarded-For (or
	// Forwarded) header names the client (clientip.go); nobody else's is read.
	TrustedProxies []netip.Prefix
	// Limits bound what one client address may ask (server/limits.go).
	Limits Limits

	// Caches shared by every handler (results.go); NewServer makes them.
	results    *lru[cacheKey, pipeline.Result]
	references *lru[cacheKey, references]
	guard      *guard
	disk       *diskPool // the disk uploads in progress share (diskpool.go)
}

// NewServer returns the whole HTTP handler.
func NewServer(d Deps) http.Handler {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.MaxUpload <= 0 {
		d.MaxUpload = 1 << 30
	}
	if d.Gatherer == nil {
		d.Gatherer = prometheus.DefaultGatherer
	}
	if d.Grid == nil && d.Standby == nil {
		d.Standby = grid.NewStandby(d.Store, d.Registry, grid.Config{})
	}
	d.results = newLRU[cacheKey, pipeline.Result](cacheSize)
	d.references = newLRU[cacheKey, references](cacheSize)
	d.guard = newGuard(d.Limits, d.Store, d.Logger)
	if d.UploadDisk <= 0 {
		d.UploadDisk = 2 * d.MaxUpload
	}
	d.disk = newDiskPool(d.UploadDisk)
	mux := http.NewServeMux()
	addRoutes(mux, d)
	var h http.Handler = mux
	h = securityHeaders(h)
	h = http.NewCrossOriginProtection().Handler(h)
	h = recoverPanics(d.Logger, h)
	h = edge(d, h)
	h = logRequests(d.Logger, h)
	return h
}

// gridWork is what the use cases ask of the grid (app.go): a Grid on the
// replica that runs it, a grid.Standby on the others.
type gridWork interface {
	Start(ctx context.Context, a store.Analysis) (store.Analysis, error)
	Cancel(ctx context.Context, id int64) error
	Forget(datasetID, analysisID int64)
}

// work is the grid the use cases call: the Grid, or else the Standby.
func (d Deps) work() gridWork {
	if d.Grid != nil {
		return d.Grid
	}
	return d.Standby
}

// quorum is the grid's quorum, the Standby's idea of it on a standby.
func (d Deps) quorum() int {
	if d.Grid != nil {
		return d.Grid.Config().Quorum
	}
	return d.Standby.Config().Quorum
}

// leaderOnly serves h on the replica that runs the grid; the others
// answer 503 and say where it is (the load balancer routes these paths to
// the leader: deploy/haproxy.cfg).
func leaderOnly(d Deps, h http.Handler) http.Handler {
	if d.Grid != nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, d.Logger, &Error{Code: EUnavailable, RetryAfter: time.Second,
			Message: "this replica does not run the grid: " + r.URL.Path + " is served by the replica that leads (its /readyz answers 200); through the load balancer it is routed there"})
	})
}
