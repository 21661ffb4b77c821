-- Files seen by the csvdrop connectors, by content hash: a file dropped
-- again (same bytes, any name) is not published twice. Databases migrated
-- by earlier versions already hold it (the connectors' shared migrations
-- created it then).
CREATE TABLE IF NOT EXISTS csvdrop_files (
    connector   text        NOT NULL,
    sha256      text        NOT NULL,
    name        text        NOT NULL,
    entity      text        NOT NULL,
    lines       integer     NOT NULL DEFAULT 0,  -- data lines published or rejected so far
    published   integer     NOT NULL DEFAULT 0,
    rejected    integer     NOT NULL DEFAULT 0,
    state       text        NOT NULL CHECK (state IN ('publishing', 'done', 'rejected')),
    first_seen  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    PRIMARY KEY (connector, sha256)
);
