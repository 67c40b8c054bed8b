package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pulsegrid/pulsegrid/server/store"
)

// SaveGridHistory implements store.HistoryStore.
func (s *Store) SaveGridHistory(ctx context.Context, ms []store.GridMinute) error {
	if len(ms) == 0 {
		return nil
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		for _, m := range ms {
			start := m.Start.Truncate(time.Minute)
			b.Queue(`INSERT INTO grid_history (slot, start_ms, verified, failed, volunteers, leases, unverified) VALUES ($1, $2, $3, $4, $5, $6, $7)
				ON CONFLICT (slot) DO UPDATE SET start_ms = excluded.start_ms, verified = excluded.verified, failed = excluded.failed,
				volunteers = excluded.volunteers, leases = excluded.leases, unverified = excluded.unverified
				WHERE excluded.start_ms >= grid_history.start_ms`,
				store.HistorySlot(start), start.UnixMilli(), m.Verified, m.Failed, m.Volunteers, m.Leases, m.Unverified)
		}
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return fmt.Errorf("save grid history: %w", err)
		}
		return nil
	})
}

// GridHistory implements store.HistoryStore.
func (s *Store) GridHistory(ctx context.Context, since time.Time) ([]store.GridMinute, error) {
	rows, err := s.pool.Query(ctx, `SELECT start_ms, verified, failed, volunteers, leases, unverified FROM grid_history WHERE start_ms >= $1 ORDER BY start_ms`, since.UnixMilli())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.GridMinute
	for rows.Next() {
		var m store.GridMinute
		var start int64
		if err := rows.Scan(&start, &m.Verified, &m.Failed, &m.Volunteers, &m.Leases, &m.Unverified); err != nil {
			return nil, err
		}
		m.Start = time.UnixMilli(start)
		out = append(out, m)
	}
	return out, rows.Err()
}
