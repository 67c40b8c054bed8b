package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// The grid leader lock is a session-level advisory lock in the two-int4
// key space (apart from the writers' bigint keys and the migration lock,
// which is (leaderClass, 1)): its first key is this class, its second a
// hash of the database and schema, so that installations sharing one
// PostgreSQL server in different schemas (the tests do) elect apart.
const (
	leaderClass  = 1886807920 // 'p' 'g' 'p' 'l' in ASCII, as migrationLock
	leaderObject = `hashtext(current_database() || '.' || current_schema() || '.leader')`
)

// Leadership is the grid leader lock, held on a connection of its own for
// as long as that connection lives. PostgreSQL releases the lock when the
// session ends, so a leader killed with SIGKILL frees it at once (its
// socket closes); a leader cut off from the database frees it when the
// server notices the connection is gone.
type Leadership struct {
	conn *pgx.Conn
	lost chan struct{}
	stop chan struct{}
	once sync.Once
	wg   sync.WaitGroup
	mu   sync.Mutex
	err  error
}

// LeaderCheckInterval is how often a leader checks that its lock's
// connection is alive, and a standby tries the lock.
const LeaderCheckInterval = 250 * time.Millisecond

// TryLead takes the grid leader lock if no other session holds it; it
// returns nil, nil when another does.
func (s *Store) TryLead(ctx context.Context) (*Leadership, error) {
	conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig.Copy())
	if err != nil {
		return nil, fmt.Errorf("connect for the leader lock: %w", err)
	}
	var got bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1, `+leaderObject+`)`, leaderClass).Scan(&got); err != nil {
		conn.Close(context.Background())
		return nil, fmt.Errorf("try the leader lock: %w", err)
	}
	if !got {
		conn.Close(context.Background())
		return nil, nil
	}
	l := &Leadership{conn: conn, lost: make(chan struct{}), stop: make(chan struct{})}
	l.wg.Add(1)
	go l.watch()
	return l, nil
}

// Lead waits until this Store holds the grid leader lock, trying every
// interval (LeaderCheckInterval when 0) on one standing connection, or
// until ctx ends. Connection failures are retried: a standby outlives a
// database restart.
func (s *Store) Lead(ctx context.Context, interval time.Duration) (*Leadership, error) {
	if interval <= 0 {
		interval = LeaderCheckInterval
	}
	var conn *pgx.Conn
	defer func() {
		if conn != nil {
			conn.Close(context.Background())
		}
	}()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if conn == nil || conn.IsClosed() {
			c, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig.Copy())
			if err == nil {
				conn = c
			}
		}
		if conn != nil {
			var got bool
			err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1, `+leaderObject+`)`, leaderClass).Scan(&got)
			switch {
			case err == nil && got:
				l := &Leadership{conn: conn, lost: make(chan struct{}), stop: make(chan struct{})}
				conn = nil
				l.wg.Add(1)
				go l.watch()
				return l, nil
			case err != nil:
				conn.Close(context.Background())
				conn = nil
			}
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

// watch pings the lock's connection: when a ping fails the session is, or
// will soon be, gone, and with it the lock.
func (l *Leadership) watch() {
	defer l.wg.Done()
	t := time.NewTicker(LeaderCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*LeaderCheckInterval+time.Second)
		err := l.conn.Ping(ctx)
		cancel()
		if err != nil {
			l.mu.Lock()
			l.err = err
			l.mu.Unlock()
			close(l.lost)
			return
		}
	}
}

// Lost is closed when the lock's connection failed: this process must
// stop acting as the leader at once, since another may take over.
func (l *Leadership) Lost() <-chan struct{} { return l.lost }

// Err says why the lock was lost (nil while it is held).
func (l *Leadership) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err == nil {
		select {
		case <-l.lost:
			return errors.New("leader lock lost")
		default:
		}
	}
	return l.err
}

// Backend is the PostgreSQL backend process holding the lock
// (pg_stat_activity.pid), for operators and tests.
func (l *Leadership) Backend() uint32 { return l.conn.PgConn().PID() }

// Release gives the lock up (by ending its session), so that a standby
// takes over without waiting.
func (l *Leadership) Release() {
	l.once.Do(func() {
		close(l.stop)
		l.wg.Wait()
		l.conn.Close(context.Background())
	})
}

// RemoveDeadWriters deletes the incomplete datasets of writers that died:
// Open does it at start, and a standby taking over does it again for the
// uploads the dead leader had in flight.
func (s *Store) RemoveDeadWriters(ctx context.Context) error { return s.removeDeadWriters(ctx) }
