-- Watermarks (internal/bus/watermark.go). A connector writes a marker on
-- every partition of its agency's record topics once everything its data
-- center had committed before an instant T is published; the materializer
-- applies a marker in the transaction of the records before it.

-- The newest marker applied per data center, topic and partition.
CREATE TABLE store_partition_watermarks (
    agency      text        NOT NULL,
    data_center text        NOT NULL,
    topic       text        NOT NULL,
    partition   integer     NOT NULL,
    partitions  integer     NOT NULL, -- of the topic, when the round was written
    watermark   timestamptz NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (data_center, topic, partition)
);

-- A data center's watermark: the oldest of its partitions' once markers of
-- every partition of every topic of its agency are applied. Every record it
-- had committed at its source before `watermark` is in the store. The lookup
-- API's documents take their as_of from here, never from the clock.
CREATE TABLE store_watermarks (
    agency      text        NOT NULL,
    data_center text        NOT NULL PRIMARY KEY,
    watermark   timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Every advance of a data center's watermark, recorded (clock_timestamp(),
-- before the commit that makes it visible) in the transaction that made
-- it: the evidence that a document's as_of never exceeded what the store
-- held when it was issued. Kept materialize.watermark_history_days.
CREATE TABLE store_watermark_history (
    agency      text        NOT NULL,
    data_center text        NOT NULL,
    watermark   timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL
);
CREATE INDEX store_watermark_history_dc ON store_watermark_history (data_center, recorded_at);
