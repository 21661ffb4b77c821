-- The hash-chained audit log of the lookup API. Append-only: rows are
-- only ever inserted, by the group-commit writer under an advisory lock,
-- with seq = previous seq + 1 and prev_hash = previous hash.
CREATE TABLE audit_log (
    seq           bigint      PRIMARY KEY,
    at            timestamptz NOT NULL,
    request_id    text        NOT NULL DEFAULT '',
    client        text        NOT NULL DEFAULT '',
    clerk_id      text        NOT NULL DEFAULT '',
    nin           text        NOT NULL DEFAULT '',
    document_type text        NOT NULL DEFAULT '',
    purpose       text        NOT NULL DEFAULT '',
    outcome       text        NOT NULL,
    reason        text        NOT NULL DEFAULT '',
    document_id   text        NOT NULL DEFAULT '',
    prev_hash     text        NOT NULL,
    hash          text        NOT NULL
);

-- "Who looked at my data": a citizen's entries, newest first.
CREATE INDEX audit_log_nin_at ON audit_log (nin, at);

-- Defence in depth against mistakes: the table refuses UPDATE, DELETE and
-- TRUNCATE. Someone with the rights to drop this trigger can still alter
-- rows; the hash chain (askonce audit verify) and the topic mirror are
-- what detect that.
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only (% refused)', TG_OP;
END
$$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

-- Checkpoint of the topic mirror: every entry up to seq is on
-- askonce.audit.v1.
CREATE TABLE audit_publish (
    id  int    PRIMARY KEY,
    seq bigint NOT NULL
);
INSERT INTO audit_publish (id, seq) VALUES (1, 0);
