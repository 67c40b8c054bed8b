package store

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/pulsegrid/pulsegrid/algorithms/canon"
	"github.com/pulsegrid/pulsegrid/algorithms/signal"
	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

//go:embed migrations/*.sql
var migrations embed.FS

// SQLite is the Store on one SQLite file.
type SQLite struct {
	db   *sql.DB
	path string
}

var _ Store = (*SQLite)(nil)

// DSN returns the connection string for path: every pooled connection gets
// the pragmas (a PRAGMA statement would reach one connection only).
// synchronous=NORMAL in WAL mode survives a process kill (kill -9) at any
// moment; only a power cut may lose the last commits.
func DSN(path string) string {
	q := url.Values{}
	for _, p := range []string{"busy_timeout(10000)", "journal_mode(wal)", "foreign_keys(1)", "secure_delete(on)", "synchronous(normal)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	return "file:" + path + "?" + q.Encode()
}

// OpenSQLite opens (creating if needed) the database at path and applies
// pending migrations. The directory is made 0700 and the database files
// 0600: they hold identities and session tokens (protectFiles).
func OpenSQLite(ctx context.Context, path string) (*SQLite, error) {
	if err := protectFiles(path); err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite", DSN(path))
	if err != nil {
		return nil, err
	}
	s := &SQLite{db: db, path: path}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrate %s: %w", path, err)
	}
	// The WAL and shared-memory files exist now; SQLite gives the ones it
	// creates later the database file's mode, but older ones keep theirs.
	for _, suffix := range []string{"-wal", "-shm"} {
		if err := os.Chmod(path+suffix, 0o600); err != nil && !errors.Is(err, fs.ErrNotExist) {
			db.Close()
			return nil, fmt.Errorf("open %s: %w", path, err)
		}
	}
	if err := s.convertLegacySignals(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return s, nil
}

// protectFiles makes path's directory 0700 and creates path 0600 before
// SQLite opens it (SQLite would create it with the umask's mode, and its
// -wal and -shm files take the database file's mode).
func protectFiles(path string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	f.Close()
	return os.Chmod(path, 0o600)
}

// DB exposes the database handle for packages that keep their own tables
// in the same file (e.g. scs sessions for the portal).
func (s *SQLite) DB() *sql.DB { return s.db }

func (s *SQLite) migrate(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`); err != nil {
		return err
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	slices.Sort(names)
	for _, name := range names {
		base := filepath.Base(name)
		var version int
		if _, err := fmt.Sscanf(base, "%d_", &version); err != nil {
			return fmt.Errorf("migration %s: name must start with a number", base)
		}
		if err := s.migrateOne(ctx, version, name); err != nil {
			return fmt.Errorf("migration %s: %w", base, err)
		}
	}
	return nil
}

func (s *SQLite) migrateOne(ctx context.Context, version int, name string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = ?`, version).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	body, err := migrations.ReadFile(name)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, string(body)); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`, version, filepath.Base(name), time.Now().Unix()); err != nil {
		return err
	}
	return tx.Commit()
}

// Close implements Store.
func (s *SQLite) Close() error { return s.db.Close() }

func now() int64 { return time.Now().UnixMilli() }

func msTime(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

func isUnique(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && (se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY)
}

func notFound(err error, what string, id any) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s %v: %w", what, id, ErrNotFound)
	}
	return err
}

// --- users and tokens

const userCols = `id, email, role, password_hash, disabled, must_change, created_at, session_epoch, COALESCE(password_expires_at, 0)`

// userDest are scan destinations for userCols into u; *created and
// *expires are converted by u.setTimes.
func userDest(u *User, created, expires *int64) []any {
	return []any{&u.ID, &u.Email, &u.Role, &u.PasswordHash, &u.Disabled, &u.MustChange, created, &u.SessionEpoch, expires}
}

func scanUser(row interface{ Scan(...any) error }) (User, error) {
	var u User
	var created, expires int64
	err := row.Scan(userDest(&u, &created, &expires)...)
	u.CreatedAt, u.PasswordExpires = msTime(created), msTime(expires)
	return u, err
}

// nullTime is t in Unix ms, or NULL for the zero time.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMilli()
}

// CreateUser implements Store.
func (s *SQLite) CreateUser(ctx context.Context, u User) (User, error) {
	u.Email = strings.TrimSpace(u.Email)
	u.CreatedAt = time.Now().UTC()
	res, err := s.db.ExecContext(ctx, `INSERT INTO users (email, role, password_hash, disabled, must_change, created_at, password_expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		u.Email, u.Role, u.PasswordHash, u.Disabled, u.MustChange, u.CreatedAt.UnixMilli(), nullTime(u.PasswordExpires))
	if isUnique(err) {
		return User{}, fmt.Errorf("user %s: %w", u.Email, ErrConflict)
	}
	if err != nil {
		return User{}, err
	}
	u.ID, err = res.LastInsertId()
	return u, err
}

// User implements Store.
func (s *SQLite) User(ctx context.Context, id int64) (User, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE id = ?`, id))
	return u, notFound(err, "user", id)
}

// UserByEmail implements Store.
func (s *SQLite) UserByEmail(ctx context.Context, email string) (User, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE email = ?`, strings.TrimSpace(email)))
	return u, notFound(err, "user", email)
}

// UpdateUser implements Store.
func (s *SQLite) UpdateUser(ctx context.Context, u User) error {
	return updateUser(ctx, s.db, u)
}

func updateUser(ctx context.Context, db interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, u User) error {
	res, err := db.ExecContext(ctx, `UPDATE users SET role = ?, password_hash = ?, disabled = ?, must_change = ?, password_expires_at = ? WHERE id = ?`,
		u.Role, u.PasswordHash, u.Disabled, u.MustChange, nullTime(u.PasswordExpires), u.ID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("user %d: %w", u.ID, ErrNotFound)
	}
	return nil
}

// UpdateCredentials implements Store.
func (s *SQLite) UpdateCredentials(ctx context.Context, u User) (User, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return u, err
	}
	defer tx.Rollback()
	if err := updateUser(ctx, tx, u); err != nil {
		return u, err
	}
	if err := tx.QueryRowContext(ctx, `UPDATE users SET session_epoch = session_epoch + 1 WHERE id = ? RETURNING session_epoch`, u.ID).Scan(&u.SessionEpoch); err != nil {
		return u, err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM api_tokens WHERE user_id = ?`, u.ID); err != nil {
		return u, err
	}
	return u, tx.Commit()
}

// CountUsers implements Store.
func (s *SQLite) CountUsers(ctx context.Context) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM users`).Scan(&n)
	return n, err
}

// CreateToken implements Store.
func (s *SQLite) CreateToken(ctx context.Context, userID int64, hash, name string) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO api_tokens (user_id, hash, name, created_at) VALUES (?, ?, ?, ?)`, userID, hash, name, now())
	return err
}

// UserByToken implements Store.
func (s *SQLite) UserByToken(ctx context.Context, hash string) (User, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx, `SELECT u.id, u.email, u.role, u.password_hash, u.disabled, u.must_change, u.created_at, u.session_epoch, COALESCE(u.password_expires_at, 0)
		FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.hash = ? AND u.disabled = 0`, hash))
	return u, notFound(err, "token", "")
}

// DeleteTokens implements Store.
func (s *SQLite) DeleteTokens(ctx context.Context, userID int64) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM api_tokens WHERE user_id = ?`, userID)
	return err
}

// --- datasets

const sigMagic = "PGSIG1"

// EncodeSignal is the form signals were stored in before segments
// (dataset_signals); start-up converts such datasets (segments.go).
func EncodeSignal(sig *signal.Signal) []byte {
	w := canon.NewWriter(sigMagic)
	w.U32(uint32(len(sig.Channels)))
	for _, c := range sig.Channels {
		w.String(c.Name)
		w.String(c.Unit)
		w.F64(c.Rate)
		w.F64(c.Gain)
		w.F64s(c.Samples)
	}
	return w.Bytes()
}

// DecodeSignal parses EncodeSignal's output.
func DecodeSignal(b []byte) (*signal.Signal, error) {
	r := canon.NewReader(b, sigMagic)
	n := r.U32()
	if n > 4096 {
		return nil, fmt.Errorf("decode signal: %d channels", n)
	}
	sig := &signal.Signal{}
	for i := 0; i < int(n) && r.Err() == nil; i++ {
		sig.Channels = append(sig.Channels, signal.Channel{Name: r.String(), Unit: r.String(), Rate: r.F64(), Gain: r.F64(), Samples: r.F64s()})
	}
	if err := r.Done(); err != nil {
		return nil, fmt.Errorf("decode signal: %w", err)
	}
	return sig, nil
}

const datasetCols = `id, owner_id, name, trusted_only, channels, duration, created_at`

func scanDataset(row interface{ Scan(...any) error }) (Dataset, error) {
	var d Dataset
	var chans string
	var created int64
	if err := row.Scan(&d.ID, &d.OwnerID, &d.Name, &d.TrustedOnly, &chans, &d.Duration, &created); err != nil {
		return d, err
	}
	d.CreatedAt = msTime(created)
	return d, json.Unmarshal([]byte(chans), &d.Channels)
}

// Dataset implements Store.
func (s *SQLite) Dataset(ctx context.Context, id int64) (Dataset, error) {
	d, err := scanDataset(s.db.QueryRowContext(ctx, `SELECT `+datasetCols+` FROM datasets WHERE id = ? AND complete = 1`, id))
	return d, notFound(err, "dataset", id)
}

// DatasetIdentity implements Store.
func (s *SQLite) DatasetIdentity(ctx context.Context, id int64) (signal.Identity, []signal.Annotation, float64, error) {
	var ident signal.Identity
	var anns []signal.Annotation
	var is, as string
	var rate float64
	if err := s.db.QueryRowContext(ctx, `SELECT identity, annotations, annotation_rate FROM dataset_identities WHERE dataset_id = ?`, id).Scan(&is, &as, &rate); err != nil {
		return ident, nil, 0, notFound(err, "dataset", id)
	}
	if err := json.Unmarshal([]byte(is), &ident); err != nil {
		return ident, nil, 0, err
	}
	return ident, anns, rate, json.Unmarshal([]byte(as), &anns)
}

// Datasets implements Store.
func (s *SQLite) Datasets(ctx context.Context, ownerID int64) ([]Dataset, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+datasetCols+` FROM datasets WHERE complete = 1 AND (? = 0 OR owner_id = ?) ORDER BY id DESC`, ownerID, ownerID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Dataset{}
	for rows.Next() {
		d, err := scanDataset(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// DeleteDataset implements Store. Foreign keys cascade to the segments,
// the identity, the metadata, analyses and their batches, chunk outputs and
// results; secure_delete overwrites the freed pages and the checkpoint
// (scrub) moves the overwritten pages into the database file and empties
// the WAL, which still held the deleted rows.
func (s *SQLite) DeleteDataset(ctx context.Context, id int64) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM datasets WHERE id = ?`, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("dataset %d: %w", id, ErrNotFound)
	}
	s.scrub(ctx)
	return nil
}

// scrub checkpoints the WAL into the database file and truncates it, so
// that rows deleted with secure_delete leave no copy in either file. A
// checkpoint that readers keep from finishing is retried a few times; the
// next delete's or SQLite's own automatic checkpoint finish the job
// otherwise (Scrub reports whether it completed).
func (s *SQLite) scrub(ctx context.Context) {
	for i := range 5 {
		if ok, err := s.Scrub(context.WithoutCancel(ctx)); ok || err != nil {
			return
		}
		time.Sleep(time.Duration(20<<i) * time.Millisecond)
	}
}

// Scrub runs PRAGMA wal_checkpoint(TRUNCATE); ok is false when a reader
// or writer kept it from copying every frame and truncating the WAL.
func (s *SQLite) Scrub(ctx context.Context) (ok bool, err error) {
	var busy, logFrames, done int
	if err := s.db.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logFrames, &done); err != nil {
		return false, fmt.Errorf("checkpoint: %w", err)
	}
	return busy == 0, nil
}

// --- analyses

const analysisCols = `id, dataset_id, owner_id, algorithm, params, priority, status, error, chunks_total, chunks_verified, summary, created_at, COALESCE(finished_at, 0), revision`

func scanAnalysis(row interface{ Scan(...any) error }) (Analysis, error) {
	var a Analysis
	var params string
	var created, finished int64
	err := row.Scan(&a.ID, &a.DatasetID, &a.OwnerID, &a.Algorithm, &params, &a.Priority, &a.Status, &a.Error, &a.ChunksTotal, &a.ChunksVerified, &a.Summary, &created, &finished, &a.Revision)
	a.Params = json.RawMessage(params)
	a.CreatedAt, a.FinishedAt = msTime(created), msTime(finished)
	return a, err
}

// CreateAnalysis implements Store.
func (s *SQLite) CreateAnalysis(ctx context.Context, a Analysis) (Analysis, error) {
	a.CreatedAt = time.Now().UTC()
	if a.Status == "" {
		a.Status = StatusQueued
	}
	res, err := s.db.ExecContext(ctx, `INSERT INTO analyses (dataset_id, owner_id, algorithm, params, priority, status, chunks_total, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		a.DatasetID, a.OwnerID, a.Algorithm, string(a.Params), a.Priority, a.Status, a.ChunksTotal, a.CreatedAt.UnixMilli())
	if err != nil {
		return a, err
	}
	a.ID, err = res.LastInsertId()
	return a, err
}

// Analysis implements Store.
func (s *SQLite) Analysis(ctx context.Context, id int64) (Analysis, error) {
	a, err := scanAnalysis(s.db.QueryRowContext(ctx, `SELECT `+analysisCols+` FROM analyses WHERE id = ?`, id))
	return a, notFound(err, "analysis", id)
}

func (s *SQLite) queryAnalyses(ctx context.Context, q string, args ...any) ([]Analysis, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+analysisCols+` FROM analyses `+q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Analysis{}
	for rows.Next() {
		a, err := scanAnalysis(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// Analyses implements Store.
func (s *SQLite) Analyses(ctx context.Context, ownerID int64) ([]Analysis, error) {
	return s.queryAnalyses(ctx, `WHERE ? = 0 OR owner_id = ? ORDER BY id DESC`, ownerID, ownerID)
}

// UnfinishedAnalyses implements Store.
func (s *SQLite) UnfinishedAnalyses(ctx context.Context) ([]Analysis, error) {
	return s.queryAnalyses(ctx, `WHERE status IN ('queued', 'running') ORDER BY id`)
}

// SetAnalysisStatus implements Store.
func (s *SQLite) SetAnalysisStatus(ctx context.Context, id int64, status, errText string, chunksTotal int) error {
	var finished any
	if status == StatusDone || status == StatusFailed || status == StatusCancelled {
		finished = now()
	}
	res, err := s.db.ExecContext(ctx, `UPDATE analyses SET status = ?, error = ?, chunks_total = ?, finished_at = COALESCE(?, finished_at) WHERE id = ?`,
		status, errText, chunksTotal, finished, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("analysis %d: %w", id, ErrNotFound)
	}
	if finished != nil {
		if _, err := s.db.ExecContext(ctx, `DELETE FROM pending_results WHERE analysis_id = ?`, id); err != nil {
			return err
		}
	}
	if finished != nil && status != StatusDone {
		_, err = s.db.ExecContext(ctx, `DELETE FROM chunk_outputs WHERE analysis_id = ?`, id)
	}
	return err
}

// CancelAnalysis implements Store.
func (s *SQLite) CancelAnalysis(ctx context.Context, id int64, reason string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `UPDATE analyses SET status = 'cancelled', error = ?, finished_at = ? WHERE id = ? AND status IN ('queued', 'running')`, reason, now(), id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		var status string
		if err := tx.QueryRowContext(ctx, `SELECT status FROM analyses WHERE id = ?`, id).Scan(&status); errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("analysis %d: %w", id, ErrNotFound)
		} else if err != nil {
			return err
		}
		return fmt.Errorf("analysis %d is already %s: %w", id, status, ErrConflict)
	}
	for _, q := range []string{`DELETE FROM pending_results WHERE analysis_id = ?`, `DELETE FROM chunk_outputs WHERE analysis_id = ?`} {
		if _, err := tx.ExecContext(ctx, q, id); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// ApplyGridWrites implements Store. Writes for analyses deleted meanwhile
// are skipped.
func (s *SQLite) ApplyGridWrites(ctx context.Context, ws []GridWrite) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	// An output is inserted, or replaces the chunk's (a correction):
	// which of the two says whether chunks_verified grows, so that it is
	// counted up and down here instead of recounted.
	ins, err := tx.PrepareContext(ctx, `INSERT INTO chunk_outputs (analysis_id, idx, digest, output, replicas, verified_at, voters)
		SELECT ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM analyses WHERE id = ? AND status IN ('queued', 'running'))
		ON CONFLICT (analysis_id, idx) DO NOTHING`)
	if err != nil {
		return err
	}
	defer ins.Close()
	upd, err := tx.PrepareContext(ctx, `UPDATE chunk_outputs SET digest = ?, output = ?, replicas = ?, verified_at = ?, voters = ?
		WHERE analysis_id = ? AND idx = ? AND EXISTS (SELECT 1 FROM analyses WHERE id = ? AND status IN ('queued', 'running'))`)
	if err != nil {
		return err
	}
	defer upd.Close()
	unpend, err := tx.PrepareContext(ctx, `DELETE FROM pending_results WHERE analysis_id = ? AND idx = ?`)
	if err != nil {
		return err
	}
	defer unpend.Close()
	pend, err := tx.PrepareContext(ctx, `INSERT INTO pending_results (analysis_id, idx, volunteer_id, task, network, digest, output, received_at)
		SELECT ?, ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM analyses WHERE id = ? AND status IN ('queued', 'running'))
		ON CONFLICT (analysis_id, idx, volunteer_id) DO NOTHING`)
	if err != nil {
		return err
	}
	defer pend.Close()
	delta := map[int64]int64{} // change of chunks_verified by analysis
	// Chunks whose last write here is a Verify lose their pending results
	// in one statement per analysis at the end, not one per chunk (most
	// have none: their second result came within PendingDelay).
	verified := map[chunkRef]bool{}
	t := now()
	for _, w := range ws {
		switch {
		case w.Verify != nil:
			c := w.Verify
			res, err := ins.ExecContext(ctx, c.AnalysisID, c.Index, c.Digest, c.Output, c.Replicas, t, joinVoters(c.Voters), c.AnalysisID)
			if err != nil {
				return fmt.Errorf("store chunk %d of analysis %d: %w", c.Index, c.AnalysisID, err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			if n == 0 {
				if _, err := upd.ExecContext(ctx, c.Digest, c.Output, c.Replicas, t, joinVoters(c.Voters), c.AnalysisID, c.Index, c.AnalysisID); err != nil {
					return fmt.Errorf("store chunk %d of analysis %d: %w", c.Index, c.AnalysisID, err)
				}
			}
			delta[c.AnalysisID] += n
			verified[chunkRef{c.AnalysisID, c.Index}] = true
		case w.Withdraw != nil:
			r := w.Withdraw
			res, err := tx.ExecContext(ctx, `DELETE FROM chunk_outputs WHERE analysis_id = ? AND idx = ?`, r.AnalysisID, r.Index)
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			if _, err := unpend.ExecContext(ctx, r.AnalysisID, r.Index); err != nil {
				return err
			}
			delta[r.AnalysisID] -= n
			verified[chunkRef{r.AnalysisID, r.Index}] = false
		case w.Pend != nil:
			p := w.Pend
			if _, err := pend.ExecContext(ctx, p.AnalysisID, p.Index, p.Volunteer, p.Task, p.Network, p.Digest, orEmpty(p.Output), t, p.AnalysisID); err != nil {
				return fmt.Errorf("store a pending result for chunk %d of analysis %d: %w", p.Index, p.AnalysisID, err)
			}
			verified[chunkRef{p.AnalysisID, p.Index}] = false
		case w.Discard != "":
			if _, err := tx.ExecContext(ctx, `DELETE FROM pending_results WHERE volunteer_id = ?`, w.Discard); err != nil {
				return err
			}
		}
	}
	idxs := map[int64][]int{}
	for r, v := range verified {
		if v {
			idxs[r.a] = append(idxs[r.a], r.i)
		}
	}
	for a, is := range idxs {
		list, _ := json.Marshal(is)
		if _, err := tx.ExecContext(ctx, `DELETE FROM pending_results WHERE analysis_id = ? AND idx IN (SELECT value FROM json_each(?))`, a, string(list)); err != nil {
			return err
		}
	}
	for id, d := range delta {
		if _, err := tx.ExecContext(ctx, `UPDATE analyses SET chunks_verified = chunks_verified + ?,
			status = CASE status WHEN 'queued' THEN 'running' ELSE status END WHERE id = ? AND status IN ('queued', 'running')`, d, id); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// chunkRef names a chunk of an analysis.
type chunkRef struct {
	a int64
	i int
}

// ChunkOutputs implements Store.
func (s *SQLite) ChunkOutputs(ctx context.Context, analysisID int64) ([]ChunkOutput, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT idx, digest, output, replicas, voters FROM chunk_outputs WHERE analysis_id = ? ORDER BY idx`, analysisID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ChunkOutput
	for rows.Next() {
		c := ChunkOutput{AnalysisID: analysisID}
		var voters string
		if err := rows.Scan(&c.Index, &c.Digest, &c.Output, &c.Replicas, &voters); err != nil {
			return nil, err
		}
		c.Voters = splitVoters(voters)
		out = append(out, c)
	}
	return out, rows.Err()
}

// orEmpty keeps an empty output from becoming NULL.
func orEmpty(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// FinishAnalysis implements Store.
func (s *SQLite) FinishAnalysis(ctx context.Context, id int64, result []byte, summary string, revised bool, digests []string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	// The merge used these outputs: they must be the ones stored now (a
	// caught volunteer's may have been withdrawn or replaced meanwhile).
	rows, err := tx.QueryContext(ctx, `SELECT digest FROM chunk_outputs WHERE analysis_id = ? ORDER BY idx`, id)
	if err != nil {
		return err
	}
	var stored []string
	for rows.Next() {
		var d string
		if err := rows.Scan(&d); err != nil {
			rows.Close()
			return err
		}
		stored = append(stored, d)
	}
	rows.Close()
	if !slices.Equal(stored, digests) {
		return fmt.Errorf("analysis %d: the stored chunk outputs are not the ones merged: %w", id, ErrConflict)
	}
	errText := ""
	if revised {
		errText = "revised: chunks were verified again after a volunteer that contributed to them was caught returning a wrong output"
	}
	res, err := tx.ExecContext(ctx, `UPDATE analyses SET status = 'done', error = ?, summary = ?, chunks_verified = chunks_total, finished_at = ? WHERE id = ? AND status IN ('queued', 'running')`, errText, summary, now(), id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("analysis %d is not running: %w", id, ErrNotFound)
	}
	if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO analysis_results (analysis_id, result) VALUES (?, ?)`, id, result); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM pending_results WHERE analysis_id = ?`, id); err != nil {
		return err
	}
	return tx.Commit()
}

// AnalysisResult implements Store.
func (s *SQLite) AnalysisResult(ctx context.Context, id int64) ([]byte, error) {
	var b []byte
	err := s.db.QueryRowContext(ctx, `SELECT result FROM analysis_results WHERE analysis_id = ?`, id).Scan(&b)
	return b, notFound(err, "result of analysis", id)
}

// DeleteAnalysis implements Store; like DeleteDataset it leaves no copy
// of the deleted rows in the database files.
func (s *SQLite) DeleteAnalysis(ctx context.Context, id int64) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM analyses WHERE id = ?`, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("analysis %d: %w", id, ErrNotFound)
	}
	s.scrub(ctx)
	return nil
}

// --- volunteers

// Volunteer implements Store.
func (s *SQLite) Volunteer(ctx context.Context, id string) (Volunteer, error) {
	var v Volunteer
	var uid sql.NullInt64
	var created, seen int64
	var banned int64
	err := s.db.QueryRowContext(ctx, `SELECT id, public_key, user_id, agent, reputation, validated, rejected, created_at, last_seen_at, banned_until, `+volunteerStatsColumns+` FROM volunteers WHERE id = ?`, id).
		Scan(append([]any{&v.ID, &v.PublicKey, &uid, &v.Agent, &v.Reputation, &v.Validated, &v.Rejected, &created, &seen, &banned}, v.statsDest()...)...)
	v.UserID = uid.Int64
	v.CreatedAt, v.LastSeen, v.BannedUntil = msTime(created), msTime(seen), msTime(banned)
	return v, notFound(err, "volunteer", id)
}

// volunteerStatsColumns are the columns of migration 0101, in statsDest's order.
const volunteerStatsColumns = `nickname, lease_requests, leases_issued, results, failed, cpu_us, credit_us, completion_us, team`

func (v *Volunteer) statsDest() []any {
	return []any{&v.Nickname, &v.Requests, &v.Issued, &v.Results, &v.Failed, &v.CPUMicros, &v.CreditMicros, &v.CompletionMicros, &v.Team}
}

// Leaderboard implements Store.
func (s *SQLite) Leaderboard(ctx context.Context, limit int) ([]Volunteer, error) {
	return s.volunteers(ctx, `WHERE credit_us > 0 ORDER BY credit_us DESC, validated DESC, id LIMIT ?`, limit)
}

// TeamLeaderboard implements Store.
func (s *SQLite) TeamLeaderboard(ctx context.Context, limit int) ([]TeamStanding, error) {
	rows, err := s.db.QueryContext(ctx, TeamLeaderboardSQL+` LIMIT ?`, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []TeamStanding
	for rows.Next() {
		var t TeamStanding
		if err := rows.Scan(&t.Name, &t.Members, &t.Results, &t.Validated, &t.CPUMicros, &t.CreditMicros); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// TeamLeaderboardSQL sums the volunteers of each team, for both engines
// (hence the casts: PostgreSQL's SUM of a BIGINT is a NUMERIC;
// the caller appends the LIMIT). Equal credit is ordered by name.
const TeamLeaderboardSQL = `SELECT team, COUNT(*), CAST(SUM(results) AS BIGINT), CAST(SUM(validated) AS BIGINT), CAST(SUM(cpu_us) AS BIGINT), CAST(SUM(credit_us) AS BIGINT) FROM volunteers
	WHERE team <> '' GROUP BY team HAVING SUM(credit_us) > 0 ORDER BY SUM(credit_us) DESC, team`

// volunteers lists volunteers (without their secret hashes) by a WHERE /
// ORDER BY / LIMIT tail taking args.
func (s *SQLite) volunteers(ctx context.Context, tail string, args ...any) ([]Volunteer, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, user_id, agent, reputation, validated, rejected, created_at, last_seen_at, `+volunteerStatsColumns+` FROM volunteers `+tail, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Volunteer
	for rows.Next() {
		var v Volunteer
		var uid sql.NullInt64
		var created, seen int64
		if err := rows.Scan(append([]any{&v.ID, &uid, &v.Agent, &v.Reputation, &v.Validated, &v.Rejected, &created, &seen}, v.statsDest()...)...); err != nil {
			return nil, err
		}
		v.UserID = uid.Int64
		v.CreatedAt, v.LastSeen = msTime(created), msTime(seen)
		out = append(out, v)
	}
	return out, rows.Err()
}

// SaveVolunteers implements Store.
func (s *SQLite) SaveVolunteers(ctx context.Context, vs []Volunteer) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	st, err := tx.PrepareContext(ctx, `INSERT INTO volunteers (id, secret_hash, public_key, banned_until, user_id, agent, reputation, validated, rejected, created_at, last_seen_at, `+volunteerStatsColumns+`)
		VALUES (?, '', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id, agent = excluded.agent,
		public_key = excluded.public_key, banned_until = MAX(banned_until, excluded.banned_until),
		reputation = excluded.reputation, validated = excluded.validated, rejected = excluded.rejected, last_seen_at = excluded.last_seen_at,
		nickname = excluded.nickname, lease_requests = excluded.lease_requests, leases_issued = excluded.leases_issued,
		results = excluded.results, failed = excluded.failed, cpu_us = excluded.cpu_us, credit_us = excluded.credit_us,
		completion_us = excluded.completion_us, team = excluded.team`)
	if err != nil {
		return err
	}
	defer st.Close()
	for _, v := range vs {
		var uid any
		if v.UserID != 0 {
			uid = v.UserID
		}
		if v.CreatedAt.IsZero() {
			v.CreatedAt = time.Now()
		}
		if v.LastSeen.IsZero() {
			v.LastSeen = time.Now()
		}
		if _, err := st.ExecContext(ctx, v.ID, v.PublicKey, unixMilli(v.BannedUntil), uid, v.Agent, v.Reputation, v.Validated, v.Rejected, v.CreatedAt.UnixMilli(), v.LastSeen.UnixMilli(),
			v.Nickname, v.Requests, v.Issued, v.Results, v.Failed, v.CPUMicros, v.CreditMicros, v.CompletionMicros, v.Team); err != nil {
			return fmt.Errorf("save volunteer %s: %w", v.ID, err)
		}
	}
	return tx.Commit()
}

// --- audit

// Audit implements Store. The entry is written even when ctx is
// cancelled: a client that hangs up must not erase its traces.
func (s *SQLite) Audit(ctx context.Context, e AuditEntry) error {
	if e.At.IsZero() {
		e.At = time.Now()
	}
	if e.Address == "" {
		e.Address = AuditAddress(ctx)
	}
	if e.Outcome == "" {
		e.Outcome = OutcomeOK
	}
	var uid any
	if e.UserID != 0 {
		uid = e.UserID
	}
	_, err := s.db.ExecContext(context.WithoutCancel(ctx), `INSERT INTO audit_log (at, user_id, actor, action, object, detail, address, outcome) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		e.At.UnixMilli(), uid, e.Actor, e.Action, e.Object, e.Detail, e.Address, e.Outcome)
	return err
}

// AuditLog implements Store.
func (s *SQLite) AuditLog(ctx context.Context, limit int) ([]AuditEntry, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT at, COALESCE(user_id, 0), actor, action, object, detail, address, outcome FROM audit_log ORDER BY id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []AuditEntry
	for rows.Next() {
		var e AuditEntry
		var at int64
		if err := rows.Scan(&at, &e.UserID, &e.Actor, &e.Action, &e.Object, &e.Detail, &e.Address, &e.Outcome); err != nil {
			return nil, err
		}
		e.At = msTime(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

// Backup implements Store with VACUUM INTO: a consistent, compacted copy,
// taken while the server keeps writing. path must not exist yet. The copy
// holds identities and session tokens, so it is created 0600 (VACUUM INTO
// writes into an empty file it finds).
func (s *SQLite) Backup(ctx context.Context, path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("backup: %s already exists; choose a new file", path)
	}
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	f.Close()
	if _, err := s.db.ExecContext(ctx, `VACUUM INTO ?`, path); err != nil {
		os.Remove(path)
		return fmt.Errorf("backup: %w", err)
	}
	return os.Chmod(path, 0o600)
}
