package server

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// addRoutes is the one list of every route.
func addRoutes(mux *http.ServeMux, d Deps) {
	// The portal's session cookie authenticates API calls too (progress.js).
	p := newPortal(d)
	api := func(h http.Handler) http.Handler { return p.apiSession(requireToken(d, h)) }

	mux.Handle("GET /healthz", handleHealthz(d))
	mux.Handle("GET /metrics", promhttp.HandlerFor(d.Gatherer, promhttp.HandlerOpts{}))
	mux.Handle("GET /ws/volunteer", leaderOnly(d, handleVolunteerSocket(d)))
	mux.Handle("GET /static/", handleStatic(d))
	mux.Handle("GET /favicon.ico", handleFavicon())
	mux.Handle("GET /donate", p.public(handleDonate(d)))
	mux.Handle("GET /leaderboard", p.public(handleLeaderboard(d)))
	mux.Handle("GET /api/v1/backlog", leaderOnly(d, handleBacklog(d))) // public: the volunteer page polls it
	mux.Handle("GET /api/v1/leaderboard", handleLeaderboardAPI(d))     // public, like /leaderboard

	mux.Handle("GET /api/v1/me", api(handleMe()))
	mux.Handle("GET /api/v1/algorithms", api(handleAlgorithms(d)))
	mux.Handle("GET /api/v1/grid", leaderOnly(d, api(handleGridStats(d))))
	mux.Handle("POST /api/v1/datasets", api(handleDatasetUpload(d)))
	mux.Handle("GET /api/v1/datasets", api(handleDatasetList(d)))
	mux.Handle("GET /api/v1/datasets/{id}", api(handleDatasetShow(d)))
	mux.Handle("DELETE /api/v1/datasets/{id}", api(handleDatasetDelete(d)))
	mux.Handle("POST /api/v1/analyses", api(handleAnalysisCreate(d)))
	mux.Handle("GET /api/v1/analyses", api(handleAnalysisList(d)))
	mux.Handle("GET /api/v1/analyses/{id}", api(handleAnalysisShow(d)))
	mux.Handle("GET /api/v1/analyses/{id}/result", api(handleAnalysisResult(d)))
	mux.Handle("GET /api/v1/analyses/{id}/report", api(handleHolterReport(d)))
	mux.Handle("GET /api/v1/analyses/{id}/corrections", api(handleCorrectionList(d)))
	mux.Handle("POST /api/v1/analyses/{id}/corrections", api(handleCorrectionCreate(d)))
	mux.Handle("POST /api/v1/analyses/{id}/cancel", api(handleAnalysisCancel(d)))
	mux.Handle("DELETE /api/v1/analyses/{id}", api(handleAnalysisDelete(d)))
	mux.Handle("/api/", handleAPINotFound(d))

	// Clinician portal (server/portal_*.go): server-rendered pages behind
	// scs sessions; the CSP is set on each page. Cross-origin POSTs are
	// refused by NewServer's http.CrossOriginProtection.
	mux.Handle("GET /{$}", p.handleRoot())
	mux.Handle("GET /login", p.handleLoginForm())
	mux.Handle("POST /login", p.handleLogin())
	mux.Handle("POST /logout", p.handleLogout())
	mux.Handle("GET /account/password", p.handlePasswordForm())
	mux.Handle("POST /account/password", p.handlePassword())
	mux.Handle("GET /account/tokens", p.handleTokens())
	mux.Handle("POST /account/tokens", p.handleTokenCreate())
	mux.Handle("POST /account/tokens/{id}/revoke", p.handleTokenRevoke())
	mux.Handle("GET /datasets", p.handleDatasets())
	mux.Handle("GET /datasets/upload", p.handleUploadForm())
	mux.Handle("POST /datasets/upload", p.handleUpload())
	mux.Handle("GET /datasets/{id}", p.handleDataset())
	mux.Handle("POST /datasets/{id}/delete", p.handleDatasetDelete())
	mux.Handle("GET /analyses", p.handleAnalyses())
	mux.Handle("GET /analyses/new", p.handleAnalysisNew())
	mux.Handle("POST /analyses", p.handleAnalysisStart())
	mux.Handle("GET /analyses/{id}", p.handleAnalysis())
	mux.Handle("POST /analyses/{id}/cancel", p.handleAnalysisCancel())
	mux.Handle("POST /analyses/{id}/delete", p.handleAnalysisDelete())
	mux.Handle("GET /analyses/{id}/result", p.handleResult())
	mux.Handle("GET /analyses/{id}/report", p.handleHolterPage())
	mux.Handle("POST /analyses/{id}/report/corrections", p.handleHolterCorrect())
	mux.Handle("GET /analyses/{id}/strip", p.handleStrip())
	mux.Handle("GET /analyses/{id}/download", p.handleDownload())
	mux.Handle("GET /batches/{id}", p.handleCohort())
	mux.Handle("GET /batches/{id}/download", p.handleCohortDownload())
	mux.Handle("GET /admin/users", p.handleUsers())
	mux.Handle("POST /admin/users", p.handleUserCreate())
	mux.Handle("POST /admin/users/{id}/reset", p.handleUserAction("reset"))
	mux.Handle("POST /admin/users/{id}/disable", p.handleUserAction("disable"))
	mux.Handle("POST /admin/users/{id}/enable", p.handleUserAction("enable"))
	mux.Handle("GET /admin/templates", p.handleTemplates())
	mux.Handle("GET /admin/templates/new", p.handleTemplateNew())
	mux.Handle("POST /admin/templates", p.handleTemplateSave())
	mux.Handle("GET /admin/templates/{id}", p.handleTemplateEdit())
	mux.Handle("POST /admin/templates/{id}", p.handleTemplateSave())
	mux.Handle("GET /admin/grid", leaderOnly(d, p.handleGrid()))
	mux.Handle("GET /admin/audit", p.handleAudit())
}
