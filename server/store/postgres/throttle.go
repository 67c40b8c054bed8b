package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pulsegrid/pulsegrid/server/store"
)

// Throttles implements store.ThrottleStore.
func (s *Store) Throttles(ctx context.Context, now time.Time, keys ...string) (map[string]store.Throttle, error) {
	out := map[string]store.Throttle{}
	if len(keys) == 0 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT key, n, last_at, expires_at FROM throttles WHERE key = ANY($1) AND expires_at > $2`, keys, now.UnixMilli())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		var n float64
		var last, exp int64
		if err := rows.Scan(&k, &n, &last, &exp); err != nil {
			return nil, err
		}
		out[k] = store.Throttle{N: n, Last: time.UnixMilli(last), Expires: time.UnixMilli(exp)}
	}
	return out, rows.Err()
}

// AddThrottle implements store.ThrottleStore in one INSERT … ON CONFLICT,
// which PostgreSQL runs atomically per row whatever other servers do.
func (s *Store) AddThrottle(ctx context.Context, key string, add, leak float64, ttl time.Duration, now time.Time) (store.Throttle, error) {
	var n float64
	var last, exp int64
	err := s.pool.QueryRow(ctx, `INSERT INTO throttles (key, n, last_at, expires_at) VALUES ($1, $2, $3, $4)
ON CONFLICT (key) DO UPDATE SET
	n = CASE WHEN throttles.expires_at <= EXCLUDED.last_at THEN EXCLUDED.n
		ELSE GREATEST(0.0, throttles.n - $5::float8 * GREATEST(0, EXCLUDED.last_at - throttles.last_at)::float8 / 1000.0) + EXCLUDED.n END,
	last_at = GREATEST(throttles.last_at, EXCLUDED.last_at),
	expires_at = CASE WHEN throttles.expires_at <= EXCLUDED.last_at THEN EXCLUDED.expires_at
		ELSE GREATEST(throttles.expires_at, EXCLUDED.expires_at) END
RETURNING n, last_at, expires_at`, key, add, now.UnixMilli(), now.Add(ttl).UnixMilli(), leak).Scan(&n, &last, &exp)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Throttle{}, store.ErrNotFound
	}
	if err != nil {
		return store.Throttle{}, err
	}
	return store.Throttle{N: n, Last: time.UnixMilli(last), Expires: time.UnixMilli(exp)}, nil
}

// DeleteThrottle implements store.ThrottleStore.
func (s *Store) DeleteThrottle(ctx context.Context, key string) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM throttles WHERE key = $1`, key)
	return err
}

// PruneThrottles implements store.ThrottleStore.
func (s *Store) PruneThrottles(ctx context.Context, now time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM throttles WHERE expires_at <= $1`, now.UnixMilli())
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}
