-- depends: hub_0001_chassis
-- The test probe's own tables: what it received, and failures it was told to fake.
CREATE TABLE IF NOT EXISTS probe_received (
    event_id uuid NOT NULL,
    type     text NOT NULL,
    subject  text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS probe_fail (
    subject   text PRIMARY KEY,
    remaining integer NOT NULL
);
