"""The suite's guard against personal detail in events.

Every test hub's outbox — every event the hub published during that test — is read before the
hub's databases are dropped (cleanup_hub), and the test fails if an event carries a personal
field name anywhere in its data, something shaped like an ID number or a mobile number, or one of
the names and addresses the test data used (remembered by `remember`).
"""
import json
import re

import psycopg

from hub.events import PERSONAL_FIELDS

ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])\d{17}[0-9Xx](?![0-9A-Za-z])")
MOBILE = re.compile(r"(?<![0-9])1[3-9]\d{9}(?![0-9])")
# ids are read out first: a uuid's hex groups can hold eleven digits in a row
UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_markers = set()


def remember(*values):
    """Personal strings a test put into the hub (names, addresses): none may reach an event."""
    _markers.update(v for v in values if isinstance(v, str) and len(v) >= 2)


def _keys(value):
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


def leaks(event):
    """What in one CloudEvent looks like personal detail (empty when nothing does)."""
    data = event.get("data")
    text = UUID.sub("<id>", json.dumps(data, ensure_ascii=False))
    found = sorted(PERSONAL_FIELDS & _keys(data))
    found += [f"ID number {m[:3]}…" for m in ID_NUMBER.findall(text)]
    found += [f"mobile number {m[:3]}…" for m in MOBILE.findall(text)]
    found += [f"test data {m!r}" for m in _markers if m in text]
    return found


def events_checked_in(dsn):
    """Read a database's outbox; (events read, descriptions of the leaks found)."""
    problems, count = [], 0
    with psycopg.connect(dsn) as conn:
        if conn.execute("SELECT to_regclass('hub_outbox')").fetchone()[0] is None:
            return 0, []
        for event_type, event in conn.execute("SELECT type, event FROM hub_outbox"):
            count += 1
            problems += [f"{event_type} {event.get('id')}: {leak}" for leak in leaks(event)]
    return count, problems


def check_hub_events(settings, databases):
    """Fail (AssertionError) if any event in the hub's outboxes carries personal detail."""
    problems = []
    for name in databases:
        problems += events_checked_in(f"{settings.pg_dsn} dbname={name}")[1]
    assert not problems, "personal detail in published events:\n  " + "\n  ".join(problems[:20])
