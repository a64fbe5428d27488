-- depends: hub_0003_outbox_published_event_index
-- Revoked sessions (accounts' tokens.revoked events): the session id is kept in jti, and the
-- row may be forgotten once every access token of the session has expired (expires_at).
ALTER TABLE hub_token_revocations ADD COLUMN IF NOT EXISTS expires_at timestamptz;
CREATE INDEX IF NOT EXISTS hub_token_revocations_live ON hub_token_revocations (expires_at);
