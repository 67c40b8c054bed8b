package store

import (
	"context"
	"fmt"
	"time"
)

// Correction targets.
const (
	CorrectBeat  = "beat"
	CorrectEvent = "event"
	// CorrectFamily relabels every beat of a morphology family of the
	// verified result at once: Sample holds the family's index.
	CorrectFamily = "family"
)

// Correction is one correction of a Holter report: beat Sample relabelled
// From one EC57 class To another, every beat of family Sample relabelled
// (From is the family's majority class then), or the event of EventKind whose first
// beat is Sample dismissed (To "dismissed") or shown again (To "shown").
type Correction struct {
	ID         int64     `json:"id"`
	AnalysisID int64     `json:"analysis_id"`
	Target     string    `json:"target"`
	Sample     int64     `json:"sample"`
	EventKind  string    `json:"event_kind,omitempty"`
	From       string    `json:"from"`
	To         string    `json:"to"`
	UserID     int64     `json:"user_id"`
	CreatedAt  time.Time `json:"created_at"`
}

// CorrectionStore keeps the corrections of Holter reports, apart from the
// verified results they correct.
type CorrectionStore interface {
	// AddCorrection appends a correction of an existing analysis
	// (ErrNotFound otherwise) and returns it with its id and time.
	AddCorrection(ctx context.Context, c Correction) (Correction, error)
	// Corrections lists an analysis's corrections, oldest first.
	Corrections(ctx context.Context, analysisID int64) ([]Correction, error)
}

// AddCorrection implements CorrectionStore.
func (s *SQLite) AddCorrection(ctx context.Context, c Correction) (Correction, error) {
	if c.CreatedAt.IsZero() {
		c.CreatedAt = time.Now()
	}
	c.CreatedAt = c.CreatedAt.UTC().Truncate(time.Millisecond)
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return c, err
	}
	defer tx.Rollback()
	var one int
	if err := tx.QueryRowContext(ctx, `SELECT 1 FROM analyses WHERE id = ?`, c.AnalysisID).Scan(&one); err != nil {
		return c, notFound(err, "analysis", c.AnalysisID)
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO holter_corrections (analysis_id, target, sample, event_kind, from_value, to_value, user_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		c.AnalysisID, c.Target, c.Sample, c.EventKind, c.From, c.To, c.UserID, c.CreatedAt.UnixMilli())
	if err != nil {
		return c, fmt.Errorf("add correction: %w", err)
	}
	if c.ID, err = res.LastInsertId(); err != nil {
		return c, err
	}
	return c, tx.Commit()
}

// Corrections implements CorrectionStore.
func (s *SQLite) Corrections(ctx context.Context, analysisID int64) ([]Correction, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, analysis_id, target, sample, event_kind, from_value, to_value, user_id, created_at FROM holter_corrections WHERE analysis_id = ? ORDER BY id`, analysisID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Correction
	for rows.Next() {
		var c Correction
		var at int64
		if err := rows.Scan(&c.ID, &c.AnalysisID, &c.Target, &c.Sample, &c.EventKind, &c.From, &c.To, &c.UserID, &at); err != nil {
			return nil, err
		}
		c.CreatedAt = msTime(at)
		out = append(out, c)
	}
	return out, rows.Err()
}
