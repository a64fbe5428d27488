-- depends: hub_0004_session_revocations
-- Accounts' own tables: the users (Argon2 password hashes, never the password) and their login
-- sessions (a refresh token is kept only as its SHA-256; each works once and is replaced).
CREATE TABLE IF NOT EXISTS users (
    id                   uuid PRIMARY KEY,
    username             text NOT NULL,
    display_name         text NOT NULL DEFAULT '',
    role                 text NOT NULL,
    township_code        text,
    password_hash        text NOT NULL,
    must_change_password boolean NOT NULL DEFAULT true,
    disabled             boolean NOT NULL DEFAULT false,
    failed_logins        integer NOT NULL DEFAULT 0,
    locked_until         timestamptz,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX IF NOT EXISTS users_username ON users (lower(username));
CREATE INDEX IF NOT EXISTS users_township ON users (township_code, lower(username));

CREATE TABLE IF NOT EXISTS sessions (
    id             uuid PRIMARY KEY,
    user_id        uuid NOT NULL REFERENCES users (id),
    refresh_hash   text NOT NULL UNIQUE,
    refresh_until  timestamptz NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    refreshed_at   timestamptz,
    revoked_at     timestamptz,
    revoked_reason text
);
CREATE INDEX IF NOT EXISTS sessions_user ON sessions (user_id) WHERE revoked_at IS NULL;
-- the refresh tokens a session had before its current one: shown again, they revoke it
CREATE TABLE IF NOT EXISTS used_refresh_tokens (
    refresh_hash text PRIMARY KEY,
    session_id   uuid NOT NULL REFERENCES sessions (id)
);
