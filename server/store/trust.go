package store

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// TrustStore is what the grid keeps of caught volunteers (server/grid/trust.go).
type TrustStore interface {
	// ReopenVoted withdraws every stored chunk output the volunteer voted
	// for. Their analyses that were done go back to running with their
	// revision counted and reason as their status text. It returns the
	// analyses touched and the other voters of the withdrawn outputs.
	ReopenVoted(ctx context.Context, volunteerID, reason string) (analyses []int64, coVoters []string, err error)
	// CapReputation lowers the standing of volunteers to at most limit.
	CapReputation(ctx context.Context, ids []string, limit int64) error
	// BanVolunteer suspends a volunteer identity until a time.
	BanVolunteer(ctx context.Context, id string, until time.Time) error
	// BanNetwork suspends a network prefix until a time.
	BanNetwork(ctx context.Context, network string, until time.Time, reason string) error
	// NetworkBans lists the networks suspended now.
	NetworkBans(ctx context.Context) (map[string]time.Time, error)
}

// Voters are stored space-separated; ids never contain spaces.
func joinVoters(ids []string) string { return strings.Join(ids, " ") }

func splitVoters(s string) []string { return strings.Fields(s) }

func unixMilli(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// ReopenVoted implements TrustStore.
func (s *SQLite) ReopenVoted(ctx context.Context, volunteerID, reason string) ([]int64, []string, error) {
	if volunteerID == "" || strings.ContainsAny(volunteerID, " %_") {
		return nil, nil, fmt.Errorf("reopen: bad volunteer id %q", volunteerID)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, nil, err
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT analysis_id, idx, voters FROM chunk_outputs WHERE ' ' || voters || ' ' LIKE ?`, "% "+volunteerID+" %")
	if err != nil {
		return nil, nil, err
	}
	type ref struct {
		a   int64
		idx int
	}
	var refs []ref
	co := map[string]bool{}
	touched := map[int64]bool{}
	for rows.Next() {
		var r ref
		var voters string
		if err := rows.Scan(&r.a, &r.idx, &voters); err != nil {
			rows.Close()
			return nil, nil, err
		}
		refs = append(refs, r)
		touched[r.a] = true
		for _, id := range splitVoters(voters) {
			if id != volunteerID {
				co[id] = true
			}
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	for _, r := range refs {
		if _, err := tx.ExecContext(ctx, `DELETE FROM chunk_outputs WHERE analysis_id = ? AND idx = ?`, r.a, r.idx); err != nil {
			return nil, nil, err
		}
		// Verified again from nothing, as the grid does in memory.
		if _, err := tx.ExecContext(ctx, `DELETE FROM pending_results WHERE analysis_id = ? AND idx = ?`, r.a, r.idx); err != nil {
			return nil, nil, err
		}
	}
	var ids []int64
	for id := range touched {
		ids = append(ids, id)
		if _, err := tx.ExecContext(ctx, `UPDATE analyses SET
			revision = revision + CASE WHEN status = 'done' THEN 1 ELSE 0 END,
			error = CASE WHEN status = 'done' THEN ? ELSE error END,
			status = CASE WHEN status = 'done' THEN 'running' ELSE status END,
			chunks_verified = (SELECT COUNT(*) FROM chunk_outputs WHERE analysis_id = ?)
			WHERE id = ? AND status IN ('queued', 'running', 'done')`, reason, id, id); err != nil {
			return nil, nil, err
		}
	}
	var coVoters []string
	for id := range co {
		coVoters = append(coVoters, id)
	}
	return ids, coVoters, tx.Commit()
}

// CapReputation implements TrustStore.
func (s *SQLite) CapReputation(ctx context.Context, ids []string, limit int64) error {
	for _, id := range ids {
		if _, err := s.db.ExecContext(ctx, `UPDATE volunteers SET reputation = MIN(reputation, ?) WHERE id = ?`, limit, id); err != nil {
			return err
		}
	}
	return nil
}

// BanVolunteer implements TrustStore.
func (s *SQLite) BanVolunteer(ctx context.Context, id string, until time.Time) error {
	_, err := s.db.ExecContext(ctx, `UPDATE volunteers SET banned_until = MAX(banned_until, ?), reputation = 0, rejected = rejected + 1 WHERE id = ?`, until.UnixMilli(), id)
	return err
}

// BanNetwork implements TrustStore.
func (s *SQLite) BanNetwork(ctx context.Context, network string, until time.Time, reason string) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO network_bans (network, until, reason) VALUES (?, ?, ?)
		ON CONFLICT (network) DO UPDATE SET until = MAX(until, excluded.until), reason = excluded.reason`, network, until.UnixMilli(), reason)
	return err
}

// NetworkBans implements TrustStore.
func (s *SQLite) NetworkBans(ctx context.Context) (map[string]time.Time, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT network, until FROM network_bans WHERE until > ?`, time.Now().UnixMilli())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]time.Time{}
	for rows.Next() {
		var n string
		var until int64
		if err := rows.Scan(&n, &until); err != nil {
			return nil, err
		}
		out[n] = time.UnixMilli(until).UTC()
	}
	return out, rows.Err()
}
