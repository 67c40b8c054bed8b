-- Samples stored segment by segment (store/segments.go), so that a 24-hour
-- recording is written while it is read and pages read only the window they
-- show. dataset_signals (one blob per dataset) is converted at start-up.
CREATE TABLE dataset_segments (
	dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
	channel    INTEGER NOT NULL,
	seg        INTEGER NOT NULL,  -- samples [seg*65536, (seg+1)*65536) of the channel
	samples    BLOB NOT NULL,     -- store/segcodec.go
	summary    BLOB NOT NULL,     -- min, max, sum and count per block of 1024 samples
	PRIMARY KEY (dataset_id, channel, seg)
);

-- A dataset is written in several transactions; until the last one it is
-- incomplete and invisible, and an incomplete one left by a crash is removed
-- at start-up.
ALTER TABLE datasets ADD COLUMN complete INTEGER NOT NULL DEFAULT 1;
