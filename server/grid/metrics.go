package grid

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pulsegrid/pulsegrid/server/store"
)

// Metrics are the grid's Prometheus series.
type Metrics struct {
	Connected       prometheus.Gauge
	LeasesIssued    prometheus.Counter
	LeasesExpired   prometheus.Counter
	LeasesReleased  prometheus.Counter
	ResultsAccepted prometheus.Counter
	ResultsRejected prometheus.Counter
	ResultsIgnored  prometheus.Counter
	ChunksVerified  prometheus.Counter
	ChunksFailed    prometheus.Counter
	ChunksReopened  prometheus.Counter
	// VolunteersCaught counts identities caught returning a wrong output.
	VolunteersCaught prometheus.Counter
	AuditsPassed     prometheus.Counter
	AuditsFailed     prometheus.Counter
	RingersPassed    prometheus.Counter
	RingersFailed    prometheus.Counter
	// PendingWritten counts results written to wait for a quorum across a
	// takeover; PendingRestored those a leader counted again (pending.go).
	PendingWritten  prometheus.Counter
	PendingRestored prometheus.Counter
	// ReplicasStarved counts chunks whose second opinion no connected
	// volunteer could give, handed to the auditors (starve.go).
	ReplicasStarved prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, g *Grid) *Metrics {
	c := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: "pulsegrid", Name: name, Help: help})
	}
	m := &Metrics{
		Connected:        prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "pulsegrid", Name: "volunteers_connected", Help: "Volunteer sessions connected now (local workers included)."}),
		LeasesIssued:     c("leases_issued_total", "Chunk leases handed to volunteers."),
		LeasesExpired:    c("leases_expired_total", "Leases that passed their ack time or deadline."),
		LeasesReleased:   c("leases_released_total", "Leases dropped because the volunteer disconnected or the chunk was settled."),
		ResultsAccepted:  c("results_accepted_total", "Chunk results that agreed with the verified output."),
		ResultsRejected:  c("results_rejected_total", "Chunk results that disagreed with the verified output or did not match their digest."),
		ResultsIgnored:   c("results_ignored_total", "Results for leases the volunteer did not hold."),
		ChunksVerified:   c("chunks_verified_total", "Chunks whose output was verified."),
		ChunksFailed:     c("chunks_failed_total", "Chunks that failed: the server's own run of them failed too."),
		ChunksReopened:   c("chunks_reopened_total", "Accepted chunks reopened because a volunteer that voted for them was caught."),
		VolunteersCaught: c("volunteers_caught_total", "Volunteer identities caught returning a wrong output (outvoted, audited or on a known-answer chunk)."),
		AuditsPassed:     c("audits_passed_total", "Accepted chunks the server computed again and found right."),
		AuditsFailed:     c("audits_failed_total", "Accepted chunks the server computed again and found wrong."),
		RingersPassed:    c("known_answers_passed_total", "Known-answer chunks volunteers answered right."),
		RingersFailed:    c("known_answers_failed_total", "Known-answer chunks volunteers answered wrong."),
		PendingWritten:   c("results_pending_written_total", "Results still waiting for a quorum after the pending delay, written to the store so that a takeover counts them."),
		PendingRestored:  c("results_pending_restored_total", "Stored results waiting for a quorum that a leader counted again when it loaded their analysis."),
		ReplicasStarved:  c("replicas_starved_total", "Chunks that waited the replica patience for a second opinion no connected volunteer could give, then asked of the server's auditors."),
	}
	if reg == nil {
		return m
	}
	reg.MustRegister(m.Connected, m.LeasesIssued, m.LeasesExpired, m.LeasesReleased, m.ResultsAccepted, m.ResultsRejected, m.ResultsIgnored,
		m.ChunksVerified, m.ChunksFailed, m.ChunksReopened, m.VolunteersCaught, m.AuditsPassed, m.AuditsFailed, m.RingersPassed, m.RingersFailed,
		m.PendingWritten, m.PendingRestored, m.ReplicasStarved)
	for p, name := range store.Priorities {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "pulsegrid", Name: "queue_depth", Help: "Chunks not yet verified in running analyses, by priority.",
			ConstLabels: prometheus.Labels{"priority": name},
		}, func() float64 { return float64(g.queueDepth(p)) }))
	}
	return m
}

// NewLeaderGauge registers pulsegrid_replica_leader on reg: 1 on the
// replica that runs the grid and serves traffic (the only one with
// SQLite, the lock holder on PostgreSQL), 0 on a standby.
func NewLeaderGauge(reg prometheus.Registerer) prometheus.Gauge {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "pulsegrid", Name: "replica_leader",
		Help: "1 when this replica runs the grid and serves traffic (SQLite: always; PostgreSQL: it holds the leader lock), 0 on a standby."})
	if reg != nil {
		reg.MustRegister(g)
	}
	return g
}
