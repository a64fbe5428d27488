"""Operator actions on a hub's services that the CLI offers: parked events and their replay,
and pruning the chassis' bookkeeping tables."""
from psycopg.rows import dict_row

from hub.db import each_database

# what `hub prune` deletes: table -> (only this service's database, or every one; the statement,
# given %(days)s; the age in days by default)
OLDER_THAN = "< now() - make_interval(days => %(days)s)"
PRUNABLE = {
    # processed event ids: redeliveries come within minutes, not months
    "hub_inbox": (None, f"DELETE FROM hub_inbox WHERE processed_at {OLDER_THAN}", 90),
    # first answers to Idempotency-Keys: clients retry within minutes
    "hub_idempotency": (None, f"DELETE FROM hub_idempotency WHERE created_at {OLDER_THAN}", 7),
    # revoked sessions whose every access token has expired: nothing left to refuse (a token
    # revoked by `hub token revoke` has no expiry and is kept)
    "hub_token_revocations": (None, "DELETE FROM hub_token_revocations WHERE expires_at < now()",
                              None),
    # accounts' ended sessions (logged out, revoked, or past their refresh time), with the
    # refresh tokens they used; the audit trail keeps their logins and log outs
    "sessions": ("accounts", f"""
        WITH ended AS (SELECT id FROM sessions
                       WHERE coalesce(revoked_at, refresh_until) {OLDER_THAN}),
             used AS (DELETE FROM used_refresh_tokens u USING ended WHERE u.session_id = ended.id)
        DELETE FROM sessions s USING ended WHERE s.id = ended.id""", 30),
}


def parked_events(settings, service=None):
    rows = []
    for name, conn in each_database(settings, service, row_factory=dict_row):
        for row in conn.execute(
                "SELECT event_id, type, attempts, last_error, last_failed_at "
                "FROM hub_failed_events WHERE parked ORDER BY last_failed_at"):
            rows.append({"service": name, **row})
    return rows


def replay_parked(settings, service=None, event_ids=None):
    """Unpark events (all, or those ids) for a fresh round of attempts; returns how many."""
    total = 0
    for _, conn in each_database(settings, service):
        cur = conn.execute(
            "UPDATE hub_failed_events SET parked = false, attempts = 0, next_attempt_at = now() "
            "WHERE parked AND (%(ids)s::uuid[] IS NULL OR event_id = ANY(%(ids)s::uuid[]))",
            {"ids": event_ids})
        total += cur.rowcount
    return total


def prune(settings, older_than_days=None, service=None):
    """Delete the bookkeeping rows of PRUNABLE older than their age (days; default per table).
    Returns {(service, table): rows deleted}. The outbox (the event archive that replay and
    rebuild read) and the audit trail are never pruned."""
    deleted = {}
    for name, conn in each_database(settings, service):
        for table, (only, statement, default_days) in PRUNABLE.items():
            if only not in (None, name):
                continue
            days = older_than_days if older_than_days is not None else default_days
            deleted[(name, table)] = conn.execute(statement, {"days": days}).rowcount
    return deleted
