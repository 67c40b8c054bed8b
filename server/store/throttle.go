package store

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// ThrottleStore keeps the counters that slow guessing down (the portal's
// login failures, unrecognised API and enrollment tokens) in the database,
// so that every server process on one database counts together: replicas
// behind a load balancer give a guesser no more tries than one server.
// Counters are keyed by the caller (server/throttle.go) and expire; the
// server prunes expired ones, so the table holds at most what was counted
// in the last hour or so.
type ThrottleStore interface {
	// Throttles returns the counters of keys as of now; a key without a
	// counter, or whose counter expired by now, is absent.
	Throttles(ctx context.Context, now time.Time, keys ...string) (map[string]Throttle, error)
	// AddThrottle adds add to key's counter in one atomic step: a counter
	// that is absent or expired by now starts from 0, and one that is not
	// first drains at leak a second since its last change (never below 0).
	// The counter then expires at the later of its old expiry and now+ttl.
	// It returns the new counter.
	AddThrottle(ctx context.Context, key string, add, leak float64, ttl time.Duration, now time.Time) (Throttle, error)
	// DeleteThrottle removes key's counter (absent is no error).
	DeleteThrottle(ctx context.Context, key string) error
	// PruneThrottles deletes the counters expired by now and returns how
	// many it deleted.
	PruneThrottles(ctx context.Context, now time.Time) (int64, error)
}

// Throttle is a counter of ThrottleStore: N as of Last.
type Throttle struct {
	N       float64
	Last    time.Time
	Expires time.Time
}

// Level is t's value at now when it drains at leak a second, as
// AddThrottle drains it.
func (t Throttle) Level(leak float64, now time.Time) float64 {
	if d := now.Sub(t.Last).Seconds(); d > 0 && leak > 0 {
		return max(0, t.N-leak*d)
	}
	return t.N
}

// throttleAddSQL is AddThrottle's one statement (store/postgres has its
// own): times are Unix milliseconds; the leak is applied in SQL so that
// concurrent adds from several servers never lose one.
const throttleAddSQL = `INSERT INTO throttles (key, n, last_at, expires_at) VALUES (?1, ?2, ?3, ?4)
ON CONFLICT (key) DO UPDATE SET
	n = CASE WHEN throttles.expires_at <= excluded.last_at THEN excluded.n
		ELSE max(0.0, throttles.n - ?5 * max(0, excluded.last_at - throttles.last_at) / 1000.0) + excluded.n END,
	last_at = max(throttles.last_at, excluded.last_at),
	expires_at = CASE WHEN throttles.expires_at <= excluded.last_at THEN excluded.expires_at
		ELSE max(throttles.expires_at, excluded.expires_at) END
RETURNING n, last_at, expires_at`

// Throttles implements ThrottleStore.
func (s *SQLite) Throttles(ctx context.Context, now time.Time, keys ...string) (map[string]Throttle, error) {
	out := map[string]Throttle{}
	for _, k := range keys {
		var n float64
		var last, exp int64
		err := s.db.QueryRowContext(ctx, `SELECT n, last_at, expires_at FROM throttles WHERE key = ? AND expires_at > ?`, k, now.UnixMilli()).Scan(&n, &last, &exp)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out[k] = Throttle{N: n, Last: time.UnixMilli(last), Expires: time.UnixMilli(exp)}
	}
	return out, nil
}

// AddThrottle implements ThrottleStore.
func (s *SQLite) AddThrottle(ctx context.Context, key string, add, leak float64, ttl time.Duration, now time.Time) (Throttle, error) {
	var n float64
	var last, exp int64
	err := s.db.QueryRowContext(ctx, throttleAddSQL, key, add, now.UnixMilli(), now.Add(ttl).UnixMilli(), leak).Scan(&n, &last, &exp)
	if err != nil {
		return Throttle{}, err
	}
	return Throttle{N: n, Last: time.UnixMilli(last), Expires: time.UnixMilli(exp)}, nil
}

// DeleteThrottle implements ThrottleStore.
func (s *SQLite) DeleteThrottle(ctx context.Context, key string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM throttles WHERE key = ?`, key)
	return err
}

// PruneThrottles implements ThrottleStore.
func (s *SQLite) PruneThrottles(ctx context.Context, now time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM throttles WHERE expires_at <= ?`, now.UnixMilli())
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
