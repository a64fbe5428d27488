"""The operators' command line against a private hub: setup, tokens, parked events, reset."""
import uuid

import psycopg
import pytest
from click.testing import CliRunner

from hub.auth import authenticate
from support.hub import test_settings
from tooling import subscribers
from tooling.cli import main


@pytest.fixture
def cli_env():
    settings = test_settings(prefix=f"cli{uuid.uuid4().hex[:6]}", HUB_SERVICES="intake")
    env = {"HUB_DB_PREFIX": settings.db_prefix, "HUB_DATA_KEY": settings.data_key,
           "HUB_JWT_SECRET": settings.jwt_secret, "HUB_SERVICES": "intake",
           "HUB_SERVICE_SECRET": settings.service_secret}
    yield settings, env
    CliRunner().invoke(main, ["reset", "--force"], env=env)


def run(env, *args):
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    return result


def test_setup_twice_then_reset(cli_env):
    settings, env = cli_env
    first = run(env, "setup")
    assert first.exit_code == 0, first.output
    assert "migration(s) applied" in first.output and settings.exchange in first.output
    again = run(env, "setup")
    assert again.exit_code == 0 and "(0 migration(s) applied)" in again.output
    made = run(env, "subscriber", "create", "civil-affairs", "--events", "client.#")
    assert made.exit_code == 0, made.output
    gone = run(env, "reset", "--force")
    assert gone.exit_code == 0, gone.output
    assert "1 subscriber(s)" in gone.output
    with psycopg.connect(f"{settings.pg_dsn} dbname=postgres") as conn:
        assert conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                            (settings.database_name("intake"),)).fetchone() is None
    admin = subscribers.broker_admin(settings)
    assert subscribers.list_subscribers(settings, admin) == []
    assert admin.queue(subscribers.user_name(settings, "civil-affairs")) is None


def test_reset_asks_first(cli_env):
    settings, env = cli_env
    run(env, "setup")
    result = CliRunner().invoke(main, ["reset"], env=env, input="n\n")
    assert result.exit_code != 0 and "All hub data is lost" in result.output
    with psycopg.connect(settings.database_dsn("intake")) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_token_create_issues_a_token_the_hub_accepts(cli_env):
    settings, env = cli_env
    unset = CliRunner().invoke(main, ["token", "create"], env=env)
    assert unset.exit_code != 0 and "hub setup" in unset.output    # its audit trail is missing
    assert run(env, "setup").exit_code == 0
    result = run(env, "token", "create", "--role", "township_admin", "--township", "341721100",
                 "--subject", "王站长")
    assert result.exit_code == 0
    principal = authenticate(settings, "Bearer " + result.stdout.strip())
    assert "token id" in result.stderr       # for `hub token revoke --jti`
    assert (principal.role, principal.township, principal.subject) == \
        ("township_admin", "341721100", "王站长")
    bad = CliRunner().invoke(main, ["token", "create", "--role", "god"], env=env)
    assert bad.exit_code != 0 and "'god' is not one of" in bad.output and "county_admin" in bad.output


def test_events_parked_and_replay_need_a_choice(cli_env):
    settings, env = cli_env
    run(env, "setup")
    listed = run(env, "events", "parked")
    assert listed.exit_code == 0 and "0 parked event(s)" in listed.output
    refused = CliRunner().invoke(main, ["events", "replay"], env=env)
    assert refused.exit_code != 0 and "--all" in refused.output
    assert "0 event(s) queued" in run(env, "events", "replay", "--all").output


def test_missing_keys_are_named(cli_env):
    _, env = cli_env
    result = CliRunner().invoke(main, ["setup"], env={**env, "HUB_DATA_KEY": "",
                                                      "HUB_ENV_FILE": "/nonexistent"})
    assert result.exit_code != 0


def test_prune_deletes_only_old_bookkeeping_rows(cli_env):
    settings, env = cli_env
    run(env, "setup")
    with psycopg.connect(settings.database_dsn("intake"), autocommit=True) as conn:
        conn.execute("""INSERT INTO hub_inbox (event_id, type, processed_at) VALUES
                        (gen_random_uuid(), 'x.v1', now() - interval '100 days'),
                        (gen_random_uuid(), 'x.v1', now() - interval '10 days')""")
        conn.execute("""INSERT INTO hub_idempotency (key, scope, created_at) VALUES
                        ('old', 'POST /x', now() - interval '8 days'),
                        ('new', 'POST /x', now() - interval '1 day')""")
    result = run(env, "prune")
    assert result.exit_code == 0, result.output
    assert "hub_inbox        1 row(s) deleted" in result.output
    assert "hub_idempotency  1 row(s) deleted" in result.output
    with psycopg.connect(settings.database_dsn("intake")) as conn:
        assert conn.execute("SELECT count(*) FROM hub_inbox").fetchone() == (1,)
        assert conn.execute("SELECT key FROM hub_idempotency").fetchall() == [("new",)]
    assert "hub_inbox        1 row(s)" in run(env, "prune", "--older-than", "5").output


def test_prune_forgets_ended_sessions_and_expired_revocations(cli_env):
    settings, env = cli_env
    env = {**env, "HUB_SERVICES": "intake,accounts"}
    try:
        run(env, "setup")
        with psycopg.connect(settings.database_dsn("intake"), autocommit=True) as conn:
            conn.execute("""INSERT INTO hub_token_revocations (jti, reason, expires_at) VALUES
                            ('gone', 'logout', now() - interval '1 minute'),
                            ('live', 'logout', now() + interval '10 minutes'),
                            ('system', 'hub token revoke', NULL)""")
        with psycopg.connect(settings.database_dsn("accounts"), autocommit=True) as conn:
            user = conn.execute("""INSERT INTO users (id, username, role, password_hash)
                                   VALUES (gen_random_uuid(), 'old', 'station_worker', 'x')
                                   RETURNING id""").fetchone()[0]
            for name, ended in (("ended", "now() - interval '40 days'"),
                                ("recent", "now() - interval '2 days'"),
                                ("open", "NULL")):
                conn.execute(f"""INSERT INTO sessions (id, user_id, refresh_hash, refresh_until,
                                                      revoked_at)
                                 VALUES (gen_random_uuid(), %s, %s, now() + interval '20 days',
                                         {ended})""", (user, name))
            conn.execute("""INSERT INTO used_refresh_tokens (refresh_hash, session_id)
                            SELECT 'used-' || refresh_hash, id FROM sessions""")
        result = run(env, "prune")
        assert result.exit_code == 0, result.output
        assert "hub_token_revocations 1 row(s) deleted" in result.output
        assert "accounts   sessions         1 row(s) deleted" in result.output
        with psycopg.connect(settings.database_dsn("intake")) as conn:
            assert sorted(r[0] for r in conn.execute(
                "SELECT jti FROM hub_token_revocations")) == ["live", "system"]
        with psycopg.connect(settings.database_dsn("accounts")) as conn:
            assert sorted(r[0] for r in conn.execute(
                "SELECT refresh_hash FROM sessions")) == ["open", "recent"]
            assert sorted(r[0] for r in conn.execute(
                "SELECT refresh_hash FROM used_refresh_tokens")) == ["used-open", "used-recent"]
    finally:
        CliRunner().invoke(main, ["reset", "--force"], env=env)
