-- Replicas that do not run the grid write analyses too (issue 12): a start,
-- a cancel, a delete of an analysis or of its dataset. The leader hears of
-- each by LISTEN (notify.go): this trigger sends NOTIFY with the analysis id
-- when a row is inserted, deleted (cascades from a dataset included) or
-- changes status. PostgreSQL delivers it when the writing transaction
-- commits, and never if it rolls back. The channel is named after the
-- table's schema, so that installations sharing a database in different
-- schemas (the tests do) hear only their own.
CREATE FUNCTION pulsegrid_analysis_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'DELETE' THEN
		PERFORM pg_notify(left('pulsegrid_analyses.' || TG_TABLE_SCHEMA, 63), OLD.id::text);
		RETURN OLD;
	END IF;
	PERFORM pg_notify(left('pulsegrid_analyses.' || TG_TABLE_SCHEMA, 63), NEW.id::text);
	RETURN NEW;
END
$$;

CREATE TRIGGER analyses_changed_insert_delete AFTER INSERT OR DELETE ON analyses
	FOR EACH ROW EXECUTE FUNCTION pulsegrid_analysis_changed();
CREATE TRIGGER analyses_changed_status AFTER UPDATE OF status ON analyses
	FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION pulsegrid_analysis_changed();
