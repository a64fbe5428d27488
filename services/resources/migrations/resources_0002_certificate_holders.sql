-- depends: resources_0001_tables
-- The roster of holders of the social work certificate (社会工作者职业水平证书) working in the
-- county, whether station staff or not: the one source of the certified social workers figure.
-- `timeline` holds the levels passed (level, year) and where they worked since (township, the
-- county level, or away): what the events carry and statistics count from.
CREATE TABLE IF NOT EXISTS certificate_holders (
    id                 uuid PRIMARY KEY,
    seq                bigserial NOT NULL UNIQUE,
    certificate_number text NOT NULL UNIQUE,
    name               text NOT NULL,
    level              text NOT NULL,
    passed_year        integer NOT NULL,
    township_code      text,                       -- NULL: the county level
    employer_kind      text,
    status             text NOT NULL DEFAULT 'holding',
    status_since       date,                       -- NULL: since their first certificate
    timeline           jsonb NOT NULL,
    worker_id          uuid REFERENCES workers (id),
    recorded_by        text NOT NULL,
    recorded_at        timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS certificate_holders_township ON certificate_holders (township_code);

-- A worker's certificate number links them to their roster entry (counted once, there).
ALTER TABLE workers ADD COLUMN IF NOT EXISTS certificate_number text;
