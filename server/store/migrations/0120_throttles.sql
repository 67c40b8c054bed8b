-- Counters that slow guessing down (store/throttle.go): login failures per
-- account and address, per address and server-wide, and unrecognised
-- tokens per address, shared by every server on the database. Times are
-- Unix milliseconds; expired rows are pruned by expires_at.
CREATE TABLE throttles (
	key        TEXT PRIMARY KEY,
	n          REAL NOT NULL,
	last_at    INTEGER NOT NULL,
	expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX throttles_expires ON throttles(expires_at);
