// Package postgres is store.Store on PostgreSQL (github.com/jackc/pgx/v5),
// for several pulsegrid servers sharing one database. It keeps the same
// rows as store.SQLite with the same semantics (store/storetest proves
// it): times in Unix milliseconds, the same segment encoding, the same
// errors (store.ErrNotFound, store.ErrConflict).
//
// Where SQLite serialises every write transaction, PostgreSQL runs them
// side by side at READ COMMITTED: the transactions that read chunk
// outputs and then change an analysis (ApplyGridWrites, FinishAnalysis,
// ReopenVoted) first lock the analyses' rows (SELECT … FOR UPDATE, in id
// order), so that a merge never commits over outputs withdrawn meanwhile.
package postgres

import (
	"context"
	"crypto/rand"
	"database/sql"
	"embed"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/alexedwards/scs/postgresstore"
	"github.com/alexedwards/scs/v2"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/pulsegrid/pulsegrid/algorithms/signal"
	"github.com/pulsegrid/pulsegrid/server/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is store.Store on a PostgreSQL database.
type Store struct {
	pool *pgxpool.Pool
	// db is the pool seen through database/sql, for scs's postgresstore.
	db *sql.DB
	// writer identifies this Store as the writer of the datasets it is
	// storing; lockConn holds the session advisory lock on it for as long
	// as the Store is open, so that another server starting up can tell a
	// dead writer's incomplete datasets (removed) from a live one's.
	writer   int64
	lockConn *pgx.Conn

	mu       sync.Mutex
	sessions []*postgresstore.PostgresStore
}

var (
	_ store.Store         = (*Store)(nil)
	_ store.DatasetWriter = (*datasetWriter)(nil)
)

// migrationLock is the advisory lock (two-int4 key space, apart from the
// writers' bigint keys) that one server holds while it migrates.
const migrationLock = `SELECT pg_advisory_xact_lock(1886807920, 1)` // 'pg' 'pl' in ASCII, 1

// Open connects to the database named by url (postgres://user:pass@host:port/db?…,
// or a keyword/value string), applies pending migrations and removes the
// incomplete datasets of writers that died.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("database URL: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to PostgreSQL at %s: %w", describe(cfg), err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to PostgreSQL at %s: %w", describe(cfg), err)
	}
	s := &Store{pool: pool}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("migrate PostgreSQL database at %s: %w", describe(cfg), err)
	}
	var b [8]byte
	rand.Read(b[:])
	s.writer = int64(binary.LittleEndian.Uint64(b[:]) >> 1)
	if s.writer == 0 {
		s.writer = 1
	}
	if s.lockConn, err = pgx.ConnectConfig(ctx, cfg.ConnConfig.Copy()); err == nil {
		_, err = s.lockConn.Exec(ctx, `SELECT pg_advisory_lock($1)`, s.writer)
	}
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("take the writer lock: %w", err)
	}
	if err := s.removeDeadWriters(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("remove incomplete datasets: %w", err)
	}
	s.db = stdlib.OpenDBFromPool(pool)
	return s, nil
}

// describe names the server of cfg for errors (never its password).
func describe(cfg *pgxpool.Config) string {
	return fmt.Sprintf("%s:%d/%s as %s", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database, cfg.ConnConfig.User)
}

func (s *Store) migrate(ctx context.Context) error {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	slices.Sort(names)
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	// Several servers may start at once: one migrates, the others wait.
	if _, err := tx.Exec(ctx, migrationLock); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`); err != nil {
		return err
	}
	for _, name := range names {
		base := path.Base(name)
		var version int
		if _, err := fmt.Sscanf(base, "%d_", &version); err != nil {
			return fmt.Errorf("migration %s: name must start with a number", base)
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = $1`, version).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			continue
		}
		body, err := migrations.ReadFile(name)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, string(body)); err != nil {
			return fmt.Errorf("migration %s: %w", base, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`, version, base, time.Now().Unix()); err != nil {
			return err
		}
	}
	return tx.Commit(ctx)
}

// removeDeadWriters deletes the incomplete datasets whose writer holds
// its lock no longer (its process died, or it closed before publishing).
func (s *Store) removeDeadWriters(ctx context.Context) error {
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT writer FROM datasets WHERE NOT complete AND writer <> $1`, s.writer)
	if err != nil {
		return err
	}
	writers, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return err
	}
	for _, w := range writers {
		tx, err := s.pool.Begin(ctx)
		if err != nil {
			return err
		}
		var free bool
		if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock($1)`, w).Scan(&free); err != nil {
			tx.Rollback(ctx)
			return err
		}
		if free {
			if _, err := tx.Exec(ctx, `DELETE FROM datasets WHERE NOT complete AND writer = $1`, w); err != nil {
				tx.Rollback(ctx)
				return err
			}
		}
		if err := tx.Commit(ctx); err != nil {
			return err
		}
	}
	return nil
}

// Close implements store.Store.
func (s *Store) Close() error {
	s.mu.Lock()
	for _, st := range s.sessions {
		st.StopCleanup()
	}
	s.sessions = nil
	s.mu.Unlock()
	if s.db != nil {
		s.db.Close()
	}
	if s.lockConn != nil {
		s.lockConn.Close(context.Background())
	}
	s.pool.Close()
	return nil
}

// Pool exposes the connection pool, for tests and tools that look at the
// rows themselves.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Sessions implements store.SessionStore with scs's postgresstore on the
// sessions table, shared by every server on this database.
func (s *Store) Sessions() scs.Store {
	st := postgresstore.NewWithCleanupInterval(s.db, store.SessionCleanup)
	s.mu.Lock()
	s.sessions = append(s.sessions, st)
	s.mu.Unlock()
	return st
}

// Backup implements store.Store: a PostgreSQL database is backed up with
// PostgreSQL's own tools, which see the whole cluster consistently.
func (s *Store) Backup(ctx context.Context, path string) error {
	return errors.New("backup: the database is PostgreSQL; back it up with pg_dump (or continuous archiving), see docs/operations.md")
}

func now() int64 { return time.Now().UnixMilli() }

func msTime(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// nullTime is t in Unix ms, or NULL for the zero time.
func nullTime(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	ms := t.UnixMilli()
	return &ms
}

func unixMilli(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func nullID(id int64) *int64 {
	if id == 0 {
		return nil
	}
	return &id
}

func isUnique(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

func notFound(err error, what string, id any) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%s %v: %w", what, id, store.ErrNotFound)
	}
	return err
}

// --- users and tokens

const userCols = `id, email, role, password_hash, disabled, must_change, created_at, session_epoch, COALESCE(password_expires_at, 0)`

func userDest(u *store.User, created, expires *int64) []any {
	return []any{&u.ID, &u.Email, &u.Role, &u.PasswordHash, &u.Disabled, &u.MustChange, created, &u.SessionEpoch, expires}
}

func scanUser(row pgx.Row) (store.User, error) {
	var u store.User
	var created, expires int64
	err := row.Scan(userDest(&u, &created, &expires)...)
	u.CreatedAt, u.PasswordExpires = msTime(created), msTime(expires)
	return u, err
}

// CreateUser implements store.Store.
func (s *Store) CreateUser(ctx context.Context, u store.User) (store.User, error) {
	u.Email = strings.TrimSpace(u.Email)
	u.CreatedAt = time.Now().UTC()
	err := s.pool.QueryRow(ctx, `INSERT INTO users (email, role, password_hash, disabled, must_change, created_at, password_expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
		u.Email, u.Role, u.PasswordHash, u.Disabled, u.MustChange, u.CreatedAt.UnixMilli(), nullTime(u.PasswordExpires)).Scan(&u.ID)
	if isUnique(err) {
		return store.User{}, fmt.Errorf("user %s: %w", u.Email, store.ErrConflict)
	}
	if err != nil {
		return store.User{}, err
	}
	return u, nil
}

// User implements store.Store.
func (s *Store) User(ctx context.Context, id int64) (store.User, error) {
	u, err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userCols+` FROM users WHERE id = $1`, id))
	return u, notFound(err, "user", id)
}

// UserByEmail implements store.Store.
func (s *Store) UserByEmail(ctx context.Context, email string) (store.User, error) {
	u, err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userCols+` FROM users WHERE lower(email) = lower($1)`, strings.TrimSpace(email)))
	return u, notFound(err, "user", email)
}

type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

func updateUser(ctx context.Context, db execer, u store.User) error {
	tag, err := db.Exec(ctx, `UPDATE users SET role = $1, password_hash = $2, disabled = $3, must_change = $4, password_expires_at = $5 WHERE id = $6`,
		u.Role, u.PasswordHash, u.Disabled, u.MustChange, nullTime(u.PasswordExpires), u.ID)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("user %d: %w", u.ID, store.ErrNotFound)
	}
	return nil
}

// UpdateUser implements store.Store.
func (s *Store) UpdateUser(ctx context.Context, u store.User) error {
	return updateUser(ctx, s.pool, u)
}

// UpdateCredentials implements store.Store.
func (s *Store) UpdateCredentials(ctx context.Context, u store.User) (store.User, error) {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := updateUser(ctx, tx, u); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `UPDATE users SET session_epoch = session_epoch + 1 WHERE id = $1 RETURNING session_epoch`, u.ID).Scan(&u.SessionEpoch); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM api_tokens WHERE user_id = $1`, u.ID)
		return err
	})
	return u, err
}

// CountUsers implements store.Store.
func (s *Store) CountUsers(ctx context.Context) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT COUNT(*) FROM users`).Scan(&n)
	return n, err
}

// CreateToken implements store.Store.
func (s *Store) CreateToken(ctx context.Context, userID int64, hash, name string) error {
	return s.CreateTokenWithPrefix(ctx, userID, hash, name, "")
}

// UserByToken implements store.Store.
func (s *Store) UserByToken(ctx context.Context, hash string) (store.User, error) {
	u, err := scanUser(s.pool.QueryRow(ctx, `SELECT u.id, u.email, u.role, u.password_hash, u.disabled, u.must_change, u.created_at, u.session_epoch, COALESCE(u.password_expires_at, 0)
		FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.hash = $1 AND NOT u.disabled`, hash))
	return u, notFound(err, "token", "")
}

// DeleteTokens implements store.Store.
func (s *Store) DeleteTokens(ctx context.Context, userID int64) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM api_tokens WHERE user_id = $1`, userID)
	return err
}

// --- datasets

const datasetCols = `id, owner_id, name, trusted_only, channels, duration, created_at`

func scanDataset(row pgx.Row) (store.Dataset, error) {
	var d store.Dataset
	var chans string
	var created int64
	if err := row.Scan(&d.ID, &d.OwnerID, &d.Name, &d.TrustedOnly, &chans, &d.Duration, &created); err != nil {
		return d, err
	}
	d.CreatedAt = msTime(created)
	return d, json.Unmarshal([]byte(chans), &d.Channels)
}

// Dataset implements store.Store.
func (s *Store) Dataset(ctx context.Context, id int64) (store.Dataset, error) {
	d, err := scanDataset(s.pool.QueryRow(ctx, `SELECT `+datasetCols+` FROM datasets WHERE id = $1 AND complete`, id))
	return d, notFound(err, "dataset", id)
}

// DatasetIdentity implements store.Store.
func (s *Store) DatasetIdentity(ctx context.Context, id int64) (signal.Identity, []signal.Annotation, float64, error) {
	var ident signal.Identity
	var anns []signal.Annotation
	var is, as string
	var rate float64
	if err := s.pool.QueryRow(ctx, `SELECT identity, annotations, annotation_rate FROM dataset_identities WHERE dataset_id = $1`, id).Scan(&is, &as, &rate); err != nil {
		return ident, nil, 0, notFound(err, "dataset", id)
	}
	if err := json.Unmarshal([]byte(is), &ident); err != nil {
		return ident, nil, 0, err
	}
	return ident, anns, rate, json.Unmarshal([]byte(as), &anns)
}

// Datasets implements store.Store.
func (s *Store) Datasets(ctx context.Context, ownerID int64) ([]store.Dataset, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+datasetCols+` FROM datasets WHERE complete AND ($1::bigint = 0 OR owner_id = $1) ORDER BY id DESC`, ownerID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []store.Dataset{}
	for rows.Next() {
		d, err := scanDataset(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// DeleteDataset implements store.Store. Foreign keys cascade to the
// segments, the identity, the metadata, analyses and their batches, chunk
// outputs and results. PostgreSQL keeps dead rows until VACUUM reuses
// their space, and its WAL keeps them until recycled: docs/operations.md
// says what that means for residue.
func (s *Store) DeleteDataset(ctx context.Context, id int64) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM datasets WHERE id = $1`, id)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("dataset %d: %w", id, store.ErrNotFound)
	}
	return nil
}

// --- analyses

const analysisCols = `id, dataset_id, owner_id, algorithm, params, priority, status, error, chunks_total, chunks_verified, summary, created_at, COALESCE(finished_at, 0), revision`

func scanAnalysis(row pgx.Row) (store.Analysis, error) {
	var a store.Analysis
	var params string
	var created, finished int64
	err := row.Scan(&a.ID, &a.DatasetID, &a.OwnerID, &a.Algorithm, &params, &a.Priority, &a.Status, &a.Error, &a.ChunksTotal, &a.ChunksVerified, &a.Summary, &created, &finished, &a.Revision)
	a.Params = json.RawMessage(params)
	a.CreatedAt, a.FinishedAt = msTime(created), msTime(finished)
	return a, err
}

// CreateAnalysis implements store.Store.
func (s *Store) CreateAnalysis(ctx context.Context, a store.Analysis) (store.Analysis, error) {
	a.CreatedAt = time.Now().UTC()
	if a.Status == "" {
		a.Status = store.StatusQueued
	}
	err := s.pool.QueryRow(ctx, `INSERT INTO analyses (dataset_id, owner_id, algorithm, params, priority, status, chunks_total, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
		a.DatasetID, a.OwnerID, a.Algorithm, string(a.Params), a.Priority, a.Status, a.ChunksTotal, a.CreatedAt.UnixMilli()).Scan(&a.ID)
	return a, err
}

// Analysis implements store.Store.
func (s *Store) Analysis(ctx context.Context, id int64) (store.Analysis, error) {
	a, err := scanAnalysis(s.pool.QueryRow(ctx, `SELECT `+analysisCols+` FROM analyses WHERE id = $1`, id))
	return a, notFound(err, "analysis", id)
}

func (s *Store) queryAnalyses(ctx context.Context, q string, args ...any) ([]store.Analysis, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+analysisCols+` FROM analyses `+q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []store.Analysis{}
	for rows.Next() {
		a, err := scanAnalysis(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// Analyses implements store.Store.
func (s *Store) Analyses(ctx context.Context, ownerID int64) ([]store.Analysis, error) {
	return s.queryAnalyses(ctx, `WHERE $1::bigint = 0 OR owner_id = $1 ORDER BY id DESC`, ownerID)
}

// UnfinishedAnalyses implements store.Store.
func (s *Store) UnfinishedAnalyses(ctx context.Context) ([]store.Analysis, error) {
	return s.queryAnalyses(ctx, `WHERE status IN ('queued', 'running') ORDER BY id`)
}

// SetAnalysisStatus implements store.Store.
func (s *Store) SetAnalysisStatus(ctx context.Context, id int64, status, errText string, chunksTotal int) error {
	var finished *int64
	final := status == store.StatusDone || status == store.StatusFailed || status == store.StatusCancelled
	if final {
		t := now()
		finished = &t
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE analyses SET status = $1, error = $2, chunks_total = $3, finished_at = COALESCE($4::bigint, finished_at) WHERE id = $5`,
			status, errText, chunksTotal, finished, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("analysis %d: %w", id, store.ErrNotFound)
		}
		if final {
			if _, err := tx.Exec(ctx, `DELETE FROM pending_results WHERE analysis_id = $1`, id); err != nil {
				return err
			}
		}
		if final && status != store.StatusDone {
			_, err = tx.Exec(ctx, `DELETE FROM chunk_outputs WHERE analysis_id = $1`, id)
		}
		return err
	})
}

// CancelAnalysis implements store.Store.
func (s *Store) CancelAnalysis(ctx context.Context, id int64, reason string) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE analyses SET status = 'cancelled', error = $1, finished_at = $2 WHERE id = $3 AND status IN ('queued', 'running')`, reason, now(), id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			var status string
			if err := tx.QueryRow(ctx, `SELECT status FROM analyses WHERE id = $1`, id).Scan(&status); errors.Is(err, pgx.ErrNoRows) {
				return fmt.Errorf("analysis %d: %w", id, store.ErrNotFound)
			} else if err != nil {
				return err
			}
			return fmt.Errorf("analysis %d is already %s: %w", id, status, store.ErrConflict)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM pending_results WHERE analysis_id = $1`, id); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM chunk_outputs WHERE analysis_id = $1`, id)
		return err
	})
}

// lockAnalyses locks the rows of the given analyses, in id order so that
// two transactions never wait for each other.
func lockAnalyses(ctx context.Context, tx pgx.Tx, ids []int64) error {
	ids = slices.Clone(ids)
	slices.Sort(ids)
	rows, err := tx.Query(ctx, `SELECT id FROM analyses WHERE id = ANY($1) ORDER BY id FOR UPDATE`, ids)
	if err != nil {
		return err
	}
	rows.Close()
	return rows.Err()
}

// ApplyGridWrites implements store.Store. Writes for analyses deleted or
// finished meanwhile are skipped.
func (s *Store) ApplyGridWrites(ctx context.Context, ws []store.GridWrite) error {
	if len(ws) == 0 {
		return nil
	}
	var touched []int64
	seen := map[int64]bool{}
	for _, w := range ws {
		var id int64
		switch {
		case w.Verify != nil:
			id = w.Verify.AnalysisID
		case w.Withdraw != nil:
			id = w.Withdraw.AnalysisID
		case w.Pend != nil:
			// Locked too, so that a pending result and a cancel or a
			// finish committed meanwhile do not leave a row behind.
			id = w.Pend.AnalysisID
		default:
			continue
		}
		if !seen[id] {
			seen[id] = true
			touched = append(touched, id)
		}
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := lockAnalyses(ctx, tx, touched); err != nil {
			return err
		}
		t := now()
		b := &pgx.Batch{}
		counted := map[int64]bool{} // analyses whose chunks_verified changes
		// Chunks whose last write here is a Verify lose their pending
		// results in one statement at the end, not one per chunk.
		verified := map[chunkRef]bool{}
		for _, w := range ws {
			switch {
			case w.Verify != nil:
				c := w.Verify
				b.Queue(`INSERT INTO chunk_outputs (analysis_id, idx, digest, output, replicas, verified_at, voters)
					SELECT $1::bigint, $2::integer, $3::text, $4::bytea, $5::integer, $6::bigint, $7::text
					WHERE EXISTS (SELECT 1 FROM analyses WHERE id = $1 AND status IN ('queued', 'running'))
					ON CONFLICT (analysis_id, idx) DO UPDATE SET digest = excluded.digest, output = excluded.output, replicas = excluded.replicas,
						verified_at = excluded.verified_at, voters = excluded.voters`,
					c.AnalysisID, c.Index, c.Digest, orEmpty(c.Output), c.Replicas, t, strings.Join(c.Voters, " "))
				verified[chunkRef{c.AnalysisID, c.Index}] = true
				counted[c.AnalysisID] = true
			case w.Withdraw != nil:
				b.Queue(`DELETE FROM chunk_outputs WHERE analysis_id = $1 AND idx = $2`, w.Withdraw.AnalysisID, w.Withdraw.Index)
				b.Queue(`DELETE FROM pending_results WHERE analysis_id = $1 AND idx = $2`, w.Withdraw.AnalysisID, w.Withdraw.Index)
				verified[chunkRef{w.Withdraw.AnalysisID, w.Withdraw.Index}] = false
				counted[w.Withdraw.AnalysisID] = true
			case w.Pend != nil:
				p := w.Pend
				b.Queue(`INSERT INTO pending_results (analysis_id, idx, volunteer_id, task, network, digest, output, received_at)
					SELECT $1::bigint, $2::integer, $3::text, $4::text, $5::text, $6::text, $7::bytea, $8::bigint
					WHERE EXISTS (SELECT 1 FROM analyses WHERE id = $1 AND status IN ('queued', 'running'))
					ON CONFLICT (analysis_id, idx, volunteer_id) DO NOTHING`,
					p.AnalysisID, p.Index, p.Volunteer, p.Task, p.Network, p.Digest, orEmpty(p.Output), t)
				verified[chunkRef{p.AnalysisID, p.Index}] = false
			case w.Discard != "":
				b.Queue(`DELETE FROM pending_results WHERE volunteer_id = $1`, w.Discard)
			}
		}
		var as []int64
		var is []int32
		for r, v := range verified {
			if v {
				as, is = append(as, r.a), append(is, int32(r.i))
			}
		}
		if len(as) > 0 {
			b.Queue(`DELETE FROM pending_results p USING unnest($1::bigint[], $2::integer[]) AS v(a, i) WHERE p.analysis_id = v.a AND p.idx = v.i`, as, is)
		}
		for _, id := range touched {
			if !counted[id] {
				continue
			}
			b.Queue(`UPDATE analyses SET chunks_verified = (SELECT COUNT(*) FROM chunk_outputs WHERE analysis_id = $1),
				status = CASE status WHEN 'queued' THEN 'running' ELSE status END WHERE id = $1 AND status IN ('queued', 'running')`, id)
		}
		return tx.SendBatch(ctx, b).Close()
	})
}

// chunkRef names a chunk of an analysis.
type chunkRef struct {
	a int64
	i int
}

// orEmpty keeps an empty output from becoming NULL.
func orEmpty(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// ChunkOutputs implements store.Store.
func (s *Store) ChunkOutputs(ctx context.Context, analysisID int64) ([]store.ChunkOutput, error) {
	rows, err := s.pool.Query(ctx, `SELECT idx, digest, output, replicas, voters FROM chunk_outputs WHERE analysis_id = $1 ORDER BY idx`, analysisID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.ChunkOutput
	for rows.Next() {
		c := store.ChunkOutput{AnalysisID: analysisID}
		var voters string
		if err := rows.Scan(&c.Index, &c.Digest, &c.Output, &c.Replicas, &voters); err != nil {
			return nil, err
		}
		c.Voters = strings.Fields(voters)
		out = append(out, c)
	}
	return out, rows.Err()
}

// FinishAnalysis implements store.Store.
func (s *Store) FinishAnalysis(ctx context.Context, id int64, result []byte, summary string, revised bool, digests []string) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := lockAnalyses(ctx, tx, []int64{id}); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT digest FROM chunk_outputs WHERE analysis_id = $1 ORDER BY idx`, id)
		if err != nil {
			return err
		}
		stored, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		if !slices.Equal(stored, digests) {
			return fmt.Errorf("analysis %d: the stored chunk outputs are not the ones merged: %w", id, store.ErrConflict)
		}
		errText := ""
		if revised {
			errText = "revised: chunks were verified again after a volunteer that contributed to them was caught returning a wrong output"
		}
		tag, err := tx.Exec(ctx, `UPDATE analyses SET status = 'done', error = $1, summary = $2, chunks_verified = chunks_total, finished_at = $3 WHERE id = $4 AND status IN ('queued', 'running')`, errText, summary, now(), id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("analysis %d is not running: %w", id, store.ErrNotFound)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO analysis_results (analysis_id, result) VALUES ($1, $2) ON CONFLICT (analysis_id) DO UPDATE SET result = excluded.result`, id, orEmpty(result)); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM pending_results WHERE analysis_id = $1`, id)
		return err
	})
}

// AnalysisResult implements store.Store.
func (s *Store) AnalysisResult(ctx context.Context, id int64) ([]byte, error) {
	var b []byte
	err := s.pool.QueryRow(ctx, `SELECT result FROM analysis_results WHERE analysis_id = $1`, id).Scan(&b)
	return b, notFound(err, "result of analysis", id)
}

// DeleteAnalysis implements store.Store.
func (s *Store) DeleteAnalysis(ctx context.Context, id int64) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM analyses WHERE id = $1`, id)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("analysis %d: %w", id, store.ErrNotFound)
	}
	return nil
}

// --- volunteers

const volunteerStatsColumns = `nickname, lease_requests, leases_issued, results, failed, cpu_us, credit_us, completion_us, team`

func statsDest(v *store.Volunteer) []any {
	return []any{&v.Nickname, &v.Requests, &v.Issued, &v.Results, &v.Failed, &v.CPUMicros, &v.CreditMicros, &v.CompletionMicros, &v.Team}
}

// Volunteer implements store.Store.
func (s *Store) Volunteer(ctx context.Context, id string) (store.Volunteer, error) {
	var v store.Volunteer
	var uid *int64
	var created, seen, banned int64
	err := s.pool.QueryRow(ctx, `SELECT id, public_key, user_id, agent, reputation, validated, rejected, created_at, last_seen_at, banned_until, `+volunteerStatsColumns+` FROM volunteers WHERE id = $1`, id).
		Scan(append([]any{&v.ID, &v.PublicKey, &uid, &v.Agent, &v.Reputation, &v.Validated, &v.Rejected, &created, &seen, &banned}, statsDest(&v)...)...)
	if uid != nil {
		v.UserID = *uid
	}
	v.CreatedAt, v.LastSeen, v.BannedUntil = msTime(created), msTime(seen), msTime(banned)
	return v, notFound(err, "volunteer", id)
}

// Leaderboard implements store.Store.
func (s *Store) Leaderboard(ctx context.Context, limit int) ([]store.Volunteer, error) {
	return s.volunteers(ctx, `WHERE credit_us > 0 ORDER BY credit_us DESC, validated DESC, id LIMIT $1`, limit)
}

// TeamLeaderboard implements store.Store.
func (s *Store) TeamLeaderboard(ctx context.Context, limit int) ([]store.TeamStanding, error) {
	rows, err := s.pool.Query(ctx, store.TeamLeaderboardSQL+` LIMIT $1`, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.TeamStanding
	for rows.Next() {
		var t store.TeamStanding
		if err := rows.Scan(&t.Name, &t.Members, &t.Results, &t.Validated, &t.CPUMicros, &t.CreditMicros); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// Volunteers implements store.PortalStore.
func (s *Store) Volunteers(ctx context.Context, limit int) ([]store.Volunteer, error) {
	return s.volunteers(ctx, `ORDER BY last_seen_at DESC LIMIT $1`, limit)
}

func (s *Store) volunteers(ctx context.Context, tail string, args ...any) ([]store.Volunteer, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, user_id, agent, reputation, validated, rejected, created_at, last_seen_at, `+volunteerStatsColumns+` FROM volunteers `+tail, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Volunteer
	for rows.Next() {
		var v store.Volunteer
		var uid *int64
		var created, seen int64
		if err := rows.Scan(append([]any{&v.ID, &uid, &v.Agent, &v.Reputation, &v.Validated, &v.Rejected, &created, &seen}, statsDest(&v)...)...); err != nil {
			return nil, err
		}
		if uid != nil {
			v.UserID = *uid
		}
		v.CreatedAt, v.LastSeen = msTime(created), msTime(seen)
		out = append(out, v)
	}
	return out, rows.Err()
}

// SaveVolunteers implements store.Store.
func (s *Store) SaveVolunteers(ctx context.Context, vs []store.Volunteer) error {
	if len(vs) == 0 {
		return nil
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		for _, v := range vs {
			if v.CreatedAt.IsZero() {
				v.CreatedAt = time.Now()
			}
			if v.LastSeen.IsZero() {
				v.LastSeen = time.Now()
			}
			b.Queue(`INSERT INTO volunteers (id, secret_hash, public_key, banned_until, user_id, agent, reputation, validated, rejected, created_at, last_seen_at, `+volunteerStatsColumns+`)
				VALUES ($1, '', $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19) ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id, agent = excluded.agent,
				public_key = excluded.public_key, banned_until = GREATEST(volunteers.banned_until, excluded.banned_until),
				reputation = excluded.reputation, validated = excluded.validated, rejected = excluded.rejected, last_seen_at = excluded.last_seen_at,
				nickname = excluded.nickname, lease_requests = excluded.lease_requests, leases_issued = excluded.leases_issued,
				results = excluded.results, failed = excluded.failed, cpu_us = excluded.cpu_us, credit_us = excluded.credit_us,
				completion_us = excluded.completion_us, team = excluded.team`,
				v.ID, v.PublicKey, unixMilli(v.BannedUntil), nullID(v.UserID), v.Agent, v.Reputation, v.Validated, v.Rejected, v.CreatedAt.UnixMilli(), v.LastSeen.UnixMilli(),
				v.Nickname, v.Requests, v.Issued, v.Results, v.Failed, v.CPUMicros, v.CreditMicros, v.CompletionMicros, v.Team)
		}
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return fmt.Errorf("save volunteers: %w", err)
		}
		return nil
	})
}

// --- audit

// Audit implements store.Store. The entry is written even when ctx is
// cancelled: a client that hangs up must not erase its traces.
func (s *Store) Audit(ctx context.Context, e store.AuditEntry) error {
	if e.At.IsZero() {
		e.At = time.Now()
	}
	if e.Address == "" {
		e.Address = store.AuditAddress(ctx)
	}
	if e.Outcome == "" {
		e.Outcome = store.OutcomeOK
	}
	_, err := s.pool.Exec(context.WithoutCancel(ctx), `INSERT INTO audit_log (at, user_id, actor, action, object, detail, address, outcome) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		e.At.UnixMilli(), nullID(e.UserID), e.Actor, e.Action, e.Object, e.Detail, e.Address, e.Outcome)
	return err
}

// AuditLog implements store.Store.
func (s *Store) AuditLog(ctx context.Context, limit int) ([]store.AuditEntry, error) {
	rows, err := s.pool.Query(ctx, `SELECT at, COALESCE(user_id, 0), actor, action, object, detail, address, outcome FROM audit_log ORDER BY id DESC LIMIT $1`, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.AuditEntry
	for rows.Next() {
		var e store.AuditEntry
		var at int64
		if err := rows.Scan(&at, &e.UserID, &e.Actor, &e.Action, &e.Object, &e.Detail, &e.Address, &e.Outcome); err != nil {
			return nil, err
		}
		e.At = msTime(at)
		out = append(out, e)
	}
	return out, rows.Err()
}
