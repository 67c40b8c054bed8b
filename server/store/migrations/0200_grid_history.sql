-- The grid's last hour (issue 14): one row a minute in slot (Unix minute
-- mod 60), so that the /admin/grid charts survive a restart; a newer
-- minute takes its slot over, and the table never holds more than 60 rows.
CREATE TABLE grid_history (
	slot INTEGER PRIMARY KEY CHECK (slot >= 0 AND slot < 60),
	start_ms INTEGER NOT NULL,
	verified INTEGER NOT NULL,
	failed INTEGER NOT NULL,
	volunteers INTEGER NOT NULL,
	leases INTEGER NOT NULL,
	unverified INTEGER NOT NULL
);
