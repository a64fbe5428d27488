-- depends: hub_0001_chassis
-- The test probe's own table: what it received.
CREATE TABLE IF NOT EXISTS probe_received (
    event_id uuid NOT NULL,
    type     text NOT NULL,
    subject  text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);
