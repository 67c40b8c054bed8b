package postgres

import (
	"context"

	"github.com/pulsegrid/pulsegrid/server/store"
)

// Results that wait for a quorum (migration 0190): written by
// ApplyGridWrites (GridWrite.Pend, GridWrite.Discard), read here.

// PendingResults implements store.Store.
func (s *Store) PendingResults(ctx context.Context, analysisID int64) ([]store.PendingResult, error) {
	rows, err := s.pool.Query(ctx, `SELECT idx, volunteer_id, task, network, digest, output FROM pending_results WHERE analysis_id = $1 ORDER BY idx, seq`, analysisID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.PendingResult
	for rows.Next() {
		p := store.PendingResult{AnalysisID: analysisID}
		if err := rows.Scan(&p.Index, &p.Volunteer, &p.Task, &p.Network, &p.Digest, &p.Output); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}
