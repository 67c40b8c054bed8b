package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// ReopenVoted implements store.TrustStore.
func (s *Store) ReopenVoted(ctx context.Context, volunteerID, reason string) ([]int64, []string, error) {
	if volunteerID == "" || strings.ContainsAny(volunteerID, " %_") {
		return nil, nil, fmt.Errorf("reopen: bad volunteer id %q", volunteerID)
	}
	var ids []int64
	var coVoters []string
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		ids, coVoters = nil, nil
		find := func() (map[int64][]int, map[string]bool, error) {
			rows, err := tx.Query(ctx, `SELECT analysis_id, idx, voters FROM chunk_outputs WHERE ' ' || voters || ' ' LIKE $1`, "% "+volunteerID+" %")
			if err != nil {
				return nil, nil, err
			}
			defer rows.Close()
			refs := map[int64][]int{}
			co := map[string]bool{}
			for rows.Next() {
				var a int64
				var idx int
				var voters string
				if err := rows.Scan(&a, &idx, &voters); err != nil {
					return nil, nil, err
				}
				refs[a] = append(refs[a], idx)
				for _, id := range strings.Fields(voters) {
					if id != volunteerID {
						co[id] = true
					}
				}
			}
			return refs, co, rows.Err()
		}
		refs, _, err := find()
		if err != nil {
			return err
		}
		for a := range refs {
			ids = append(ids, a)
		}
		// Lock the analyses, then read again: outputs stored meanwhile by
		// a transaction that held a lock are counted too.
		if err := lockAnalyses(ctx, tx, ids); err != nil {
			return err
		}
		refs, co, err := find()
		if err != nil {
			return err
		}
		ids = ids[:0]
		for a, idxs := range refs {
			ids = append(ids, a)
			if _, err := tx.Exec(ctx, `DELETE FROM chunk_outputs WHERE analysis_id = $1 AND idx = ANY($2)`, a, idxs); err != nil {
				return err
			}
			// Verified again from nothing, as the grid does in memory.
			if _, err := tx.Exec(ctx, `DELETE FROM pending_results WHERE analysis_id = $1 AND idx = ANY($2)`, a, idxs); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE analyses SET
				revision = revision + CASE WHEN status = 'done' THEN 1 ELSE 0 END,
				error = CASE WHEN status = 'done' THEN $1 ELSE error END,
				status = CASE WHEN status = 'done' THEN 'running' ELSE status END,
				chunks_verified = (SELECT COUNT(*) FROM chunk_outputs WHERE analysis_id = $2)
				WHERE id = $2 AND status IN ('queued', 'running', 'done')`, reason, a); err != nil {
				return err
			}
		}
		for id := range co {
			coVoters = append(coVoters, id)
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return ids, coVoters, nil
}

// CapReputation implements store.TrustStore.
func (s *Store) CapReputation(ctx context.Context, ids []string, limit int64) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := s.pool.Exec(ctx, `UPDATE volunteers SET reputation = LEAST(reputation, $1) WHERE id = ANY($2)`, limit, ids)
	return err
}

// BanVolunteer implements store.TrustStore.
func (s *Store) BanVolunteer(ctx context.Context, id string, until time.Time) error {
	_, err := s.pool.Exec(ctx, `UPDATE volunteers SET banned_until = GREATEST(banned_until, $1), reputation = 0, rejected = rejected + 1 WHERE id = $2`, until.UnixMilli(), id)
	return err
}

// BanNetwork implements store.TrustStore.
func (s *Store) BanNetwork(ctx context.Context, network string, until time.Time, reason string) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO network_bans (network, until, reason) VALUES ($1, $2, $3)
		ON CONFLICT (network) DO UPDATE SET until = GREATEST(network_bans.until, excluded.until), reason = excluded.reason`, network, until.UnixMilli(), reason)
	return err
}

// NetworkBans implements store.TrustStore.
func (s *Store) NetworkBans(ctx context.Context) (map[string]time.Time, error) {
	rows, err := s.pool.Query(ctx, `SELECT network, until FROM network_bans WHERE until > $1`, time.Now().UnixMilli())
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
