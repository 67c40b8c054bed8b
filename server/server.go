// Package server assembles pulsegrid's HTTP side: the JSON API under
// /api/v1, the volunteer websocket, /metrics and /healthz. NewServer wires
// the dependencies; routes.go lists every route; handlers are small makers
// that take what they need.
package server

import (
	"log/slog"
	"net/http"
	"net/netip"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pulsegrid/pulsegrid/algorithms/pipeline"
	"github.com/pulsegrid/pulsegrid/server/grid"
	"github.com/pulsegrid/pulsegrid/server/store"
)

// Deps are what the server needs.
type Deps struct {
	Store    store.Store
	Grid     *grid.Grid
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
