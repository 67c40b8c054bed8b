package store

import "context"

// Results that wait for a quorum (migration 0190): written by
// ApplyGridWrites (GridWrite.Pend, GridWrite.Discard), read here.

// PendingResults implements Store.
func (s *SQLite) PendingResults(ctx context.Context, analysisID int64) ([]PendingResult, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT idx, volunteer_id, task, network, digest, output FROM pending_results WHERE analysis_id = ? ORDER BY idx, received_at, volunteer_id`, analysisID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []PendingResult
	for rows.Next() {
		p := PendingResult{AnalysisID: analysisID}
		if err := rows.Scan(&p.Index, &p.Volunteer, &p.Task, &p.Network, &p.Digest, &p.Output); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}
