-- depends: hub_0001_chassis
-- Intake's own tables: clients and the history of every change to them.
CREATE TABLE IF NOT EXISTS clients (
    id               uuid PRIMARY KEY,
    seq              bigserial NOT NULL UNIQUE,
    name             text NOT NULL,
    id_number_enc    bytea NOT NULL,
    id_number_hash   text NOT NULL UNIQUE,
    id_number_masked text NOT NULL,
    birth_date       date NOT NULL,
    sex              text NOT NULL,
    phone            text,
    county_code      text NOT NULL,
    township_code    text NOT NULL,
    village_code     text NOT NULL,
    categories       text[] NOT NULL,
    disability       jsonb,
    guardian         jsonb,
    consent          jsonb NOT NULL,
    risk_level       text NOT NULL,
    risk_flags       text[] NOT NULL DEFAULT '{}',
    status           text NOT NULL DEFAULT 'active',
    close_reason     text,
    registered_on    date NOT NULL,
    status_changed_on date NOT NULL,
    recorded_at      timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    version          integer NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS clients_township ON clients (township_code, seq);
CREATE INDEX IF NOT EXISTS clients_village ON clients (village_code, seq);
CREATE INDEX IF NOT EXISTS clients_categories ON clients USING gin (categories);

CREATE TABLE IF NOT EXISTS client_history (
    id             bigserial PRIMARY KEY,
    client_id      uuid NOT NULL REFERENCES clients (id),
    action         text NOT NULL,
    effective_date date NOT NULL,
    recorded_at    timestamptz NOT NULL DEFAULT now(),
    recorded_by    text NOT NULL,
    details        jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS client_history_client ON client_history (client_id, id);
