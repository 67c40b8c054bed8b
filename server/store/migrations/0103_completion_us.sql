-- Completion time summed in microseconds: native volunteers finish chunks in
-- well under a millisecond, which whole milliseconds counted as zero.
ALTER TABLE volunteers ADD COLUMN completion_us INTEGER NOT NULL DEFAULT 0;
UPDATE volunteers SET completion_us = completion_ms * 1000;
