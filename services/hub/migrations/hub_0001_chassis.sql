-- The chassis tables every service database has: outbox, inbox, retries, idempotency keys.

-- Events written in the same transaction as the change. The relay numbers them as it
-- publishes them (published_seq): the order in which their commits became visible.
CREATE TABLE IF NOT EXISTS hub_outbox (
    position      bigserial PRIMARY KEY,
    event_id      uuid NOT NULL UNIQUE,
    type          text NOT NULL,
    subject       text NOT NULL,
    event         jsonb NOT NULL,
    recorded_at   timestamptz NOT NULL DEFAULT now(),
    published_seq bigint UNIQUE,
    published_at  timestamptz
);
CREATE INDEX IF NOT EXISTS hub_outbox_pending ON hub_outbox (position) WHERE published_seq IS NULL;

-- The relay's own row: whoever holds its lock is the one relay publishing now.
CREATE TABLE IF NOT EXISTS hub_relay (
    id            smallint PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    published_seq bigint NOT NULL DEFAULT 0,
    published_at  timestamptz
);
INSERT INTO hub_relay (id) VALUES (1) ON CONFLICT DO NOTHING;

-- Events this service has processed, recorded in the same transaction as their effect.
CREATE TABLE IF NOT EXISTS hub_inbox (
    event_id     uuid PRIMARY KEY,
    type         text NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now()
);

-- Events whose handler failed: retried with backoff, parked after the last attempt.
CREATE TABLE IF NOT EXISTS hub_failed_events (
    event_id        uuid PRIMARY KEY,
    type            text NOT NULL,
    event           jsonb NOT NULL,
    attempts        integer NOT NULL DEFAULT 1,
    last_error      text NOT NULL,
    next_attempt_at timestamptz,
    parked          boolean NOT NULL DEFAULT false,
    first_failed_at timestamptz NOT NULL DEFAULT now(),
    last_failed_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS hub_failed_events_due ON hub_failed_events (next_attempt_at) WHERE NOT parked;

-- First answers to POSTs that carried an Idempotency-Key.
CREATE TABLE IF NOT EXISTS hub_idempotency (
    key        text PRIMARY KEY,
    scope      text NOT NULL,
    status     integer,
    body       jsonb,
    created_at timestamptz NOT NULL DEFAULT now()
);
