-- Durable positions of the connectors, in the bus's own PostgreSQL. A
-- connector advances its row only after the broker acknowledged every
-- record up to that position.
CREATE TABLE connect_checkpoints (
    connector   text PRIMARY KEY,          -- kind:data_center, e.g. pgoutbox:cnas-dc03
    position    bigint      NOT NULL,      -- last outbox seq published
    published   bigint      NOT NULL DEFAULT 0,
    rejected    bigint      NOT NULL DEFAULT 0,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Files seen by the csvdrop connectors, by content hash: a file dropped
-- again (same bytes, any name) is not published twice.
CREATE TABLE csvdrop_files (
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
