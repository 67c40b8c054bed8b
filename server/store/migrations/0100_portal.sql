-- The clinician portal's tables (server/portal_*.go, server/store/portal.go).

-- scs sessions (github.com/alexedwards/scs/sqlite3store's schema): the token
-- is the cookie value, data the gob-encoded session, expiry a Julian day.
CREATE TABLE sessions (
	token  TEXT PRIMARY KEY,
	data   BLOB NOT NULL,
	expiry REAL NOT NULL
);
CREATE INDEX sessions_expiry_idx ON sessions(expiry);

ALTER TABLE users ADD COLUMN last_login_at INTEGER;

-- The first characters of a token, so its owner can tell tokens apart.
ALTER TABLE api_tokens ADD COLUMN prefix TEXT NOT NULL DEFAULT '';

-- What the portal shows about an upload besides the channels: its format,
-- the ingest template applied and the bytes received.
CREATE TABLE dataset_meta (
	dataset_id INTEGER PRIMARY KEY REFERENCES datasets(id) ON DELETE CASCADE,
	format     TEXT NOT NULL DEFAULT '',
	template   TEXT NOT NULL DEFAULT '',
	size_bytes INTEGER NOT NULL DEFAULT 0
);

-- Analyses started together (every algorithm on every dataset of one form):
-- batch_id is the id of the batch's first analysis.
CREATE TABLE analysis_batches (
	analysis_id INTEGER PRIMARY KEY REFERENCES analyses(id) ON DELETE CASCADE,
	batch_id    INTEGER NOT NULL
);
CREATE INDEX analysis_batches_batch ON analysis_batches(batch_id);

-- Ingest templates written by administrators (the built-in ones live in
-- algorithms/template). json is the template as template.Parse reads it.
CREATE TABLE ingest_templates (
	id         INTEGER PRIMARY KEY,
	name       TEXT NOT NULL UNIQUE,
	json       TEXT NOT NULL,
	updated_at INTEGER NOT NULL
);
