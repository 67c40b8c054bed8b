-- Accounts of people (admin, clinician) and enrolled volunteer machines (volunteer).
CREATE TABLE users (
	id            INTEGER PRIMARY KEY,
	email         TEXT NOT NULL UNIQUE COLLATE NOCASE,
	role          TEXT NOT NULL CHECK (role IN ('admin', 'clinician', 'volunteer')),
	password_hash TEXT NOT NULL,
	disabled      INTEGER NOT NULL DEFAULT 0,
	must_change   INTEGER NOT NULL DEFAULT 0,
	created_at    INTEGER NOT NULL
);

-- API tokens, stored as SHA-256 of the token; the token is shown once.
CREATE TABLE api_tokens (
	id           INTEGER PRIMARY KEY,
	user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	hash         TEXT NOT NULL UNIQUE,
	name         TEXT NOT NULL DEFAULT '',
	created_at   INTEGER NOT NULL,
	last_used_at INTEGER
);

-- A dataset's metadata: nothing identifying (the name is chosen by the uploader).
CREATE TABLE datasets (
	id           INTEGER PRIMARY KEY,
	owner_id     INTEGER NOT NULL REFERENCES users(id),
	name         TEXT NOT NULL,
	trusted_only INTEGER NOT NULL DEFAULT 0,
	channels     TEXT NOT NULL, -- JSON [{name, unit, rate, samples}]
	duration     REAL NOT NULL,
	created_at   INTEGER NOT NULL
);
CREATE INDEX datasets_owner ON datasets(owner_id, id);

-- The de-identified samples, apart from the metadata so listings stay cheap.
CREATE TABLE dataset_signals (
	dataset_id INTEGER PRIMARY KEY REFERENCES datasets(id) ON DELETE CASCADE,
	signal     BLOB NOT NULL
);

-- Identifying fields found in the uploaded headers, kept apart; never sent to volunteers.
CREATE TABLE dataset_identities (
	dataset_id      INTEGER PRIMARY KEY REFERENCES datasets(id) ON DELETE CASCADE,
	identity        TEXT NOT NULL, -- JSON signal.Identity
	annotations     TEXT NOT NULL DEFAULT '[]', -- JSON reference annotations that came with the files
	annotation_rate REAL NOT NULL DEFAULT 0
);

CREATE TABLE analyses (
	id              INTEGER PRIMARY KEY,
	dataset_id      INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
	owner_id        INTEGER NOT NULL REFERENCES users(id),
	algorithm       TEXT NOT NULL,
	params          TEXT NOT NULL,
	priority        TEXT NOT NULL CHECK (priority IN ('stat', 'urgent', 'routine')),
	status          TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed', 'cancelled')),
	error           TEXT NOT NULL DEFAULT '',
	chunks_total    INTEGER NOT NULL DEFAULT 0,
	chunks_verified INTEGER NOT NULL DEFAULT 0,
	summary         TEXT NOT NULL DEFAULT '',
	created_at      INTEGER NOT NULL,
	finished_at     INTEGER
);
CREATE INDEX analyses_owner ON analyses(owner_id, id);
CREATE INDEX analyses_dataset ON analyses(dataset_id);
CREATE INDEX analyses_status ON analyses(status);

-- Verified chunk outputs of unfinished analyses (removed once merged).
CREATE TABLE chunk_outputs (
	analysis_id INTEGER NOT NULL REFERENCES analyses(id) ON DELETE CASCADE,
	idx         INTEGER NOT NULL,
	digest      TEXT NOT NULL,
	output      BLOB NOT NULL,
	replicas    INTEGER NOT NULL,
	verified_at INTEGER NOT NULL,
	PRIMARY KEY (analysis_id, idx)
) WITHOUT ROWID;

-- Merged results (JSON of the algorithm's Result).
CREATE TABLE analysis_results (
	analysis_id INTEGER PRIMARY KEY REFERENCES analyses(id) ON DELETE CASCADE,
	result      BLOB NOT NULL
);

-- Volunteer identities and their reputation.
CREATE TABLE volunteers (
	id           TEXT PRIMARY KEY,
	secret_hash  TEXT NOT NULL,
	user_id      INTEGER REFERENCES users(id) ON DELETE SET NULL,
	agent        TEXT NOT NULL DEFAULT '',
	reputation   INTEGER NOT NULL DEFAULT 0,
	validated    INTEGER NOT NULL DEFAULT 0,
	rejected     INTEGER NOT NULL DEFAULT 0,
	created_at   INTEGER NOT NULL,
	last_seen_at INTEGER NOT NULL
) WITHOUT ROWID;

-- Who viewed, exported and deleted what. Kept when the object is deleted;
-- it names objects by id only.
CREATE TABLE audit_log (
	id      INTEGER PRIMARY KEY,
	at      INTEGER NOT NULL,
	user_id INTEGER,
	action  TEXT NOT NULL,
	object  TEXT NOT NULL,
	detail  TEXT NOT NULL DEFAULT ''
);
