-- askonce agency-side integration contract: the transactional outbox.
--
-- Run once in the agency's database, in the schema that holds its tables
-- (psql -v ON_ERROR_STOP=1 -c 'SET search_path TO my_schema' -f outbox.sql),
-- then attach the two triggers to each table whose rows askonce publishes:
--
--   CREATE TRIGGER askonce_version BEFORE INSERT OR UPDATE ON births
--     FOR EACH ROW EXECUTE FUNCTION askonce_bump_version();
--   CREATE TRIGGER askonce_capture AFTER INSERT OR UPDATE OR DELETE ON births
--     FOR EACH ROW EXECUTE FUNCTION askonce_capture('birth', 'id');
--
-- askonce_capture(entity, key columns...) writes one outbox row in the same
-- transaction as the change: what commits is published, what rolls back is
-- not. The payload is the row as JSON (to_jsonb), so the table's column names
-- are the contract of each entity (see docs/integration.md). The
-- source key is entity/key1/key2... (use the table's primary key, never a
-- business field that may be wrong and corrected later); the row's `version` column (kept by
-- askonce_bump_version, +1 on every change) is the source version, monotonic
-- per key. A DELETE publishes the last row with version + 1 and op 'delete'.
-- A correction of an act is an UPDATE in a transaction that first runs
--   SET LOCAL askonce.op = 'correction';
--
-- The connector reads the outbox in seq order and never writes to it except
-- to prune rows it has published (connect.pgoutbox prune_after).
-- Idempotent: safe to run again.

CREATE TABLE IF NOT EXISTS askonce_outbox (
    seq        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    entity     text        NOT NULL,
    key        text        NOT NULL,
    op         text        NOT NULL CHECK (op IN ('upsert', 'delete', 'correction')),
    payload    jsonb       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    -- The writing transaction: lets the connector tell a sequence gap left by
    -- a rolled-back transaction from one still in flight.
    txid       xid8        NOT NULL DEFAULT pg_current_xact_id()
);

COMMENT ON TABLE askonce_outbox IS
    'askonce transactional outbox: one row per change of a published table, read in seq order by the askonce pgoutbox connector';

CREATE OR REPLACE FUNCTION askonce_bump_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        NEW.version := greatest(coalesce(NEW.version, 1), 1);
    ELSE
        NEW.version := OLD.version + 1;
    END IF;
    RETURN NEW;
END
$$;

-- SET search_path FROM CURRENT pins the outbox this function writes to: the
-- one of the schema this file was run in, whatever the writer's search_path.
CREATE OR REPLACE FUNCTION askonce_capture() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    doc jsonb;
    k   text;
    op  text;
    i   int;
BEGIN
    IF TG_NARGS < 2 THEN
        RAISE EXCEPTION 'askonce_capture(entity, key columns...) needs an entity and at least one key column';
    END IF;
    IF TG_OP = 'DELETE' THEN
        doc := to_jsonb(OLD);
        doc := jsonb_set(doc, '{version}', to_jsonb(coalesce((doc->>'version')::bigint, 0) + 1));
        op := 'delete';
    ELSE
        doc := to_jsonb(NEW);
        op := CASE WHEN TG_OP = 'UPDATE' AND current_setting('askonce.op', true) = 'correction'
                   THEN 'correction' ELSE 'upsert' END;
    END IF;
    k := TG_ARGV[0];
    FOR i IN 1 .. TG_NARGS - 1 LOOP
        IF doc->>TG_ARGV[i] IS NULL THEN
            RAISE EXCEPTION 'askonce_capture: key column % of % is null', TG_ARGV[i], TG_TABLE_NAME;
        END IF;
        k := k || '/' || (doc->>TG_ARGV[i]);
    END LOOP;
    INSERT INTO askonce_outbox (entity, key, op, payload) VALUES (TG_ARGV[0], k, op, doc);
    RETURN NULL;
END
$$;
