-- A clinician's corrections of a Holter report (server/holter_corrections.go):
-- a beat relabelled to another EC57 class, or an event dismissed or
-- restored. Rows are only added, never changed, so they are the audit
-- trail of the corrections too (who, when, from -> to); the latest row of
-- a beat or an event is the one in force. The verified result is never
-- touched: the report is recomputed from it and these rows.
CREATE TABLE holter_corrections (
	id          INTEGER PRIMARY KEY,
	analysis_id INTEGER NOT NULL REFERENCES analyses(id) ON DELETE CASCADE,
	target      TEXT NOT NULL,              -- 'beat' or 'event'
	sample      INTEGER NOT NULL,           -- the beat's sample, or the event's first beat's
	event_kind  TEXT NOT NULL DEFAULT '',   -- the event's kind (events only)
	from_value  TEXT NOT NULL,              -- beat: the class before; event: 'shown' or 'dismissed'
	to_value    TEXT NOT NULL,              -- beat: the new class; event: 'dismissed' or 'shown'
	user_id     INTEGER NOT NULL,
	created_at  INTEGER NOT NULL            -- Unix ms
);
CREATE INDEX holter_corrections_analysis ON holter_corrections(analysis_id, id);
