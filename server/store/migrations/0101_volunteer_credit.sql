-- Per-volunteer statistics and credit (server/grid counts them in memory,
-- its flusher saves them here). Credit is the CPU time of verified results:
-- cpu_us counts every result's reported CPU time in microseconds (capped
-- by its lease's wall time), credit_us only that of results the quorum
-- verified. A native chunk may take under a millisecond, hence microseconds.
ALTER TABLE volunteers ADD COLUMN nickname TEXT NOT NULL DEFAULT '';
ALTER TABLE volunteers ADD COLUMN lease_requests INTEGER NOT NULL DEFAULT 0; -- leases asked for
ALTER TABLE volunteers ADD COLUMN leases_issued INTEGER NOT NULL DEFAULT 0;
ALTER TABLE volunteers ADD COLUMN results INTEGER NOT NULL DEFAULT 0;        -- results returned for held leases
ALTER TABLE volunteers ADD COLUMN failed INTEGER NOT NULL DEFAULT 0;         -- errors reported and leases expired
ALTER TABLE volunteers ADD COLUMN cpu_us INTEGER NOT NULL DEFAULT 0;
ALTER TABLE volunteers ADD COLUMN credit_us INTEGER NOT NULL DEFAULT 0;
ALTER TABLE volunteers ADD COLUMN completion_ms INTEGER NOT NULL DEFAULT 0;  -- sum of lease issued → result, over results
CREATE INDEX volunteers_credit_idx ON volunteers(credit_us DESC);
