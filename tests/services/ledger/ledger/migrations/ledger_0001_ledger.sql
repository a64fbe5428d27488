-- one row per event counted: no unique key, so a duplicate would show
CREATE TABLE IF NOT EXISTS ledger (
    event_id uuid NOT NULL,
    type text NOT NULL,
    amount_fen bigint NOT NULL
);
