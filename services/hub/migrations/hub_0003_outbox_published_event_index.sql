-- depends: hub_0002_audit
-- Events are looked up by id only once published (`hub subscriber replay --after-event <id>`),
-- so the index on event_id now covers published events only: a writer no longer adds each event
-- to it, the relay does as it numbers them (its UPDATE adds the row to every index anyway).
-- Event ids are random UUIDs made once per event (uuid4, gen_random_uuid()) and nothing writes
-- an event twice, so the uniqueness check every insert paid for goes with the old index.
ALTER TABLE hub_outbox DROP CONSTRAINT IF EXISTS hub_outbox_event_id_key;
CREATE INDEX IF NOT EXISTS hub_outbox_published_event ON hub_outbox (event_id)
    WHERE published_seq IS NOT NULL;
