-- Change notifications (askonce notify). Portfolios: the citizens each
-- agency serves and the kinds of change it must hear about, written by the
-- lookup API (PUT/DELETE /v1/portfolios/...) and by the router from
-- askonce.portfolio.v1. A removed member stays as a tombstone (deleted)
-- so that an older change replayed from the topic cannot bring it back:
-- a row changes only for a newer changed_at.
CREATE TABLE portfolio_members (
    agency     text        NOT NULL,
    nin        text        NOT NULL,
    kinds      text[]      NOT NULL,
    purpose    text        NOT NULL,
    deleted    boolean     NOT NULL DEFAULT false,
    added_at   timestamptz NOT NULL,   -- first time the member was added (kept across updates)
    changed_at timestamptz NOT NULL,   -- time of the change that wrote the row (requested_at from the topic)
    changed_by text        NOT NULL,   -- api:<request id>, topic:<topic/partition/offset>, dev-seed
    PRIMARY KEY (agency, nin)
);
-- The router's question: which agencies hold this citizen?
CREATE INDEX portfolio_members_nin ON portfolio_members (nin) WHERE NOT deleted;

-- What the router has notified, per agency, source record, change kind
-- and citizen: the highest source version notified and a digest of the
-- facts told. A replay (version not higher) emits nothing; a higher
-- version emits a correction only when the facts changed.
CREATE TABLE notify_sent (
    agency          text        NOT NULL,
    data_center     text        NOT NULL,
    source_key      text        NOT NULL,
    kind            text        NOT NULL,
    nin             text        NOT NULL,
    version         bigint      NOT NULL,
    facts           text        NOT NULL,
    notification_id text        NOT NULL,
    sent_at         timestamptz NOT NULL,
    PRIMARY KEY (agency, data_center, source_key, kind, nin)
);
