package store

import (
	"context"

	"github.com/pulsegrid/pulsegrid/algorithms/signal"
)

// Store is one wide interface because one value (SQLite or PostgreSQL)
// serves every part of the server. Each consumer that can say what it
// needs says it here, so that a reader sees its reach and a test double
// or a second engine knows what that consumer relies on; Store includes
// all of them (checked below).

// GridStore is what the grid (server/grid) reads and writes: the signal
// it cuts, the analyses it runs, its batched verified writes, volunteers
// and their standing, and the audit log.
type GridStore interface {
	TrustStore

	// User and UserByToken resolve who enrolled a volunteer machine.
	User(ctx context.Context, id int64) (User, error)
	UserByToken(ctx context.Context, hash string) (User, error)

	Dataset(ctx context.Context, id int64) (Dataset, error)
	DatasetSignal(ctx context.Context, id int64) (*signal.Signal, error)
	DatasetSamples(ctx context.Context, id int64, channel int, from, to int64) ([]float64, error)

	CreateAnalysis(ctx context.Context, a Analysis) (Analysis, error)
	Analysis(ctx context.Context, id int64) (Analysis, error)
	UnfinishedAnalyses(ctx context.Context) ([]Analysis, error)
	SetAnalysisStatus(ctx context.Context, id int64, status, errText string, chunksTotal int) error
	CancelAnalysis(ctx context.Context, id int64, reason string) error
	ApplyGridWrites(ctx context.Context, ws []GridWrite) error
	ChunkOutputs(ctx context.Context, analysisID int64) ([]ChunkOutput, error)
	PendingResults(ctx context.Context, analysisID int64) ([]PendingResult, error)
	FinishAnalysis(ctx context.Context, id int64, result []byte, summary string, revised bool, digests []string) error

	Volunteer(ctx context.Context, id string) (Volunteer, error)
	SaveVolunteers(ctx context.Context, vs []Volunteer) error

	// HistoryStore keeps the last hour of the grid's charts.
	HistoryStore

	Audit(ctx context.Context, e AuditEntry) error
}

// Every Store serves every consumer.
var _ GridStore = Store(nil)
