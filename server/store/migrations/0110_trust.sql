-- The trust model (server/grid/trust.go): volunteers are Ed25519 public
-- keys; accepted chunk outputs keep who voted for them, after the analysis
-- finished too, so that a volunteer caught later reopens everything it
-- helped settle; analyses count their revisions; identities and networks
-- can be banned for a while.
ALTER TABLE volunteers ADD COLUMN public_key TEXT NOT NULL DEFAULT '';
ALTER TABLE volunteers ADD COLUMN banned_until INTEGER NOT NULL DEFAULT 0;
ALTER TABLE chunk_outputs ADD COLUMN voters TEXT NOT NULL DEFAULT '';
ALTER TABLE analyses ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
CREATE TABLE network_bans (
	network TEXT PRIMARY KEY,
	until   INTEGER NOT NULL,
	reason  TEXT NOT NULL
) WITHOUT ROWID;
