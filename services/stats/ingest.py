"""The province's ingestion: county events from its ingest queue, in batches, each exactly once.

A batch (up to HUB_STATS_BATCH messages, or what arrived within HUB_STATS_BATCH_WAIT seconds)
is stored in one transaction: new event ids go into `stats_received` (the province's inbox and
its archive; an id already there is a redelivery and is dropped), their facts into the rollups,
and only after the commit is the batch acknowledged (one `basic.ack` with `multiple`).

Two stages overlap: while one batch's transaction runs in PostgreSQL, the next batch is read
from the broker, parsed, its facts worked out and added up into rollup rows (rollups.WorkedOut);
its transaction then only stores the events, adds the stocks' differences and writes the rows
(redeliveries or a sign-off in the batch: the rows are worked out again in it). Both stages share
one thread of the service (green threads), so the reading stage steps aside every YIELD_EVERY
messages for the writing one to send its next statement. HUB_STATS_PREFETCH deliveries stay in
flight so that the broker keeps sending meanwhile. A crash before an ack redelivers the batch;
the event ids make that harmless.

Messages that are not events, or whose data carries a personal field (name, ID number, phone,
address, …), are refused: counted in `stats_rejected` with a reason, never stored.
"""
import dataclasses
import gc
import json
import logging
import queue
import re
import socket
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

import psycopg

from hub.events import PERSONAL_FIELDS, EventContractError, check_data
from stats import amqp_reader, domain, metrics, province
from stats import events as stats_events  # noqa: F401  (registers the types checked here)
from stats.rollups import REGISTRY_TYPES, WorkedOut, split, split_at_signoffs, texts

log = logging.getLogger(__name__)

IDLE_WAIT_SECONDS = 1.0
# errors of one event's data, not of the database being away: the event is set aside
ISOLATABLE = (psycopg.DataError, psycopg.IntegrityError, KeyError, ValueError, TypeError,
              AttributeError)
GC_OBJECTS_PER_EVENT = 20   # objects the collector tracks for an event in flight (about 15)
PERSONAL_KEY = re.compile("|".join(f'"{re.escape(name)}"' for name in sorted(PERSONAL_FIELDS)))
CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
YIELD_EVERY = 256           # messages read or parsed between two chances for the writer to run
# Event texts are joined by a control character (they cannot hold one: JSON escapes them in
# strings and has none outside), into one statement parameter like rollups.texts() does.
RECORD_SEPARATOR = "\x1e"
RECEIVE = f"""
WITH new AS (
    INSERT INTO stats_received (event_id, county_code, type, event)
    SELECT * FROM unnest({split("ids")}::uuid[], {split("counties")}, {split("types")},
                         string_to_array(%(texts)s::text, chr(30))::json[])
    ON CONFLICT (event_id) DO NOTHING RETURNING event_id)
SELECT id::text FROM unnest({split("ids")}::uuid[]) AS id
WHERE id NOT IN (SELECT event_id FROM new)"""


class Rejected(ValueError):
    pass


_SCAN_JSON = json.JSONDecoder().scan_once        # the C scanner json.loads ends in


def decode_json(text):
    """json.loads(text), without its Python-level steps around the scanner for a text with no
    whitespace around it (a sixth of its time); json.loads does any other text."""
    try:
        value, end = _SCAN_JSON(text, 0)
    except StopIteration:
        return json.loads(text)
    return value if end == len(text) else json.loads(text)


def personal_fields(value):
    """The personal field names anywhere in an event's data (keys of nested objects too)."""
    found = set()
    if isinstance(value, dict):
        found |= PERSONAL_FIELDS.intersection(value)
        children = value.values()
    elif isinstance(value, list):
        children = value
    else:
        return found
    for v in children:
        if isinstance(v, (dict, list)):
            found |= personal_fields(v)
    return found


def parse(text):
    """The event in a message body, with its id in canonical form; Rejected(reason) if it is not
    an event the province may keep."""
    try:
        event = decode_json(text)
    except ValueError:
        raise Rejected("not JSON")
    if not isinstance(event, dict):
        raise Rejected("not a CloudEvent")
    get = event.get
    if not (isinstance(get("data"), dict) and isinstance(get("id"), str)
            and isinstance(get("type"), str) and isinstance(get("source"), str)
            and isinstance(get("time"), str)):
        raise Rejected("not a CloudEvent")
    if not CANONICAL_UUID.fullmatch(event["id"]):
        try:
            event["id"] = str(uuid.UUID(event["id"]))
        except ValueError:
            raise Rejected("id is not a UUID")
    if PERSONAL_KEY.search(text):                     # a cheap look first, then the real check
        leaked = personal_fields(event["data"])
        if leaked:
            raise Rejected("personal fields " + ",".join(sorted(leaked)))
    return event


def checked_facts(event):
    """An event's own facts and, for a client event, the client's state after it, once what the
    rules read from it is known to be well formed (a malformed event must not hold up the
    batches after it)."""
    facts = domain.facts_of(event)
    kind, data = event["type"], event["data"]
    state = None
    if kind in domain.CLIENT_TYPES:
        uuid.UUID(str(data["client_id"]))
        state = domain.client_state(event)
    elif kind in domain.VISIT_FLAG_TYPES:
        uuid.UUID(str(data["visit_id"]))
        domain.visit_flags_after(None, event)
    elif kind in REGISTRY_TYPES:
        check_data(kind, data, strict=False)
    return facts, state


def tune_gc(prefetch):
    """Collect cyclic garbage less often in an ingesting process. The batches in flight (as many
    events as the prefetch) hold a dozen or so tracked objects an event, without reference
    cycles; were the collector to run before that many allocations, it would walk each of them
    (a fifth of the ingestion's time). Past that it still runs, when garbage accumulates. Objects
    alive at start are frozen out of it."""
    threshold = max(50_000, GC_OBJECTS_PER_EVENT * prefetch)
    if gc.get_threshold()[0] < threshold:
        gc.freeze()
        gc.set_threshold(threshold, 20, 100)


@dataclass
class Prepared:
    """A batch read and parsed, with what its events contribute on their own: ready for its
    transaction."""
    events: list = field(default_factory=list)        # [(event, text)]
    counties: list = field(default_factory=list)      # the county of each of events
    worked: WorkedOut = field(default_factory=WorkedOut)
    rejected: list = field(default_factory=list)      # [(message id, reason)]
    heartbeats: dict = field(default_factory=dict)    # county -> newest sent_at
    duplicates: int = 0
    size: int = 0


class Ingester:
    """Stores batches of county events; `run()` consumes the ingest queue until told to stop."""

    def __init__(self, database, rollups, amqp_uri, queue_name, config, sleep=time.sleep,
                 ssl=None):
        self.database = database
        self.rollups = rollups
        self.amqp_uri = amqp_uri
        self.ssl = ssl              # py-amqp's TLS options (Settings.amqp_ssl_options), or None
        self.queue = queue_name
        self.config = config
        self.sleep = sleep

    # -- storing ---------------------------------------------------------------------------------
    def prepare(self, messages):
        """Parse [(body, properties)], work out each event's facts and add them all up into
        rollup rows (no database)."""
        batch = Prepared(size=len(messages))
        worked = batch.worked
        seen = set()
        for i, (body, props) in enumerate(messages, 1):
            if i % YIELD_EVERY == 0:
                time.sleep(0)
            text = body.decode("utf-8") if isinstance(body, (bytes, bytearray)) else body
            if props.get("type") == province.HEARTBEAT_TYPE:
                beat = json.loads(text)
                county = beat["county_code"]
                batch.heartbeats[county] = max(batch.heartbeats.get(county, ""), beat["sent_at"])
                continue
            try:
                event = parse(text)
            except Rejected as exc:
                batch.rejected.append((props.get("message_id"), str(exc)))
                continue
            event_id = event["id"]
            if event_id in seen:
                batch.duplicates += 1
                continue
            seen.add(event_id)
            if domain.handles(event["type"]):
                try:
                    facts, state = checked_facts(event)
                except (KeyError, TypeError, ValueError, AttributeError, EventContractError) as exc:
                    batch.rejected.append((props.get("message_id"),
                                           f"invalid {event['type']}: {type(exc).__name__}"))
                    continue
                worked.facts[event_id] = facts
                if state is not None:
                    worked.client_states[event_id] = state
            batch.events.append((event, text))
            batch.counties.append(domain.county_of(event))
        worked.rows = self.rollups.rows((f for facts in worked.facts.values() for f in facts),
                                        years=worked.years)
        return batch

    def commit(self, batch):
        """Store a prepared batch in one transaction; returns Counter of outcomes."""
        outcome = Counter(duplicate=batch.duplicates, rejected=len(batch.rejected),
                          heartbeats=len(batch.heartbeats))
        started = time.perf_counter()
        with self.database.transaction() as tx:
            known = self._receive(tx, batch.events, batch.counties)
            fresh = [(e, c) for (e, _), c in zip(batch.events, batch.counties)
                     if e["id"] not in known]
            new_events = [e for e, _ in fresh]
            chunks = list(split_at_signoffs(new_events))
            worked = batch.worked
            if known or len(chunks) > 1:      # its rows are those of the whole batch
                worked = dataclasses.replace(worked, rows=None)
            for chunk in chunks:
                outcome.update(self.rollups.apply(tx, chunk, worked=worked))
            per_county = self._links(tx, new_events, [c for _, c in fresh], batch.heartbeats)
            if batch.rejected:
                tx.execute("INSERT INTO stats_rejected (message_id, reason) "
                           "SELECT * FROM unnest(%s::text[], %s::text[])",
                           [list(c) for c in zip(*batch.rejected)])
        metrics.INGEST_BATCH.observe(time.perf_counter() - started)
        for county, n in per_county.items():
            metrics.LINK_EVENTS.labels(county).inc(n)
        for (event, _), county in zip(batch.events, batch.counties) if known else ():
            if event["id"] in known:
                metrics.LINK_DUPLICATES.labels(county).inc()
                outcome["duplicate"] += 1
        for _, reason in batch.rejected:
            metrics.REJECTED.labels(reason.split(" ")[0]).inc()
        return outcome

    def store(self, messages):
        return self.commit_or_isolate(self.prepare(messages))

    def commit_or_isolate(self, batch):
        """Commit a batch; if one of its events cannot be stored (bad data, not a database
        outage), store the others one by one and refuse that one, so it cannot block the link."""
        try:
            return self.commit(batch)
        except ISOLATABLE as exc:
            log.warning("a batch of %s events failed (%s); storing them one by one",
                        len(batch.events), type(exc).__name__)
        outcome = Counter()
        own, states = batch.worked.facts, batch.worked.client_states
        for (event, text), county in zip(batch.events, batch.counties):
            event_id = event["id"]
            single = Prepared(events=[(event, text)], counties=[county], size=1, worked=WorkedOut(
                facts={event_id: own[event_id]} if event_id in own else {},
                client_states={event_id: states[event_id]} if event_id in states else {}))
            try:
                outcome.update(self.commit(single))
            except ISOLATABLE as exc:
                log.error("event %s (%s) refused: %s", event["id"], event["type"], exc)
                batch.rejected.append((event["id"], f"not stored: {type(exc).__name__}"))
        outcome.update(self.commit(Prepared(rejected=batch.rejected, heartbeats=batch.heartbeats,
                                            duplicates=batch.duplicates)))
        return outcome

    @staticmethod
    def _receive(tx, events, counties):
        """Store the events in stats_received; returns the ids of those that were there
        already (redeliveries)."""
        if not events:
            return set()
        rows = tx.all(RECEIVE, {
            "ids": texts([e["id"] for e, _ in events]), "counties": texts(counties),
            "types": texts([e["type"] for e, _ in events]),
            "texts": RECORD_SEPARATOR.join(text for _, text in events)})
        return {r["id"] for r in rows}

    @staticmethod
    def _links(tx, events, counties, heartbeats):
        counts, latest = Counter(counties), {}
        for e, county in zip(events, counties):
            if e["time"] > latest.get(county, ""):
                latest[county] = e["time"]
        counties = sorted(set(counts) | set(heartbeats))
        if counties:
            tx.execute("""INSERT INTO stats_links AS l (county_code, last_heartbeat_at,
                              last_event_at, events)
                          SELECT * FROM unnest(%s::text[], %s::timestamptz[], %s::timestamptz[],
                                               %s::bigint[])
                          ON CONFLICT (county_code) DO UPDATE SET
                              last_heartbeat_at = greatest(l.last_heartbeat_at,
                                                           EXCLUDED.last_heartbeat_at),
                              last_event_at = greatest(l.last_event_at, EXCLUDED.last_event_at),
                              events = l.events + EXCLUDED.events""",
                       (counties, [heartbeats.get(c) for c in counties],
                        [latest.get(c) for c in counties], [counts[c] for c in counties]))
        return counts

    # -- consuming ------------------------------------------------------------------------------
    def run(self, stopping):
        """Consume until stopping() is true; reconnect with backoff when the broker goes away."""
        backoff = 1.0
        while not stopping():
            try:
                self.consume(stopping)
                backoff = 1.0
            except Exception as exc:
                log.warning("province ingestion interrupted (%s); retrying in %.0fs", exc, backoff)
                self.sleep(backoff)
                backoff = min(backoff * 2, 30.0)

    def consume(self, stopping, until_idle=False, limit=None):
        """Read, prepare and hand batches to the writer; ack what it committed. Returns the
        number of messages stored. `until_idle` returns once the queue stays empty a while,
        `limit` once that many messages are stored (benchmarks, tests).

        A batch is handed over when it is full, or when the writer is free and the batch's first
        message has waited HUB_STATS_BATCH_WAIT: under load batches are full, when quiet events
        are stored within that wait.
        """
        tune_gc(self.config.prefetch)
        conn = amqp_reader.connect(self.amqp_uri, ssl=self.ssl)
        writer = _Writer(self)
        handled, first_at = 0, None
        try:
            channel = conn.channel()
            channel.basic_qos(0, self.config.prefetch, False)
            pending = []
            channel.basic_consume(self.queue, callback=pending.append)
            while not stopping() and (limit is None or handled < limit):
                quiet = not pending and writer.idle()
                got = self._drain(conn, pending, IDLE_WAIT_SECONDS if quiet else 0.01,
                                  self.config.batch_wait)
                handled += writer.ack_committed(channel)
                if pending and first_at is None:
                    first_at = time.monotonic()
                full = len(pending) >= self.config.batch_size
                due = pending and writer.idle() and (
                    time.monotonic() - first_at >= self.config.batch_wait or not got)
                if full or due:
                    batch = pending[:]
                    del pending[:]
                    first_at = None
                    writer.put(self.prepare([(m.body, m.properties) for m in batch]),
                               batch[-1].delivery_tag)
                elif quiet and not got and until_idle:
                    break
            writer.finish()
            handled += writer.ack_committed(channel)
            return handled
        finally:
            writer.stop()
            try:
                conn.close()
            except Exception:      # already gone
                pass

    def _drain(self, conn, pending, timeout, at_most):
        """Read deliveries until the batch is full, `timeout` passes with nothing more, or
        `at_most` seconds are over; returns whether anything arrived."""
        before, until = len(pending), time.monotonic() + max(timeout, at_most)
        next_yield = before + YIELD_EVERY
        while len(pending) < self.config.batch_size and time.monotonic() < until:
            try:
                conn.drain_events(timeout=timeout)
            except socket.timeout:
                break
            if len(pending) >= next_yield:
                next_yield += YIELD_EVERY
                time.sleep(0)
            if timeout > 0.01:          # something came after a quiet spell: the rest quickly
                timeout, until = 0.01, min(until, time.monotonic() + at_most)
        return len(pending) > before


class _Writer:
    """The second stage: commits prepared batches in order, one at a time, in a thread (a green
    thread in the service), and reports which delivery tags may be acknowledged."""

    def __init__(self, ingester):
        self.ingester = ingester
        self.todo = queue.Queue(maxsize=1)
        self.done = queue.Queue()
        self.error = None
        self.busy = 0
        self.stopped = False
        self.thread = threading.Thread(target=self._loop, name="stats-ingest-writer", daemon=True)
        self.thread.start()

    def _loop(self):
        while not self.stopped:
            try:
                item = self.todo.get(timeout=0.5)
            except queue.Empty:
                continue
            if item is None:
                return
            batch, tag = item
            try:
                self.ingester.commit_or_isolate(batch)
                self.done.put((tag, batch.size))
            except BaseException as exc:           # the reader raises it and reconnects
                self.error = exc
                return
            finally:
                self.busy -= 1

    def _check(self):
        if self.error is not None:
            raise self.error

    def put(self, batch, tag):
        self._check()
        self.busy += 1
        while True:
            try:
                self.todo.put((batch, tag), timeout=0.5)
                return
            except queue.Full:
                self._check()

    def ack_committed(self, channel):
        """Ack everything committed so far (one multiple ack); returns how many messages."""
        self._check()
        last, count = None, 0
        while True:
            try:
                tag, size = self.done.get_nowait()
            except queue.Empty:
                break
            last, count = tag, count + size
        if last is not None:
            channel.basic_ack(last, multiple=True)
        return count

    def idle(self):
        self._check()
        return self.busy == 0 and self.done.empty()

    def finish(self):
        """Wait for the batches handed over so far to be committed."""
        while self.busy:
            self._check()
            time.sleep(0.01)

    def stop(self):
        self.stopped = True
