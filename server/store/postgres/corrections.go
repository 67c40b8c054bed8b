package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pulsegrid/pulsegrid/server/store"
)

// AddCorrection implements store.CorrectionStore.
func (s *Store) AddCorrection(ctx context.Context, c store.Correction) (store.Correction, error) {
	if c.CreatedAt.IsZero() {
		c.CreatedAt = time.Now()
	}
	c.CreatedAt = c.CreatedAt.UTC().Truncate(time.Millisecond)
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var one int
		// FOR SHARE keeps the analysis from being deleted before the insert.
		if err := tx.QueryRow(ctx, `SELECT 1 FROM analyses WHERE id = $1 FOR SHARE`, c.AnalysisID).Scan(&one); err != nil {
			return notFound(err, "analysis", c.AnalysisID)
		}
		err := tx.QueryRow(ctx, `INSERT INTO holter_corrections (analysis_id, target, sample, event_kind, from_value, to_value, user_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
			c.AnalysisID, c.Target, c.Sample, c.EventKind, c.From, c.To, c.UserID, c.CreatedAt.UnixMilli()).Scan(&c.ID)
		if err != nil {
			return fmt.Errorf("add correction: %w", err)
		}
		return nil
	})
	return c, err
}

// Corrections implements store.CorrectionStore.
func (s *Store) Corrections(ctx context.Context, analysisID int64) ([]store.Correction, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, analysis_id, target, sample, event_kind, from_value, to_value, user_id, created_at FROM holter_corrections WHERE analysis_id = $1 ORDER BY id`, analysisID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Correction
	for rows.Next() {
		var c store.Correction
		var at int64
		if err := rows.Scan(&c.ID, &c.AnalysisID, &c.Target, &c.Sample, &c.EventKind, &c.From, &c.To, &c.UserID, &at); err != nil {
			return nil, err
		}
		c.CreatedAt = msTime(at)
		out = append(out, c)
	}
	return out, rows.Err()
}
