package store

import (
	"time"

	"github.com/alexedwards/scs/sqlite3store"
	"github.com/alexedwards/scs/v2"
)

// SessionCleanup is how often a session store deletes expired sessions.
const SessionCleanup = 30 * time.Minute

// SessionStore is the portal's scs session store: a Store keeps the
// portal's sessions in its own database, so that they survive a restart
// and, on PostgreSQL, are shared by every replica. It is part of Store
// (rather than found by a type assertion) so that a new backend cannot
// silently leave the portal with sessions in memory.
type SessionStore interface {
	// Sessions returns a session store on this database; it deletes
	// expired sessions every SessionCleanup until Close.
	Sessions() scs.Store
}

// Sessions implements SessionStore with scs's sqlite3store on the
// sessions table of migration 0100.
func (s *SQLite) Sessions() scs.Store {
	return sqlite3store.NewWithCleanupInterval(s.db, SessionCleanup)
}
