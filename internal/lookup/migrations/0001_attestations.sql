-- Documents issued by the lookup API, exactly as signed, so that
-- GET /v1/attestations/{id} returns them and anyone holding one can check it.
CREATE TABLE attestations (
    id            text PRIMARY KEY,
    client        text        NOT NULL,
    document_type text        NOT NULL,
    nin           text        NOT NULL,
    issued_at     timestamptz NOT NULL,
    document      text        NOT NULL,  -- canonical JSON, the signed bytes
    signature     jsonb       NOT NULL   -- {alg, kid, value}
);
CREATE INDEX attestations_nin ON attestations (nin, issued_at);
