package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pulsegrid/pulsegrid/server/store"
)

// Users implements store.PortalStore.
func (s *Store) Users(ctx context.Context) ([]store.UserListing, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+userCols+`, COALESCE(last_login_at, 0) FROM users ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.UserListing
	for rows.Next() {
		var u store.UserListing
		var created, expires, last int64
		if err := rows.Scan(append(userDest(&u.User, &created, &expires), &last)...); err != nil {
			return nil, err
		}
		u.CreatedAt, u.PasswordExpires, u.LastLogin = msTime(created), msTime(expires), msTime(last)
		out = append(out, u)
	}
	return out, rows.Err()
}

// RecordLogin implements store.PortalStore.
func (s *Store) RecordLogin(ctx context.Context, userID int64) error {
	_, err := s.pool.Exec(ctx, `UPDATE users SET last_login_at = $1 WHERE id = $2`, now(), userID)
	return err
}

// CreateTokenWithPrefix implements store.PortalStore.
func (s *Store) CreateTokenWithPrefix(ctx context.Context, userID int64, hash, name, prefix string) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO api_tokens (user_id, hash, name, prefix, created_at) VALUES ($1, $2, $3, $4, $5)`, userID, hash, name, prefix, now())
	if isUnique(err) {
		return fmt.Errorf("token: %w", store.ErrConflict)
	}
	return err
}

// Tokens implements store.PortalStore.
func (s *Store) Tokens(ctx context.Context, userID int64) ([]store.Token, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, name, prefix, created_at, COALESCE(last_used_at, 0) FROM api_tokens WHERE user_id = $1 ORDER BY id DESC`, userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Token
	for rows.Next() {
		var t store.Token
		var created, used int64
		if err := rows.Scan(&t.ID, &t.Name, &t.Prefix, &created, &used); err != nil {
			return nil, err
		}
		t.CreatedAt, t.LastUsed = msTime(created), msTime(used)
		out = append(out, t)
	}
	return out, rows.Err()
}

// RevokeToken implements store.PortalStore.
func (s *Store) RevokeToken(ctx context.Context, userID, tokenID int64) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM api_tokens WHERE id = $1 AND user_id = $2`, tokenID, userID)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("token %d: %w", tokenID, store.ErrNotFound)
	}
	return nil
}

// SetDatasetMeta implements store.PortalStore.
func (s *Store) SetDatasetMeta(ctx context.Context, datasetID int64, m store.DatasetMeta) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO dataset_meta (dataset_id, format, template, size_bytes) VALUES ($1, $2, $3, $4)
		ON CONFLICT (dataset_id) DO UPDATE SET format = excluded.format, template = excluded.template, size_bytes = excluded.size_bytes`,
		datasetID, m.Format, m.Template, m.SizeBytes)
	return err
}

// DatasetMetas implements store.PortalStore.
func (s *Store) DatasetMetas(ctx context.Context, ids []int64) (map[int64]store.DatasetMeta, error) {
	out := map[int64]store.DatasetMeta{}
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT dataset_id, format, template, size_bytes FROM dataset_meta WHERE dataset_id = ANY($1)`, ids)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var m store.DatasetMeta
		if err := rows.Scan(&id, &m.Format, &m.Template, &m.SizeBytes); err != nil {
			return nil, err
		}
		out[id] = m
	}
	return out, rows.Err()
}

// SetBatch implements store.PortalStore.
func (s *Store) SetBatch(ctx context.Context, batchID int64, analysisIDs []int64) error {
	if len(analysisIDs) == 0 {
		return nil
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO analysis_batches (analysis_id, batch_id) SELECT unnest($1::bigint[]), $2
		ON CONFLICT (analysis_id) DO UPDATE SET batch_id = excluded.batch_id`, analysisIDs, batchID)
	return err
}

// Batches implements store.PortalStore.
func (s *Store) Batches(ctx context.Context, analysisIDs []int64) (map[int64]int64, error) {
	out := map[int64]int64{}
	if len(analysisIDs) == 0 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT analysis_id, batch_id FROM analysis_batches WHERE analysis_id = ANY($1)`, analysisIDs)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var a, b int64
		if err := rows.Scan(&a, &b); err != nil {
			return nil, err
		}
		out[a] = b
	}
	return out, rows.Err()
}

// BatchAnalyses implements store.PortalStore.
func (s *Store) BatchAnalyses(ctx context.Context, batchID int64) ([]store.Analysis, error) {
	return s.queryAnalyses(ctx, `WHERE id IN (SELECT analysis_id FROM analysis_batches WHERE batch_id = $1) ORDER BY id`, batchID)
}

func scanTemplate(row pgx.Row) (store.IngestTemplate, error) {
	var t store.IngestTemplate
	var upd int64
	err := row.Scan(&t.ID, &t.Name, &t.JSON, &upd)
	t.UpdatedAt = msTime(upd)
	return t, err
}

// IngestTemplates implements store.PortalStore.
func (s *Store) IngestTemplates(ctx context.Context) ([]store.IngestTemplate, error) {
	// COLLATE "C": by name as SQLite orders text (bytewise), whatever the
	// database's collation.
	rows, err := s.pool.Query(ctx, `SELECT id, name, json, updated_at FROM ingest_templates ORDER BY name COLLATE "C"`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.IngestTemplate
	for rows.Next() {
		t, err := scanTemplate(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// IngestTemplate implements store.PortalStore.
func (s *Store) IngestTemplate(ctx context.Context, id int64) (store.IngestTemplate, error) {
	t, err := scanTemplate(s.pool.QueryRow(ctx, `SELECT id, name, json, updated_at FROM ingest_templates WHERE id = $1`, id))
	return t, notFound(err, "template", id)
}

// IngestTemplateByName implements store.PortalStore.
func (s *Store) IngestTemplateByName(ctx context.Context, name string) (store.IngestTemplate, error) {
	t, err := scanTemplate(s.pool.QueryRow(ctx, `SELECT id, name, json, updated_at FROM ingest_templates WHERE name = $1`, name))
	return t, notFound(err, "template", name)
}

// SaveIngestTemplate implements store.PortalStore.
func (s *Store) SaveIngestTemplate(ctx context.Context, t store.IngestTemplate) (store.IngestTemplate, error) {
	t.UpdatedAt = time.Now().UTC()
	var err error
	if t.ID == 0 {
		err = s.pool.QueryRow(ctx, `INSERT INTO ingest_templates (name, json, updated_at) VALUES ($1, $2, $3) RETURNING id`, t.Name, t.JSON, t.UpdatedAt.UnixMilli()).Scan(&t.ID)
	} else {
		var n int64
		err = s.pool.QueryRow(ctx, `WITH u AS (UPDATE ingest_templates SET name = $1, json = $2, updated_at = $3 WHERE id = $4 RETURNING 1) SELECT COUNT(*) FROM u`,
			t.Name, t.JSON, t.UpdatedAt.UnixMilli(), t.ID).Scan(&n)
		if err == nil && n == 0 {
			return t, fmt.Errorf("template %d: %w", t.ID, store.ErrNotFound)
		}
	}
	if isUnique(err) {
		return t, fmt.Errorf("template %s: %w", t.Name, store.ErrConflict)
	}
	return t, err
}

// AuditSearch implements store.PortalStore.
func (s *Store) AuditSearch(ctx context.Context, q string, limit, offset int) ([]store.AuditRecord, error) {
	return s.AuditFind(ctx, store.AuditFilter{Query: q, Limit: limit, Offset: offset})
}

// likeArg is a LIKE pattern matching s anywhere, with s's wildcards escaped.
func likeArg(s string) string {
	return "%" + strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s) + "%"
}

// AuditFind implements store.PortalStore. LIKE is case-sensitive on
// PostgreSQL and ASCII case-insensitive on SQLite; ILIKE gives the
// latter's answers for the ASCII text the audit log holds.
func (s *Store) AuditFind(ctx context.Context, f store.AuditFilter) ([]store.AuditRecord, error) {
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if f.Query != "" {
		p := arg(likeArg(f.Query))
		var ors []string
		for _, c := range []string{"COALESCE(u.email, '')", "a.actor", "a.action", "a.object", "a.detail", "a.address"} {
			ors = append(ors, c+` ILIKE `+p+` ESCAPE '\'`)
		}
		where = append(where, "("+strings.Join(ors, " OR ")+")")
	}
	if f.Actor != "" {
		p := arg(likeArg(f.Actor))
		where = append(where, `(COALESCE(u.email, '') ILIKE `+p+` ESCAPE '\' OR a.actor ILIKE `+p+` ESCAPE '\')`)
	}
	if f.Action != "" {
		if strings.HasSuffix(f.Action, ".") {
			where = append(where, `starts_with(a.action, `+arg(f.Action)+`)`)
		} else {
			where = append(where, `a.action = `+arg(f.Action))
		}
	}
	if !f.From.IsZero() {
		where = append(where, `a.at >= `+arg(f.From.UnixMilli()))
	}
	if !f.To.IsZero() {
		where = append(where, `a.at < `+arg(f.To.UnixMilli()))
	}
	if f.Limit <= 0 {
		f.Limit = 100
	}
	q := `SELECT a.id, a.at, COALESCE(a.user_id, 0), COALESCE(u.email, ''), a.actor, a.action, a.object, a.detail, a.address, a.outcome
		FROM audit_log a LEFT JOIN users u ON u.id = a.user_id`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	q += ` ORDER BY a.id DESC LIMIT ` + arg(f.Limit) + ` OFFSET ` + arg(f.Offset)
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.AuditRecord
	for rows.Next() {
		var e store.AuditRecord
		var at int64
		if err := rows.Scan(&e.ID, &at, &e.UserID, &e.Email, &e.Actor, &e.Action, &e.Object, &e.Detail, &e.Address, &e.Outcome); err != nil {
			return nil, err
		}
		e.At = msTime(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

// CountDatasetsSince implements store.PortalStore.
func (s *Store) CountDatasetsSince(ctx context.Context, ownerID int64, since time.Time) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT COUNT(*) FROM datasets WHERE owner_id = $1 AND created_at >= $2`, ownerID, since.UnixMilli()).Scan(&n)
	return n, err
}
