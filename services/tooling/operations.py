"""Operator actions on a hub's services that the CLI offers: parked events and their replay,
and pruning the chassis' bookkeeping tables."""
from psycopg.rows import dict_row

from hub.db import each_database

# what `hub prune` deletes, and from what age (days) by default
PRUNABLE = {
    # processed event ids: redeliveries come within minutes, not months
    "inbox": ("hub_inbox", "processed_at", 90),
    # first answers to Idempotency-Keys: clients retry within minutes
    "idempotency": ("hub_idempotency", "created_at", 7),
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
    """Delete processed-event ids and idempotency keys older than their age (days; default per
    table in PRUNABLE). Returns {(service, table): rows deleted}. The outbox (the event archive
    that replay and rebuild read) and the audit trail are never pruned."""
    deleted = {}
    for name, conn in each_database(settings, service):
        for table, column, default_days in PRUNABLE.values():
            days = older_than_days if older_than_days is not None else default_days
            cur = conn.execute(f"DELETE FROM {table} WHERE {column} < now() - make_interval("
                               "days => %s)", (days,))
            deleted[(name, table)] = cur.rowcount
    return deleted
