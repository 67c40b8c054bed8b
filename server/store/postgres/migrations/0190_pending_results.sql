-- Results that wait for more before their chunk can be verified (issue 12):
-- one row per volunteer identity per chunk (the first one stored stays),
-- kept so that a leader that takes over counts them instead of asking for
-- them again. task is the digest of the chunk's payload the result answers;
-- network is the prefix it came from, counted as it was on the first leader.
-- Rows go when the chunk is verified or withdrawn, when the analysis
-- finishes, when their volunteer is caught (a scan: rare), and with their
-- analysis. One row is written and deleted for most chunks, so the table
-- has its key and nothing else to maintain.
CREATE TABLE pending_results (
	analysis_id  BIGINT NOT NULL REFERENCES analyses(id) ON DELETE CASCADE,
	idx          INTEGER NOT NULL,
	volunteer_id TEXT NOT NULL,
	task         TEXT NOT NULL,
	network      TEXT NOT NULL,
	digest       TEXT NOT NULL,
	output       BYTEA NOT NULL,
	received_at  BIGINT NOT NULL,
	seq          BIGINT GENERATED ALWAYS AS IDENTITY, -- the order they were stored
	PRIMARY KEY (analysis_id, idx, volunteer_id)
);
