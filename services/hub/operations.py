"""Operator actions on a hub's services that the CLI offers: parked events and their replay."""
import psycopg
from psycopg.rows import dict_row



def _services(settings, service):
    return [service] if service else list(settings.data_services())


def parked_events(settings, service=None):
    rows = []
    for name in _services(settings, service):
        with psycopg.connect(settings.database_dsn(name), row_factory=dict_row) as conn:
            for row in conn.execute(
                    "SELECT event_id, type, attempts, last_error, last_failed_at "
                    "FROM hub_failed_events WHERE parked ORDER BY last_failed_at"):
                rows.append({"service": name, **row})
    return rows


def replay_parked(settings, service=None, event_ids=None):
    """Unpark events (all, or those ids) for a fresh round of attempts; returns how many."""
    total = 0
    for name in _services(settings, service):
        with psycopg.connect(settings.database_dsn(name)) as conn:
            cur = conn.execute(
                "UPDATE hub_failed_events SET parked = false, attempts = 0, next_attempt_at = now() "
                "WHERE parked AND (%(ids)s::uuid[] IS NULL OR event_id = ANY(%(ids)s::uuid[]))",
                {"ids": event_ids})
            total += cur.rowcount
    return total

