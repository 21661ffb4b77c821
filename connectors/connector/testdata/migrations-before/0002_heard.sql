-- When each connector last read its source successfully, even when there was
-- nothing new: the lookup API answers source_stale for a data center not
-- heard from within lookup.stale_after.
ALTER TABLE connect_checkpoints
    ADD COLUMN agency      text,
    ADD COLUMN data_center text,
    ADD COLUMN heard_at    timestamptz;
