-- The audit trail: who read personal details, changed a client, exported, or was refused.
-- Append-only (a trigger refuses UPDATE, DELETE and TRUNCATE) and hash-chained: each entry's
-- hash covers its content and the previous entry's hash, so `hub audit verify` finds an entry
-- that was altered or removed even by someone who got past the trigger.
CREATE TABLE IF NOT EXISTS hub_audit (
    seq        bigint PRIMARY KEY,
    at         timestamptz NOT NULL,
    actor      text NOT NULL,
    role       text NOT NULL,
    action     text NOT NULL,
    target     text NOT NULL,
    detail     jsonb NOT NULL DEFAULT '{}',
    address    text NOT NULL,
    prev_hash  text NOT NULL,
    hash       text NOT NULL UNIQUE
);
CREATE INDEX IF NOT EXISTS hub_audit_at ON hub_audit (at);

CREATE OR REPLACE FUNCTION hub_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'hub_audit is append-only: % refused', TG_OP;
END
$$;

DROP TRIGGER IF EXISTS hub_audit_no_change ON hub_audit;
CREATE TRIGGER hub_audit_no_change BEFORE UPDATE OR DELETE ON hub_audit
    FOR EACH ROW EXECUTE FUNCTION hub_audit_append_only();
DROP TRIGGER IF EXISTS hub_audit_no_truncate ON hub_audit;
CREATE TRIGGER hub_audit_no_truncate BEFORE TRUNCATE ON hub_audit
    FOR EACH STATEMENT EXECUTE FUNCTION hub_audit_append_only();

-- Revoked bearer tokens: one token (jti), or every token of a subject issued before a moment.
CREATE TABLE IF NOT EXISTS hub_token_revocations (
    id             bigserial PRIMARY KEY,
    jti            text,
    subject        text,
    issued_before  timestamptz,
    reason         text NOT NULL DEFAULT '',
    revoked_at     timestamptz NOT NULL DEFAULT now(),
    CHECK (jti IS NOT NULL OR (subject IS NOT NULL AND issued_before IS NOT NULL))
);
