-- The lookup store: the state of the record topics, as the materializer
-- applies them. One table per record kind. Every row is one source record,
-- identified by (data_center, source_key) -- data center names are unique
-- across agencies -- and holds the highest source version seen: a row
-- changes only for a higher version, so replays, duplicates and
-- out-of-order delivery change nothing. A withdrawn record stays as a
-- tombstone (deleted = true) so that an older version replayed later cannot
-- bring it back. Lookups filter NOT deleted.
--
-- Common columns of every table:
--   agency, data_center, source_key  provenance of the record
--   version      source version (monotonic per source key)
--   op           UPSERT | CORRECTION | DELETE of that version
--   deleted      true after a DELETE
--   event_time   when the source changed it
--   kafka_topic, kafka_partition, kafka_offset  where it was read (audit, replay)
--   applied_at   when the materializer stored it

CREATE TABLE persons (
    agency text NOT NULL, data_center text NOT NULL, source_key text NOT NULL,
    version bigint NOT NULL, op text NOT NULL, deleted boolean NOT NULL DEFAULT false,
    event_time timestamptz NOT NULL,
    kafka_topic text NOT NULL, kafka_partition integer NOT NULL, kafka_offset bigint NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    nin text NOT NULL,
    surname_latin text, surname_arabic text, first_names_latin text, first_names_arabic text,
    marital_surname_latin text, sex text, birth_date date, birth_date_presumed boolean,
    birth_commune text, birth_wilaya text,
    father_first_name_latin text, father_first_name_arabic text,
    mother_surname_latin text, mother_first_names_latin text, mother_surname_arabic text, mother_first_names_arabic text,
    act_number integer, act_year integer, act_commune text, registered_on date, birth_time interval,
    marginal_notes text[],
    PRIMARY KEY (data_center, source_key)
);
CREATE INDEX persons_nin ON persons (nin) WHERE NOT deleted;

CREATE TABLE marriages (
    agency text NOT NULL, data_center text NOT NULL, source_key text NOT NULL,
    version bigint NOT NULL, op text NOT NULL, deleted boolean NOT NULL DEFAULT false,
    event_time timestamptz NOT NULL,
    kafka_topic text NOT NULL, kafka_partition integer NOT NULL, kafka_offset bigint NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    nin text NOT NULL,
    act_number integer, act_year integer, act_commune text, marriage_date date,
    spouse_nin text, spouse_surname_latin text, spouse_first_names_latin text,
    marginal_notes text[],
    PRIMARY KEY (data_center, source_key)
);
CREATE INDEX marriages_nin ON marriages (nin) WHERE NOT deleted;
CREATE INDEX marriages_spouse ON marriages (spouse_nin) WHERE NOT deleted;

CREATE TABLE divorces (
    agency text NOT NULL, data_center text NOT NULL, source_key text NOT NULL,
    version bigint NOT NULL, op text NOT NULL, deleted boolean NOT NULL DEFAULT false,
    event_time timestamptz NOT NULL,
    kafka_topic text NOT NULL, kafka_partition integer NOT NULL, kafka_offset bigint NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    nin text NOT NULL,
    spouse_nin text, divorce_date date, court text, judgment_number text,
    marriage_act_number integer, marriage_act_year integer, marriage_act_commune text,
    marginal_notes text[],
    PRIMARY KEY (data_center, source_key)
);
CREATE INDEX divorces_nin ON divorces (nin) WHERE NOT deleted;

CREATE TABLE deaths (
    agency text NOT NULL, data_center text NOT NULL, source_key text NOT NULL,
    version bigint NOT NULL, op text NOT NULL, deleted boolean NOT NULL DEFAULT false,
    event_time timestamptz NOT NULL,
    kafka_topic text NOT NULL, kafka_partition integer NOT NULL, kafka_offset bigint NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    nin text NOT NULL,
    act_number integer, act_year integer, act_commune text, date_of_death date, place_commune text,
    marginal_notes text[],
    PRIMARY KEY (data_center, source_key)
);
CREATE INDEX deaths_nin ON deaths (nin) WHERE NOT deleted;

CREATE TABLE affiliations (
    agency text NOT NULL, data_center text NOT NULL, source_key text NOT NULL,
    version bigint NOT NULL, op text NOT NULL, deleted boolean NOT NULL DEFAULT false,
    event_time timestamptz NOT NULL,
    kafka_topic text NOT NULL, kafka_partition integer NOT NULL, kafka_offset bigint NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    nin text NOT NULL, nss text, fund text,
    start_date date, end_date date, status text, regime text,
    PRIMARY KEY (data_center, source_key)
);
CREATE INDEX affiliations_nin ON affiliations (nin) WHERE NOT deleted;

CREATE TABLE employment_periods (
    agency text NOT NULL, data_center text NOT NULL, source_key text NOT NULL,
    version bigint NOT NULL, op text NOT NULL, deleted boolean NOT NULL DEFAULT false,
    event_time timestamptz NOT NULL,
    kafka_topic text NOT NULL, kafka_partition integer NOT NULL, kafka_offset bigint NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    nin text NOT NULL, nss text, fund text,
    employer_id text, employer_name text, employer_nif text,
    start_date date, end_date date, status text, position text,
    PRIMARY KEY (data_center, source_key)
);
CREATE INDEX employment_periods_nin ON employment_periods (nin) WHERE NOT deleted;
CREATE INDEX employment_periods_employer ON employment_periods (employer_id) WHERE NOT deleted;

CREATE TABLE contributions (
    agency text NOT NULL, data_center text NOT NULL, source_key text NOT NULL,
    version bigint NOT NULL, op text NOT NULL, deleted boolean NOT NULL DEFAULT false,
    event_time timestamptz NOT NULL,
    kafka_topic text NOT NULL, kafka_partition integer NOT NULL, kafka_offset bigint NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    subject text NOT NULL, nin text, nss text, employer_id text, fund text,
    period text, wage_base bigint, amount_due bigint, amount_paid bigint, status text,
    due_date date, paid_date date,
    PRIMARY KEY (data_center, source_key)
);
CREATE INDEX contributions_nin ON contributions (nin, period) WHERE NOT deleted AND nin IS NOT NULL;
CREATE INDEX contributions_employer ON contributions (employer_id, period) WHERE NOT deleted AND subject = 'EMPLOYER';

-- Family links derived from civil-status acts, for the fiche familiale.
CREATE VIEW family_links AS
    SELECT m.nin, m.spouse_nin AS related_nin,
           CASE WHEN EXISTS (SELECT 1 FROM divorces d WHERE NOT d.deleted AND d.nin = m.nin AND d.spouse_nin = m.spouse_nin
                             AND d.divorce_date >= m.marriage_date)
                THEN 'former_spouse' ELSE 'spouse' END AS relation,
           m.marriage_date AS since, m.data_center, m.source_key
    FROM marriages m
    WHERE NOT m.deleted AND m.spouse_nin IS NOT NULL;

-- What each data center last sent: the lookup API answers source_stale for
-- a data center not heard from within its limit.
CREATE TABLE source_freshness (
    agency          text NOT NULL,
    data_center     text NOT NULL,
    last_event_time timestamptz NOT NULL,
    last_applied_at timestamptz NOT NULL,
    records         bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (data_center)
);

-- Consumer bookkeeping: the last offset applied per partition, written in
-- the transaction that applied it (Kafka group offsets are committed after
-- it). Lag and replay tooling read it.
CREATE TABLE materialize_offsets (
    topic      text    NOT NULL,
    partition  integer NOT NULL,
    "offset"   bigint  NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (topic, partition)
);
