"""`hub stats rebuild`: recompute every figure from the event archive.

The archive of a county hub is the outbox of each of its services' databases (published events,
in published order); a province's is its `stats_received` table (in received order). The rebuild
runs in one transaction that first locks the stats tables, so live consumers wait for it and then
carry on: in a county every archived event's id is put in the stats inbox, so that a delivery
still on its way is recognised as already counted. Sign-offs and the list of late events are
kept, so a late event stays a pending correction and everything else is merged as before.
A province's archive is read as it keeps events now (stats/minimise.py), and an event stored
whole before it kept them so is stored reduced: a rebuild after an upgrade leaves neither village
codes, risk nor a county's ids behind.
"""
import gc
import queue
import threading
from contextlib import contextmanager

import psycopg
from psycopg.rows import dict_row
from tqdm import tqdm

from hub.db import UnitOfWork
from stats import minimise
from stats.rollups import Rollups, split_at_signoffs

LOCKED = ("stats_rollup", "stats_pending", "stats_client_states", "stats_visit_flags",
          "stats_station_openings", "stats_workers", "stats_event_counts", "stats_signoffs",
          "stats_ratings", "stats_places", "stats_late_events", "hub_inbox")
BATCH = 50000        # events per step: each rollup row is written about once a step
FETCH = 5000


class RebuildJudge:
    """Late = known late before (stats_late_events), or never processed live in a county."""

    def __init__(self, county_role):
        self.county_role = county_role

    def late(self, tx, events):
        ids = [e["id"] for e in events]
        late = {r["id"] for r in tx.all("SELECT event_id::text AS id FROM stats_late_events "
                                        "WHERE event_id = ANY(%s::uuid[])", (ids,))}
        if self.county_role:
            processed = {r["id"] for r in tx.all("SELECT event_id::text AS id FROM hub_inbox "
                                                 "WHERE event_id = ANY(%s::uuid[])", (ids,))}
            late |= set(ids) - processed
        return late


def county_archive(settings):
    """[(service, dsn)] whose outboxes make up a county hub's archive."""
    return [(s, settings.database_dsn(s)) for s in settings.data_services()]


def _count(dsn, sql):
    with psycopg.connect(dsn) as conn:
        return conn.execute(sql).fetchone()[0]


def _stream(dsn, sql, batch):
    """Yield lists of events from a server-side cursor."""
    with psycopg.connect(dsn) as conn:
        with conn.cursor(name="stats_archive") as cur:
            cur.itersize = FETCH
            cur.execute(sql)
            while True:
                rows = cur.fetchmany(batch)
                if not rows:
                    return
                yield [r[0] for r in rows]


def read_ahead(chunks):
    """Iterate `chunks` in a thread of its own, one chunk ahead: the archive is read and decoded
    while the previous chunk's figures are written."""
    handoff, done = queue.Queue(maxsize=1), object()
    failure = []

    def produce():
        try:
            for chunk in chunks:
                handoff.put(chunk)
        except BaseException as exc:        # re-raised in the consumer
            failure.append(exc)
        finally:
            handoff.put(done)
    threading.Thread(target=produce, name="stats-rebuild-reader", daemon=True).start()
    while True:
        chunk = handoff.get()
        if chunk is done:
            if failure:
                raise failure[0]
            return
        yield chunk


@contextmanager
def no_cyclic_gc():
    """Decoded events hold no reference cycles; with tens of thousands of them alive, the cyclic
    collector's passes over them would cost a third of the rebuild."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def kept_as_now(conn, minimiser, events):
    """An aggregator's archived events as stats/minimise.py keeps them: one stored whole (before
    events were kept so) is reduced, and stored so in the same transaction; the others are as
    they were (keeping is idempotent)."""
    kept = [minimiser.event(e, strict=False) for e in events]
    changed = [(k["id"], minimise.text(k)) for e, k in zip(events, kept, strict=True) if k != e]
    if changed:
        conn.execute("UPDATE stats_received AS r SET event = u.event::json FROM unnest("
                     "%s::uuid[], %s::text[]) AS u(id, event) WHERE r.event_id = u.id",
                     [list(c) for c in zip(*changed, strict=True)])
    return kept


OUTBOX = "FROM hub_outbox WHERE published_seq IS NOT NULL"
RECEIVED = "FROM stats_received"


def rebuild(settings, config, progress=True, batch=BATCH):
    """Recompute the figures; returns {"events": n, "counted": n, "ignored": n}."""
    if config.is_province:
        sources = [(settings.database_dsn("stats"), RECEIVED, "ORDER BY seq")]
    else:
        sources = [(dsn, OUTBOX, "ORDER BY published_seq") for _, dsn in county_archive(settings)]
    rollups = Rollups(config, locking=False)
    judge = RebuildJudge(county_role=not config.is_province)
    minimiser = minimise.Minimiser(settings.data_key) if config.is_province else None
    totals = {"events": 0, "counted": 0, "ignored": 0}
    with psycopg.connect(settings.database_dsn("stats"), row_factory=dict_row) as conn:
        tx = UnitOfWork(conn, settings.event_source("stats"))
        conn.execute("LOCK TABLE " + ", ".join(LOCKED) + " IN ACCESS EXCLUSIVE MODE")
        if config.is_province:
            conn.execute("LOCK TABLE stats_received IN EXCLUSIVE MODE")  # readers still read
        rollups.reset(tx)
        expected = sum(_count(dsn, f"SELECT count(*) {where}") for dsn, where, _ in sources)
        chunks = (events for dsn, where, order in sources
                  for events in _stream(dsn, f"SELECT event {where} {order}", batch))
        with tqdm(total=expected, unit="event", disable=not progress, desc="rebuild",
                  smoothing=0.1) as bar, no_cyclic_gc():
            for events in read_ahead(chunks):
                if config.is_province:
                    events = kept_as_now(conn, minimiser, events)
                for chunk in split_at_signoffs(events):
                    outcome = rollups.apply(tx, chunk, judge)
                    totals["counted"] += outcome["counted"]
                    totals["ignored"] += outcome["ignored"]
                if not config.is_province:
                    conn.execute("INSERT INTO hub_inbox (event_id, type) SELECT * FROM "
                                 "unnest(%s::uuid[], %s::text[]) ON CONFLICT DO NOTHING",
                                 ([e["id"] for e in events], [e["type"] for e in events]))
                totals["events"] += len(events)
                bar.update(len(events))
        conn.commit()
    return totals
