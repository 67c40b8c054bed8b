package postgres

import (
	"context"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// analysesChannel is the NOTIFY channel migration 0220's trigger sends an
// analysis id on, named after the schema the tables are in.
const analysesChannel = `left('pulsegrid_analyses.' || current_schema(), 63)`

// WatchAnalyses calls changed with the id of every analysis that is
// created, deleted or changes status in this database, by whichever
// replica or command (migration 0220's trigger, delivered when the writing
// transaction commits), until ctx ends. It listens on a connection of its
// own and connects again when that one fails; resync is called each time
// it listens again, before any changed, so that the caller can catch up
// on what it may have missed meanwhile (the first time included). Both
// are called from one goroutine, one at a time, in the order PostgreSQL
// delivered them. WatchAnalyses returns when ctx ends.
func (s *Store) WatchAnalyses(ctx context.Context, changed func(id int64), resync func()) {
	retry := time.NewTicker(LeaderCheckInterval)
	defer retry.Stop()
	for ctx.Err() == nil {
		s.listen(ctx, changed, resync)
		select {
		case <-ctx.Done():
		case <-retry.C:
		}
	}
}

// listen is one connection of WatchAnalyses: it returns when the
// connection fails or ctx ends.
func (s *Store) listen(ctx context.Context, changed func(id int64), resync func()) {
	conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig.Copy())
	if err != nil {
		return
	}
	defer conn.Close(context.Background())
	var channel string
	if err := conn.QueryRow(ctx, `SELECT `+analysesChannel).Scan(&channel); err != nil {
		return
	}
	if _, err := conn.Exec(ctx, `LISTEN `+pgx.Identifier{channel}.Sanitize()); err != nil {
		return
	}
	resync()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return
		}
		if id, err := strconv.ParseInt(n.Payload, 10, 64); err == nil {
			changed(id)
		}
	}
}
