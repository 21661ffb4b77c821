-- The synthetic agencies' own tables (systems of record), one schema per data
-- center. They stand for what an agency already runs: askonce does not own
-- them, it only attaches the outbox triggers of connectors/pgoutbox/sql/outbox.sql.
-- Columns are nullable on purpose: a real register holds incomplete rows, and
-- the connector, not the agency database, decides what is publishable.
-- Column names are the payload contract of each entity (connectors/pgoutbox).
-- Run with search_path set to the data center's schema, after outbox.sql.

-- Civil-status registry (agency etatcivil): one row per act mention in a
-- person's register; a marriage or divorce is mentioned for each spouse.
CREATE TABLE IF NOT EXISTS births (
    id                         bigint PRIMARY KEY,
    nin                        text,
    surname_latin              text,
    surname_arabic             text,
    first_names_latin          text,
    first_names_arabic         text,
    marital_surname_latin      text,
    sex                        text,          -- 'M' | 'F'
    birth_date                 date,
    birth_date_presumed        boolean NOT NULL DEFAULT false,
    birth_commune              text,          -- WWCC
    birth_wilaya               text,          -- WW at registration
    father_first_name_latin    text,
    father_first_name_arabic   text,
    mother_surname_latin       text,
    mother_first_names_latin   text,
    mother_surname_arabic      text,
    mother_first_names_arabic  text,
    father_nin                 text,          -- NIN of the father, when registered (civil-status v2)
    mother_nin                 text,          -- NIN of the mother, when registered (civil-status v2)
    act_number                 integer,
    act_year                   integer,
    act_commune                text,
    registered_on              date,
    birth_time                 time,
    marginal_notes             text[] NOT NULL DEFAULT '{}',
    version                    bigint NOT NULL DEFAULT 1
);
-- Added with civil-status v2 (the parents' NINs link children to the
-- fiche familiale): a database seeded before gets the columns, NULL.
ALTER TABLE births ADD COLUMN IF NOT EXISTS father_nin text;
ALTER TABLE births ADD COLUMN IF NOT EXISTS mother_nin text;

CREATE TABLE IF NOT EXISTS marriages (
    id                         bigint PRIMARY KEY,
    nin                        text,
    act_number                 integer,
    act_year                   integer,
    act_commune                text,
    marriage_date              date,
    spouse_nin                 text,
    spouse_surname_latin       text,
    spouse_first_names_latin   text,
    marginal_notes             text[] NOT NULL DEFAULT '{}',
    version                    bigint NOT NULL DEFAULT 1
);

CREATE TABLE IF NOT EXISTS divorces (
    id                         bigint PRIMARY KEY,
    nin                        text,
    spouse_nin                 text,
    divorce_date               date,
    court                      text,
    judgment_number            text,
    marriage_act_number        integer,
    marriage_act_year          integer,
    marriage_act_commune       text,
    marginal_notes             text[] NOT NULL DEFAULT '{}',
    version                    bigint NOT NULL DEFAULT 1
);

CREATE TABLE IF NOT EXISTS deaths (
    id                         bigint PRIMARY KEY,
    nin                        text,
    act_number                 integer,
    act_year                   integer,
    act_commune                text,
    date_of_death              date,
    place_commune              text,
    marginal_notes             text[] NOT NULL DEFAULT '{}',
    version                    bigint NOT NULL DEFAULT 1
);

-- Social-security funds (agencies cnas, casnos).
CREATE TABLE IF NOT EXISTS affiliations (
    id                         bigint PRIMARY KEY,
    nin                        text,
    nss                        text,
    fund                       text,          -- CNAS | CASNOS | CACOBATPH
    start_date                 date,
    end_date                   date,
    status                     text,          -- ACTIVE | SUSPENDED | CLOSED
    regime                     text,
    version                    bigint NOT NULL DEFAULT 1
);

CREATE TABLE IF NOT EXISTS employment_periods (
    id                         bigint PRIMARY KEY,
    nin                        text,
    nss                        text,
    fund                       text,
    employer_id                text,
    employer_name              text,
    employer_nif               text,
    start_date                 date,
    end_date                   date,
    status                     text,          -- OPEN | CLOSED
    position                   text,
    version                    bigint NOT NULL DEFAULT 1
);

CREATE TABLE IF NOT EXISTS contributions (
    id                         bigint PRIMARY KEY,
    subject                    text,          -- INSURED | EMPLOYER
    nin                        text,
    nss                        text,
    employer_id                text,
    fund                       text,
    period                     text,          -- YYYY-MM
    wage_base                  bigint,        -- centimes of DZD
    amount_due                 bigint,
    amount_paid                bigint,
    status                     text,          -- PAID | PARTIAL | UNPAID
    due_date                   date,
    paid_date                  date,
    version                    bigint NOT NULL DEFAULT 1
);

-- Attach the askonce outbox contract.
DO $$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT * FROM (VALUES
        ('births', 'birth'), ('marriages', 'marriage'), ('divorces', 'divorce'), ('deaths', 'death'),
        ('affiliations', 'affiliation'), ('employment_periods', 'employment'), ('contributions', 'contribution')
    ) AS v(tbl, entity)
    LOOP
        EXECUTE format('DROP TRIGGER IF EXISTS askonce_version ON %I', t.tbl);
        EXECUTE format('CREATE TRIGGER askonce_version BEFORE INSERT OR UPDATE ON %I FOR EACH ROW EXECUTE FUNCTION askonce_bump_version()', t.tbl);
        EXECUTE format('DROP TRIGGER IF EXISTS askonce_capture ON %I', t.tbl);
        EXECUTE format('CREATE TRIGGER askonce_capture AFTER INSERT OR UPDATE OR DELETE ON %I FOR EACH ROW EXECUTE FUNCTION askonce_capture(%L, %L)', t.tbl, t.entity, 'id');
    END LOOP;
END
$$;
