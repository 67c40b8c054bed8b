-- Counters that slow guessing down (store/throttle.go): login failures per
-- account and address, per address and server-wide, and unrecognised
-- tokens per address, shared by every server on the database. Times are
-- Unix milliseconds; expired rows are pruned by expires_at.
CREATE TABLE throttles (
	key        TEXT PRIMARY KEY,
	n          DOUBLE PRECISION NOT NULL,
	last_at    BIGINT NOT NULL,
	expires_at BIGINT NOT NULL
);
CREATE INDEX throttles_expires ON throttles(expires_at);
