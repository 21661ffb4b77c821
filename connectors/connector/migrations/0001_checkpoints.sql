-- Durable checkpoints of the connectors, in the bus's own PostgreSQL. A
-- connector saves its checkpoint only after the broker acknowledged every
-- record before it. Databases migrated by earlier versions (migration
-- component "connect") already hold the table: every statement here is a
-- no-op there, except the new checkpoint column.
CREATE TABLE IF NOT EXISTS connect_checkpoints (
    connector   text PRIMARY KEY,          -- kind:data_center, e.g. pgoutbox:cnas-dc03
    position    bigint      NOT NULL,      -- a sequenced source's position (outbox seq), 0 otherwise
    published   bigint      NOT NULL DEFAULT 0,
    rejected    bigint      NOT NULL DEFAULT 0,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- When each connector last read its source successfully, even when there was
-- nothing new: the data center's heartbeat.
ALTER TABLE connect_checkpoints
    ADD COLUMN IF NOT EXISTS agency      text,
    ADD COLUMN IF NOT EXISTS data_center text,
    ADD COLUMN IF NOT EXISTS heard_at    timestamptz;

-- The checkpoint itself, opaque to the runtime: what the source needs to
-- resume (an outbox seq, a file digest and record count).
ALTER TABLE connect_checkpoints ADD COLUMN IF NOT EXISTS checkpoint bytea;

-- Outbox positions saved before the checkpoint column existed, in the
-- encoding pgoutbox reads (the seq, 8 bytes big-endian).
UPDATE connect_checkpoints SET checkpoint = int8send(position)
WHERE checkpoint IS NULL AND position > 0 AND connector LIKE 'pgoutbox:%';
