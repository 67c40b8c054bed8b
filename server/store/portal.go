package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// UserListing is a user as the admin's account list shows it.
type UserListing struct {
	User
	LastLogin time.Time // zero if never
}

// Token is an API token as its owner sees it (never the secret).
type Token struct {
	ID        int64
	Name      string
	Prefix    string
	CreatedAt time.Time
	LastUsed  time.Time
}

// DatasetMeta is what the portal shows about an upload besides its channels.
type DatasetMeta struct {
	Format    string // "wfdb", "edf", "csv"
	Template  string // ingest template applied, "" for none
	SizeBytes int64  // bytes uploaded
}

// IngestTemplate is an administrator's ingest template, stored as the JSON
// template.Parse reads.
type IngestTemplate struct {
	ID        int64
	Name      string
	JSON      string
	UpdatedAt time.Time
}

// AuditRecord is an audit entry with its actor's email.
type AuditRecord struct {
	AuditEntry
	ID    int64
	Email string // "" when the actor is gone or anonymous
}

// PortalStore is what the clinician portal needs beyond the grid and the
// API: account lists, token management, dataset display metadata, batches,
// ingest templates and a searchable audit log.
type PortalStore interface {
	// Users lists every account, oldest first.
	Users(ctx context.Context) ([]UserListing, error)
	// RecordLogin notes a successful login.
	RecordLogin(ctx context.Context, userID int64) error
	// CreateTokenWithPrefix stores a token hash with a recognisable prefix.
	CreateTokenWithPrefix(ctx context.Context, userID int64, hash, name, prefix string) error
	// Tokens lists a user's API tokens, newest first.
	Tokens(ctx context.Context, userID int64) ([]Token, error)
	// RevokeToken deletes one of a user's tokens; ErrNotFound if the user
	// has no such token.
	RevokeToken(ctx context.Context, userID, tokenID int64) error

	// SetDatasetMeta records an upload's format, template and size.
	SetDatasetMeta(ctx context.Context, datasetID int64, m DatasetMeta) error
	// DatasetMetas returns the metadata of the given datasets by id
	// (datasets without any are absent).
	DatasetMetas(ctx context.Context, ids []int64) (map[int64]DatasetMeta, error)

	// SetBatch records that analyses were started together as batchID.
	SetBatch(ctx context.Context, batchID int64, analysisIDs []int64) error
	// Batches returns the batch of each given analysis that has one.
	Batches(ctx context.Context, analysisIDs []int64) (map[int64]int64, error)
	// BatchAnalyses lists the analyses of a batch in the order started.
	BatchAnalyses(ctx context.Context, batchID int64) ([]Analysis, error)

	// IngestTemplates lists the administrators' templates by name.
	IngestTemplates(ctx context.Context) ([]IngestTemplate, error)
	// IngestTemplate returns one by id.
	IngestTemplate(ctx context.Context, id int64) (IngestTemplate, error)
	// IngestTemplateByName returns one by name.
	IngestTemplateByName(ctx context.Context, name string) (IngestTemplate, error)
	// SaveIngestTemplate creates (ID 0) or updates a template; ErrConflict
	// if the name is taken by another.
	SaveIngestTemplate(ctx context.Context, t IngestTemplate) (IngestTemplate, error)

	// Volunteers lists volunteer identities, most recently seen first, at
	// most limit.
	Volunteers(ctx context.Context, limit int) ([]Volunteer, error)

	// AuditSearch returns the newest entries first whose actor email,
	// action, object or detail contains q (all when q is empty), skipping
	// offset and returning at most limit.
	AuditSearch(ctx context.Context, q string, limit, offset int) ([]AuditRecord, error)
	// AuditFind returns the newest entries first that pass every filter
	// f sets.
	AuditFind(ctx context.Context, f AuditFilter) ([]AuditRecord, error)

	// CountDatasetsSince counts the datasets an owner created at or after
	// since, the unfinished ones of an upload in progress included (the
	// default names number them).
	CountDatasetsSince(ctx context.Context, ownerID int64, since time.Time) (int, error)
}

// AuditFilter selects audit entries; zero fields select everything.
type AuditFilter struct {
	Query  string    // contained in the actor, action, object or detail
	Actor  string    // contained in the actor's email or the Actor field
	Action string    // the action, or its prefix ending in "." ("login." for every login outcome)
	From   time.Time // at or after
	To     time.Time // before
	Limit  int       // at most this many (0: 100)
	Offset int
}

var _ PortalStore = (*SQLite)(nil)

// Users implements PortalStore.
func (s *SQLite) Users(ctx context.Context) ([]UserListing, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+userCols+`, COALESCE(last_login_at, 0) FROM users ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []UserListing
	for rows.Next() {
		var u UserListing
		var created, expires, last int64
		if err := rows.Scan(append(userDest(&u.User, &created, &expires), &last)...); err != nil {
			return nil, err
		}
		u.CreatedAt, u.PasswordExpires, u.LastLogin = msTime(created), msTime(expires), msTime(last)
		out = append(out, u)
	}
	return out, rows.Err()
}

// RecordLogin implements PortalStore.
func (s *SQLite) RecordLogin(ctx context.Context, userID int64) error {
	_, err := s.db.ExecContext(ctx, `UPDATE users SET last_login_at = ? WHERE id = ?`, now(), userID)
	return err
}

// CreateTokenWithPrefix implements PortalStore.
func (s *SQLite) CreateTokenWithPrefix(ctx context.Context, userID int64, hash, name, prefix string) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO api_tokens (user_id, hash, name, prefix, created_at) VALUES (?, ?, ?, ?, ?)`, userID, hash, name, prefix, now())
	return err
}

// Tokens implements PortalStore.
func (s *SQLite) Tokens(ctx context.Context, userID int64) ([]Token, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, name, prefix, created_at, COALESCE(last_used_at, 0) FROM api_tokens WHERE user_id = ? ORDER BY id DESC`, userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Token
	for rows.Next() {
		var t Token
		var created, used int64
		if err := rows.Scan(&t.ID, &t.Name, &t.Prefix, &created, &used); err != nil {
			return nil, err
		}
		t.CreatedAt, t.LastUsed = msTime(created), msTime(used)
		out = append(out, t)
	}
	return out, rows.Err()
}

// RevokeToken implements PortalStore.
func (s *SQLite) RevokeToken(ctx context.Context, userID, tokenID int64) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM api_tokens WHERE id = ? AND user_id = ?`, tokenID, userID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("token %d: %w", tokenID, ErrNotFound)
	}
	return nil
}

// SetDatasetMeta implements PortalStore.
func (s *SQLite) SetDatasetMeta(ctx context.Context, datasetID int64, m DatasetMeta) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO dataset_meta (dataset_id, format, template, size_bytes) VALUES (?, ?, ?, ?)
		ON CONFLICT (dataset_id) DO UPDATE SET format = excluded.format, template = excluded.template, size_bytes = excluded.size_bytes`,
		datasetID, m.Format, m.Template, m.SizeBytes)
	return err
}

// inList returns "?,?,?" and the arguments for ids.
func inList(ids []int64) (string, []any) {
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	return strings.TrimSuffix(strings.Repeat("?,", len(ids)), ","), args
}

// DatasetMetas implements PortalStore.
func (s *SQLite) DatasetMetas(ctx context.Context, ids []int64) (map[int64]DatasetMeta, error) {
	out := map[int64]DatasetMeta{}
	for len(ids) > 0 {
		n := min(len(ids), 500)
		q, args := inList(ids[:n])
		ids = ids[n:]
		rows, err := s.db.QueryContext(ctx, `SELECT dataset_id, format, template, size_bytes FROM dataset_meta WHERE dataset_id IN (`+q+`)`, args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var id int64
			var m DatasetMeta
			if err := rows.Scan(&id, &m.Format, &m.Template, &m.SizeBytes); err != nil {
				rows.Close()
				return nil, err
			}
			out[id] = m
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// SetBatch implements PortalStore.
func (s *SQLite) SetBatch(ctx context.Context, batchID int64, analysisIDs []int64) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, id := range analysisIDs {
		if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO analysis_batches (analysis_id, batch_id) VALUES (?, ?)`, id, batchID); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// Batches implements PortalStore.
func (s *SQLite) Batches(ctx context.Context, analysisIDs []int64) (map[int64]int64, error) {
	out := map[int64]int64{}
	for len(analysisIDs) > 0 {
		n := min(len(analysisIDs), 500)
		q, args := inList(analysisIDs[:n])
		analysisIDs = analysisIDs[n:]
		rows, err := s.db.QueryContext(ctx, `SELECT analysis_id, batch_id FROM analysis_batches WHERE analysis_id IN (`+q+`)`, args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var a, b int64
			if err := rows.Scan(&a, &b); err != nil {
				rows.Close()
				return nil, err
			}
			out[a] = b
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// BatchAnalyses implements PortalStore.
func (s *SQLite) BatchAnalyses(ctx context.Context, batchID int64) ([]Analysis, error) {
	return s.queryAnalyses(ctx, `WHERE id IN (SELECT analysis_id FROM analysis_batches WHERE batch_id = ?) ORDER BY id`, batchID)
}

// IngestTemplates implements PortalStore.
func (s *SQLite) IngestTemplates(ctx context.Context) ([]IngestTemplate, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, name, json, updated_at FROM ingest_templates ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []IngestTemplate
	for rows.Next() {
		t, err := scanTemplate(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

func scanTemplate(row interface{ Scan(...any) error }) (IngestTemplate, error) {
	var t IngestTemplate
	var upd int64
	err := row.Scan(&t.ID, &t.Name, &t.JSON, &upd)
	t.UpdatedAt = msTime(upd)
	return t, err
}

// IngestTemplate implements PortalStore.
func (s *SQLite) IngestTemplate(ctx context.Context, id int64) (IngestTemplate, error) {
	t, err := scanTemplate(s.db.QueryRowContext(ctx, `SELECT id, name, json, updated_at FROM ingest_templates WHERE id = ?`, id))
	return t, notFound(err, "template", id)
}

// IngestTemplateByName implements PortalStore.
func (s *SQLite) IngestTemplateByName(ctx context.Context, name string) (IngestTemplate, error) {
	t, err := scanTemplate(s.db.QueryRowContext(ctx, `SELECT id, name, json, updated_at FROM ingest_templates WHERE name = ?`, name))
	return t, notFound(err, "template", name)
}

// SaveIngestTemplate implements PortalStore.
func (s *SQLite) SaveIngestTemplate(ctx context.Context, t IngestTemplate) (IngestTemplate, error) {
	t.UpdatedAt = time.Now().UTC()
	var res sql.Result
	var err error
	if t.ID == 0 {
		res, err = s.db.ExecContext(ctx, `INSERT INTO ingest_templates (name, json, updated_at) VALUES (?, ?, ?)`, t.Name, t.JSON, t.UpdatedAt.UnixMilli())
	} else {
		res, err = s.db.ExecContext(ctx, `UPDATE ingest_templates SET name = ?, json = ?, updated_at = ? WHERE id = ?`, t.Name, t.JSON, t.UpdatedAt.UnixMilli(), t.ID)
	}
	if isUnique(err) {
		return t, fmt.Errorf("template %s: %w", t.Name, ErrConflict)
	}
	if err != nil {
		return t, err
	}
	if t.ID == 0 {
		t.ID, err = res.LastInsertId()
		return t, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return t, fmt.Errorf("template %d: %w", t.ID, ErrNotFound)
	}
	return t, nil
}

// AuditSearch implements PortalStore.
func (s *SQLite) AuditSearch(ctx context.Context, q string, limit, offset int) ([]AuditRecord, error) {
	return s.AuditFind(ctx, AuditFilter{Query: q, Limit: limit, Offset: offset})
}

// likeArg is a LIKE pattern matching s anywhere, with s's wildcards escaped.
func likeArg(s string) string {
	return "%" + strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s) + "%"
}

// AuditFind implements PortalStore.
func (s *SQLite) AuditFind(ctx context.Context, f AuditFilter) ([]AuditRecord, error) {
	var where []string
	var args []any
	if f.Query != "" {
		like := likeArg(f.Query)
		where = append(where, `(COALESCE(u.email, '') LIKE ? ESCAPE '\' OR a.actor LIKE ? ESCAPE '\' OR a.action LIKE ? ESCAPE '\' OR a.object LIKE ? ESCAPE '\' OR a.detail LIKE ? ESCAPE '\' OR a.address LIKE ? ESCAPE '\')`)
		args = append(args, like, like, like, like, like, like)
	}
	if f.Actor != "" {
		like := likeArg(f.Actor)
		where = append(where, `(COALESCE(u.email, '') LIKE ? ESCAPE '\' OR a.actor LIKE ? ESCAPE '\')`)
		args = append(args, like, like)
	}
	if f.Action != "" {
		if strings.HasSuffix(f.Action, ".") {
			where = append(where, `substr(a.action, 1, ?) = ?`)
			args = append(args, len(f.Action), f.Action)
		} else {
			where = append(where, `a.action = ?`)
			args = append(args, f.Action)
		}
	}
	if !f.From.IsZero() {
		where = append(where, `a.at >= ?`)
		args = append(args, f.From.UnixMilli())
	}
	if !f.To.IsZero() {
		where = append(where, `a.at < ?`)
		args = append(args, f.To.UnixMilli())
	}
	if f.Limit <= 0 {
		f.Limit = 100
	}
	q := `SELECT a.id, a.at, COALESCE(a.user_id, 0), COALESCE(u.email, ''), a.actor, a.action, a.object, a.detail, a.address, a.outcome
		FROM audit_log a LEFT JOIN users u ON u.id = a.user_id`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	q += ` ORDER BY a.id DESC LIMIT ? OFFSET ?`
	rows, err := s.db.QueryContext(ctx, q, append(args, f.Limit, f.Offset)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []AuditRecord
	for rows.Next() {
		var e AuditRecord
		var at int64
		if err := rows.Scan(&e.ID, &at, &e.UserID, &e.Email, &e.Actor, &e.Action, &e.Object, &e.Detail, &e.Address, &e.Outcome); err != nil {
			return nil, err
		}
		e.At = msTime(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

// CountDatasetsSince implements PortalStore.
func (s *SQLite) CountDatasetsSince(ctx context.Context, ownerID int64, since time.Time) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM datasets WHERE owner_id = ? AND created_at >= ?`, ownerID, since.UnixMilli()).Scan(&n)
	return n, err
}

// Volunteers implements PortalStore.
func (s *SQLite) Volunteers(ctx context.Context, limit int) ([]Volunteer, error) {
	return s.volunteers(ctx, `ORDER BY last_seen_at DESC LIMIT ?`, limit)
}
