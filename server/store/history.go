package store

import (
	"context"
	"time"
)

// HistoryStore keeps the grid's last hour (server/grid/history.go), one row
// a minute, so that the /admin/grid charts survive a restart or a failover
// to another replica. A minute's row lives in slot (Unix minute mod
// HistorySlots) and a newer minute takes its slot over, so the table never
// holds more than HistorySlots rows whatever the uptime.
type HistoryStore interface {
	// SaveGridHistory writes minutes into their slots; a slot already
	// holding a newer minute keeps it.
	SaveGridHistory(ctx context.Context, ms []GridMinute) error
	// GridHistory returns the stored minutes that start at since or later,
	// oldest first.
	GridHistory(ctx context.Context, since time.Time) ([]GridMinute, error)
}

// HistorySlots is how many minutes HistoryStore keeps: the grid's hour.
const HistorySlots = 60

// GridMinute is one minute of the grid's history as stored: the chunks
// verified and failed in it, and the peaks of volunteers, leases and
// unverified chunks seen in it.
type GridMinute struct {
	Start                                            time.Time
	Verified, Failed, Volunteers, Leases, Unverified int
}

// HistorySlot is the slot of the minute starting at start.
func HistorySlot(start time.Time) int64 {
	m := start.Unix() / 60
	return ((m % HistorySlots) + HistorySlots) % HistorySlots
}

// historySaveSQL is SaveGridHistory's statement (store/postgres has its
// own): a minute replaces its slot's row unless that row is newer.
const historySaveSQL = `INSERT INTO grid_history (slot, start_ms, verified, failed, volunteers, leases, unverified) VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (slot) DO UPDATE SET start_ms = excluded.start_ms, verified = excluded.verified, failed = excluded.failed,
	volunteers = excluded.volunteers, leases = excluded.leases, unverified = excluded.unverified
WHERE excluded.start_ms >= grid_history.start_ms`

// SaveGridHistory implements HistoryStore.
func (s *SQLite) SaveGridHistory(ctx context.Context, ms []GridMinute) error {
	if len(ms) == 0 {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, m := range ms {
		start := m.Start.Truncate(time.Minute)
		if _, err := tx.ExecContext(ctx, historySaveSQL, HistorySlot(start), start.UnixMilli(), m.Verified, m.Failed, m.Volunteers, m.Leases, m.Unverified); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// GridHistory implements HistoryStore.
func (s *SQLite) GridHistory(ctx context.Context, since time.Time) ([]GridMinute, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT start_ms, verified, failed, volunteers, leases, unverified FROM grid_history WHERE start_ms >= ? ORDER BY start_ms`, since.UnixMilli())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []GridMinute
	for rows.Next() {
		var m GridMinute
		var start int64
		if err := rows.Scan(&start, &m.Verified, &m.Failed, &m.Volunteers, &m.Leases, &m.Unverified); err != nil {
			return nil, err
		}
		m.Start = time.UnixMilli(start)
		out = append(out, m)
	}
	return out, rows.Err()
}
